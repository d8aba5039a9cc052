"""emostat.analysis.mixed against lme4.

References:
- dietox (shipped with statsmodels): lme4 1.1.31 / R 4.2.2 via tests/r/dietox.R, frozen in
  tests/r/dietox_lme4.json; the same models in /work/shared/docs/reference-values.md (an
  earlier lme4 run; both are asserted).
- masking at k = 4000 on the study's release: tests/r/masking_lmm.R, frozen in
  tests/r/masking_lmm_k4000.json.
Tolerances tiered as statsmodels' own reference tests: fixed effects 1e-5 relative, standard
errors 1e-3, variance components 1e-2.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from emostat.analysis.mixed import fit_lmm, masking_mixed_model, r_term
from emostat.errors import InputError
from emostat.schemas import validate

R_DIR = Path(__file__).parent / "r"
FIX, SE, VC = 1e-5, 1e-3, 1e-2


@pytest.fixture(scope="module")
def dietox() -> pd.DataFrame:
    import statsmodels

    path = Path(statsmodels.__file__).parent / "regression/tests/results/dietox.csv"
    if not path.exists():
        pytest.skip(f"statsmodels does not ship dietox.csv at {path}")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def lme4_dietox() -> dict:
    return json.loads((R_DIR / "dietox_lme4.json").read_text())


@pytest.fixture(scope="module")
def fit_ri(dietox):
    return fit_lmm(dietox, "Weight ~ Time", groups="Pig")


@pytest.fixture(scope="module")
def fit_rs(dietox):
    return fit_lmm(dietox, "Weight ~ Time", groups="Pig", re_formula="1 + Time")


def _close(actual, expected, rtol):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol)


# ---- dietox, random intercept: lmer(Weight ~ Time + (1 | Pig), REML = TRUE) ----------------------
def test_dietox_random_intercept_matches_lme4(fit_ri, lme4_dietox):
    r = lme4_dietox["random_intercept"]
    f = fit_ri
    assert f.converged and not f.boundary
    _close(f.params, r["fixef"], FIX)
    _close(f.bse, r["se"], SE)
    _close(f.scale, r["residual_var"], VC)
    _close(f.cov_re.iloc[0, 0], r["cov_re"][0][0], VC)
    assert f.loglik == pytest.approx(r["logLik"], abs=1e-4)
    # reference-values.md (lme4): fixed, SE, residual variance, var(Pig), logLik
    _close(f.params, [15.723523, 6.942505], FIX)
    _close(f.bse, [0.78805374, 0.03338727], SE)
    _close([f.scale, f.cov_re.iloc[0, 0]], [11.36692, 40.39395], VC)
    assert f.loglik == pytest.approx(-2404.775, abs=1e-3)


def test_dietox_random_intercept_glance_matches_lme4(fit_ri, lme4_dietox):
    r = lme4_dietox["random_intercept"]
    g = fit_ri.glance().iloc[0]
    assert g["nobs"] == r["nobs"] == 861 and g["n_groups"] == r["n_groups"] == 72
    assert g["AIC"] == pytest.approx(r["AIC"], abs=1e-3)   # lme4: REML criterion + 2 * 4
    assert g["BIC"] == pytest.approx(r["BIC"], abs=1e-3)
    assert g["sigma"] == pytest.approx(np.sqrt(r["residual_var"]), rel=VC)
    assert bool(g["REML"]) and bool(g["converged"]) and not bool(g["boundary"])


# ---- dietox, random slopes: lmer(Weight ~ Time + (1 + Time | Pig), REML = TRUE) -----------------
def test_dietox_random_slope_matches_lme4(fit_rs, lme4_dietox):
    r = lme4_dietox["random_slope"]
    f = fit_rs
    assert f.converged and not f.boundary
    _close(f.params, r["fixef"], FIX)
    _close(f.bse, r["se"], SE)
    _close(f.scale, r["residual_var"], VC)
    _close(f.cov_re.to_numpy(), r["cov_re"], VC)
    assert f.loglik == pytest.approx(r["logLik"], abs=1e-4)
    # reference-values.md
    _close(f.params, [15.738650, 6.939014], FIX)
    _close(f.bse, [0.5501253, 0.0798254], SE)
    _close(f.scale, 6.03745, VC)
    _close(f.cov_re.to_numpy(), [[19.4934552, 0.2938323], [0.2938323, 0.4160620]], VC)
    assert f.loglik == pytest.approx(-2217.047, abs=1e-3)
    g = f.glance().iloc[0]
    assert g["AIC"] == pytest.approx(r["AIC"], abs=1e-3)   # 2 fixed + 3 cov + sigma = 6 params
    assert g["BIC"] == pytest.approx(r["BIC"], abs=1e-3)


def test_random_slope_rejects_unconverged_optimizer(dietox, lme4_dietox):
    # statsmodels' default first choice (bfgs) stops far from the optimum on this model
    # (logLik about -2220.39 vs lme4's -2217.05): the fit must say so, not pass it off.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = fit_lmm(dietox, "Weight ~ Time", groups="Pig", re_formula="1 + Time",
                      optimizers=("bfgs",))
    assert not bad.converged
    assert bad.loglik < lme4_dietox["random_slope"]["logLik"] - 1
    assert any("no optimiser converged" in w for w in bad.warnings)
    assert "NOT converged" in bad.summary()


def test_attempts_record_each_optimizer(fit_rs):
    a = fit_rs.attempts
    assert list(a["optimizer"]) == ["lbfgs", "cg", "powell", "nm"]
    best = a[a["converged"]]["loglik"].max()
    assert fit_rs.loglik == best
    assert fit_rs.optimizer in set(a.loc[a["converged"], "optimizer"])
    assert fit_rs.rel_grad < 2e-3


def test_tidy_is_broom_mixed_shaped(fit_rs, lme4_dietox):
    t = fit_rs.tidy()
    assert list(t.columns) == ["effect", "group", "term", "estimate", "std_error", "statistic",
                               "p_value", "p_method"]
    assert list(t["term"]) == ["(Intercept)", "Time", "sd__(Intercept)", "sd__Time",
                               "cor__(Intercept).Time", "sd__Observation"]
    assert list(t["effect"]) == ["fixed"] * 2 + ["ran_pars"] * 4
    assert list(t["group"]) == ["", "", "Pig", "Pig", "Pig", "Residual"]
    fx = t[t["effect"] == "fixed"]
    # statistic = lme4's "t value" (Wald), p from the normal (scipy, independent of statsmodels)
    _close(fx["statistic"], lme4_dietox["random_slope"]["t"], SE)
    _close(fx["p_value"], 2 * stats.norm.sf(np.abs(fx["statistic"])), 1e-12)
    assert set(fx["p_method"]) == {"Wald z"}
    rp = t.set_index("term")["estimate"]
    c = np.asarray(lme4_dietox["random_slope"]["cov_re"])
    assert rp["sd__(Intercept)"] == pytest.approx(np.sqrt(c[0, 0]), rel=VC)
    assert rp["sd__Time"] == pytest.approx(np.sqrt(c[1, 1]), rel=VC)
    # lme4 prints Corr 0.10
    assert rp["cor__(Intercept).Time"] == pytest.approx(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]),
                                                        abs=1e-2)


def test_summary_text_like_lme4(fit_rs, lme4_dietox):
    r = lme4_dietox["random_slope"]
    s = fit_rs.summary("dietox")
    assert "Formula: Weight ~ Time + (1 + Time | Pig)" in s
    assert "REML criterion at convergence: 4434.1" in s          # lme4: 4434.1
    assert "Number of obs: 861, groups:  Pig, 72" in s
    for word in ("Scaled residuals:", "Random effects:", "Fixed effects:", "Std.Dev.", "Corr",
                 "Std. Error", "z value", "Pr(>|z|)", "Wald z"):
        assert word in s
    # scaled residuals (conditional, / sigma) vs lme4's residuals(type = "pearson", scaled = TRUE)
    q = np.quantile(np.asarray(fit_rs.result.resid) / fit_rs.sigma, [0, .25, .5, .75, 1])
    np.testing.assert_allclose(q, r["scaled_resid_quantiles"], atol=2e-3)


# ---- boundary: scale-free -----------------------------------------------------------------------
def test_boundary_is_scale_free(dietox):
    # Weight in tonnes: var(Pig) ~ 4e-5 < statsmodels' absolute 0.01 threshold, so statsmodels
    # warns "on the boundary"; relative to the residual variance nothing changed (ratio 3.55).
    import statsmodels.formula.api as smf

    d = dietox.assign(W=dietox["Weight"] / 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        smf.mixedlm("W ~ Time", d, groups="Pig").fit(method=["lbfgs"])
    assert any("boundary" in str(w.message) for w in caught)
    f = fit_lmm(d, "W ~ Time", groups="Pig")
    assert not f.boundary and f.converged
    assert f.cov_re.iloc[0, 0] / f.scale == pytest.approx(40.39395 / 11.36692, rel=VC)


def test_boundary_detected_when_groups_are_identical():
    # Every group holds the same responses in the same x order, so the group means are equal:
    # the REML estimate of the group variance is 0 exactly (lme4 reports a singular fit).
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0])
    x = np.arange(6.0)
    d = pd.DataFrame({"g": np.repeat(np.arange(8), 6), "x": np.tile(x, 8), "y": np.tile(y, 8)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_lmm(d, "y ~ x", groups="g")
    assert f.boundary
    assert f.cov_re.iloc[0, 0] / f.scale < 1e-6
    assert any("singular" in w for w in f.warnings)
    # the fixed effects are then OLS: slope of y on x
    assert f.params["x"] == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-6)


def test_fit_lmm_bad_input():
    d = pd.DataFrame({"y": [1.0, 2.0], "x": [0.0, 1.0]})
    with pytest.raises(InputError, match="grouping column 'g'"):
        fit_lmm(d, "y ~ x", groups="g")


def test_r_term_names():
    assert r_term("Intercept") == "(Intercept)"
    assert r_term("condition[T.attribute]") == "conditionattribute"
    assert r_term("Time") == "Time"


# ---- masking model ------------------------------------------------------------------------------
def _toy_accuracy(draws: int = 1) -> pd.DataFrame:
    """3 emotions x 4 templates x 2 attributes; random rows with ``draws`` draws at k = 100."""
    rng = np.random.default_rng(7)
    rows = []
    for e_i, emotion in enumerate(["anger", "joy", "fear"]):
        for t in range(4):
            prompt = 0.05 * rng.normal()
            for attr in ["valence", "arousal"]:
                base = 0.8 + 0.05 * e_i + prompt
                rows.append(("m", emotion, str(t), "none", None, None, None, base))
                rows.append(("m", emotion, str(t), "attribute", attr, 100, None,
                             base - 0.04 + 0.01 * rng.normal()))
                for d in range(draws):
                    rows.append(("m", emotion, str(t), "random", attr, 100, d,
                                 base - 0.01 + 0.01 * rng.normal()))
    return pd.DataFrame(rows, columns=["model", "emotion", "template", "condition", "attribute",
                                       "k", "draw", "accuracy"]).astype({"k": "Int64",
                                                                         "draw": "Int64"})


def test_masking_mixed_model_shape_and_schema():
    tidy, glance = masking_mixed_model(_toy_accuracy())
    validate(pa.Table.from_pandas(tidy, preserve_index=False), "masking_mixed_model")
    validate(pa.Table.from_pandas(glance, preserve_index=False), "masking_mixed_glance")
    assert list(tidy["term"]) == ["(Intercept)", "conditionattribute", "sd__(Intercept)",
                                  "sd__(Intercept)", "sd__Observation"]
    assert list(tidy["group"]) == ["", "", "emotion", "template:emotion", "Residual"]
    assert set(tidy["k"]) == {100} and "p_method" in tidy
    g = glance.iloc[0]
    assert (g["nobs"], g["n_groups"], g["n_prompts"]) == (48, 3, 12)
    # balanced design: the condition effect is the difference of condition means exactly
    acc = _toy_accuracy()
    m = acc[acc.condition != "none"].groupby("condition")["accuracy"].mean()
    est = tidy.set_index("term").loc["conditionattribute", "estimate"]
    assert est == pytest.approx(m["attribute"] - m["random"], rel=1e-8)


def test_masking_mixed_model_averages_random_draws():
    acc = _toy_accuracy(draws=3)
    tidy, glance = masking_mixed_model(acc)
    assert glance.iloc[0]["nobs"] == 48          # one random row per cell, not three
    keys = ["emotion", "template", "attribute", "condition", "k"]
    mean = acc[acc.condition != "none"].groupby(keys, as_index=False)["accuracy"].mean()
    tidy2, _ = masking_mixed_model(mean.assign(draw=0))
    np.testing.assert_allclose(tidy["estimate"], tidy2["estimate"], rtol=1e-6)


def test_masking_mixed_model_needs_both_conditions():
    acc = _toy_accuracy()
    with pytest.raises(InputError, match="k = 100 needs both"):
        masking_mixed_model(acc[acc.condition != "random"], ks=[100])
    with pytest.raises(InputError, match="lacks column"):
        masking_mixed_model(acc.drop(columns="template"))


def test_masking_lmm_matches_lme4_on_release(release):
    try:
        from emostat.release.masking import read_masking_accuracy
    except ImportError as exc:  # pragma: no cover - depends on another module
        pytest.skip(f"emostat.release.masking unavailable: {exc}")
    r = json.loads((R_DIR / "masking_lmm_k4000.json").read_text())
    acc = read_masking_accuracy(release)
    tidy, glance = masking_mixed_model(acc, ks=[4000])
    fx = tidy[tidy["effect"] == "fixed"]
    assert list(fx["term"]) == r["terms"] == ["(Intercept)", "conditionattribute"]
    _close(fx["estimate"], r["fixef"], FIX)            # -0.02874: 2.9 points lower accuracy
    _close(fx["std_error"], r["se"], SE)
    _close(fx["statistic"], r["t"], SE)
    sd = tidy[tidy["effect"] == "ran_pars"].set_index("group")["estimate"]
    _close(sd ** 2, [r["var_emotion"], r["var_template_emotion"], r["residual_var"]], VC)
    g = glance.iloc[0]
    assert g["logLik"] == pytest.approx(r["logLik"], abs=1e-3)
    assert (g["nobs"], g["n_groups"], g["n_prompts"]) == (9072, 27, 324)
    assert bool(g["converged"]) and not bool(g["boundary"])
