# Reference emmeans/contrast tables from R for lmmedu's interpretation layer
# (lmmedu/interpret.py): p-value adjustments and their confidence limits,
# Tukey within by-groups, numeric covariates and `at`, back-transformed
# ratios, lm fits, and separate per-gene fits next to the joint model.
#
# Run from the repository root, after data/replicates_*.csv exist:
#     Rscript tests/r/make_interpret_fixtures.R
#
# Writes tests/fixtures/interpret/<id>.json; the layout follows
# tests/r/make_fixtures.R (see tests/r/README.md): each file holds the model
# call, the data md5 and an object `tables`, each entry with `call`, `table`
# (as.data.frame of the emmeans summary, column arrays) and `notes`
# (emmeans' own annotation lines, which say which adjustment was applied).
# Numbers are written with the shortest of 15/16/17 significant digits that
# round-trips (the shared writer tests/r/json.R).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
})

# Satterthwaite df at any size (emmeans switches to df = Inf above 3000 rows).
emm_options(lmer.df = "satterthwaite", lmerTest.limit = 1e7, pbkrtest.limit = 0)

if (!file.exists("tests/r/make_interpret_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_interpret_fixtures.R")
}
out_dir <- "tests/fixtures/interpret"
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# The shared JSON writer (fmt_num, to_json, write_json_file), beside this script.
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(if (length(script_file)) dirname(script_file) else "tests/r", "json.R"))

read_factors <- function(path, levels_list) {
  d <- read.csv(path, colClasses = setNames(rep("character", length(levels_list)), names(levels_list)),
                stringsAsFactors = FALSE)
  for (nm in names(levels_list)) d[[nm]] <- factor(d[[nm]], levels = levels_list[[nm]])
  d
}

# One summary table with its call, notes and any warnings, like make_fixtures.R.
table_entry <- function(call, env) {
  w <- character()
  s <- withCallingHandlers(eval(parse(text = call), envir = env),
                           warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") },
                           message = function(c) invokeRestart("muffleMessage"))
  tab <- as.data.frame(s)
  for (nm in names(tab)) if (is.factor(tab[[nm]])) tab[[nm]] <- as.character(tab[[nm]])
  notes <- as.character(attr(s, "mesg"))
  if ("df" %in% names(tab) && any(!is.finite(tab$df))) stop("Non-finite df in ", call)
  list(call = call, table = tab, notes = I(notes), warnings = I(w))
}

write_model <- function(id, description, data_path, fit_call, env, calls) {
  tables <- lapply(calls, table_entry, env = env)
  names(tables) <- names(calls)
  write_json_file(list(id = id, description = description, data_file = data_path,
                       data_md5 = unname(tools::md5sum(data_path)), fit_call = fit_call,
                       tables = tables),
                  file.path(out_dir, paste0(id, ".json")))
}

# ---------------------------------------------------------------------------
# cake: a split plot with a 3-level and a 6-level factor.
# ---------------------------------------------------------------------------
cake_path <- "tests/fixtures/data/cake.csv"
temps <- c("175", "185", "195", "205", "215", "225")
cake <- read_factors(cake_path, list(replicate = as.character(1:15), recipe = c("A", "B", "C"),
                                     temperature = temps))

fit <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake, REML = TRUE)
env <- list2env(list(fit = fit))
adj_calls <- c()
for (a in c("none", "holm", "fdr", "bonferroni", "tukey")) {
  adj_calls[[paste0("pairs_recipe_", a)]] <-
    sprintf('summary(pairs(emmeans(fit, ~ recipe)), adjust = "%s", infer = c(TRUE, TRUE))', a)
}
write_model("cake_factor", "Cake split plot: adjustments, revpairwise, trt.vs.ctrl, Tukey within by-groups.",
            cake_path, "lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake, REML = TRUE)", env,
            c(adj_calls,
              revpairs_recipe = 'summary(pairs(emmeans(fit, ~ recipe), reverse = TRUE), infer = c(TRUE, TRUE))',
              trt_vs_ctrl_temperature_none = 'summary(contrast(emmeans(fit, ~ temperature), "trt.vs.ctrl"), adjust = "none", infer = c(TRUE, TRUE))',
              trt_vs_ctrl_temperature_holm = 'summary(contrast(emmeans(fit, ~ temperature), "trt.vs.ctrl"), adjust = "holm", infer = c(TRUE, TRUE))',
              pairs_temperature_by_recipe_tukey = 'summary(pairs(emmeans(fit, ~ temperature | recipe)), adjust = "tukey", infer = c(TRUE, TRUE))',
              pairs_temperature_by_recipe_holm_all = 'summary(pairs(emmeans(fit, ~ temperature | recipe)), by = NULL, adjust = "holm", infer = c(TRUE, TRUE))'))

