# lme4 reference values for emostat.analysis.engines.mixed.fit_mixed on statsmodels' dietox data.
# Run from the repository root:
#   Rscript tests/r/dietox.R .venv/lib/python3.11/site-packages/statsmodels/regression/tests/results/dietox.csv
# Writes tests/r/dietox_lme4.json (frozen; tests/test_mixed.py reads it).
# Checked with R 4.2.2, lme4 1.1.31, lmerTest 3.1.3, jsonlite (Debian bookworm packages).
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$Pig <- factor(d$Pig)

one <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(
    fixef = unname(fixef(fit)),
    se = unname(sqrt(diag(as.matrix(vcov(fit))))),
    t = unname(coef(summary(fit))[, "t value"]),
    df_satterthwaite = unname(coef(summary(fit))[, "df"]),
    p_satterthwaite = unname(coef(summary(fit))[, "Pr(>|t|)"]),
    residual_var = sigma(fit)^2,
    cov_re = unname(as.matrix(VarCorr(fit)$Pig)),
    logLik = as.numeric(logLik(fit)),
    REML_criterion = unname(-2 * as.numeric(logLik(fit))),
    AIC = AIC(fit), BIC = BIC(fit),
    scaled_resid_quantiles = unname(quantile(residuals(fit, type = "pearson", scaled = TRUE))),
    nobs = nobs(fit), n_groups = unname(ngrps(fit)["Pig"]),
    singular = isSingular(fit)
  )
}

ri <- lmer(Weight ~ Time + (1 | Pig), data = d, REML = TRUE)
rs <- lmer(Weight ~ Time + (1 + Time | Pig), data = d, REML = TRUE)
out <- list(
  source = "lme4::lmer, REML, on statsmodels' dietox.csv",
  R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  random_intercept = c(call = "lmer(Weight ~ Time + (1 | Pig), REML = TRUE)", one(ri)),
  random_slope = c(call = "lmer(Weight ~ Time + (1 + Time | Pig), REML = TRUE)", one(rs))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/r/dietox_lme4.json")
print(summary(ri)); print(summary(rs))
