"""The knowledge claim of record (issue 22 item 4) and fits that are not ok told (item 6).

Reference: tests/r/knowledge.R -> knowledge_lme4.json (R 4.2.2, lme4 1.1.31, performance 0.10.2;
output in knowledge.Rout) on tests/r/knowledge_inference.csv (knowledge_data.py, seeded): R
re-calibrates every condition on its own rows (written there from the definition, cross-fitted
over the two calibration folds) and fits glmer with the record GLMM's random structure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.claims.table import build_claims, make_design
from emostat.analysis.masking.bias import bias_tables, recalibrate
from emostat.analysis.masking.knowledge import P_METHOD, knowledge_models

R_DIR = Path(__file__).parent / "r"
REF = json.loads((R_DIR / "knowledge_lme4.json").read_text())


@pytest.fixture(scope="module")
def inference() -> tuple[pd.DataFrame, list[str]]:
    d = pd.read_csv(R_DIR / "knowledge_inference.csv")
    lp = [c for c in d.columns if c.startswith("lp_")]
    inf = d.drop(columns=lp).assign(logprobs=list(d[lp].to_numpy()),
                                    k=d["k"].astype("Int64"), draw=d["draw"].astype("Int64"))
    return inf, [c[3:] for c in lp]


@pytest.fixture(scope="module")
def fitted(inference):
    inf, concepts = inference
    rec = recalibrate(inf, concepts)
    return rec, knowledge_models(rec, diagnostics=True)


def test_recalibrated_outcome_equals_r(fitted):
    rec, _ = fitted
    acc = rec.groupby("condition_id")["correct_recal"].mean()
    # R's per-condition calibration (knowledge.R), e.g. none .70833, attribute:a1 .22917
    for cid, value in REF["accuracy_recal"].items():
        assert acc[cid] == pytest.approx(value, abs=1e-12), cid


def test_knowledge_glmm_equals_lme4(fitted):
    _, (tidy, glance, qq) = fitted
    fx = tidy[tidy["effect"] == "fixed"].set_index("term")
    g = glance.iloc[0]
    assert g["model"] == "knowledge_glmm" and g["role"] == "record" and g["status"] == "ok"
    assert g["formula"] == ("correct_recal ~ attribute_vs_random + (1 | item) + "
                            "(0 + is_attribute | mask) + (0 + is_random | mask)")
    # lme4: -0.52218, 0.47493 (coefficients 1e-3 absolute), SE .27635, .29720 (0.5%: the
    # Hessian SE moves in the 4th digit between optimiser runs; here 0.18%, 0.20%)
    np.testing.assert_allclose(fx["estimate"], REF["fixef"], atol=1e-3)
    np.testing.assert_allclose(fx["std_error"], REF["se"], rtol=5e-3)
    np.testing.assert_allclose(fx["p_value"], REF["p"], rtol=1e-2)       # .0588, .1100
    sd = tidy[tidy["effect"] == "ran_pars"].set_index(["group", "term"])["estimate"]
    np.testing.assert_allclose(
        [sd["item", "sd__(Intercept)"] ** 2, sd["mask", "sd__is_attribute"] ** 2,
         sd["mask.1", "sd__is_random"] ** 2], list(REF["var"].values()), rtol=1e-3)
    assert g["logLik"] >= REF["logLik"] - 1e-6                    # -497.32541: at least lme4's
    assert g["nobs"] == REF["n"] == 768 and g["groups"] == "item, 48; mask, 16"
    # performance::r2_nakagawa / icc on the same model (knowledge.R): R²c .22335, ICC .21352
    for col, tol in (("r2_marginal", 1e-3), ("r2_conditional", 2e-4),
                     ("icc_adjusted", 2e-4), ("icc_conditional", 2e-4)):
        assert g[col] == pytest.approx(REF[col], rel=tol), col
    assert set(qq["model"]) == {"knowledge_glmm"} and (qq["task"] == "choice").all()


def test_claims_row_of_record(fitted):
    _, (tidy, glance, _) = fitted
    claims = build_claims({"knowledge_mixed_model": tidy},
                          make_design("experiment", [50], tasks=["choice"]))
    rows = claims[claims["claim"] == "knowledge"]
    assert len(rows) == 1
    r = rows.iloc[0]
    fx = tidy[(tidy["effect"] == "fixed") & (tidy["term"] == "attribute_vs_random")].iloc[0]
    assert (r["role"], r["test"], r["task"], r["k"]) == ("record", "knowledge_glmm", "choice", 50)
    assert r["p_method"].startswith(P_METHOD + ": Wald z")
    assert "recalibrated outcome" in r["p_method"] and r["scale"] == "log-odds"
    assert r["estimate"] == fx["estimate"] and r["p_value"] == fx["p_value"]
    assert r["estimate"] == pytest.approx(REF["fixef"][1], abs=1e-3)     # lme4 .47493
    # p = .1107 (lme4 .1100) > .05: the one decision rule (emostat.analysis.claims.decision)
    assert r["decision"] == "not supported" and r["reason"].startswith("p = .11")
    assert r["conf_low"] < r["estimate"] < r["conf_high"] and r["unit"] == "item (48) x mask (16)"


def test_bias_tables_write_the_knowledge_model(inference):
    inf, concepts = inference
    # the run's decisions: offsets of condition none (in-sample; enough for the table shapes)
    none = np.stack(inf.loc[inf["condition"] == "none", "logprobs"].to_numpy()).mean(axis=0)
    pred = np.array(concepts)[(np.stack(inf["logprobs"].to_numpy()) - none).argmax(axis=1)]
    inf = inf.assign(correct=pred == inf["label"].to_numpy(), margin=np.nan,
                     fold=inf["cal_fold"])
    t = bias_tables(inf, concepts, n_perm=99, seed=0)
    assert {"knowledge_mixed_model", "knowledge_mixed_glance", "mixed_model_qq"} <= set(t)
    from emostat.schemas import validate
    import pyarrow as pa

    for name in ("knowledge_mixed_model", "knowledge_mixed_glance", "mixed_model_qq"):
        validate(pa.Table.from_pandas(t[name], preserve_index=False), name)


def _tidy(status: str, message: str) -> pd.DataFrame:
    """A knowledge/masking record row as the tables hold it, with a fit status."""
    return pd.DataFrame({
        "task": "choice", "k": 50, "model": "knowledge_glmm", "role": "record",
        "family": "binomial", "outcome": "correct_recal", "effect": "fixed", "group": "",
        "term": "attribute_vs_random", "estimate": np.nan if status == "failed" else 0.4,
        "std_error": np.nan if status == "failed" else 0.2, "statistic": 2.0,
        "p_value": np.nan if status == "failed" else 0.045, "df": np.nan,
        "p_method": "Wald z (SE from the fixed-effect information given theta, lme4 "
                    "use.hessian = FALSE), two-sided", "unit": "item (48) x mask (16)",
        "status": status, "message": message}, index=[0])


@pytest.mark.parametrize("status,message,decision,said", [
    ("failed", "deviance must contain finite real values", "failed",
     "the model failed: deviance must contain finite real values"),
    ("singular", "singular: dropped (0 + is_random | mask) (variance 0)", "supported",
     "the fit was singular: dropped (0 + is_random | mask) (variance 0)"),
    ("fallback", "Hessian of the deviance not finite (a mode solve failed): SE from the "
                 "information matrix", "supported", "Hessian of the deviance not finite"),
])
def test_failed_singular_and_fallback_fits_are_told(status, message, decision, said):
    # issue 22: a steering fit failed and others were singular, a record GLMM's Hessian SE
    # fell back, and neither the claims nor the console nor the report said so
    from emostat.console import headline
    from emostat.report import findings

    design = make_design("experiment", [50], tasks=["choice"])
    for claim, table in (("knowledge", "knowledge_mixed_model"),
                         ("masking", "masking_mixed_model")):
        t = _tidy(status, message)
        if claim == "masking":
            t = t.assign(model="item_glmm", outcome="correct")
        claims = build_claims({table: t}, design)
        r = claims[(claims["claim"] == claim) & (claims["role"] == "record")].iloc[0]
        assert r["decision"] == decision and said in r["reason"], (claim, r["reason"])
        assert said.lower() in headline(claims, all_k=True).lower()      # the console
        assert said.lower() in findings.claim_sentence(r).lower()        # the report
