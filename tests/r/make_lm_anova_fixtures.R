# The lm's type 2 F table from car::Anova(fit, type = 2), for tests/test_ftest_r.py.
#
# Run from the repository root (about 2 seconds):
#     Rscript tests/r/make_lm_anova_fixtures.R
#
# Writes tests/fixtures/lm_anova/type2.json: per model `id`, `data_file`, `data_md5`, `formula`,
# `factor_levels`, `call`, `nobs`, `aliased` (names of NA coefficients) and `table` (car's rows with
# `term`, `df`, `sum_sq`, `F`, `p`; the last row is Residuals), and tests/fixtures/lm_anova/mtcars_factors.csv
# (R's mtcars with cylinders, transmission and gears as text labels, so that pandas reads them as factors).
# lmerTest's type 2 table of mixed models is in tests/fixtures/ftest/ (make_ftest_fixtures.R).

suppressPackageStartupMessages({
  library(car)
})
if (!file.exists("tests/r/make_lm_anova_fixtures.R")) {
  stop("Run this script from the repository root: Rscript tests/r/make_lm_anova_fixtures.R")
}
out_dir <- "tests/fixtures/lm_anova"
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(if (length(script_file)) dirname(script_file) else "tests/r", "json.R"))

mt_path <- file.path(out_dir, "mtcars_factors.csv")
mt <- data.frame(model = rownames(mtcars), mpg = mtcars$mpg, wt = mtcars$wt, hp = mtcars$hp,
                 cyl = paste0("c", mtcars$cyl), am = ifelse(mtcars$am == 1, "manual", "automatic"),
                 gear = paste0("g", mtcars$gear))
out <- mt
for (nm in c("mpg", "wt", "hp")) out[[nm]] <- fmt_num(out[[nm]])
write.csv(out, mt_path, row.names = FALSE, quote = FALSE)
mt <- read.csv(mt_path, stringsAsFactors = TRUE)

cake_path <- "tests/fixtures/data/cake.csv"
cake <- read.csv(cake_path, colClasses = c(replicate = "character", recipe = "character",
                                           temperature = "character"))
cake$recipe <- factor(cake$recipe, levels = c("A", "B", "C"))
cake$temperature <- factor(cake$temperature)

datasets <- list(mtcars_factors = list(d = mt, path = mt_path), cake = list(d = cake, path = cake_path))
models <- list(
  # balanced, two factors and their interaction
  list("cake_factors", "cake", "angle ~ recipe * temperature"),
  # a factor by a numeric covariate
  list("cake_factor_by_numeric", "cake", "angle ~ recipe * temp"),
  # unbalanced, one cell with 2 cars (8 cylinders, manual)
  list("mtcars_unbalanced", "mtcars_factors", "mpg ~ cyl * am"),
  # unbalanced, with a numeric covariate
  list("mtcars_covariate", "mtcars_factors", "mpg ~ cyl * am + wt"),
  # factor by numeric interaction beside another covariate
  list("mtcars_factor_by_numeric", "mtcars_factors", "mpg ~ am * wt + hp"),
  # an empty cell (no 8-cylinder car with 4 gears): one aliased coefficient
  list("mtcars_empty_cell", "mtcars_factors", "mpg ~ cyl * gear")
)

tables <- list()
for (spec in models) {
  ds <- datasets[[spec[[2]]]]; d <- ds$d
  fit <- lm(as.formula(spec[[3]]), data = d)
  tab <- as.data.frame(Anova(fit, type = 2))
  used <- intersect(all.vars(as.formula(spec[[3]])), names(d))
  levels_ <- lapply(d[used][vapply(d[used], is.factor, logical(1))], levels)
  tables[[length(tables) + 1]] <- list(
    id = spec[[1]], data_file = ds$path, data_md5 = unname(tools::md5sum(ds$path)), formula = spec[[3]],
    factor_levels = levels_, call = sprintf("car::Anova(lm(%s, data = d), type = 2)", spec[[3]]),
    nobs = nobs(fit), aliased = I(names(coef(fit))[is.na(coef(fit))]),
    table = data.frame(term = rownames(tab), df = tab[["Df"]], sum_sq = tab[["Sum Sq"]],
                       F = tab[["F value"]], p = tab[["Pr(>F)"]], stringsAsFactors = FALSE))
}
res <- list(generated_by = "Rscript tests/r/make_lm_anova_fixtures.R", r_version = R.version.string,
            packages = list(car = as.character(packageVersion("car"))), models = tables)
txt <- suppressWarnings(to_json(res))  # fmt_num warns on the NAs (Residuals F, p) it writes as null
stopifnot(validate(txt))
writeLines(txt, file.path(out_dir, "type2.json"))
cat("wrote", file.path(out_dir, "type2.json"), "\n")
