# lme4 / lmerTest references for emostat's item-level models on tests/r/item_mask.csv
# (written by tests/r/item_mask_data.py, seeded). Run from the repository root:
#   Rscript tests/r/item_mask.R
# Writes tests/r/item_mask_lme4.json (frozen; tests/test_mixed.py reads it).
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
d <- read.csv("tests/r/item_mask.csv")
glmm <- glmer(correct ~ attribute_vs_random + (1 | item) + (1 | mask), data = d,
              family = binomial, control = glmerControl(optimizer = "bobyqa"))
lmm <- lmer(margin ~ attribute_vs_random + (1 | item) + (1 | mask), data = d, REML = TRUE)
vc <- function(fit) { v <- as.data.frame(VarCorr(fit)); setNames(as.list(v$vcov), v$grp) }
cg <- coef(summary(glmm)); cl <- coef(summary(lmm))
out <- list(
  R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  glmm = list(call = "glmer(correct ~ attribute_vs_random + (1|item) + (1|mask), binomial, Laplace, bobyqa)",
              terms = rownames(cg), fixef = unname(cg[, 1]), se = unname(cg[, 2]),
              z = unname(cg[, 3]), p = unname(cg[, 4]), var = vc(glmm),
              se_use_hessian_false = unname(sqrt(diag(as.matrix(vcov(glmm, use.hessian = FALSE))))),
              logLik = as.numeric(logLik(glmm)), nobs = nobs(glmm), singular = isSingular(glmm)),
  lmm = list(call = "lmer(margin ~ attribute_vs_random + (1|item) + (1|mask), REML = TRUE)",
             terms = rownames(cl), fixef = unname(cl[, 1]), se = unname(cl[, 2]),
             t = unname(cl[, "t value"]), df_satterthwaite = unname(cl[, "df"]),
             p_satterthwaite = unname(cl[, "Pr(>|t|)"]),
             df_kenward_roger = unname(coef(summary(lmm, ddf = "Kenward-Roger"))[, "df"]),
             var = vc(lmm), logLik = as.numeric(logLik(lmm)), nobs = nobs(lmm),
             singular = isSingular(lmm)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/r/item_mask_lme4.json")
print(summary(glmm)); print(summary(lmm))
