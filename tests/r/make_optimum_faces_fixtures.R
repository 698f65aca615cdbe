# lme4's optimum of (1 + treatment | replicate) on 4 replicates where two faces of the bounds compete
# (intercept SD at 0, or correlation at +-1), for tests/test_optimum_faces.py.
#
# Run from the repository root (a few seconds):
#     Rscript tests/r/make_optimum_faces_fixtures.R
#
# Reads tests/fixtures/optimum_faces/data.csv (columns id, replicate, treatment, y = log length): 14 data sets of
# one gene in 4 replicates of 100 cells, drawn by lmmedu.simulate_replicates at notebook 06's interval-study
# settings (replicate SD 0.2, drug-effect SD 0.1-0.4, cell SD 0.5) and parametric-bootstrap draws from fits of
# them; chosen because lmmedu (before the restarts from the other faces) or lme4 ended on the worse face
# (cases.csv says which are fresh fits and which are bootstrap refits with their start).
# Writes tests/fixtures/optimum_faces/lme4.csv: per id, lme4's REML criterion and ML deviance, theta of each
# fit (lme4's order: intercept SD, then the slope column's two entries, relative to sigma), isSingular, and
# the package versions. R is not available in CI; the tests read only these files.

suppressPackageStartupMessages(library(lme4))
if (!file.exists("tests/r/make_optimum_faces_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_optimum_faces_fixtures.R")
}
dir <- "tests/fixtures/optimum_faces"
d <- read.csv(file.path(dir, "data.csv"), colClasses = c(replicate = "factor"))
d$treatment <- factor(d$treatment, levels = c("control", "drug"))
rows <- lapply(split(d, d$id), function(x) {
  fits <- lapply(c(TRUE, FALSE), function(reml)
    suppressMessages(suppressWarnings(lmer(y ~ treatment + (1 + treatment | replicate), x, REML = reml))))
  th <- lapply(fits, function(m) unname(getME(m, "theta")))
  data.frame(id = x$id[1],
             reml_crit = sprintf("%.10f", unname(getME(fits[[1]], "devcomp")$cmp["REML"])),
             ml_dev = sprintf("%.10f", unname(deviance(fits[[2]]))),
             reml_theta1 = th[[1]][1], reml_theta2 = th[[1]][2], reml_theta3 = th[[1]][3],
             ml_theta1 = th[[2]][1], ml_theta2 = th[[2]][2], ml_theta3 = th[[2]][3],
             reml_singular = isSingular(fits[[1]]), ml_singular = isSingular(fits[[2]]),
             lme4 = as.character(packageVersion("lme4")), R = paste(R.version$major, R.version$minor, sep = "."))
})
out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "lme4.csv"), row.names = FALSE)
cat("wrote", file.path(dir, "lme4.csv"), "\n")