# The same cake, temperature as a number: the recipe means depend on where
# the covariate is held (its mean by default, or `at`).
fit <- lmer(angle ~ recipe * temp + (1 | recipe:replicate), data = cake, REML = TRUE)
env <- list2env(list(fit = fit))
write_model("cake_covariate", "Cake with temperature as a numeric covariate: covariate at its mean and at given values.",
            cake_path, "lmer(angle ~ recipe * temp + (1 | recipe:replicate), data = cake, REML = TRUE)", env,
            c(emm_recipe = "summary(emmeans(fit, ~ recipe))",
              emm_recipe_by_temp_at = "summary(emmeans(fit, ~ recipe | temp, at = list(temp = c(175, 225))))",
              emm_recipe_avg_at = "summary(emmeans(fit, ~ recipe, at = list(temp = c(175, 225))))",
              revpairs_recipe_at_0 = 'summary(pairs(emmeans(fit, ~ recipe, at = list(temp = 0)), reverse = TRUE), adjust = "none")',
              coefficients = 'as.data.frame(summary(fit, ddf = "Satterthwaite")$coefficients)'))

# ---------------------------------------------------------------------------
# Simulated replicates (seed 000): ratios, Holm across genes, Tukey at large df.
# ---------------------------------------------------------------------------
sim_levels <- list(treatment = c("control", "drug"), gene = c("A", "B", "C"))
sim_calls <- c(
  emm_treatment_by_gene_response = 'summary(emmeans(fit, ~ treatment | gene, type = "response"))',
  revpairs_by_gene_ratio_holm = 'summary(pairs(emmeans(fit, ~ treatment | gene, type = "response"), reverse = TRUE), by = NULL, adjust = "holm", infer = c(TRUE, TRUE))',
  trt_vs_ctrl_gene_by_treatment = 'summary(contrast(emmeans(fit, ~ gene | treatment), "trt.vs.ctrl"), adjust = "none", infer = c(TRUE, TRUE))',
  pairs_gene_by_treatment_tukey = 'summary(pairs(emmeans(fit, ~ gene | treatment)), adjust = "tukey", infer = c(TRUE, TRUE))'
)
for (design in c("within", "between")) {
  path <- file.path("data", paste0("replicates_", design, ".csv"))
  if (!file.exists(path)) {
    cat("NOTE:", path, "not found; skipping\n")
    next
  }
  d <- read_factors(path, sim_levels)
  d$replicate <- factor(d$replicate)
  for (re in c("intercept", "slope")) {
    rterm <- if (re == "intercept") "(1 | replicate)" else "(1 + treatment | replicate)"
    f <- as.formula(paste("log(length) ~ treatment * gene +", rterm))
    # Spliced formula, so emmeans sees log(length) and back-transforms.
    fit <- eval(bquote(lmer(.(f), data = d, REML = TRUE)))
    write_model(paste0("replicates_", design, "_", re), paste("Seed-000", design, "design,", rterm),
                path, sprintf("lmer(%s, data = d, REML = TRUE)", deparse(f)),
                list2env(list(fit = fit)), sim_calls)
  }

  # The lm twin: residual df everywhere.
  fit <- lm(log(length) ~ treatment * gene, data = d)
  write_model(paste0("replicates_", design, "_lm"), paste("Seed-000", design, "design, lm without replicate"),
              path, "lm(log(length) ~ treatment * gene, data = d)", list2env(list(fit = fit)),
              c(emm_treatment_by_gene = "summary(emmeans(fit, ~ treatment | gene))",
                emm_gene = "summary(emmeans(fit, ~ gene))",
                revpairs_by_gene_ratio_holm = sim_calls[["revpairs_by_gene_ratio_holm"]]))

  # Separate per-gene fits (what a learner does first), the effect row of each,
  # with Holm across the genes.
  rows <- lapply(levels(d$gene), function(g) {
    sub <- droplevels(d[d$gene == g, ])
    m <- lmer(log(length) ~ treatment + (1 | replicate), data = sub, REML = TRUE)
    ct <- summary(m, ddf = "Satterthwaite")$coefficients
    data.frame(gene = g, estimate = ct["treatmentdrug", "Estimate"], SE = ct["treatmentdrug", "Std. Error"],
               df = ct["treatmentdrug", "df"], p = ct["treatmentdrug", "Pr(>|t|)"], sigma = sigma(m),
               stringsAsFactors = FALSE)
  })
  sep <- do.call(rbind, rows)
  sep$p_holm <- p.adjust(sep$p, "holm")
  write_json_file(list(id = paste0("per_gene_", design),
                       description = "Separate lmer(log(length) ~ treatment + (1 | replicate)) per gene; Holm over genes.",
                       data_file = path, data_md5 = unname(tools::md5sum(path)),
                       fit_call = "lmer(log(length) ~ treatment + (1 | replicate), data = d[d$gene == g, ], REML = TRUE)",
                       table = sep),
                  file.path(out_dir, paste0("per_gene_", design, ".json")))
}
