# Reference results from R (lme4 + lmerTest + emmeans) for the lmmedu test suite.
#
# Run from the repository root:
#     Rscript tests/r/make_fixtures.R
#
# R is not available in CI; the Python tests only read the files written here
# into tests/fixtures/. See tests/r/README.md for every file and field.
#
# Every model is fitted to the CSV file that the Python tests read (the CSV is
# written first and read back), so both sides fit bit-identical data.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
})

# Satterthwaite df at any data size: emmeans otherwise falls back to
# asymptotic (df = Inf) above lmerTest.limit rows, and the simulated data
# have thousands of rows.
emm_options(lmer.df = "satterthwaite", lmerTest.limit = 1e7, pbkrtest.limit = 0)

if (!file.exists("tests/r/make_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_fixtures.R")
}

fix_dir <- "tests/fixtures"
data_dir <- file.path(fix_dir, "data")
model_dir <- file.path(fix_dir, "lmer")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
dir.create(model_dir, recursive = TRUE, showWarnings = FALSE)

# The shared JSON writer (fmt_num, to_json, write_json_file), beside this script.
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(if (length(script_file)) dirname(script_file) else "tests/r", "json.R"))

# ---------------------------------------------------------------------------
# Data sets: written as CSV with factor columns as strings and numbers at full
# precision, then read back so the models use exactly the written values.
# ---------------------------------------------------------------------------

write_csv_exact <- function(d, path) {
  out <- d
  for (nm in names(out)) {
    col <- out[[nm]]
    if (is.factor(col)) col <- as.character(col)
    if (is.character(col) && any(grepl("[,\"\n]", col))) {
      stop("Column ", nm, " contains a comma, quote or newline; CSV writer does not quote.")
    }
    out[[nm]] <- if (is.numeric(col)) fmt_num(col) else col
  }
  write.table(out, path, sep = ",", quote = FALSE, row.names = FALSE, na = "")
  cat("wrote", path, "\n")
}

# Reads a CSV back with the given factor columns as factors with the given
# level order (so the reference level is explicit, not alphabetical luck).
read_csv_factors <- function(path, levels_list) {
  d <- read.csv(path, colClasses = setNames(rep("character", length(levels_list)),
                                            names(levels_list)),
                stringsAsFactors = FALSE)
  for (nm in names(levels_list)) {
    bad <- setdiff(unique(d[[nm]]), levels_list[[nm]])
    if (length(bad)) {
      stop("Column ", nm, " of ", path, " has unexpected values: ",
           paste(bad, collapse = ", "))
    }
    d[[nm]] <- factor(d[[nm]], levels = levels_list[[nm]])
  }
  d
}

same_data <- function(a, b) {
  stopifnot(identical(dim(a), dim(b)), identical(names(a), names(b)))
  for (nm in names(a)) {
    x <- a[[nm]]; y <- b[[nm]]
    if (is.factor(x)) {
      stopifnot(identical(as.character(x), as.character(y)),
                identical(levels(x), levels(y)))
    } else {
      stopifnot(all(as.numeric(x) == as.numeric(y)))
    }
  }
  invisible(TRUE)
}

datasets <- list()

add_dataset <- function(name, d, levels_list) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  write_csv_exact(d, path)
  back <- read_csv_factors(path, levels_list)
  same_data(d, back)
  datasets[[name]] <<- list(data = back, path = path, levels = levels_list)
}

add_dataset("sleepstudy", sleepstudy[, c("Reaction", "Days", "Subject")],
            list(Subject = levels(sleepstudy$Subject)))
add_dataset("dyestuff", Dyestuff[, c("Batch", "Yield")],
            list(Batch = levels(Dyestuff$Batch)))
add_dataset("penicillin", Penicillin[, c("diameter", "plate", "sample")],
            list(plate = levels(Penicillin$plate), sample = levels(Penicillin$sample)))

