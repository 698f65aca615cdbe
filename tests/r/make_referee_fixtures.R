# Reference results for notebook 07's "bootstrap as referee" (tests/test_referee.py).
#
# Run from the repository root (about two minutes, most of it PBmodcomp's refits):
#     Rscript tests/r/make_referee_fixtures.R
#
# Reads tests/fixtures/referee/experiment.csv (one simulated experiment: 4 replicates of 100
# cells, both arms in every replicate, no average drug effect, a drug effect that varies
# between replicates; written by lmmedu.teach.studies.simulate_groups, see tests/test_referee.py)
# and writes tests/fixtures/referee/referee.json: for the random-intercept-only and the
# random-slope model, every p-value of the drug effect that notebook 07 puts side by side
#   lm            anova(lm(log(length) ~ treatment))
#   lrt           anova(m0, m1) of two ML fits (chi-square)
#   pb            pbkrtest::PBmodcomp(m1, m0, nsim = 500, seed = 1): LRT and PBtest p
#   satterthwaite lmerTest anova(m) of the REML fit
#   kr            lmerTest anova(m, ddf = "Kenward-Roger") and pbkrtest::KRmodcomp(m, m_small)
# and the test of the replicate-by-drug variance: lmerTest::ranova of
# log(length) ~ treatment + (1|replicate) + (1|replicate:treatment) and PBmodcomp of it
# against (1|replicate) (REML fits, as ranova).
# R is not available in CI; the Python tests only read the committed files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

if (!file.exists("tests/r/make_referee_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_referee_fixtures.R")
}
out_dir <- "tests/fixtures/referee"
data_file <- file.path(out_dir, "experiment.csv")
d <- read.csv(data_file, stringsAsFactors = FALSE)
d$replicate <- factor(d$replicate, levels = c("R1", "R2", "R3", "R4"))
d$treatment <- factor(d$treatment, levels = c("control", "drug"))
nsim <- 500

lm_tab <- anova(lm(log(length) ~ treatment, data = d))
out <- list(
  data_file = data_file,
  data_md5 = unname(tools::md5sum(data_file)),
  nsim = nsim,
  lm = list(F = lm_tab["treatment", "F value"], df_resid = lm_tab["Residuals", "Df"],
            p = lm_tab["treatment", "Pr(>F)"]),
  models = list()
)

randoms <- list(random_intercept_only = "(1 | replicate)", random_slope = "(1 + treatment | replicate)")
for (name in names(randoms)) {
  big_f <- as.formula(paste("log(length) ~ treatment +", randoms[[name]]))
  small_f <- as.formula(paste("log(length) ~ 1 +", randoms[[name]]))
  m1 <- lmer(big_f, data = d, REML = FALSE)
  m0 <- lmer(small_f, data = d, REML = FALSE)
  lrt <- anova(m0, m1)
  pb <- PBmodcomp(m1, m0, nsim = nsim, seed = 1)
  reml <- lmer(big_f, data = d)
  reml0 <- lmer(small_f, data = d)
  sat <- anova(reml)
  kr <- anova(reml, ddf = "Kenward-Roger")
  krm <- KRmodcomp(reml, reml0)
  out$models[[name]] <- list(
    formula = deparse(big_f),
    singular = isSingular(reml),
    lrt = list(Chisq = lrt$Chisq[2], Df = lrt$Df[2], p = lrt$`Pr(>Chisq)`[2]),
    pb = list(LRT = pb$test["LRT", "stat"], p_chisq = pb$test["LRT", "p.value"],
              p_PBtest = pb$test["PBtest", "p.value"], nsim = nsim),
    satterthwaite = list(F = sat["treatment", "F value"], den_df = sat["treatment", "DenDF"],
                         p = sat["treatment", "Pr(>F)"]),
    kr = list(F = kr["treatment", "F value"], den_df = kr["treatment", "DenDF"], p = kr["treatment", "Pr(>F)"],
              KRmodcomp_F = krm$test["Ftest", "stat"], KRmodcomp_ddf = krm$test["Ftest", "ddf"],
              KRmodcomp_p = krm$test["Ftest", "p.value"])
  )
}

big <- lmer(log(length) ~ treatment + (1 | replicate) + (1 | replicate:treatment), data = d)
small <- lmer(log(length) ~ treatment + (1 | replicate), data = d)
rt <- ranova(big)
row <- "(1 | replicate:treatment)"
pbv <- PBmodcomp(big, small, nsim = nsim, seed = 2)
out$variance <- list(
  formula = "log(length) ~ treatment + (1 | replicate) + (1 | replicate:treatment)",
  ranova = list(LRT = rt[row, "LRT"], Df = rt[row, "Df"], p = rt[row, "Pr(>Chisq)"]),
  pb = list(LRT = pbv$test["LRT", "stat"], p_chisq = pbv$test["LRT", "p.value"],
            p_PBtest = pbv$test["PBtest", "p.value"], nsim = nsim)
)
out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     lmerTest = as.character(packageVersion("lmerTest")),
                     pbkrtest = as.character(packageVersion("pbkrtest")))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out_dir, "referee.json"))
cat("wrote", file.path(out_dir, "referee.json"), "\n")
