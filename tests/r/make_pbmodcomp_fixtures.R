# What pbkrtest's PBmodcomp does with REML fits, for tests/test_pbmodcomp_r.py.
#
# Run from the repository root (about a minute):
#     Rscript tests/r/make_pbmodcomp_fixtures.R
#
# One small random-part test: sleepstudy's first three days (Days < 3, 54 rows), the random slope
# (0 + Days | Subject) added to (1 | Subject), with Days as fixed effect. PBmodcomp is given the REML fits
# (lmer's default); it refits both by ML before computing the observed LRT and refits every simulated data
# set by ML. Writes tests/fixtures/pbmodcomp/sleepstudy_slope.json: `data_file`, `data_md5`, `subset`,
# `small`, `big`, `call`, `nsim`, `seed`, `lrt_reml` and `lrt_ml` (2 x the log-likelihood difference of the
# REML fits and of the ML fits, from lme4), `tobs` (PBmodcomp's observed LRT), `p_chisq`, `p_pbtest`
# (PBmodcomp's printed PBtest: (1 + #{LRT* > tobs}) / (1 + #{LRT* > 0})), `p_all` ((1 + #{LRT* >= tobs}) /
# (1 + nsim), every simulation counted, as lmmedu's p), `share_zero` (simulated LRT* <= 1e-8) and `ref`
# (the simulated LRTs).

suppressPackageStartupMessages({
  library(lme4)
  library(pbkrtest)
})
if (!file.exists("tests/r/make_pbmodcomp_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_pbmodcomp_fixtures.R")
}
out_dir <- "tests/fixtures/pbmodcomp"
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(if (length(script_file)) dirname(script_file) else "tests/r", "json.R"))

path <- "tests/fixtures/data/sleepstudy.csv"
d <- read.csv(path, colClasses = c(Subject = "character"))
d <- d[d$Days < 3, ]
small_f <- Reaction ~ Days + (1 | Subject)
big_f <- Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)
small <- lmer(small_f, d)  # REML, as a learner fits them
big <- lmer(big_f, d)
small_ml <- update(small, REML = FALSE)
big_ml <- update(big, REML = FALSE)
nsim <- 2000
seed <- 20261207
pb <- suppressMessages(suppressWarnings(PBmodcomp(big, small, nsim = nsim, seed = seed)))
ref <- as.numeric(pb$ref)
tobs <- unname(pb$LRTstat["tobs"])
res <- list(
  generated_by = "Rscript tests/r/make_pbmodcomp_fixtures.R", r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")), pbkrtest = as.character(packageVersion("pbkrtest"))),
  data_file = path, data_md5 = unname(tools::md5sum(path)), subset = "Days < 3",
  small = deparse(small_f), big = deparse(big_f),
  call = sprintf("PBmodcomp(big, small, nsim = %d, seed = %d) with big, small fitted by lmer(REML = TRUE)", nsim, seed),
  nsim = nsim, seed = seed,
  lrt_reml = 2 * as.numeric(logLik(big) - logLik(small)),
  lrt_ml = 2 * as.numeric(logLik(big_ml) - logLik(small_ml)),
  tobs = tobs,
  p_chisq = pb$test["LRT", "p.value"],
  p_pbtest = pb$test["PBtest", "p.value"],
  p_all = (1 + sum(ref >= tobs)) / (1 + length(ref)),
  share_zero = mean(ref <= 1e-8),
  ref = ref
)
txt <- suppressWarnings(to_json(res))
stopifnot(validate(txt))
writeLines(txt, file.path(out_dir, "sleepstudy_slope.json"))
cat("wrote", file.path(out_dir, "sleepstudy_slope.json"), "\n")
