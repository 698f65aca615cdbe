# Reference F tests from R for tests/test_ftest_r.py (issue 20).
#
# Run from the repository root:
#     Rscript tests/r/make_ftest_fixtures.R
#
# For each model of tests/r/README.md ("F tests") this writes tests/fixtures/ftest/<model_id>.json with
# lmerTest's anova(fit, type = 1, 2, 3) (Satterthwaite), emmeans' joint_tests(fit) (Satterthwaite df), and,
# for the fixed part fitted by lm, R's anova(lm) (type 1) and car::Anova(lm, type = 3) with sum-to-zero
# contrasts. Data sets from R packages that are not yet in tests/fixtures/data/ are written to
# tests/fixtures/ftest/data/. R is not available in CI; the Python tests read the committed files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
  library(car)
})

if (!file.exists("tests/r/make_ftest_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_ftest_fixtures.R")
}
out_dir <- "tests/fixtures/ftest"
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)
emm_options(lmer.df = "satterthwaite", lmerTest.limit = 1e7, pbkrtest.limit = 0)

# ---- data --------------------------------------------------------------------------------------
write_data <- function(d, name) {
  path <- file.path(out_dir, "data", paste0(name, ".csv"))
  num <- vapply(d, is.numeric, logical(1))
  d[num] <- lapply(d[num], function(x) format(x, digits = 17, trim = TRUE))
  write.csv(d, path, row.names = FALSE, quote = FALSE)
  path
}
unorder <- function(f) factor(as.character(f), levels = levels(f))

data(ham, TVbo, carrots, package = "lmerTest")
data(Assay, Pixel, Alfalfa, package = "nlme")
ham_d <- ham[, c("Consumer", "Product", "Information", "Gender", "Informed.liking")]
tvbo_d <- TVbo[, c("Assessor", "TVset", "Picture", "Coloursaturation")]
carrots_d <- carrots[, c("Consumer", "Product", "Homesize", "sens2", "Preference")]
assay_d <- as.data.frame(Assay)[, c("Block", "sample", "dilut", "logDens")]
assay_d$Block <- factor(as.character(assay_d$Block), levels = c("1", "2"))
assay_d$sample <- unorder(assay_d$sample)
assay_d$dilut <- unorder(assay_d$dilut)
pixel_d <- as.data.frame(Pixel)[, c("Dog", "Side", "day", "pixel")]
pixel_d$Dog <- factor(as.character(pixel_d$Dog), levels = as.character(1:10))
pixel_d$day2 <- pixel_d$day^2
alfalfa_d <- as.data.frame(Alfalfa)[, c("Block", "Variety", "Date", "Yield")]
alfalfa_d$Block <- unorder(alfalfa_d$Block)
pastes_d <- as.data.frame(lme4::Pastes)[, c("batch", "cask", "strength")]

data_sets <- list(
  ham = list(d = ham_d, file = write_data(ham_d, "ham")),
  tvbo = list(d = tvbo_d, file = write_data(tvbo_d, "tvbo")),
  carrots = list(d = carrots_d, file = write_data(carrots_d, "carrots")),
  assay = list(d = assay_d, file = write_data(assay_d, "assay")),
  pixel = list(d = pixel_d, file = write_data(pixel_d, "pixel")),
  alfalfa = list(d = alfalfa_d, file = write_data(alfalfa_d, "alfalfa")),
  pastes = list(d = pastes_d, file = write_data(pastes_d, "pastes"))
)
read_fixture <- function(path, factors) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (f in names(factors)) d[[f]] <- factor(as.character(d[[f]]), levels = factors[[f]])
  d
}
data_sets$sleepstudy <- list(d = read_fixture("tests/fixtures/data/sleepstudy.csv",
                                              list(Subject = levels(lme4::sleepstudy$Subject))),
                             file = "tests/fixtures/data/sleepstudy.csv")
cake_levels <- list(replicate = as.character(1:15), recipe = c("A", "B", "C"),
                    temperature = c("175", "185", "195", "205", "215", "225"))
