# Independent reference for emostat.analysis.engines.bca.bca_interval (frozen in tests/test_bca.py).
# Deterministic replicates, no RNG: t = 999 skewed "bootstrap" values, t0 = 1.1, and empirical
# influence values L (sum 0) for the acceleration; boot::boot.ci(type = "bca", L = L).
# R prints the order-statistic positions (R + 1) * adjusted alpha and the interval; emostat's
# jackknife replicates for the same L are jack_i = -L_i / (n - 1).
# Run: Rscript tests/r/bca.R        (R 4.2.2, boot 1.3-28)
suppressPackageStartupMessages(library(boot))
options(digits = 15)
t <- qgamma(ppoints(999), shape = 3) / 3
L <- exp((1:20) / 5)
L <- L - mean(L)
x <- seq_len(20)
b <- boot(x, function(d, i) mean(d[i]), R = 999)   # a boot object; t and t0 replaced below
b$t <- matrix(t, ncol = 1); b$t0 <- 1.1
for (conf in c(0.95, 0.9)) {
  ci <- boot.ci(b, conf = conf, type = "bca", L = L)$bca
  cat(conf, ci[2:5], "\n")
}
cat("a", sum(L^3) / (6 * sum(L^2)^1.5), "z0", qnorm(sum(t < 1.1) / 999), "\n")
