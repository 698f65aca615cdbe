# The JSON writer shared by the fixture scripts (make_fixtures.R, make_formula_fixtures.R,
# make_interpret_fixtures.R), which source() it from their own folder:
#
#     source(file.path(script_dir, "json.R"))
#
# jsonlite caps numbers at 15 significant digits even with digits = NA or
# digits = I(17), which does not round-trip a double. So numbers are printed
# here with the shortest of %.15g / %.16g / %.17g that parses back to the
# identical double; jsonlite is still used for escaping strings and for
# validating the final file.

suppressPackageStartupMessages(library(jsonlite))

fmt_num <- function(x) {
  if (is.integer(x)) {
    return(ifelse(is.na(x), "null", as.character(x)))
  }
  if (any(is.infinite(x))) {
    stop("Infinite value in fixture output; refusing to write a non-finite number.")
  }
  out <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- !is.na(x) & as.numeric(out) != x
    out[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  stopifnot(all(is.na(x) | as.numeric(out) == x))
  out[is.na(x)] <- "null"
  out
}

json_str <- function(s) {
  vapply(s, function(z) {
    if (is.na(z)) "null" else as.character(toJSON(z, auto_unbox = TRUE))
  }, "", USE.NAMES = FALSE)
}

# Lists -> objects (named) or arrays (unnamed); data frames -> object of
# column arrays; matrices -> array of row arrays; named atomic vectors ->
# objects; unnamed length-1 atomic -> scalar unless wrapped in I().
to_json <- function(x, ind = "") {
  nxt <- paste0(ind, "  ")
  if (is.null(x)) return("null")
  if (is.data.frame(x)) {
    cols <- lapply(x, function(col) {
      if (is.factor(col)) col <- as.character(col)
      I(unname(col))
    })
    names(cols) <- names(x)
    return(to_json(cols, ind))
  }
  if (is.matrix(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i) to_json(I(unname(x[i, ])), nxt), "")
    return(paste0("[\n", nxt, paste(rows, collapse = paste0(",\n", nxt)), "\n", ind, "]"))
  }
  if (is.list(x)) {
    named <- !is.null(names(x))
    if (length(x) == 0) return(if (named) "{}" else "[]")
    items <- vapply(x, to_json, "", ind = nxt, USE.NAMES = FALSE)
    if (named) {
      items <- paste0(json_str(names(x)), ": ", items)
      return(paste0("{\n", nxt, paste(items, collapse = paste0(",\n", nxt)), "\n", ind, "}"))
    }
    return(paste0("[\n", nxt, paste(items, collapse = paste0(",\n", nxt)), "\n", ind, "]"))
  }
  force_array <- inherits(x, "AsIs")
  if (force_array) class(x) <- setdiff(class(x), "AsIs")
  if (is.factor(x)) x <- as.character(x)
  nm <- names(x)
  x <- unname(x)
  vals <- if (is.character(x)) {
    json_str(x)
  } else if (is.logical(x)) {
    ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else if (is.numeric(x)) {
    fmt_num(x)
  } else {
    stop("to_json: unsupported type ", class(x)[1])
  }
  if (!force_array && !is.null(nm)) {
    return(paste0("{", paste(paste0(json_str(nm), ": ", vals), collapse = ", "), "}"))
  }
  if (!force_array && length(vals) == 1) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}

write_json_file <- function(x, path) {
  txt <- to_json(x)
  stopifnot(validate(txt))
  writeLines(txt, path)
  cat("wrote", path, "\n")
}
