# R performance references for emostat's mixed-model effect sizes
# (emostat.analysis.engines.mixedreport: Nakagawa R², ICC) and for the Satterthwaite df of a
# random-slope model. Run from the repository root:
#   Rscript tests/r/performance.R > tests/r/performance.Rout 2>&1
# Writes tests/r/performance.json (frozen; tests/test_mixedreport.py reads it).
#
# Data: tests/r/item_mask.csv (written by item_mask_data.py; md5 f10477a302084907b2ad47a99080b84f)
# and lme4's sleepstudy (mixedlm ships the same 180 rows: mixedlm.datasets.load_sleepstudy()).
#
# performance::r2_nakagawa / icc (insight 0.19, insight:::.compute_variance_random) sum each
# random term's trace(Z Sigma Z') / n (Johnson 2014) with two shortcuts that emostat's record
# models (separate mask variances) run into:
# - Z is taken from the fixed-effect model matrix: a term such as (0 + is_attribute | mask),
#   whose column is not a fixed effect, counts 0;
# - the terms are those named in ranef(): a second term of the same grouping factor (lme4's
#   "mask.1", here (0 + is_random | mask)) is left out.
# So the separate-variance models are also fitted as the same model written so that neither
# shortcut applies: fixed part 0 + is_attribute + is_random (cell means: same likelihood, same
# fitted X beta) and the second mask term on a copy of the factor (mask2 = mask). Both versions
# are frozen ("as_written" = what performance prints for the model as emostat writes it).
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(performance); library(jsonlite)
})
d <- read.csv("tests/r/item_mask.csv")
d$is_random <- d$attribute_vs_random
d$is_attribute <- 1 - d$attribute_vs_random
d$mask2 <- d$mask
ctl <- glmerControl(optimizer = "bobyqa")

pr <- function(fit, call) {
  r2 <- suppressWarnings(r2_nakagawa(fit))
  ic <- suppressWarnings(icc(fit))
  v <- suppressWarnings(insight::get_variance(fit))
  num <- function(x) if (is.null(x)) NA else unname(as.numeric(x))
  # a singular fit: r2_nakagawa returns no conditional R² and icc() a bare NA
  ic <- if (is.list(ic)) ic else list(ICC_adjusted = NA, ICC_conditional = NA)
  list(call = call, r2_marginal = num(r2$R2_marginal), r2_conditional = num(r2$R2_conditional),
       icc_adjusted = num(ic$ICC_adjusted), icc_conditional = num(ic$ICC_conditional),
       var_fixed = num(v$var.fixed), var_random = num(v$var.random),
       var_residual = num(v$var.residual), logLik = as.numeric(logLik(fit)),
       singular = isSingular(fit))
}

out <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
            lmerTest = as.character(packageVersion("lmerTest")),
            performance = as.character(packageVersion("performance")),
            insight = as.character(packageVersion("insight")))

# one mask variance (emostat's item_lmm_equal / item_glmm_equal)
out$lmm_equal <- pr(lmer(margin ~ attribute_vs_random + (1 | item) + (1 | mask), d, REML = TRUE),
                    "lmer(margin ~ attribute_vs_random + (1|item) + (1|mask), REML = TRUE)")
out$glmm_equal <- pr(glmer(correct ~ attribute_vs_random + (1 | item) + (1 | mask), d,
                           family = binomial, control = ctl),
                     "glmer(correct ~ attribute_vs_random + (1|item) + (1|mask), binomial, bobyqa)")

# separate mask variances (emostat's item_lmm, record structure), cell-means parameterisation
out$lmm_separate <- pr(
  lmer(margin ~ 0 + is_attribute + is_random + (1 | item) + (0 + is_attribute | mask) +
         (0 + is_random | mask2), d, REML = TRUE),
  "lmer(margin ~ 0 + is_attribute + is_random + (1|item) + (0 + is_attribute|mask) + (0 + is_random|mask2), REML = TRUE)")
out$lmm_separate_as_written <- pr(
  lmer(margin ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) +
         (0 + is_random | mask), d, REML = TRUE),
  "lmer(margin ~ attribute_vs_random + (1|item) + (0 + is_attribute|mask) + (0 + is_random|mask), REML = TRUE)")
# the record GLMM (item_glmm): its random-mask variance is 0 (singular; lme4 ~1e-14), so
# emostat refits without that term; this is that fit, in the cell-means parameterisation
out$glmm_separate <- pr(
  glmer(correct ~ 0 + is_attribute + is_random + (1 | item) + (0 + is_attribute | mask), d,
        family = binomial, control = ctl),
  "glmer(correct ~ 0 + is_attribute + is_random + (1|item) + (0 + is_attribute|mask), binomial, bobyqa)")
out$glmm_separate_singular <- pr(
  glmer(correct ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) +
          (0 + is_random | mask), d, family = binomial, control = ctl),
  "glmer(correct ~ attribute_vs_random + (1|item) + (0 + is_attribute|mask) + (0 + is_random|mask), binomial, bobyqa)")

# sleepstudy: random intercept and slope with a correlation; Satterthwaite df of Days
# (lme4's own copy; the Python test reads the same 180 rows from mixedlm.datasets)
fs <- lmer(Reaction ~ Days + (Days | Subject), lme4::sleepstudy, REML = TRUE)
cs <- coef(summary(fs))
out$sleepstudy <- c(pr(fs, "lmer(Reaction ~ Days + (Days|Subject), sleepstudy, REML = TRUE)"),
                    list(terms = rownames(cs), fixef = unname(cs[, 1]), se = unname(cs[, 2]),
                         df_satterthwaite = unname(cs[, "df"]),
                         p_satterthwaite = unname(cs[, "Pr(>|t|)"]),
                         df_residual = df.residual(fs),
                         var = as.data.frame(VarCorr(fs))$vcov))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/r/performance.json")
str(out)
