# lme4 reference for emostat's knowledge GLMM (the record model on the recalibrated outcome,
# emostat.analysis.masking.knowledge) on tests/r/knowledge_inference.csv (written by
# knowledge_data.py, seeded). Run from the repository root:
#   Rscript tests/r/knowledge.R > tests/r/knowledge.Rout 2>&1
# Writes tests/r/knowledge_lme4.json (frozen; tests/test_knowledge.py reads it).
#
# Per-condition calibration, written here from its definition (emostat.analysis.masking.bias):
# for every condition and calibration fold f, each candidate's offset is its mean log-prob over
# the condition's rows of the other fold(s); the answer is the candidate with the largest
# log-prob minus offset; correct_recal = answer == label.
suppressPackageStartupMessages({library(lme4); library(performance); library(jsonlite)})
d <- read.csv("tests/r/knowledge_inference.csv", stringsAsFactors = FALSE)
lp_cols <- grep("^lp_", names(d), value = TRUE)
concepts <- sub("^lp_", "", lp_cols)
d$correct_recal <- NA
for (cid in unique(d$condition_id)) {
  for (f in unique(d$cal_fold)) {
    own <- d$condition_id == cid & d$cal_fold == f
    train <- d$condition_id == cid & d$cal_fold != f
    off <- colMeans(d[train, lp_cols])
    adj <- sweep(as.matrix(d[own, lp_cols]), 2, off)
    d$correct_recal[own] <- concepts[max.col(adj, ties.method = "first")] == d$label[own]
  }
}
acc <- tapply(d$correct_recal, d$condition_id, mean)
m <- d[d$condition != "none", ]
m$correct_recal <- as.numeric(m$correct_recal)
m$attribute_vs_random <- as.numeric(m$condition == "random")
m$is_random <- m$attribute_vs_random
m$is_attribute <- 1 - m$attribute_vs_random
fit <- glmer(correct_recal ~ attribute_vs_random + (1 | item_id) + (0 + is_attribute | condition_id) +
               (0 + is_random | condition_id), data = m, family = binomial,
             control = glmerControl(optimizer = "bobyqa"))
cf <- coef(summary(fit))
v <- as.data.frame(VarCorr(fit))
# R² and ICC as performance computes them, on the same model written so that its shortcuts do
# not drop the mask terms (see tests/r/performance.R): cell means, the second term on a copy
m$mask2 <- m$condition_id
fit2 <- glmer(correct_recal ~ 0 + is_attribute + is_random + (1 | item_id) +
                (0 + is_attribute | condition_id) + (0 + is_random | mask2), data = m,
              family = binomial, control = glmerControl(optimizer = "bobyqa"))
r2 <- r2_nakagawa(fit2); ic <- icc(fit2)
out <- list(
  R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  performance = as.character(packageVersion("performance")),
  call = paste("glmer(correct_recal ~ attribute_vs_random + (1|item) + (0 + is_attribute|mask)",
               "+ (0 + is_random|mask), binomial, Laplace, bobyqa)"),
  accuracy_recal = as.list(acc), n = nrow(m),
  terms = rownames(cf), fixef = unname(cf[, 1]), se = unname(cf[, 2]), z = unname(cf[, 3]),
  p = unname(cf[, 4]),
  se_use_hessian_false = unname(sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))),
  var = setNames(as.list(v$vcov), paste(v$grp, v$var1)),
  logLik = as.numeric(logLik(fit)), singular = isSingular(fit),
  r2_marginal = unname(r2$R2_marginal), r2_conditional = unname(r2$R2_conditional),
  icc_adjusted = ic$ICC_adjusted, icc_conditional = ic$ICC_conditional)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/r/knowledge_lme4.json")
print(summary(fit))
print(acc)
