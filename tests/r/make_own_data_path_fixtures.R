# Notebook 10's model-building path in R: writes tests/fixtures/own_data/path.json.
# Run from the repository root: Rscript tests/r/make_own_data_path_fixtures.R  (about 5 seconds)
# The pilot is every 20th row of data/replicates_within.csv (R rows 1, 21, 41, ...: Python's iloc[::20]).
suppressMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
if (!file.exists("data/replicates_within.csv")) stop("run from the repository root")
file <- "data/replicates_within.csv"
d <- read.csv(file)
p <- d[seq(1, nrow(d), by = 20), ]
m1 <- suppressMessages(lmer(log(length) ~ treatment * gene + (1 + treatment | replicate), data = p))
vc1 <- as.data.frame(VarCorr(m1))
m2 <- lmer(log(length) ~ treatment * gene + (1 | replicate) + (1 | replicate:treatment), data = p)
s <- coef(summary(m2, ddf = "Satterthwaite"))
k <- coef(summary(m2, ddf = "Kenward-Roger"))
as_list <- function(tab) lapply(seq_len(nrow(tab)), function(i) as.list(tab[i, , drop = FALSE]))
coefs <- data.frame(term = rownames(s), estimate = s[, "Estimate"], df_satterthwaite = s[, "df"],
                    p_satterthwaite = s[, "Pr(>|t|)"], se_kenward_roger = k[, "Std. Error"],
                    df_kenward_roger = k[, "df"], p_kenward_roger = k[, "Pr(>|t|)"], row.names = NULL)
terms <- function(method) {
  a <- anova(m2, ddf = method)
  data.frame(term = rownames(a), num_df = a$NumDF, den_df = a$DenDF, F = a$`F value`, p = a$`Pr(>F)`)
}
ci <- confint(m2, parm = "theta_", method = "profile", oldNames = FALSE)
out <- list(
  generated_by = "Rscript tests/r/make_own_data_path_fixtures.R", r_version = R.version.string,
  packages = lapply(c(lme4 = "lme4", lmerTest = "lmerTest", pbkrtest = "pbkrtest"),
                    function(x) as.character(packageVersion(x))),
  data_file = file, data_md5 = unname(tools::md5sum(file)), rows = "seq(1, nrow(d), by = 20)", nobs = nrow(p),
  slope_model = list(formula = "log(length) ~ treatment * gene + (1 + treatment | replicate)",
                     isSingular = isSingular(m1),
                     corr = vc1$sdcor[!is.na(vc1$var2)]),
  simplified_model = list(formula = "log(length) ~ treatment * gene + (1 | replicate) + (1 | replicate:treatment)",
                          isSingular = isSingular(m2), coefficients = as_list(coefs),
                          anova_satterthwaite = as_list(terms("Satterthwaite")),
                          anova_kenward_roger = as_list(terms("Kenward-Roger")),
                          profile = as_list(data.frame(parameter = rownames(ci), lower = ci[, 1], upper = ci[, 2],
                                                       row.names = NULL))))
dir.create("tests/fixtures/own_data", showWarnings = FALSE)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/fixtures/own_data/path.json")
cat("wrote tests/fixtures/own_data/path.json\n")
