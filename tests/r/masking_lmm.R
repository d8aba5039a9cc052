# lme4 reference for emostat.analysis.masking.models.masking_mixed_model on the study's release, k = 4000.
# Run from the repository root (release = the shared copy or a clone of thunlp/Model_Emotion):
#   Rscript tests/r/masking_lmm.R ../shared/data/model-emotion
# Writes tests/r/masking_lmm_k4000.json (frozen; tests/test_mixed.py reads it).
# Checked with R 4.2.2, lme4 1.1.31, lmerTest 3.1.3, jsonlite (Debian bookworm packages).
#
# Data: Result/masking/RoBERTa/RSA_tau_14property/Acc_perSeed_JSON/<emotion>-<seed>.json keys
# <attr>_top4000 (condition "attribute") and Result/masking/RoBERTa/random/Acc_perSeed_JSON/
# <emotion>-<seed>.json keys <attr>_random4000 (condition "random"); 27 emotions x 12 seeds
# (template) x 14 attributes x 2 conditions = 9072 rows. The release has one random draw.
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args)) args[1] else "../shared/data/model-emotion"
k <- 4000
attrs <- c("arousal", "valence", "happy", "anger", "sad", "fear", "surprise", "disgust",
           "control", "fairness", "self-related", "other-related", "expectedness", "non-novelty")

read_dir <- function(dir, kind, condition) {
  files <- list.files(file.path(root, "Result/masking/RoBERTa", dir, "Acc_perSeed_JSON"),
                      pattern = "\\.json$", full.names = TRUE)
  do.call(rbind, lapply(files, function(f) {
    j <- fromJSON(f)
    stem <- sub("\\.json$", "", basename(f))
    data.frame(emotion = sub("-[0-9]+$", "", stem), template = sub("^.*-", "", stem),
               condition = condition, attribute = attrs,
               accuracy = unlist(j[paste0(attrs, "_", kind, k)]))
  }))
}
d <- rbind(read_dir("RSA_tau_14property", "top", "attribute"),
           read_dir("random", "random", "random"))
d$condition <- factor(d$condition, levels = c("random", "attribute"))
stopifnot(nrow(d) == 9072, !anyNA(d$accuracy))

fit <- lmer(accuracy ~ condition + (1 | emotion/template), data = d, REML = TRUE)
vc <- as.data.frame(VarCorr(fit))
co <- coef(summary(fit))  # lmerTest: Satterthwaite df and p
out <- list(
  source = "lme4::lmer(accuracy ~ condition + (1 | emotion/template), REML = TRUE), k = 4000",
  R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  terms = rownames(co),
  fixef = unname(co[, "Estimate"]), se = unname(co[, "Std. Error"]), t = unname(co[, "t value"]),
  df_satterthwaite = unname(co[, "df"]), p_satterthwaite = unname(co[, "Pr(>|t|)"]),
  var_template_emotion = vc$vcov[vc$grp == "template:emotion"],
  var_emotion = vc$vcov[vc$grp == "emotion"],
  residual_var = sigma(fit)^2,
  logLik = as.numeric(logLik(fit)), REML_criterion = -2 * as.numeric(logLik(fit)),
  nobs = nobs(fit), n_groups = as.list(ngrps(fit)), singular = isSingular(fit),
  mean_accuracy = tapply(d$accuracy, d$condition, mean)
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/r/masking_lmm_k4000.json")
print(summary(fit))
