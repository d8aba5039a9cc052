# lme4 reference for the item GLMM on tests/r/glmm_mode.csv (written by
# tests/r/glmm_mode_data.py, seeded), a design where mixedlm 1.3's native Laplace evaluation
# stops short of the maximum likelihood. Run from the repository root:
#   Rscript tests/r/glmm_mode.R
# Writes tests/r/glmm_mode_lme4.json (frozen; tests/test_mixed.py reads it).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
d <- read.csv("tests/r/glmm_mode.csv")
fits <- lapply(c("bobyqa", "Nelder_Mead"), function(opt)
  glmer(correct ~ attribute_vs_random + (1 | item) + (1 | mask), data = d, family = binomial,
        control = glmerControl(optimizer = opt)))
best <- fits[[which.max(sapply(fits, function(m) as.numeric(logLik(m))))]]
cf <- coef(summary(best))
v <- as.data.frame(VarCorr(best))
out <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
            call = "glmer(correct ~ attribute_vs_random + (1|item) + (1|mask), binomial, Laplace; best of bobyqa, Nelder_Mead)",
            logLik_by_optimizer = list(bobyqa = as.numeric(logLik(fits[[1]])),
                                       Nelder_Mead = as.numeric(logLik(fits[[2]]))),
            terms = rownames(cf), fixef = unname(cf[, 1]), se = unname(cf[, 2]),
            z = unname(cf[, 3]), p = unname(cf[, 4]), var = setNames(as.list(v$vcov), v$grp),
            logLik = as.numeric(logLik(best)), nobs = nobs(best))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/r/glmm_mode_lme4.json")
