# Export lme4's InstEval data set for benchmarks/bench_peers.py (benchmark only, not used by tests).
#   Rscript benchmarks/export_insteval.R
# Columns as in lme4; factors written as their labels so Python reads them as strings.
suppressPackageStartupMessages(library(lme4))
data("InstEval", package = "lme4")
out <- gzfile("benchmarks/data/InstEval.csv.gz", "w")
write.csv(InstEval, out, row.names = FALSE)
close(out)
cat(sprintf("wrote %d rows (lme4 %s)\n", nrow(InstEval), as.character(packageVersion("lme4"))))
