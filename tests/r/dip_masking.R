# Independent reference for emostat.analysis.masking.drops.dip_tests (frozen in tests/test_masking.py).
# Reads the release's masking JSONs with base R (no JSON package), forms each emotion's mean
# ACC.diff (attribute top-k - random k, mean over the 12 seeds) and runs diptest::dip.test.
# Run: Rscript tests/r/dip_masking.R ../shared/data/model-emotion
# R 4.2.2, diptest 0.76-0 (Debian r-cran-diptest).
library(diptest)
root <- commandArgs(trailingOnly = TRUE)[1]
top <- file.path(root, "Result/masking/RoBERTa/RSA_tau_14property/Acc_perSeed_JSON")
rnd <- file.path(root, "Result/masking/RoBERTa/random/Acc_perSeed_JSON")
value <- function(txt, key) {
  m <- regmatches(txt, regexpr(paste0('"', key, '": [0-9.eE-]+'), txt))
  as.numeric(sub('.*: ', '', m))
}
files <- list.files(top, pattern = "\\.json$")
emotion <- sub("-[0-9]+\\.json$", "", files)
cases <- list(c("arousal", "arousal", 4000), c("valence", "valence", 4000),
              c("happy", "happy-face", 1500), c("non-novelty", "novelty", 6000))
options(digits = 15)
for (cs in cases) {
  d <- sapply(files, function(f) {
    a <- value(readChar(file.path(top, f), 1e6), paste0(cs[1], "_top", cs[3]))
    r <- value(readChar(file.path(rnd, f), 1e6), paste0(cs[1], "_random", cs[3]))
    a - r
  })
  means <- tapply(d, emotion, mean)
  t <- dip.test(means)
  cat(cs[3], cs[2], length(means), format(t$statistic, digits = 15),
      format(t$p.value, digits = 15), "\n")
}
