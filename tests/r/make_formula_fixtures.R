# Reference fits from R for the R formula idioms lmmedu understands (issue 19):
# I(x^2), (a + b)^2, x^2 (= x), scale(), poly() (orthogonal and raw), factor(),
# as.factor(), relevel(), I(x - mean(x)), log(y + 1), log10/log2/sqrt/exp,
# offset(), %in%, / nesting, (a + b)/c, (a + b)^3, I(x^-1) of an integer column, 0 + and - 1, || on a
# numeric and on a factor term, and transforms inside random terms.
# Each formula is fitted twice: lmerTest::lmer (REML) and lm on its fixed part.
#
# Run from the repository root:
#     Rscript tests/r/make_formula_fixtures.R
#
# Writes tests/fixtures/formula/models.json (one entry per formula, see
# tests/r/README.md) and the two R data sets the tests need that lmmedu does not
# ship (mtcars.csv, toothgrowth.csv). Numbers are written with the shortest of
# 15/16/17 significant digits that round-trips (the shared writer tests/r/json.R).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
  library(splines)
})
emm_options(lmer.df = "satterthwaite", lmerTest.limit = 1e7, pbkrtest.limit = 0)

if (!file.exists("tests/r/make_formula_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_formula_fixtures.R")
}
out_dir <- "tests/fixtures/formula"
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# The shared JSON writer (fmt_num, to_json, write_json_file), beside this script.
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(if (length(script_file)) dirname(script_file) else "tests/r", "json.R"))

