# What R's emmeans prints for notebook 02's gene A models, by default and with each df method,
# for tests/test_emmeans_df.py.
#
# Run from the repository root (about a minute):
#     Rscript tests/r/make_emmeans_df_fixtures.R
#
# Data: gene A of data/replicates_within.csv (7,500 rows, 4 unbalanced replicates), and
# "few cells": the first ceiling(1% of n) rows of every replicate x treatment cell of it, in file
# order (76 rows; lmmedu.teach.comparison.few_cells builds the same rows), written to
# tests/fixtures/emmeans_df/data/gene_a_few_cells.csv.
# Models (REML, lmerTest::lmer): treatment + (1|replicate), and
# treatment + (1|replicate) + (1|replicate:treatment).
# For each data set and model, tests/fixtures/emmeans_df/<data>_<model>.json holds
#   coefs_satterthwaite   summary(fit, ddf = "Satterthwaite") coefficients
#   coefs_kenward_roger   summary(fit, ddf = "Kenward-Roger") coefficients (few cells only: on
#                         7,500 rows pbkrtest's dense n x n vcovAdj had not finished after 3 minutes)
#   emmeans$<case>        emmeans(fit, ~ treatment, ...) and pairs(., reverse = TRUE): estimates, SE,
#                         df, t or z ratio, p, the df method emmeans reports and the notes it printed
#     default             no options: Kenward-Roger below 3,000 rows, asymptotic (df = Inf) above
#     satterthwaite       lmer.df = "satterthwaite", lmerTest.limit = 1e5
#     kenward_roger       lmer.df = "kenward-roger", pbkrtest.limit = 1e5 (few cells only)
#     asymptotic          lmer.df = "asymptotic"
# R is not available in CI; the Python tests only read the committed files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(emmeans)
  library(jsonlite)
})

if (!file.exists("tests/r/make_emmeans_df_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_emmeans_df_fixtures.R")
}
out_dir <- "tests/fixtures/emmeans_df"
dir.create(file.path(out_dir, "data"), recursive = TRUE, showWarnings = FALSE)

source_file <- "data/replicates_within.csv"
all_rows <- read.csv(source_file, stringsAsFactors = FALSE)
gene_a <- all_rows[all_rows$gene == "A", ]
gene_a$treatment <- factor(gene_a$treatment, levels = c("control", "drug"))
gene_a$replicate <- factor(gene_a$replicate)
cell <- paste(gene_a$replicate, gene_a$treatment)
rank_in_cell <- ave(seq_len(nrow(gene_a)), cell, FUN = seq_along)
size_of_cell <- ave(seq_len(nrow(gene_a)), cell, FUN = length)
few <- gene_a[rank_in_cell <= ceiling(0.01 * size_of_cell), ]
few_file <- file.path(out_dir, "data", "gene_a_few_cells.csv")
write.csv(few[, c("replicate", "treatment", "length")], few_file, row.names = FALSE)

datasets <- list(
  gene_a = list(data = gene_a, file = source_file, md5 = unname(tools::md5sum(source_file)),
                note = "gene A of data/replicates_within.csv", kr = FALSE),
  few_cells = list(data = few, file = few_file, md5 = unname(tools::md5sum(few_file)),
                   note = "first ceiling(1%) rows of every replicate x treatment cell of gene A", kr = TRUE)
)
models <- list(
  intercept = "log(length) ~ treatment + (1 | replicate)",
  per_replicate = "log(length) ~ treatment + (1 | replicate) + (1 | replicate:treatment)"
)

collect <- function(expr) {
  notes <- character(0)
  value <- withCallingHandlers(expr,
    warning = function(w) { notes <<- c(notes, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { notes <<- c(notes, conditionMessage(m)); invokeRestart("muffleMessage") })
  list(value = value, notes = notes)
}

coef_table <- function(fit, ddf) {
  ct <- coef(summary(fit, ddf = ddf))
  data.frame(term = rownames(ct), estimate = ct[, "Estimate"], se = ct[, "Std. Error"], df = ct[, "df"],
             t = ct[, "t value"], p = ct[, "Pr(>|t|)"], row.names = NULL)
}

emm_case <- function(fit, args) {
  r <- collect(do.call(emmeans, c(list(fit, ~ treatment), args)))
  em <- r$value
  s <- summary(em)
  pr <- summary(pairs(em, reverse = TRUE))
  ratio <- if ("z.ratio" %in% names(pr)) "z.ratio" else "t.ratio"
  extra <- if (length(args)) paste0(", ", names(args), " = ", sapply(args, deparse), collapse = "") else ""
  list(call = paste0("emmeans(fit, ~ treatment", extra, ")"),
       df_method = attr(s, "mesg")[grepl("^Degrees-of-freedom method", attr(s, "mesg"))],
       printed_notes = r$notes,
       # JSON has no Inf: df_is_inf says emmeans printed df = Inf (asymptotic); df is then null.
       df_is_inf = all(is.infinite(s$df)) && all(is.infinite(pr$df)),
       emmeans = list(treatment = as.character(s$treatment), emmean = s$emmean, se = s$SE, df = s$df),
       pairs = list(contrast = as.character(pr$contrast), estimate = pr$estimate, se = pr$SE, df = pr$df,
                    ratio_name = ratio, ratio = pr[[ratio]], p = pr$p.value))
}

index <- list()
for (dname in names(datasets)) {
  ds <- datasets[[dname]]
  for (mname in names(models)) {
    id <- paste(dname, mname, sep = "_")
    cat("model", id, "\n")
    fit <- lmerTest::lmer(as.formula(models[[mname]]), data = ds$data, REML = TRUE)
    cases <- list(default = list(),
                  satterthwaite = list(lmer.df = "satterthwaite", lmerTest.limit = 1e5),
                  asymptotic = list(lmer.df = "asymptotic"))
    if (ds$kr) cases$kenward_roger <- list(lmer.df = "kenward-roger", pbkrtest.limit = 1e5)
    res <- list(
      id = id, data = dname, data_note = ds$note, data_file = ds$file, data_md5 = ds$md5,
      gene = "A", nobs = nobs(fit), formula = models[[mname]], REML = TRUE,
      isSingular = isSingular(fit), theta = unname(getME(fit, "theta")), sigma = sigma(fit),
      coefs_satterthwaite = coef_table(fit, "Satterthwaite"),
      coefs_kenward_roger = if (ds$kr) coef_table(fit, "Kenward-Roger") else NULL,
      emmeans = lapply(cases, function(a) emm_case(fit, a))
    )
    writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null"),
               file.path(out_dir, paste0(id, ".json")))
    index[[id]] <- list(nobs = nobs(fit), formula = models[[mname]], isSingular = isSingular(fit))
  }
}
versions <- sapply(c("lme4", "lmerTest", "pbkrtest", "emmeans", "Matrix", "jsonlite"),
                   function(p) as.character(packageVersion(p)))
writeLines(toJSON(list(generated_by = "tests/r/make_emmeans_df_fixtures.R", r_version = R.version.string,
                       packages = as.list(versions), emm_options_defaults = list(
                         lmer.df = get_emm_option("lmer.df"), pbkrtest.limit = get_emm_option("pbkrtest.limit"),
                         lmerTest.limit = get_emm_option("lmerTest.limit")),
                       models = index),
                  auto_unbox = TRUE, pretty = TRUE, digits = NA),
           file.path(out_dir, "index.json"))
