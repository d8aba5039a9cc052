"""What a mixed model's report carries beside its coefficients: Nakagawa R², ICC, groups, QQ data.

References (R 4.2.2, lme4 1.1.31, lmerTest 3.1.3, performance 0.10.2, insight 0.19.0):
tests/r/performance.R -> performance.json (output in performance.Rout), on tests/r/item_mask.csv
and lme4's sleepstudy (mixedlm ships the same 180 rows). performance counts 0 for a random term
whose column is not a fixed effect and skips a second term of one grouping factor; the R script
fits the separate-variance models written so that both count (cell-means fixed part, the second
mask term on a copy of the factor): the same models, so the numbers are comparable.
Tolerances are where the fits agree: LMMs 2e-5 relative (REML optima differ at ~1e-5 in the
variances), GLMMs 1e-4 for R²c and ICC, 1e-3 for R²m (it is var(X beta), and the fixed effects
of the two Laplace optima agree to ~3e-4 relative).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.engines.mixed import CONTRAST, fit_mixed
from emostat.analysis.engines.mixedreport import fit_verdict, qq_data

R = json.loads((Path(__file__).parent / "r" / "performance.json").read_text())
SEP = "(1 | item) + (0 + is_attribute | mask) + (0 + is_random | mask)"
EFFECTS = ["r2_marginal", "r2_conditional", "icc_adjusted", "icc_conditional"]


@pytest.fixture(scope="module")
def item_mask() -> pd.DataFrame:
    d = pd.read_csv(Path(__file__).parent / "r" / "item_mask.csv")
    rnd = d[CONTRAST].astype(float)
    return d.assign(is_random=rnd, is_attribute=1.0 - rnd)


@pytest.fixture(scope="module")
def sleepstudy() -> pd.DataFrame:
    from mixedlm.datasets import load_sleepstudy

    return load_sleepstudy()


CASES = {  # name in performance.json: (emostat formula, family, tolerances)
    "lmm_equal": (f"margin ~ {CONTRAST} + (1 | item) + (1 | mask)", "gaussian",
                  dict.fromkeys(EFFECTS, 2e-5)),
    "lmm_separate": (f"margin ~ {CONTRAST} + {SEP}", "gaussian", dict.fromkeys(EFFECTS, 2e-5)),
    "glmm_equal": (f"correct ~ {CONTRAST} + (1 | item) + (1 | mask)", "binomial",
                   dict(dict.fromkeys(EFFECTS, 1e-4), r2_marginal=1e-3)),
    # the record GLMM: singular in R and here (random-mask variance 0); emostat refits without
    # that term, performance's reference is that refit (R: isSingular FALSE)
    "glmm_separate": (f"correct ~ {CONTRAST} + {SEP}", "binomial",
                      dict(dict.fromkeys(EFFECTS, 1e-4), r2_marginal=1e-3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_r2_and_icc_equal_r_performance(item_mask, name):
    formula, family, tol = CASES[name]
    fit = fit_mixed(item_mask, formula, family=family)
    g = fit.glance().iloc[0]
    ref = R[name]
    # e.g. lmm_separate: R²m .0075799, R²c .3638746, ICC .3590160 / .3562947 (performance)
    for col in EFFECTS:
        assert g[col] == pytest.approx(ref[col], rel=tol[col]), col
    # the residual variance: sigma² of the LMM, pi²/3 on the latent scale of the logit GLMM
    assert g["var_residual"] == pytest.approx(ref["var_residual"],
                                              rel=2e-6 if family == "gaussian" else 1e-12)
    assert g["groups"] == "item, 60; mask, 16"
    assert ("latent scale" in g["r2_method"]) == (family == "binomial")
    if name == "lmm_equal":      # the printed summary carries them too
        assert f"R2 marginal {g['r2_marginal']:.4f}, conditional" in fit.summary()
    if name == "glmm_separate":
        assert fit.status == "singular" and "(0 + is_random | mask)" in fit.message
        assert R["glmm_separate_singular"]["r2_conditional"] is None   # performance: NA


def test_separate_variances_are_summed_as_performance_cannot(item_mask):
    # what performance prints for the model as emostat writes it leaves out both mask terms
    # (var.random = the item variance .290346 only); the Johnson-2014 sum adds
    # var(attribute masks) x 6/16 + var(random masks) x 10/16 (lme4: .051810, .087084)
    g = fit_mixed(item_mask, f"margin ~ {CONTRAST} + {SEP}").glance().iloc[0]
    as_written = R["lmm_separate_as_written"]["var_random"]
    assert as_written == pytest.approx(0.290346, rel=1e-5)
    assert g["var_random"] == pytest.approx(0.290346 + 0.051810 * 6 / 16 + 0.087084 * 10 / 16,
                                            rel=1e-4)


def test_sleepstudy_df_is_satterthwaite_not_residual(sleepstudy):
    # easystats' report prints t(174) (the residual df, R: df.residual = 174); lmerTest's
    # Satterthwaite df of Days is 16.99998: the df the test and its interval use
    ref = R["sleepstudy"]
    fit = fit_mixed(sleepstudy, "Reaction ~ Days + (Days | Subject)")
    t = fit.tidy().set_index("term")
    np.testing.assert_allclose(t.loc[["(Intercept)", "Days"], "df"], ref["df_satterthwaite"],
                               rtol=1e-4)
    np.testing.assert_allclose(t.loc[["(Intercept)", "Days"], "estimate"], ref["fixef"],
                               rtol=1e-6)
    np.testing.assert_allclose(t.loc[["(Intercept)", "Days"], "std_error"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(t.loc[["(Intercept)", "Days"], "p_value"],
                               ref["p_satterthwaite"], rtol=1e-3)
    assert ref["df_residual"] == 174 and t.loc["Days", "df"] < 18
    # the CI is on those df: estimate ± t(.975, 17.0) × SE
    half = stats.t.ppf(.975, t.loc["Days", "df"]) * t.loc["Days", "std_error"]
    assert t.loc["Days", "conf_high"] - t.loc["Days", "estimate"] == pytest.approx(half)
    g = fit.glance().iloc[0]
    for col in EFFECTS:                      # random intercept and slope with a correlation
        assert g[col] == pytest.approx(ref[col], rel=5e-6), col
    assert g["groups"] == "Subject, 18"
    cor = t.loc["cor__(Intercept).Days", "estimate"]
    assert cor == pytest.approx(ref["var"][2] / np.sqrt(ref["var"][0] * ref["var"][1]),
                                rel=1e-3)     # lme4's covariance 9.604 over the two SDs


def _ppoints(n):
    # R's ppoints(): (i - a) / (n + 1 - 2a), a = 3/8 for n <= 10, else 1/2 (?ppoints)
    a = 3 / 8 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def test_qq_data_lmm(item_mask):
    fit = fit_mixed(item_mask, f"margin ~ {CONTRAST} + {SEP}")
    qq = qq_data(fit)
    res = qq[qq["panel"] == "residuals"]
    # Pearson residuals (y - fitted) / sigma, fitted = X beta + Z u, computed here with numpy
    r = fit.result
    fitted = r.matrices.X @ np.asarray(r.beta) + r.matrices.Z @ np.asarray(r.u)
    pearson = np.sort((item_mask["margin"].to_numpy() - fitted) / r.sigma)
    keep = np.unique(np.round(np.linspace(0, 959, 100)).astype(int))
    np.testing.assert_allclose(res["sample"], pearson[keep], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res["theoretical"], stats.norm.ppf(_ppoints(960))[keep])
    assert res["n"].iloc[0] == 960 and len(res) == 100
    assert res["sample"].iloc[0] == pearson[0] and res["sample"].iloc[-1] == pearson[-1]
    ran = qq[qq["panel"] == "random effects"]
    # each term over the levels it applies to: 60 items, 6 attribute masks, 10 random masks
    n = ran.groupby(["group", "term"])["n"].first().to_dict()
    assert n == {("item", "(Intercept)"): 60, ("mask", "is_attribute"): 6,
                 ("mask", "is_random"): 10}
    small = ran[ran["term"] == "is_attribute"]
    np.testing.assert_allclose(small["theoretical"], stats.norm.ppf(_ppoints(6)))
    assert (small["sample"] != 0).all()                  # no padding zeros of other masks


def test_qq_randomized_quantile_residuals_glmm(item_mask):
    fit = fit_mixed(item_mask, f"correct ~ {CONTRAST} + (1 | item) + (1 | mask)",
                    family="binomial")
    qq = qq_data(fit, seed=3, points=10_000)
    res = qq[qq["panel"] == "residuals"]["sample"].to_numpy()
    assert len(res) == 960 and "randomized quantile" in qq["term"].iloc[0]
    # under the fitted model these are standard normal (Dunn & Smyth 1996): scipy's KS test
    assert stats.kstest(res, "norm").pvalue > 0.05
    # and each lies where its outcome puts it: y = 1 above Phi^-1(1 - mu), y = 0 below
    mu = fit.result.fitted(type="response")
    v = np.random.default_rng(3).random(960)
    y = item_mask["correct"].to_numpy()
    own = stats.norm.ppf(np.where(y == 1, (1 - mu) + v * mu, v * (1 - mu)))
    np.testing.assert_allclose(np.sort(own), res, rtol=1e-10)
    assert ((own >= stats.norm.ppf(1 - mu) - 1e-12) == (y == 1)).all()
    # the same seed gives the same points (a report renders the same figure twice)
    pd.testing.assert_frame_equal(qq, qq_data(fit, seed=3, points=10_000))


def test_failed_fit_has_no_effect_sizes_and_says_why(item_mask):
    fit = fit_mixed(item_mask.assign(one="x"), f"margin ~ {CONTRAST} + (1 | one)")
    g = fit.glance().iloc[0]
    assert fit.status == "failed" and np.isnan(g["r2_marginal"]) and g["groups"] == ""
    assert g["r2_method"] == "no R² or ICC: the fit failed"
    assert qq_data(fit).empty


def test_fit_verdict():
    assert fit_verdict("ok", "") == (None, None)
    assert fit_verdict("failed", "") == ("the model failed: no estimate", None)
    assert fit_verdict("fallback", "Hessian of the deviance not finite (a mode solve failed): "
                       "SE from the information matrix")[1].startswith("Hessian of the")
    assert fit_verdict("ok", "optimizer did not report convergence") == (
        None, "optimizer did not report convergence")


def test_hessian_failure_is_a_fallback_status(item_mask, monkeypatch):
    # a new user's default run: the Hessian SE failed and the fit quietly used the information
    # matrix while its status said ok (issue 22). Now the status says so, the message says
    # why, and p_method names the SE used; the SE equals lme4's use.hessian = FALSE
    # (item_mask_lme4.json se_use_hessian_false .201029, .198585)
    import emostat.analysis.engines.glmm_hessian as gh

    monkeypatch.setattr(gh, "hessian_vcov", lambda result: (
        None, "Hessian of the deviance not finite (a mode solve failed)"))
    fit = fit_mixed(item_mask, f"correct ~ {CONTRAST} + (1 | item) + (1 | mask)",
                    family="binomial")
    assert fit.status == "fallback"
    assert fit.message == ("Hessian of the deviance not finite (a mode solve failed): SE from "
                           "the information matrix")
    t = fit.tidy()
    fx = t[t["effect"] == "fixed"]
    assert set(fx["status"]) == {"fallback"} and fx["message"].iloc[0] == fit.message
    assert fx["p_method"].str.contains("use.hessian = FALSE").all()
    ref = json.loads((Path(__file__).parent / "r" / "item_mask_lme4.json").read_text())
    np.testing.assert_allclose(fx["std_error"], ref["glmm"]["se_use_hessian_false"], rtol=1e-3)
    assert fit.glance().iloc[0]["status"] == "fallback"