write_csv <- function(d, path) {
  for (nm in names(d)) if (is.numeric(d[[nm]]) && !is.integer(d[[nm]])) d[[nm]] <- fmt_num(d[[nm]])
  write.csv(d, path, row.names = FALSE, quote = FALSE)
  cat("wrote", path, "\n")
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
sleep_path <- "tests/fixtures/data/sleepstudy.csv"
sleep <- read.csv(sleep_path, colClasses = c(Subject = "character"))
sleep$Subject <- factor(sleep$Subject)
# The same data with every 17th response missing (rows 1, 18, 35, ...): R computes scale(),
# poly() and mean() on all rows of Days, before dropping those rows.
sleep_na <- sleep
sleep_na$Reaction[seq_len(nrow(sleep)) %% 17 == 1] <- NA

cake_path <- "tests/fixtures/data/cake.csv"
cake <- read.csv(cake_path, colClasses = c(replicate = "character", recipe = "character",
                                           temperature = "character"))
cake$replicate <- factor(cake$replicate, levels = as.character(1:15))
cake$recipe <- factor(cake$recipe, levels = c("A", "B", "C"))

mtcars_path <- file.path(out_dir, "mtcars.csv")
mt <- cbind(model = rownames(mtcars), mtcars)
write_csv(mt, mtcars_path)
mt <- read.csv(mtcars_path)

tooth_path <- file.path(out_dir, "toothgrowth.csv")
write_csv(ToothGrowth, tooth_path)
tooth <- read.csv(tooth_path)
tooth$supp <- factor(tooth$supp, levels = c("OJ", "VC"))

ham_path <- "tests/fixtures/ftest/data/ham.csv"
ham <- read.csv(ham_path)
for (nm in c("Consumer", "Product", "Information", "Gender")) ham[[nm]] <- factor(ham[[nm]])

datasets <- list(
  sleepstudy = list(d = sleep, path = sleep_path, note = ""),
  ham = list(d = ham, path = ham_path, note = "lmerTest's ham; Consumer, Product, Information and Gender as factors"),
  sleepstudy_na = list(d = sleep_na, path = sleep_path,
                       note = "sleepstudy with Reaction set to NA in rows 1, 18, 35, ... (row %% 17 == 1)"),
  cake = list(d = cake, path = cake_path, note = ""),
  mtcars = list(d = mt, path = mtcars_path, note = ""),
  toothgrowth = list(d = tooth, path = tooth_path, note = "")
)

# ---------------------------------------------------------------------------
# Models: id, data, formula (lmer), whether to fit lmer, emmeans calls
# ---------------------------------------------------------------------------
models <- list(
  list("quadratic", "sleepstudy", "Reaction ~ Days + I(Days^2) + (Days | Subject)"),
  list("cubic", "sleepstudy", "Reaction ~ Days + I(Days^2) + I(Days^3) + (1 | Subject)"),
  list("power_of_single_term", "sleepstudy", "Reaction ~ Days^2 + (1 | Subject)"),
  list("scale", "sleepstudy", "Reaction ~ scale(Days) + (1 | Subject)"),
  list("scale_no_spread", "sleepstudy", "Reaction ~ scale(Days, scale = FALSE) + (1 | Subject)"),
  list("scale_no_centre", "sleepstudy", "Reaction ~ scale(Days, center = FALSE) + (1 | Subject)"),
  list("poly2", "sleepstudy", "Reaction ~ poly(Days, 2) + (Days | Subject)"),
  list("poly3_raw", "sleepstudy", "Reaction ~ poly(Days, 3, raw = TRUE) + (1 | Subject)"),
  list("centre_by_mean", "sleepstudy", "Reaction ~ I(Days - mean(Days)) + (1 | Subject)"),
  list("log_y_plus_1", "sleepstudy", "log(Reaction + 1) ~ Days + (1 | Subject)"),
  list("log10_sqrt_exp", "sleepstudy", "log10(Reaction) ~ sqrt(Days) + exp(Days / 10) + (1 | Subject)"),
  list("log2_response", "sleepstudy", "log2(Reaction) ~ log2(Days + 1) + (1 | Subject)"),
  list("factor", "sleepstudy", "Reaction ~ factor(Days) + (1 | Subject)"),
  list("as_factor", "sleepstudy", "Reaction ~ as.factor(Days) + (1 | Subject)"),
  list("offset", "sleepstudy", "Reaction ~ Days + offset(10 * Days) + (1 | Subject)"),
  list("offset_log", "sleepstudy", "Reaction ~ Days + offset(log(Days + 1)) + (1 | Subject)"),
  list("random_scale", "sleepstudy", "Reaction ~ Days + (1 + scale(Days) | Subject)"),
  list("random_zero_plus", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
  list("bs", "sleepstudy", "Reaction ~ bs(Days, df = 4) + (1 | Subject)"),
  list("na_scale", "sleepstudy_na", "Reaction ~ scale(Days) + (1 | Subject)"),
  list("na_poly", "sleepstudy_na", "Reaction ~ poly(Days, 2) + (1 | Subject)"),
  list("na_centre_by_mean", "sleepstudy_na", "Reaction ~ I(Days - mean(Days)) + (1 | Subject)"),
  list("crossing_power", "cake", "angle ~ (recipe + temp)^2 + (1 | replicate/recipe)"),
  list("crossing_power_three", "cake", "angle ~ (recipe + temp + I(temp^2))^2 + (1 | recipe:replicate)"),
  list("relevel_ref", "cake", "angle ~ relevel(recipe, ref = \"C\") + temp + (1 | recipe:replicate)"),
  list("relevel_positional", "cake", "angle ~ relevel(factor(recipe), \"B\") * temp + (1 | recipe:replicate)"),
  list("nesting_in", "cake", "angle ~ recipe + temp %in% recipe + (1 | recipe:replicate)"),
  list("nesting_slash", "cake", "angle ~ recipe / temp + (1 | recipe:replicate)"),
  list("no_intercept_zero", "cake", "angle ~ 0 + recipe + temp + (1 | recipe:replicate)"),
  list("no_intercept_minus", "cake", "angle ~ recipe + scale(temp) - 1 + (1 | recipe:replicate)"),
  list("poly_by_factor", "cake", "angle ~ recipe * poly(temp, 2) + (1 | recipe:replicate)",
       c(emm_recipe = "summary(emmeans(fit, ~ recipe))")),
  list("scale_with_factor", "cake", "angle ~ recipe + scale(temp) + (1 | recipe:replicate)",
       c(emm_recipe = "summary(emmeans(fit, ~ recipe))")),
  list("mt_crossing_three", "mtcars", "mpg ~ (wt + hp + qsec)^2", NULL, FALSE),
  list("mt_relevel_numeric", "mtcars", "mpg ~ relevel(factor(cyl), ref = \"6\") + wt", NULL, FALSE),
  list("mt_poly_log", "mtcars", "log(mpg) ~ poly(hp, 2) + log(disp)", NULL, FALSE),
  list("tooth_factor_dose", "toothgrowth", "len ~ supp * factor(dose)", NULL, FALSE),
  list("tooth_relevel_poly", "toothgrowth", "len ~ relevel(supp, ref = \"VC\") * poly(dose, 2)", NULL, FALSE),
  # A negative power of an integer column: R's ^ gives a double.
  list("negative_power", "sleepstudy", "Reaction ~ I((Days + 1)^-1) + (1 | Subject)"),
  list("mt_negative_power", "mtcars", "mpg ~ I(cyl^-1) + I(wt^-2)", NULL, FALSE),
  # Nesting in a sum and a power above the number of terms.
  list("nesting_slash_sum", "cake", "angle ~ (recipe + temp)/I(temp^2) + (1 | recipe:replicate)"),
  list("mt_nesting_slash_sum", "mtcars", "mpg ~ (wt + hp)/qsec", NULL, FALSE),
  list("crossing_power_over", "cake", "angle ~ (recipe + temp)^3 + (1 | recipe:replicate)"),
  list("crossing_power_three_factors", "ham", "Informed.liking ~ (Gender + Information + Product)^3 + (1 | Consumer)"),
  # || : one numeric term is the same as |; a factor's columns are not split by lme4.
  list("random_double_bar_numeric", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days || Subject)"),
  list("random_double_bar_factor", "ham", "Informed.liking ~ Information + (0 + Information || Consumer)"),
  list("random_double_bar_intercept_factor", "ham", "Informed.liking ~ Information + (Information || Consumer)")
)

capture <- function(expr) {
  w <- character(); m <- character()
  val <- withCallingHandlers(expr,
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") },
    message = function(c) { m <<- c(m, conditionMessage(c)); invokeRestart("muffleMessage") })
  list(value = val, warnings = I(w), messages = I(m))
}

coef_table <- function(s) {
  cf <- s$coefficients
  data.frame(term = rownames(cf), estimate = unname(cf[, "Estimate"]), se = unname(cf[, "Std. Error"]),
             stringsAsFactors = FALSE)
}

entries <- list()
for (spec in models) {
  id <- spec[[1]]; ds <- datasets[[spec[[2]]]]; formula <- spec[[3]]
  emm_calls <- if (length(spec) >= 4) spec[[4]] else NULL
  with_lmer <- if (length(spec) >= 5) spec[[5]] else TRUE
  d <- ds$d
  entry <- list(id = id, data = spec[[2]], data_file = ds$path, data_md5 = unname(tools::md5sum(ds$path)),
                data_note = ds$note, formula = formula)
  lm_formula <- paste(deparse(nobars(as.formula(formula)), width.cutoff = 500L), collapse = "")
  lf <- capture(lm(as.formula(lm_formula), data = d))
  fit_lm <- lf$value
  entry$lm <- list(call = sprintf("lm(%s, data = d)", lm_formula), nobs = nobs(fit_lm),
                   coefficients = coef_table(summary(fit_lm)), sigma = sigma(fit_lm),
                   logLik = as.numeric(logLik(fit_lm)), df_residual = fit_lm$df.residual,
                   warnings = lf$warnings)
  if (any(is.na(coef(fit_lm)))) stop("Aliased coefficient in ", id)
  if (with_lmer) {
    mf <- capture(lmer(as.formula(formula), data = d, REML = TRUE))
    fit <- mf$value
    ss <- summary(fit)
    entry$lmer <- list(call = sprintf("lmerTest::lmer(%s, data = d, REML = TRUE)", formula), nobs = nobs(fit),
                       coefficients = cbind(coef_table(ss), df = unname(ss$coefficients[, "df"])),
                       sigma = sigma(fit), logLik = as.numeric(logLik(fit)), REMLcrit = REMLcrit(fit),
                       isSingular = isSingular(fit), theta = unname(getME(fit, "theta")),
                       warnings = mf$warnings, messages = mf$messages)
    if (!is.null(emm_calls)) {
      env <- list2env(list(fit = fit))
      entry$emmeans <- lapply(emm_calls, function(call) {
        s <- eval(parse(text = call), envir = env)
        tab <- as.data.frame(s)
        for (nm in names(tab)) if (is.factor(tab[[nm]])) tab[[nm]] <- as.character(tab[[nm]])
        list(call = call, table = tab)
      })
    }
  }
  entries[[length(entries) + 1]] <- entry
}

out <- list(generated_by = "tests/r/make_formula_fixtures.R", r_version = R.version.string,
            packages = list(lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            emmeans = as.character(packageVersion("emmeans"))),
            models = entries)
txt <- to_json(out)
stopifnot(validate(txt))
writeLines(txt, file.path(out_dir, "models.json"))
cat("wrote", file.path(out_dir, "models.json"), "\n")
