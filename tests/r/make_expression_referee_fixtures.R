# Notebook 08's referee table against R, on a subsample of the shipped expression data.
#
# Rscript tests/r/make_expression_referee_fixtures.R      (from the repository root; a few minutes: 800 lmer refits)
#
# Data: data/expression_small.csv (400 probesets x 23 arrays), its first 100 probesets (sorted by name), all 23
# arrays: 2,300 rows, the design of the case study with fewer probesets. For the interaction week:genotype:
#   lm            anova(lm(values ~ week + genotype), lm(values ~ week * genotype))
#   per model     (values ~ week * genotype + (week | probeset), and the same + (1 | sample)):
#                 lmerTest's anova(reml_fit) (Satterthwaite) and anova(reml_fit, ddf = "Kenward-Roger"),
#                 anova(small_ml, big_ml) (chi-square LRT) and pbkrtest's PBmodcomp(big_ml, small_ml, nsim = 200):
#                 its p over all simulations, (1 + #{LRT* > LRT}) / (1 + nsim), and its printed PBtest.
# Output: tests/fixtures/expression_referee/expression_referee.json (with the data's md5 and the R versions).
# R is not available in CI; tests/test_nb08_case_study.py reads only this file.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

if (!file.exists("tests/r/make_expression_referee_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_expression_referee_fixtures.R")
}
src <- "data/expression_small.csv"
n_probesets <- 100
nsim <- 200
d <- read.csv(src, stringsAsFactors = FALSE)
d <- d[d$probeset %in% sort(unique(d$probeset))[seq_len(n_probesets)], ]
d$genotype <- factor(d$genotype, levels = c("B6", "CSB"))
d$probeset <- factor(d$probeset)
d$sample <- factor(d$sample)

a <- anova(lm(values ~ week + genotype, data = d), lm(values ~ week * genotype, data = d))
out <- list(generated_by = "Rscript tests/r/make_expression_referee_fixtures.R", data_file = src,
            data_md5 = unname(tools::md5sum(src)), n_probesets = n_probesets, nobs = nrow(d),
            r_version = R.version.string,
            packages = lapply(c(lme4 = "lme4", lmerTest = "lmerTest", pbkrtest = "pbkrtest"),
                              function(p) as.character(packageVersion(p))),
            lm = list(call = "anova(lm(values ~ week + genotype), lm(values ~ week * genotype))",
                      F = a$F[2], num_df = a$Df[2], den_df = a$Res.Df[2], p = a[2, "Pr(>F)"]),
            models = list())

forms <- list("(week|probeset)" = values ~ week * genotype + (week | probeset),
              "(week|probeset) + (1|sample)" = values ~ week * genotype + (week | probeset) + (1 | sample))
for (nm in names(forms)) {
  reml <- lmer(forms[[nm]], data = d)
  sat <- anova(reml)["week:genotype", ]
  kr <- anova(reml, ddf = "Kenward-Roger")["week:genotype", ]
  big <- lmer(forms[[nm]], data = d, REML = FALSE)
  small <- update(big, . ~ . - week:genotype)
  lrt <- anova(small, big)
  t0 <- proc.time()[["elapsed"]]
  pb <- suppressWarnings(suppressMessages(PBmodcomp(big, small, nsim = nsim, seed = 1)))
  secs <- proc.time()[["elapsed"]] - t0
  ref <- na.omit(pb$ref)
  stat <- pb$test["LRT", "stat"]
  out$models[[nm]] <- list(
    satterthwaite = list(F = sat[["F value"]], num_df = sat[["NumDF"]], den_df = sat[["DenDF"]], p = sat[["Pr(>F)"]]),
    kenward_roger = list(F = kr[["F value"]], num_df = kr[["NumDF"]], den_df = kr[["DenDF"]], p = kr[["Pr(>F)"]]),
    chisq = list(LRT = lrt$Chisq[2], df = lrt$Df[2], p = lrt[2, "Pr(>Chisq)"]),
    bootstrap = list(call = sprintf("PBmodcomp(big, small, nsim = %d, seed = 1)", nsim), LRT = stat,
                     nsim_used = length(ref), n_extreme = sum(ref > stat),
                     p_all = (1 + sum(ref > stat)) / (1 + length(ref)), p_pb = pb$test["PBtest", "p.value"],
                     seconds = secs))
}
dir.create("tests/fixtures/expression_referee", showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/fixtures/expression_referee/expression_referee.json")
cat("done\n")
