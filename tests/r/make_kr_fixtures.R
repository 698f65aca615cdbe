# Reference Kenward-Roger results from R (pbkrtest via lmerTest and emmeans) for
# tests/test_kenward_roger.py.
#
# Run from the repository root:
#     Rscript tests/r/make_kr_fixtures.R
#
# Writes tests/fixtures/kr/<model_id>.json (one REML fit each) and the data as fitted to
# tests/fixtures/kr/data/<dataset>.csv, plus tests/fixtures/kr/index.json. For each model:
#   theta, sigma, beta, vcov            lme4's fit (the test can evaluate KR at this theta)
#   vcov_adj                            pbkrtest::vcovAdj(fit)
#   coefs                               lmerTest summary(fit, ddf = "Kenward-Roger"): SE and df
#   anova_kr                            lmerTest anova(fit, type = 3, ddf = "Kenward-Roger"),
#                                       with each term's contrast matrix L (lmerTest's type-3
#                                       contrasts) and pbkrtest's F scaling for that L
#   emmeans                             one emmeans table and its pairwise contrasts (emmeans'
#                                       default df for lmer below 3,000 rows: Kenward-Roger),
#                                       with the linear functions (linfct) emmeans used
# The two replicate models (a 1-in-20 subset of data/replicates_*.csv, 1,125 rows) are too
# slow for lmerTest's KR, which recomputes vcovAdj (an n x n inverse) once per coefficient
# and once per term. For them ("direct": true) the same numbers come from one vcovAdj and
# the pbkrtest functions lmerTest calls: SE = sqrt(L vcovAdj L'), df = pbkrtest::Lb_ddf,
# F = pbkrtest's KRmodcomp statistic for lmerTest's L.
# R is not available in CI; the Python tests only read the committed files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(emmeans)
  library(jsonlite)
  library(nlme, include.only = character(0))
})

if (!file.exists("tests/r/make_kr_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_kr_fixtures.R")
}
out_dir <- "tests/fixtures/kr"
dir.create(file.path(out_dir, "data"), recursive = TRUE, showWarnings = FALSE)

unorder <- function(d) {
  for (v in names(d)) if (is.factor(d[[v]])) d[[v]] <- factor(as.character(d[[v]]), levels = levels(d[[v]]))
  as.data.frame(d)
}
subset_replicates <- function(file) {
  d <- read.csv(file, stringsAsFactors = TRUE)
  d[seq(1, nrow(d), by = 20), ]
}

datasets <- list(
  ham = unorder(lmerTest::ham),
  TVbo = unorder(lmerTest::TVbo),
  carrots = unorder(lmerTest::carrots),
  Assay = unorder(nlme::Assay),
  # day^2 as a column: lmmedu (patsy) reads I(day^2) as Python's XOR, not as a square.
  Pixel = transform(unorder(nlme::Pixel), day2 = day^2),
  Alfalfa = unorder(nlme::Alfalfa),
  sleepstudy = unorder(lme4::sleepstudy),
  cake = unorder(transform(lme4::cake, temperature = factor(as.character(temperature),
                                                             levels = levels(lme4::cake$temperature)))),
  Penicillin = unorder(lme4::Penicillin),
  Pastes = unorder(lme4::Pastes),
  Dyestuff2 = unorder(lme4::Dyestuff2),
  replicates_within = subset_replicates("data/replicates_within.csv"),
  replicates_between = subset_replicates("data/replicates_between.csv")
)

