# Reference intervals and tests from R for tests/test_confint*.py, test_ranova*.py, test_bootstrap*.py.
#
# Run from the repository root:
#     Rscript tests/r/make_confint_fixtures.R            # all models, about 3 minutes
#     Rscript tests/r/make_confint_fixtures.R --quick    # skip the 22,500-row replicate model
#     Rscript tests/r/make_confint_fixtures.R --pb-only  # only pbmodcomp.json
#
# Writes tests/fixtures/confint/:
#   data/<name>.csv          the data sets not already in tests/fixtures/data (as fitted)
#   <model_id>.json          per model: formula, REML, lme4's confint(method = "profile",
#                            oldNames = FALSE) and its warnings, confint(method = "Wald"),
#                            lmerTest's ranova(fit), the ML log-likelihood and the seconds
#                            the profile took; for a few small models bootMer percentile
#                            intervals (nsim = 500)
#   pbmodcomp.json           pbkrtest's PBmodcomp (nsim = 500) for four nested comparisons: its printed
#                            PBtest p (which keeps only the simulated LRT > 0), and the p over all
#                            simulations, (1 + #{LRT* > LRT}) / (1 + nsim), from the same reference values
#   index.json               versions, the list of models
# R is not available in CI; the Python tests read only these files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
  library(nlme, include.only = character(0))
})

if (!file.exists("tests/r/make_confint_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_confint_fixtures.R")
}
quick <- "--quick" %in% commandArgs(trailingOnly = TRUE)
pb_only <- "--pb-only" %in% commandArgs(trailingOnly = TRUE)
out_dir <- "tests/fixtures/confint"
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)

unorder <- function(d) {
  for (v in names(d)) if (is.factor(d[[v]])) d[[v]] <- factor(as.character(d[[v]]), levels = levels(d[[v]]))
  d
}
export <- function(d, name) {
  path <- file.path(out_dir, "data", paste0(name, ".csv"))
  write.csv(d, path, row.names = FALSE, quote = FALSE)
  path
}

# Data sets. The lme4 ones already in tests/fixtures/data are read from there.
sleep <- read.csv("tests/fixtures/data/sleepstudy.csv", colClasses = c(Subject = "factor"))
dyes <- read.csv("tests/fixtures/data/dyestuff.csv", stringsAsFactors = TRUE)
pen <- read.csv("tests/fixtures/data/penicillin.csv", stringsAsFactors = TRUE)
cake <- read.csv("tests/fixtures/data/cake.csv",
                 colClasses = c(replicate = "factor", recipe = "factor", temperature = "factor"))
pastes <- unorder(as.data.frame(lme4::Pastes))[, c("strength", "batch", "cask")]
ham <- unorder(as.data.frame(lmerTest::ham))[, c("Consumer", "Product", "Information", "Informed.liking")]
names(ham)[4] <- "liking"
carrots <- unorder(as.data.frame(lmerTest::carrots))[, c("Consumer", "Homesize", "sens2", "Preference")]
carrots <- carrots[complete.cases(carrots), ]
assay <- unorder(as.data.frame(nlme::Assay))[, c("Block", "sample", "dilut", "logDens")]
pixel <- unorder(as.data.frame(nlme::Pixel))[, c("Dog", "Side", "day", "pixel")]
pixel$day2 <- pixel$day^2
files <- list(
  sleepstudy = "tests/fixtures/data/sleepstudy.csv", dyestuff = "tests/fixtures/data/dyestuff.csv",
  penicillin = "tests/fixtures/data/penicillin.csv", cake = "tests/fixtures/data/cake.csv",
  pastes = export(pastes, "pastes"), ham = export(ham, "ham"), carrots = export(carrots, "carrots"),
  assay = export(assay, "assay"), pixel = export(pixel, "pixel"),
  replicates = "data/replicates_within.csv")
datas <- list(sleepstudy = sleep, dyestuff = dyes, penicillin = pen, cake = cake, pastes = pastes, ham = ham,
              carrots = carrots, assay = assay, pixel = pixel)
if (!quick) {
  rep <- read.csv("data/replicates_within.csv", stringsAsFactors = FALSE)
  rep$treatment <- factor(rep$treatment, levels = c("control", "drug"))
  rep$gene <- factor(rep$gene, levels = c("A", "B", "C"))
  rep$replicate <- factor(rep$replicate)
  datas$replicates <- rep
}