cake_df <- data.frame(
  replicate = cake$replicate,
  recipe = cake$recipe,
  # Unordered on purpose: an ordered factor would get polynomial contrasts,
  # which is not what a biologist's lm(angle ~ recipe * factor(temp)) uses.
  temperature = factor(as.character(cake$temperature),
                       levels = c("175", "185", "195", "205", "215", "225")),
  temp = cake$temp,
  angle = cake$angle
)
add_dataset("cake", cake_df,
            list(replicate = levels(cake$replicate), recipe = levels(cake$recipe),
                 temperature = levels(cake_df$temperature)))

# Simulated replicate data, written by another part of the project (not by
# this script). They are read from data/ directly and not copied, to keep
# fixtures small; the JSON records their md5 so stale fixtures are detectable.
sim_levels <- list(treatment = c("control", "drug"), gene = c("A", "B", "C"))
sim_datasets <- c("replicates_within", "replicates_between")
for (name in sim_datasets) {
  path <- file.path("data", paste0(name, ".csv"))
  if (!file.exists(path)) {
    cat("NOTE:", path, "not found; skipping its models\n")
    next
  }
  d <- read_csv_factors(path, sim_levels)
  rep_chr <- as.character(d$replicate)
  rep_lev <- unique(rep_chr)
  rep_lev <- if (all(grepl("^[0-9]+$", rep_lev))) {
    rep_lev[order(as.integer(rep_lev))]
  } else {
    sort(rep_lev)
  }
  d$replicate <- factor(rep_chr, levels = rep_lev)
  if (any(!is.finite(d$length)) || any(d$length <= 0)) {
    stop("Column length of ", path, " must be positive and finite to take log(length).")
  }
  datasets[[name]] <- list(data = d, path = path,
                           levels = c(list(replicate = rep_lev), sim_levels))
}

# The reduced seed-001 design (400 probesets x 23 arrays): exercises crossed
# random effects where one factor has many levels, the engine's Schur path.
expr_path <- file.path("data", "expression_small.csv")
if (file.exists(expr_path)) {
  d <- read.csv(expr_path, colClasses = c(probeset = "character", sample = "character",
                                          genotype = "character"))
  expr_levels <- list(genotype = c("B6", "CSB"), probeset = sort(unique(d$probeset)),
                      sample = sort(unique(d$sample)))
  for (v in names(expr_levels)) d[[v]] <- factor(d[[v]], levels = expr_levels[[v]])
  datasets[["expression_small"]] <- list(data = d, path = expr_path, levels = expr_levels)
} else {
  cat("NOTE:", expr_path, "not found; skipping its models\n")
}

# ---------------------------------------------------------------------------
# Helpers for fits and tables.
# ---------------------------------------------------------------------------

# Evaluates expr, collecting (and echoing) warnings and messages instead of
# letting them vanish, so every fixture records what R complained about.
capture <- function(expr, label) {
  w <- character(); m <- character()
  val <- withCallingHandlers(expr,
    warning = function(c) {
      w <<- c(w, conditionMessage(c))
      cat("WARNING [", label, "]: ", conditionMessage(c), "\n", sep = "")
      invokeRestart("muffleWarning")
    },
    message = function(c) {
      m <<- c(m, trimws(conditionMessage(c)))
      cat("MESSAGE [", label, "]: ", trimws(conditionMessage(c)), "\n", sep = "")
      invokeRestart("muffleMessage")
    })
  list(value = val, warnings = w, messages = m)
}

# statsmodels/patsy-style column names (e.g. treatment[T.drug]:gene[T.B])
# for R's model-matrix columns (treatmentdrug:geneB), so Python tests can
# match terms by name instead of by position.
patsy_names <- function(X, labels, mf) {
  assign <- attr(X, "assign")
  vapply(seq_along(assign), function(j) {
    if (assign[j] == 0) return("Intercept")
    vars <- strsplit(labels[assign[j]], ":", fixed = TRUE)[[1]]
    parts <- strsplit(colnames(X)[j], ":", fixed = TRUE)[[1]]
    stopifnot(length(vars) == length(parts))
    out <- vapply(seq_along(vars), function(k) {
      v <- vars[k]
      if (is.factor(mf[[v]])) {
        stopifnot(startsWith(parts[k], v))
        sprintf("%s[T.%s]", v, substring(parts[k], nchar(v) + 1))
      } else {
        parts[k]
      }
    }, "")
    paste(out, collapse = ":")
  }, "")
}

