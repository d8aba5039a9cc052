# lme4 / lmerTest references for emostat's item-level models on tests/r/item_mask.csv
# (written by tests/r/item_mask_data.py, seeded). Run from the repository root:
#   Rscript tests/r/item_mask.R > tests/r/item_mask.Rout 2>&1
# Writes tests/r/item_mask_lme4.json and item_mask_lme4_separate.json (frozen;
# tests/test_mixed.py reads them; item_mask.Rout is the run's printed output).
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
# separate mask variances for attribute and random masks (emostat's item_glmm / item_lmm since
# issue 15): written to item_mask_lme4_separate.json (first run for issue 22; the values are
# those of ../shared/docs/reference-values.md)
d$is_random <- d$attribute_vs_random; d$is_attribute <- 1 - d$attribute_vs_random
glmm2 <- glmer(correct ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) +
               (0 + is_random | mask), data = d, family = binomial,
               control = glmerControl(optimizer = "bobyqa"))
lmm2 <- lmer(margin ~ attribute_vs_random + (1 | item) + (0 + is_attribute | mask) +
             (0 + is_random | mask), data = d, REML = TRUE)
vc2 <- function(fit) { v <- as.data.frame(VarCorr(fit)); setNames(as.list(v$vcov), paste(v$grp, v$var1)) }
cg2 <- coef(summary(glmm2)); cl2 <- coef(summary(lmm2))
sep <- list(
  glmm = list(fixef = unname(cg2[, 1]), se = unname(cg2[, 2]), p = unname(cg2[, 4]),
              se_use_hessian_false = unname(sqrt(diag(as.matrix(vcov(glmm2, use.hessian = FALSE))))),
              var = vc2(glmm2), logLik = as.numeric(logLik(glmm2)), singular = isSingular(glmm2),
              lrt_vs_one = as.data.frame(anova(glmm2, glmm))),
  lmm = list(fixef = unname(cl2[, 1]), se = unname(cl2[, 2]), df_satterthwaite = unname(cl2[, "df"]),
             p_satterthwaite = unname(cl2[, "Pr(>|t|)"]), var = vc2(lmm2),
             logLik = as.numeric(logLik(lmm2)),
             lrt_vs_one = 2 * (as.numeric(logLik(lmm2)) - as.numeric(logLik(lmm)))))
writeLines(toJSON(sep, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/r/item_mask_lme4_separate.json")
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/r/item_mask_lme4.json")
print(summary(glmm)); print(summary(lmm))