data_sets$cake <- list(d = read_fixture("tests/fixtures/data/cake.csv", cake_levels),
                       file = "tests/fixtures/data/cake.csv")
data_sets$penicillin <- list(d = read_fixture("tests/fixtures/data/penicillin.csv",
                                              list(plate = letters[1:24], sample = LETTERS[1:6])),
                             file = "tests/fixtures/data/penicillin.csv")
for (design in c("within", "between")) {
  path <- sprintf("data/replicates_%s.csv", design)
  if (file.exists(path)) {
    d <- read.csv(path, stringsAsFactors = FALSE)
    reps <- unique(d$replicate)
    rep_levels <- if (all(grepl("^[0-9]+$", reps))) as.character(sort(as.integer(reps))) else sort(reps)
    d <- read_fixture(path, list(treatment = c("control", "drug"), gene = c("A", "B", "C"), replicate = rep_levels))
    data_sets[[paste0("replicates_", design)]] <- list(d = d, file = path)
  } else {
    message("NOTE: ", path, " not found; its models are skipped")
  }
}

# ---- models (keep in step with tests/r/README.md) -----------------------------------------------
models <- list(
  list("ham_reml", "ham", "Informed.liking ~ Gender + Information * Product + (1 | Consumer) + (1 | Consumer:Product)", TRUE),
  list("tvbo_reml", "tvbo", "Coloursaturation ~ TVset * Picture + (1 | Assessor) + (1 | Assessor:TVset)", TRUE),
  list("carrots_slope_reml", "carrots", "Preference ~ sens2 + Homesize + (1 + sens2 | Consumer)", TRUE),
  list("carrots_crossed_ml", "carrots", "Preference ~ sens2 * Homesize + (1 + sens2 | Consumer) + (1 | Product)", FALSE),
  list("assay_reml", "assay", "logDens ~ sample * dilut + (1 | Block) + (1 | Block:sample) + (1 | Block:dilut)", TRUE),
  list("pixel_reml", "pixel", "pixel ~ day + day2 + Side + (day | Dog) + (1 | Dog:Side)", TRUE),
  list("alfalfa_reml", "alfalfa", "Yield ~ Date * Variety + (1 | Block) + (1 | Block:Variety)", TRUE),
  list("alfalfa_singular_reml", "alfalfa", "Yield ~ Date * Variety + (1 | Block) + (1 | Block:Date)", TRUE),
  list("sleepstudy_slope_reml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", TRUE),
  list("sleepstudy_slope_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", FALSE),
  list("cake_reml", "cake", "angle ~ recipe * temperature + (1 | recipe:replicate)", TRUE),
  list("penicillin_reml", "penicillin", "diameter ~ sample + (1 | plate)", TRUE),
  list("pastes_reml", "pastes", "strength ~ cask + (1 | batch) + (1 | batch:cask)", TRUE),
  list("replicates_within_intercept_reml", "replicates_within", "log(length) ~ treatment * gene + (1 | replicate)", TRUE),
  list("replicates_within_slope_reml", "replicates_within", "log(length) ~ treatment * gene + (1 + treatment | replicate)", TRUE),
  list("replicates_within_slope_ml", "replicates_within", "log(length) ~ treatment * gene + (1 + treatment | replicate)", FALSE),
  list("replicates_between_intercept_reml", "replicates_between", "log(length) ~ treatment * gene + (1 | replicate)", TRUE)
)