models <- list(
  list(id = "sleepstudy_slope", data = "sleepstudy", formula = "Reaction ~ Days + (Days | Subject)", boot = FALSE),
  list(id = "sleepstudy_uncorr", data = "sleepstudy", formula = "Reaction ~ Days + (Days || Subject)", boot = FALSE),
  list(id = "sleepstudy_intercept", data = "sleepstudy", formula = "Reaction ~ Days + (1 | Subject)", boot = TRUE),
  list(id = "dyestuff", data = "dyestuff", formula = "Yield ~ 1 + (1 | Batch)", boot = TRUE),
  list(id = "penicillin", data = "penicillin", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", boot = FALSE),
  list(id = "cake", data = "cake", formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", boot = FALSE),
  list(id = "pastes", data = "pastes", formula = "strength ~ 1 + (1 | batch) + (1 | batch:cask)", boot = TRUE),
  list(id = "ham", data = "ham",
       formula = "liking ~ Product * Information + (1 | Consumer) + (1 | Product:Consumer)", boot = FALSE),
  list(id = "carrots", data = "carrots", formula = "Preference ~ sens2 + Homesize + (1 + sens2 | Consumer)",
       boot = FALSE),
  list(id = "assay", data = "assay", formula = "logDens ~ sample + dilut + (1 | Block) + (1 | Block:sample)",
       boot = FALSE),
  list(id = "pixel", data = "pixel", formula = "pixel ~ day + day2 + (day | Dog) + (1 | Dog:Side)", boot = FALSE),
  list(id = "replicates", data = "replicates",
       formula = "log(length) ~ treatment * gene + (1 | replicate) + (1 | replicate:treatment)", boot = FALSE)
)

catching <- function(expr) {
  warns <- character(0)
  val <- withCallingHandlers(expr, warning = function(w) {
    warns <<- c(warns, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = unique(warns))
}
ci_table <- function(ci) {
  list(parameter = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
}

index <- list()
if (pb_only) models <- list()
for (m in models) {
  if (is.null(datas[[m$data]])) next
  cat(m$id, "\n")
  d <- datas[[m$data]]
  fit <- lmerTest::lmer(as.formula(m$formula), data = d, REML = TRUE)
  t0 <- proc.time()[["elapsed"]]
  prof <- catching(confint(fit, method = "profile", oldNames = FALSE))
  secs <- proc.time()[["elapsed"]] - t0
  wald <- confint(fit, method = "Wald", oldNames = FALSE)
  ra <- as.data.frame(lmerTest::ranova(fit))
  res <- list(
    model_id = m$id, data_file = files[[m$data]], data_md5 = unname(tools::md5sum(files[[m$data]])),
    formula = m$formula, REML = TRUE,
    call_profile = 'confint(fit, method = "profile", oldNames = FALSE)',
    profile = ci_table(prof$value), profile_warnings = prof$warnings, profile_seconds = secs,
    call_wald = 'confint(fit, method = "Wald", oldNames = FALSE)', wald = ci_table(wald),
    ml_logLik = as.numeric(logLik(refitML(fit))), isSingular = isSingular(fit),
    call_ranova = "lmerTest::ranova(fit)",
    ranova = list(term = rownames(ra), npar = ra$npar, logLik = ra$logLik, AIC = ra$AIC, LRT = ra$LRT,
                  Df = ra$Df, p = ra[["Pr(>Chisq)"]])
  )
  if (m$boot) {
    set.seed(20261207)
    t0 <- proc.time()[["elapsed"]]
    boot <- catching(confint(fit, method = "boot", nsim = 500, boot.type = "perc", oldNames = FALSE))
    res$boot_seconds <- proc.time()[["elapsed"]] - t0
    res$call_boot <- 'confint(fit, method = "boot", nsim = 500, boot.type = "perc", oldNames = FALSE)'
    res$boot <- ci_table(boot$value)
    res$boot_nsim <- 500
    res$boot_warnings <- boot$warnings
  }
  txt <- toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null")
  writeLines(txt, file.path(out_dir, paste0(m$id, ".json")))
  index[[length(index) + 1]] <- list(model_id = m$id, formula = m$formula, profile_seconds = secs,
                                     profile_warnings = prof$warnings)
}

# Parametric bootstrap likelihood-ratio tests (ML fits).
set.seed(20261207)
pb <- list()
cmps <- list(
  list(id = "sleepstudy_fixed_days", small = "Reaction ~ 1 + (1 | Subject)", big = "Reaction ~ Days + (1 | Subject)"),
  list(id = "sleepstudy_random_slope", small = "Reaction ~ Days + (1 | Subject)",
       big = "Reaction ~ Days + (Days | Subject)"),
  list(id = "pastes_cask", small = "strength ~ 1 + (1 | batch)", big = "strength ~ 1 + (1 | batch) + (1 | batch:cask)"),
  list(id = "pastes_batch", small = "strength ~ 1 + (1 | batch:cask)",
       big = "strength ~ 1 + (1 | batch) + (1 | batch:cask)")
)
for (cmp in cmps) {
  d <- if (startsWith(cmp$id, "sleep")) sleep else pastes
  big <- lmer(as.formula(cmp$big), data = d, REML = FALSE)
  small <- lmer(as.formula(cmp$small), data = d, REML = FALSE)
  t0 <- proc.time()[["elapsed"]]
  r <- catching(PBmodcomp(big, small, nsim = 500, seed = 20261207))
  secs <- proc.time()[["elapsed"]] - t0
  tab <- r$value$test
  ref <- r$value$ref
  pb[[cmp$id]] <- list(small = cmp$small, big = cmp$big, REML = FALSE,
                       call = "PBmodcomp(big, small, nsim = 500, seed = 20261207)",
                       LRT = tab["LRT", "stat"], df = tab["LRT", "df"], p_chisq = tab["LRT", "p.value"],
                       p_pb = tab["PBtest", "p.value"], nsim_used = length(na.omit(ref)),
                       n_positive = sum(ref > 0, na.rm = TRUE), n_extreme = sum(tab["LRT", "stat"] < ref, na.rm = TRUE),
                       p_pb_all = (1 + sum(tab["LRT", "stat"] < ref, na.rm = TRUE)) / (1 + length(na.omit(ref))),
                       seconds = secs, warnings = r$warnings,
                       data_file = files[[if (startsWith(cmp$id, "sleep")) "sleepstudy" else "pastes"]])
}
writeLines(toJSON(pb, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), file.path(out_dir, "pbmodcomp.json"))

if (!pb_only) writeLines(toJSON(list(
  generated_by = "Rscript tests/r/make_confint_fixtures.R", r_version = R.version.string,
  packages = lapply(c(lme4 = "lme4", lmerTest = "lmerTest", pbkrtest = "pbkrtest", nlme = "nlme"),
                    function(p) as.character(packageVersion(p))),
  models = index), auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), file.path(out_dir, "index.json"))
cat("done\n")