coef_table <- function(ct, df, term_patsy) {
  data.frame(term = rownames(ct), term_patsy = term_patsy,
             estimate = unname(ct[, "Estimate"]), se = unname(ct[, "Std. Error"]),
             df = unname(df), t = unname(ct[, "t value"]), p = unname(ct[, "Pr(>|t|)"]),
             stringsAsFactors = FALSE)
}

# One emmeans table: the call is given as text so the exact R call that made
# the numbers is recorded next to them.
emm_table <- function(call, fit, label) {
  res <- capture(eval(parse(text = call), envir = list(fit = fit)), label)
  s <- res$value
  tab <- as.data.frame(s)
  for (nm in names(tab)) if (is.factor(tab[[nm]])) tab[[nm]] <- as.character(tab[[nm]])
  notes <- attr(s, "mesg")
  if (grepl('type = "response"', call, fixed = TRUE) && !("ratio" %in% names(tab))) {
    stop("emmeans did not back-transform to ratios for ", label)
  }
  if ("df" %in% names(tab)) {
    if (any(!is.finite(tab$df))) {
      stop("emmeans df is not finite for ", label, ": Satterthwaite was not used.")
    }
    if (!any(grepl("satterthwaite", notes, ignore.case = TRUE))) {
      stop("emmeans did not report the Satterthwaite df method for ", label)
    }
  }
  list(call = call, table = tab, notes = I(as.character(notes)),
       warnings = I(res$warnings), messages = I(res$messages))
}