models <- list(
  list(id = "ham", data = "ham", note = "crossed: consumer and consumer:product, 2 factors",
       formula = "Informed.liking ~ Product * Information + (1 | Consumer) + (1 | Consumer:Product)",
       emm = "~ Product"),
  list(id = "tvbo", data = "TVbo", note = "crossed and nested, 3 x 4 factorial",
       formula = "Coloursaturation ~ TVset * Picture + (1 | Assessor) + (1 | Assessor:TVset)",
       emm = "~ TVset"),
  list(id = "carrots", data = "carrots", note = "random slope and crossed product effect, unbalanced (NAs)",
       formula = "Preference ~ sens2 + Homesize + (1 + sens2 | Consumer) + (1 | Product)",
       emm = "~ Homesize"),
  list(id = "assay", data = "Assay", note = "nested: sample within block",
       formula = "logDens ~ sample + dilut + (1 | Block) + (1 | Block:sample)",
       emm = "~ sample"),
  list(id = "pixel", data = "Pixel", note = "random slope per dog, side nested in dog",
       formula = "pixel ~ day + day2 + (day | Dog) + (1 | Dog:Side)",
       emm = NULL),
  list(id = "alfalfa", data = "Alfalfa", note = "split plot: variety within block",
       formula = "Yield ~ Date * Variety + (1 | Block) + (1 | Block:Variety)",
       emm = "~ Date"),
  list(id = "sleepstudy", data = "sleepstudy", note = "correlated random slope",
       formula = "Reaction ~ Days + (Days | Subject)", emm = NULL),
  list(id = "cake", data = "cake", note = "split plot, 3 x 6 factorial",
       formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", emm = "~ recipe"),
  list(id = "penicillin", data = "Penicillin", note = "crossed, intercept only",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", emm = "~ 1"),
  list(id = "pastes", data = "Pastes", note = "nested: cask within batch, intercept only",
       formula = "strength ~ 1 + (1 | batch) + (1 | batch:cask)", emm = "~ 1"),
  list(id = "dyestuff2", data = "Dyestuff2", note = "singular fit (batch variance estimated at zero)",
       formula = "Yield ~ 1 + (1 | Batch)", emm = "~ 1"),
  list(id = "replicates_within", data = "replicates_within", direct = TRUE,
       note = "1-in-20 subset of data/replicates_within.csv, random treatment slope per replicate",
       formula = "log(length) ~ treatment * gene + (1 + treatment | replicate)", emm = "~ treatment | gene"),
  list(id = "replicates_between", data = "replicates_between", direct = TRUE,
       note = "1-in-20 subset of data/replicates_between.csv, treatment between replicates",
       formula = "log(length) ~ treatment * gene + (1 | replicate)", emm = "~ treatment | gene")
)

mat <- function(M) {
  M <- as.matrix(M)
  list(rownames = rownames(M), colnames = colnames(M), values = unname(lapply(seq_len(nrow(M)), function(i) unname(M[i, ]))))
}

# pbkrtest's F test for L on a fit whose vcovAdj is already known (KRmodcomp's own code path).
kr_test <- function(fit, L, PhiA) {
  s <- pbkrtest:::.KR_adjust(PhiA, Phi = vcov(fit), L, beta = fixef(fit), betaH = 0)
  c(F = s$Fstat, F_unscaled = s$FstatU, scaling = s$F.scaling, num_df = s$ndf, den_df = s$ddf)
}

index <- list()
for (m in models) {
  cat("model", m$id, "\n")
  d <- datasets[[m$data]]
  data_file <- file.path(out_dir, "data", paste0(m$data, ".csv"))
  write.csv(d, data_file, row.names = FALSE)
  t0 <- proc.time()[["elapsed"]]
  warn <- character(0)
  fit <- withCallingHandlers(lmerTest::lmer(as.formula(m$formula), data = d, REML = TRUE),
                             warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") },
                             message = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleMessage") })
  PhiA <- vcovAdj(fit)
  direct <- isTRUE(m$direct)
  p <- length(fixef(fit))
  # Coefficient table
  if (direct) {
    se <- sqrt(diag(as.matrix(PhiA)))
    df <- sapply(seq_len(p), function(i) { L <- matrix(0, 1, p); L[i] <- 1; pbkrtest::Lb_ddf(L, vcov(fit), PhiA) })
    coefs <- data.frame(term = names(fixef(fit)), estimate = unname(fixef(fit)), se = unname(se), df = unname(df))
  } else {
    ct <- coef(summary(fit, ddf = "Kenward-Roger"))
    coefs <- data.frame(term = rownames(ct), estimate = ct[, "Estimate"], se = ct[, "Std. Error"], df = ct[, "df"])
  }
  # Type-3 anova with the contrast matrices lmerTest uses
  anova_kr <- list()
  if (p > 1) {
    Ls <- lmerTest:::get_contrasts_type3(fit)
    tab <- if (direct) NULL else as.data.frame(anova(fit, type = 3, ddf = "Kenward-Roger"))
    for (term in names(Ls)) {
      L <- Ls[[term]]
      k <- kr_test(fit, L, PhiA)
      row <- list(term = term, L = mat(L), scaling = unname(k[["scaling"]]), F_unscaled = unname(k[["F_unscaled"]]))
      if (direct) {
        row$F <- unname(k[["F"]]); row$num_df <- unname(k[["num_df"]]); row$den_df <- unname(k[["den_df"]])
      } else {
        row$F <- tab[term, "F value"]; row$num_df <- tab[term, "NumDF"]; row$den_df <- tab[term, "DenDF"]
        row$sum_sq <- tab[term, "Sum Sq"]; row$mean_sq <- tab[term, "Mean Sq"]
      }
      anova_kr[[length(anova_kr) + 1]] <- row
    }
  }
  # emmeans (Kenward-Roger is its default for lmer fits below 3,000 rows; said explicitly here)
  emm_out <- NULL
  if (!is.null(m$emm)) {
    em <- emmeans(fit, as.formula(m$emm), lmer.df = "kenward-roger")
    se_em <- summary(em)
    emm_out <- list(spec = m$emm, linfct = mat(em@linfct), se = se_em$SE, df = se_em$df, estimate = se_em$emmean)
    if (nrow(em@linfct) > 1) {
      pr <- pairs(em)
      sp <- summary(pr)
      emm_out$pairs <- list(linfct = mat(pr@linfct), se = sp$SE, df = sp$df, estimate = sp$estimate)
    }
  }
  vc <- as.data.frame(VarCorr(fit))
  res <- list(
    model_id = m$id, dataset = m$data, data_file = data_file, data_md5 = unname(tools::md5sum(data_file)),
    formula = m$formula, REML = TRUE, note = m$note, direct = direct,
    factors = names(d)[sapply(d, is.factor)],
    levels = lapply(d[sapply(d, is.factor)], levels),
    nobs = nobs(fit), isSingular = isSingular(fit), warnings = warn,
    theta = unname(getME(fit, "theta")), theta_names = names(getME(fit, "theta")),
    sigma = sigma(fit), beta = unname(fixef(fit)), coef_names = names(fixef(fit)),
    vcov = mat(vcov(fit)), vcov_adj = mat(PhiA),
    coefs = coefs, anova_kr = anova_kr, emmeans = emm_out,
    seconds = proc.time()[["elapsed"]] - t0
  )
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null"),
             file.path(out_dir, paste0(m$id, ".json")))
  index[[m$id]] <- list(formula = m$formula, isSingular = isSingular(fit), warnings = warn)
}
versions <- sapply(c("lme4", "lmerTest", "pbkrtest", "emmeans", "Matrix", "jsonlite"),
                   function(p) as.character(packageVersion(p)))
writeLines(toJSON(list(generated_by = "tests/r/make_kr_fixtures.R", r_version = R.version.string,
                       packages = as.list(versions), models = index),
                  auto_unbox = TRUE, pretty = TRUE, digits = NA),
           file.path(out_dir, "index.json"))
