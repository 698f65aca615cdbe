# Reference intervals of a random-slope SD from 4 replicates, for notebook 06's interval study
# (tests/test_nb06_shrinkage.py): the model and the design of lmmedu.teach.studies.sd_interval_study.
#
# Run from the repository root (about a minute):
#     Rscript tests/r/make_sd_interval_fixtures.R
#
# Reads tests/fixtures/sd_intervals/data/four_replicates_seed<k>.csv (one gene, 4 replicates of 100 cells,
# written by lmmedu.simulate_replicates with replicate_treatment_sd = 0.1, seeds 1 and 3) and writes
# tests/fixtures/sd_intervals/<name>.json: lme4's confint(method = "profile", oldNames = FALSE), and the
# percentiles of bootMer's refitted SD of the drug effect (nsim = 1000) with the share of singular refits,
# with the data file's md5 and the R package versions. R is not available in CI; the tests read only these files.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
if (!file.exists("tests/r/make_sd_interval_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_sd_interval_fixtures.R")
}
out_dir <- "tests/fixtures/sd_intervals"
formula <- log(length) ~ treatment + (1 + treatment | replicate)
for (seed in c(1, 3)) {
  name <- sprintf("four_replicates_seed%d", seed)
  path <- file.path(out_dir, "data", paste0(name, ".csv"))
  d <- read.csv(path, colClasses = c(replicate = "factor"))
  d$treatment <- factor(d$treatment, levels = c("control", "drug"))
  m <- lmer(formula, data = d, REML = TRUE)
  prof <- suppressWarnings(confint(m, method = "profile", oldNames = FALSE))
  set.seed(20240 + seed)
  f <- function(x) c(sd = as.data.frame(VarCorr(x))$sdcor[2], singular = isSingular(x))
  b <- suppressMessages(suppressWarnings(bootMer(m, f, nsim = 1000)))
  probs <- c(0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)
  out <- list(
    formula = deparse(formula), REML = TRUE, data_file = path, data_md5 = unname(tools::md5sum(path)),
    is_singular = isSingular(m),
    varcorr = as.data.frame(VarCorr(m)),
    profile = data.frame(parameter = rownames(prof), lower = prof[, 1], upper = prof[, 2], row.names = NULL),
    boot_nsim = 1000, boot_parameter = "sd_treatmentdrug|replicate",
    boot_quantiles = data.frame(p = probs, value = unname(quantile(b$t[, 1], probs))),
    boot_singular_share = mean(b$t[, 2]),
    versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
  )
  write_json(out, file.path(out_dir, paste0(name, ".json")), digits = NA, pretty = TRUE, auto_unbox = TRUE)
  cat("wrote", file.path(out_dir, paste0(name, ".json")), "\n")
}