fit_model <- function(id, dataset, formula_text, REML, description, emmeans_calls = NULL) {
  ds <- datasets[[dataset]]
  d <- ds$data
  f <- as.formula(formula_text)
  call <- sprintf("lmerTest::lmer(%s, data = d, REML = %s)", formula_text, REML)
  # The formula is spliced into the call (not passed as a variable) because
  # emmeans reads the response transformation, log(length), from fit@call;
  # with a variable there, type = "response" silently stays on the log scale.
  cf <- capture(eval(bquote(lmerTest::lmer(.(f), data = d, REML = .(REML)))), id)
  fit <- cf$value
  if (!inherits(fit, "lmerModLmerTest")) {
    stop("lmerTest could not add Satterthwaite df to ", id)
  }

  sm <- summary(fit, ddf = "Satterthwaite")$coefficients
  X <- getME(fit, "X")
  mf <- model.frame(fit)
  fixed_labels <- attr(terms(fit, fixed.only = TRUE), "term.labels")
  tp <- patsy_names(X, fixed_labels, mf)
  fixed <- coef_table(sm, sm[, "df"], tp)

  V <- as.matrix(vcov(fit))
  vc <- as.data.frame(VarCorr(fit))
  re <- as.data.frame(ranef(fit, condVar = TRUE))
  re <- data.frame(grpvar = as.character(re$grpvar), term = as.character(re$term),
                   grp = as.character(re$grp), condval = re$condval, condsd = re$condsd,
                   stringsAsFactors = FALSE)
  th <- getME(fit, "theta")
  ll <- logLik(fit)

  # ML deviance next to the REML criterion: at the REML estimates (what
  # deviance(fit, REML = FALSE) computes) and at the ML optimum (refitML).
  refit <- capture(refitML(fit), paste(id, "refitML"))
  dev_ml_refit <- deviance(refit$value)

  lm_formula <- nobars(f)
  lmfit <- lm(lm_formula, data = d)
  lct <- summary(lmfit)$coefficients
  lm_tab <- coef_table(lct, rep(df.residual(lmfit), nrow(lct)),
                       patsy_names(model.matrix(lmfit), attr(terms(lmfit), "term.labels"),
                                   model.frame(lmfit)))

  out <- list(
    model_id = id,
    description = description,
    data_file = ds$path,
    data_md5 = unname(tools::md5sum(ds$path)),
    formula = formula_text,
    REML = REML,
    call = call,
    factor_levels = lapply(ds$levels, I),
    nobs = nobs(fit),
    ngroups = as.list(ngrps(fit)),
    fixed_effects_call = 'summary(fit, ddf = "Satterthwaite")$coefficients',
    fixed_effects = fixed,
    vcov_beta = list(names = I(colnames(V)), matrix = unname(V)),
    varcorr = data.frame(grp = vc$grp, var1 = vc$var1, var2 = vc$var2,
                         vcov = vc$vcov, sdcor = vc$sdcor, stringsAsFactors = FALSE),
    sigma = sigma(fit),
    logLik = as.numeric(ll),
    logLik_df = as.integer(attr(ll, "df")),
    deviance = if (REML) REMLcrit(fit) else deviance(fit),
    REMLcrit = if (REML) REMLcrit(fit) else NULL,
    deviance_ML_at_estimates = deviance(fit, REML = FALSE),
    deviance_ML_refit = dev_ml_refit,
    AIC = AIC(fit),
    BIC = BIC(fit),
    isSingular = isSingular(fit),
    theta = list(names = I(names(th)), values = I(unname(th))),
    ranef = re,
    optimizer = fit@optinfo$optimizer,
    lme4_conv_messages = I(as.character(unlist(fit@optinfo$conv$lme4$messages))),
    warnings = I(cf$warnings),
    messages = I(cf$messages),
    refitML_warnings = I(c(refit$warnings, refit$messages)),
    lm = list(
      formula = paste(deparse(lm_formula), collapse = ""),
      call = sprintf("lm(%s, data = d)", paste(deparse(lm_formula), collapse = "")),
      coefficients = lm_tab,
      sigma = sigma(lmfit),
      df_residual = as.integer(df.residual(lmfit))
    )
  )

  if (length(fixed_labels) > 0) {
    a <- anova(fit, type = 3, ddf = "Satterthwaite")
    out$anova_call <- 'anova(fit, type = 3, ddf = "Satterthwaite")'
    out$anova <- data.frame(term = rownames(a), sum_sq = a[["Sum Sq"]],
                            mean_sq = a[["Mean Sq"]], num_df = a[["NumDF"]],
                            den_df = a[["DenDF"]], F = a[["F value"]], p = a[["Pr(>F)"]],
                            stringsAsFactors = FALSE)
  }

  if (length(emmeans_calls)) {
    out$emmeans <- lapply(names(emmeans_calls), function(nm) {
      emm_table(emmeans_calls[[nm]], fit, paste(id, nm))
    })
    names(out$emmeans) <- names(emmeans_calls)
  }

  write_json_file(out, file.path(model_dir, paste0(id, ".json")))
  list(model_id = id, dataset = dataset, data_file = ds$path, formula = formula_text,
       REML = REML, isSingular = isSingular(fit),
       fit_warnings_and_messages = I(c(cf$warnings, cf$messages)))
}

# ---------------------------------------------------------------------------
# Models.
# ---------------------------------------------------------------------------

cake_emm <- c(
  emm_recipe = "summary(emmeans(fit, ~ recipe))",
  emm_temperature = "summary(emmeans(fit, ~ temperature))",
  pairs_recipe_tukey = 'summary(pairs(emmeans(fit, ~ recipe)), adjust = "tukey", infer = c(TRUE, TRUE))',
  emm_recipe_by_temperature = "summary(emmeans(fit, ~ recipe | temperature))"
)

