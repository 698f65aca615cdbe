# Reference likelihood-ratio tests from R (lme4's anova) for tests/test_anova.py.
#
# Run from the repository root:
#     Rscript tests/r/make_anova_fixtures.R
#
# Writes tests/fixtures/anova/sleepstudy_anova.json: for each comparison the R
# calls, the models' formulas and REML flags, and anova()'s table (one row per
# model, ordered by npar as R orders them). R is not available in CI; the
# Python test only reads the committed file.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

if (!file.exists("tests/r/make_anova_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_anova_fixtures.R")
}

data_file <- "tests/fixtures/data/sleepstudy.csv"
d <- read.csv(data_file, colClasses = c(Subject = "factor"))

# Each entry: the two models (as R code evaluated with `d` in scope) and the
# extra arguments to anova(). Formulas are repeated as text for the Python side.
comparisons <- list(
  list(
    id = "fixed_days_ml",
    description = "Test the fixed effect of Days (ML fits, as required for different fixed effects)",
    models = list(
      small = list(kind = "lmer", formula = "Reaction ~ 1 + (Days | Subject)", REML = FALSE),
      large = list(kind = "lmer", formula = "Reaction ~ Days + (Days | Subject)", REML = FALSE)
    ),
    refit = TRUE
  ),
  list(
    id = "random_slope_reml",
    description = "Test the random slope of Days (REML fits with the same fixed effects, refit = FALSE)",
    models = list(
      small = list(kind = "lmer", formula = "Reaction ~ Days + (1 | Subject)", REML = TRUE),
      large = list(kind = "lmer", formula = "Reaction ~ Days + (Days | Subject)", REML = TRUE)
    ),
    refit = FALSE
  ),
  list(
    id = "lm_vs_intercept_ml",
    description = "lm against a random-intercept model fitted by ML (same fixed effects)",
    models = list(
      small = list(kind = "lm", formula = "Reaction ~ Days", REML = FALSE),
      large = list(kind = "lmer", formula = "Reaction ~ Days + (1 | Subject)", REML = FALSE)
    ),
    refit = TRUE
  )
)

fit_one <- function(m) {
  if (m$kind == "lm") {
    list(fit = lm(as.formula(m$formula), data = d),
         call = sprintf("lm(%s, data = d)", m$formula))
  } else {
    list(fit = lmer(as.formula(m$formula), data = d, REML = m$REML),
         call = sprintf("lmer(%s, data = d, REML = %s)", m$formula, m$REML))
  }
}

out <- list()
for (cmp in comparisons) {
  small <- fit_one(cmp$models$small)
  large <- fit_one(cmp$models$large)
  # anova() needs a merMod first and orders the rows by npar itself; calling
  # it on objects named small and large makes those the row names.
  first <- if (cmp$models$small$kind == "lmer") "small" else "large"
  second <- setdiff(c("small", "large"), first)
  anova_call <- sprintf("anova(%s, %s, refit = %s)", first, second, cmp$refit)
  tab <- as.data.frame(eval(parse(text = anova_call),
                            list(small = small$fit, large = large$fit)))
  names(tab) <- c("npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p")
  rows <- rownames(tab)
  rownames(tab) <- NULL
  out[[cmp$id]] <- list(
    description = cmp$description,
    calls = list(small = small$call, large = large$call, anova = anova_call),
    models = cmp$models,
    rows = rows,
    table = tab
  )
}

res <- list(
  generated_by = "Rscript tests/r/make_anova_fixtures.R",
  r_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  data_file = data_file,
  data_md5 = unname(tools::md5sum(data_file)),
  comparisons = out
)
txt <- toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null", dataframe = "columns")
dir.create("tests/fixtures/anova", showWarnings = FALSE, recursive = TRUE)
writeLines(txt, "tests/fixtures/anova/sleepstudy_anova.json")
cat("wrote tests/fixtures/anova/sleepstudy_anova.json\n")