# ---- helpers -----------------------------------------------------------------------------------
f_table <- function(tab) {
  tab <- as.data.frame(tab)
  data.frame(term = rownames(tab), sum_sq = tab[["Sum Sq"]], mean_sq = tab[["Mean Sq"]],
             num_df = tab[["NumDF"]], den_df = tab[["DenDF"]], F = tab[["F value"]], p = tab[["Pr(>F)"]])
}
lm_table <- function(tab) {
  tab <- as.data.frame(tab)
  data.frame(term = rownames(tab), df = tab[["Df"]], sum_sq = tab[["Sum Sq"]],
             mean_sq = if ("Mean Sq" %in% names(tab)) tab[["Mean Sq"]] else tab[["Sum Sq"]] / tab[["Df"]],
             F = tab[["F value"]], p = tab[["Pr(>F)"]])
}
capture <- function(expr) {
  warns <- character(0); msgs <- character(0)
  value <- withCallingHandlers(expr,
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") })
  list(value = value, warnings = warns, messages = msgs)
}

index <- list()
for (m in models) {
  id <- m[[1]]; ds <- data_sets[[m[[2]]]]
  if (is.null(ds)) next
  d <- ds$d; formula <- m[[3]]; reml <- m[[4]]
  fitted <- capture(lmer(as.formula(formula), data = d, REML = reml))
  fit <- fitted$value
  anovas <- lapply(1:3, function(type) f_table(anova(fit, type = type, ddf = "Satterthwaite")))
  names(anovas) <- paste0("type", 1:3)
  jt <- capture(as.data.frame(joint_tests(fit)))
  joint <- jt$value
  joint <- data.frame(term = as.character(joint[["model term"]]), df1 = joint$df1, df2 = joint$df2,
                      F = joint$F.ratio, p = joint$p.value)
  fixed <- nobars(as.formula(formula))
  lm_fit <- lm(fixed, data = d)
  old <- options(contrasts = c("contr.sum", "contr.poly"))
  lm_sum <- lm(fixed, data = d)
  options(old)
  used <- all.vars(as.formula(formula))
  factor_levels <- lapply(d[intersect(used, names(d))][vapply(d[intersect(used, names(d))], is.factor, logical(1))], levels)
  res <- list(
    model_id = id,
    data_file = ds$file,
    data_md5 = unname(tools::md5sum(ds$file)),
    formula = formula,
    REML = reml,
    call = sprintf("lmerTest::lmer(%s, data = d, REML = %s)", formula, reml),
    factor_levels = factor_levels,
    nobs = nobs(fit),
    isSingular = isSingular(fit),
    lme4_conv_messages = as.list(fit@optinfo$conv$lme4$messages),
    warnings = as.list(fitted$warnings),
    messages = as.list(fitted$messages),
    deviance = if (reml) REMLcrit(fit) else deviance(fit),
    theta = unname(getME(fit, "theta")),
    beta = list(names = names(fixef(fit)), values = unname(fixef(fit))),
    anova_calls = sprintf("anova(fit, type = %d, ddf = \"Satterthwaite\")", 1:3),
    anova = anovas,
    joint_tests_call = "joint_tests(fit) with emm_options(lmer.df = \"satterthwaite\")",
    joint_tests = joint,
    joint_tests_messages = as.list(c(jt$warnings, jt$messages)),
    lm = list(
      formula = deparse(fixed),
      anova_type1_call = "anova(lm(fixed, data = d))",
      anova_type1 = lm_table(anova(lm_fit)),
      anova_type3_call = "car::Anova(lm(fixed, data = d) with options(contrasts = c(\"contr.sum\", \"contr.poly\")), type = 3)",
      anova_type3 = lm_table(car::Anova(lm_sum, type = 3))
    )
  )
  txt <- toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null", dataframe = "columns")
  writeLines(txt, file.path(out_dir, paste0(id, ".json")))
  index[[length(index) + 1]] <- list(model_id = id, formula = formula, REML = reml, isSingular = isSingular(fit),
                                     lme4_conv_messages = as.list(fit@optinfo$conv$lme4$messages))
  cat("wrote", id, "\n")
}
info <- list(
  generated_by = "Rscript tests/r/make_ftest_fixtures.R",
  r_version = R.version.string,
  packages = lapply(c(lme4 = "lme4", lmerTest = "lmerTest", emmeans = "emmeans", car = "car", Matrix = "Matrix",
                      nlme = "nlme"), function(p) as.character(packageVersion(p))),
  emm_options = "lmer.df = satterthwaite, lmerTest.limit = 1e7, pbkrtest.limit = 0",
  models = index
)
writeLines(toJSON(info, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "index.json"))