sim_emm <- c(
  emm_treatment_by_gene = "summary(emmeans(fit, ~ treatment | gene))",
  revpairs_by_gene = 'summary(pairs(emmeans(fit, ~ treatment | gene), reverse = TRUE), adjust = "none")',
  revpairs_by_gene_holm = 'summary(pairs(emmeans(fit, ~ treatment | gene), reverse = TRUE), by = NULL, adjust = "holm")',
  emm_gene = "summary(emmeans(fit, ~ gene))",
  emm_treatment = "summary(emmeans(fit, ~ treatment))",
  pairs_treatment = "summary(pairs(emmeans(fit, ~ treatment)))",
  revpairs_treatment = "summary(pairs(emmeans(fit, ~ treatment), reverse = TRUE))",
  revpairs_by_gene_ratio = 'confint(pairs(emmeans(fit, ~ treatment | gene, type = "response"), reverse = TRUE))'
)

index <- list()
add <- function(...) index[[length(index) + 1]] <<- fit_model(...)

add("sleepstudy_slope_reml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", TRUE,
    "Correlated random intercept and Days slope per Subject, REML.")
add("sleepstudy_slope_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", FALSE,
    "Correlated random intercept and Days slope per Subject, ML.")
add("sleepstudy_uncorr_reml", "sleepstudy", "Reaction ~ Days + (Days || Subject)", TRUE,
    "Uncorrelated random intercept and Days slope per Subject, REML.")
add("sleepstudy_intercept_reml", "sleepstudy", "Reaction ~ Days + (1 | Subject)", TRUE,
    "Random intercept per Subject only, REML.")
add("dyestuff_reml", "dyestuff", "Yield ~ 1 + (1 | Batch)", TRUE,
    "One-way random effects (Batch), REML.")
add("dyestuff_ml", "dyestuff", "Yield ~ 1 + (1 | Batch)", FALSE,
    "One-way random effects (Batch), ML.")
add("penicillin_reml", "penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", TRUE,
    "Crossed random effects (plate, sample), REML.")
add("cake_reml", "cake", "angle ~ recipe * temperature + (1 | recipe:replicate)", TRUE,
    "Split-plot: recipe x unordered temperature, random intercept per recipe:replicate, REML.",
    cake_emm)

for (name in sim_datasets) {
  if (is.null(datasets[[name]])) next
  add(paste0(name, "_intercept_reml"), name,
      "log(length) ~ treatment * gene + (1 | replicate)", TRUE,
      "Treatment x gene, random intercept per replicate, REML.", sim_emm)
  add(paste0(name, "_slope_reml"), name,
      "log(length) ~ treatment * gene + (1 + treatment | replicate)", TRUE,
      "Treatment x gene, correlated random intercept and treatment slope per replicate, REML.",
      sim_emm)
}

if (!is.null(datasets[["expression_small"]])) {
  add("expression_small_probeset_ml", "expression_small",
      "values ~ week * genotype + (week | probeset)", FALSE,
      "Seed-001 design, reduced: probeset random intercept and week slope only (the thread's model), ML.")
  add("expression_small_sample_ml", "expression_small",
      "values ~ week * genotype + (week | probeset) + (1 | sample)", FALSE,
      "Seed-001 design, reduced: plus a random intercept per array (the experimental unit), ML.")
}

write_json_file(list(
  generated_by = "Rscript tests/r/make_fixtures.R",
  r_version = R.version.string,
  packages = lapply(c(lme4 = "lme4", lmerTest = "lmerTest", emmeans = "emmeans",
                      jsonlite = "jsonlite", Matrix = "Matrix"),
                    function(p) as.character(packageVersion(p))),
  emm_options = 'emm_options(lmer.df = "satterthwaite", lmerTest.limit = 1e7, pbkrtest.limit = 0)',
  models = index
), file.path(model_dir, "index.json"))

writeLines(c(
  "# Written by Rscript tests/r/make_fixtures.R",
  paste("lme4", packageVersion("lme4")),
  paste("lmerTest", packageVersion("lmerTest")),
  paste("emmeans", packageVersion("emmeans")),
  paste("jsonlite", packageVersion("jsonlite")),
  paste("Matrix", packageVersion("Matrix")),
  "",
  "# sessionInfo()",
  capture.output(sessionInfo())
), file.path(fix_dir, "R_VERSIONS.txt"))
cat("wrote", file.path(fix_dir, "R_VERSIONS.txt"), "\n")
