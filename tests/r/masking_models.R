# lme4 + lmerTest references for emostat.analysis.masking.models.masking_mixed_model on the study's
# release: the study's model and the model of record at every k. Run from the repository root:
#   Rscript tests/r/masking_models.R ../shared/data/model-emotion
# Writes tests/r/masking_models_lme4.json (frozen; tests/test_mixed.py reads it).
# Data as tests/r/masking_lmm.R (27 emotions x 12 seeds x 14 attributes x 2 conditions).
# attribute_vs_random = 1 for the random mask: its coefficient is random - attribute (emostat's
# sign; the study's conditionattribute has the opposite sign, same |t|, df and p).
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args)) args[1] else "../shared/data/model-emotion"
attrs <- c("arousal", "valence", "happy", "anger", "sad", "fear", "surprise", "disgust",
           "control", "fairness", "self-related", "other-related", "expectedness", "non-novelty")
read_dir <- function(dir, kind, condition, k) {
  files <- list.files(file.path(root, "Result/masking/RoBERTa", dir, "Acc_perSeed_JSON"),
                      pattern = "\\.json$", full.names = TRUE)
  do.call(rbind, lapply(files, function(f) {
    j <- fromJSON(f)
    stem <- sub("\\.json$", "", basename(f))
    data.frame(emotion = sub("-[0-9]+$", "", stem), prompt = sub("^.*-", "", stem),
               attribute_vs_random = as.numeric(condition == "random"), attribute = attrs,
               accuracy = unlist(j[paste0(attrs, "_", kind, k)]))
  }))
}
one <- function(fit) {
  co <- coef(summary(fit)); vc <- as.data.frame(VarCorr(fit))
  list(terms = rownames(co), fixef = unname(co[, 1]), se = unname(co[, 2]),
       t = unname(co[, "t value"]), df = unname(co[, "df"]), p = unname(co[, "Pr(>|t|)"]),
       vc_grp = vc$grp, vc_var1 = vc$var1, vc_var2 = vc$var2, vc_sdcor = vc$sdcor,
       logLik = as.numeric(logLik(fit)), singular = isSingular(fit))
}
out <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
            lmerTest = as.character(packageVersion("lmerTest")),
            study = "lmer(accuracy ~ attribute_vs_random + (1 | emotion/prompt), REML = TRUE)",
            record = paste("lmer(accuracy ~ attribute_vs_random + (1 | emotion) + (1 | emotion:prompt)",
                           "+ (1 + attribute_vs_random | attribute), REML = TRUE)"), k = list())
for (k in c(1500, 2000, 2500, 3000, 4000, 5000, 6000)) {
  d <- rbind(read_dir("RSA_tau_14property", "top", "attribute", k),
             read_dir("random", "random", "random", k))
  stopifnot(nrow(d) == 9072, !anyNA(d$accuracy))
  s <- lmer(accuracy ~ attribute_vs_random + (1 | emotion/prompt), data = d)
  r <- lmer(accuracy ~ attribute_vs_random + (1 | emotion) + (1 | emotion:prompt) +
              (1 + attribute_vs_random | attribute), data = d)
  out$k[[as.character(k)]] <- list(study = one(s), record = one(r))
  cat(k, coef(summary(r))[2, ], "\n")
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/r/masking_models_lme4.json")
