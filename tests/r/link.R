# Independent reference for emostat.analysis.masking.link.link_test on the study's release (frozen in
# tests/test_link.py). Base R only: reads the masking JSONs with regmatches (as dip_masking.R),
# importance = Kendall tau-b (cor(method = "kendall")) of the released mean human RDM with each
# released attribute RDM; drop = random - attribute-specific accuracy, mean over the 12 seeds.
# Per k: the study's t over the emotions' Fisher z; the attribute-level cor.test (df 12); and an
# attribute-label permutation p of the mean Fisher z (two-sided, 100,000 draws, set.seed(1)).
# Run: Rscript tests/r/link.R ../shared/data/model-emotion     (R 4.2.2, base R only)
root <- commandArgs(trailingOnly = TRUE)[1]
top <- file.path(root, "Result/masking/RoBERTa/RSA_tau_14property/Acc_perSeed_JSON")
rnd <- file.path(root, "Result/masking/RoBERTa/random/Acc_perSeed_JSON")
human <- read.csv(file.path(root, "Data/preprocessed/subjective_comparison/avg_dist_subjective_comparison.csv"))[, 1]
attr <- read.csv(file.path(root, "Data/preprocessed/emotional_features/dist_emotional_PCs.csv"), check.names = FALSE)
imp <- sapply(attr, function(a) cor(human, a, method = "kendall"))
keys <- c("arousal", "valence", "happy", "anger", "sad", "fear", "surprise", "disgust", "control",
          "fairness", "self-related", "other-related", "expectedness", "non-novelty")
value <- function(txt, key) {
  m <- regmatches(txt, regexpr(paste0('"', key, '": [0-9.eE-]+'), txt))
  as.numeric(sub('.*: ', '', m))
}
files <- list.files(top, pattern = "\\.json$")
emotion <- sub("-[0-9]+\\.json$", "", files)
ttxt <- sapply(files, function(f) readChar(file.path(top, f), 1e6))
rtxt <- sapply(files, function(f) readChar(file.path(rnd, f), 1e6))
options(digits = 15)
cat("importance", format(imp, digits = 15), "\n")
for (k in c(1500, 2000, 2500, 3000, 4000, 5000, 6000)) {
  D <- sapply(keys, function(key) {
    d <- value(rtxt, paste0(key, "_random", k)) - value(ttxt, paste0(key, "_top", k))
    tapply(d, emotion, mean)
  })                                             # 27 emotions x 14 attributes
  z <- atanh(apply(D, 1, function(x) cor(x, imp)))
  tt <- t.test(z)
  ct <- cor.test(colMeans(D), imp)
  Dn <- t(apply(D, 1, function(x) (x - mean(x)) / sqrt(sum((x - mean(x))^2))))
  vn <- (imp - mean(imp)) / sqrt(sum((imp - mean(imp))^2))
  set.seed(1)
  P <- replicate(100000, vn[sample.int(14)])      # 14 x draws
  null <- colMeans(atanh(Dn %*% P))
  obs <- mean(z)
  p_perm <- (1 + sum(abs(null) >= abs(obs) - 1e-12)) / (1 + 100000)
  cat(k, "study", format(c(tanh(tt$estimate), tt$statistic, tt$p.value), digits = 15),
      "| attribute_r", format(c(ct$estimate, ct$statistic, ct$p.value, ct$conf.int), digits = 15),
      "| perm", format(c(obs, p_perm), digits = 15), "\n")
}
