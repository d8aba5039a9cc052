"""emostat.analysis.claims.table: one decision per claim, and the console renders it (issue 14).

The tables are small and hand-made; each expected decision follows from the rules of
docs/design.md §2 applied by hand to the numbers given (commented beside each assert).
Holm and Clopper-Pearson are checked against statsmodels.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from emostat import io, schemas
from emostat.analysis.claims.table import (COLUMNS, RECORD, alpha, build_claims, decide,
                                     headline_k, holm, mc_interval, same_unit)
from emostat.console import headline
from emostat.errors import InputError

REPRO = {"kind": "reproduction", "ks": [4000], "headline_k": 4000, "tasks": None}


def _count_null(p=(0.05, 0.05, 0.15, 0.75), n_perm=19):
    return pd.DataFrame({"attribute": ["valence", "valence", "arousal", "arousal"],
                         "count": ["significant", "selective"] * 2,
                         "statistic": [4528.0, 97, 3261, 839], "null_mean": 100.0,
                         "null_sd": 10.0, "p_value": list(p),
                         "p_method": "emotion-label permutation of the count, one-sided",
                         "unit": "concept label (27)", "role": "record", "n_perm": n_perm})


def _max_t(p=(0.05, 0.15), n_perm=19, pj=None, attributes=("valence", "arousal"),
           **contract):
    """neuron_max_t as neuronnull.max_t_table writes it (docs: tables contract), per attribute:
    ``p_value`` the per-attribute max-T p, ``p_fwer_joint`` the joint-family one (default p)."""
    n = len(attributes)
    t = pd.DataFrame({"attribute": list(attributes), "neuron": np.arange(n) + 3,
                      "layer": 0, "estimate": np.linspace(0.52, 0.2, n), "p_value": list(p),
                      "p_fwer_joint": list(p if pj is None else pj),
                      "p_method": "Westfall-Young max-T over all neurons",
                      "unit": "concept label (27)", "role": "record", "n_perm": n_perm})
    return t.assign(**contract)


def _mixed(k=4000, task=None, record=("record", "gaussian", "accuracy", 0.029, 0.0024, 13.2,
                                      0.01, "ok")):
    model, fam, outcome, est, se, df, p, status = record
    rows = [dict(k=k, model="study", family="gaussian", outcome="accuracy", role="study",
                 estimate=0.0287, std_error=0.00223, statistic=12.88, df=np.nan, p_value=5.6e-38,
                 p_method="Wald z", status="ok", unit="prompt (168)"),
            dict(k=k, model=model, family=fam, outcome=outcome, role="record", estimate=est,
                 std_error=se, statistic=est / se, df=df, p_value=p,
                 p_method="Wald z" if fam == "binomial" else "Satterthwaite t", status=status,
                 unit="mask (14)")]
    t = pd.DataFrame(rows).assign(formula="y ~ x", effect="fixed", group="",
                                  term="attribute_vs_random", message="",
                                  conf_low=lambda d: d["estimate"] - 2 * d["std_error"],
                                  conf_high=lambda d: d["estimate"] + 2 * d["std_error"])
    return t.assign(task=task) if task is not None else t


def _link(ks=(4000,), record_tests=("attribute_level_r",), p_perm=0.047, task=None):
    rows = []
    for k in ks:
        rows += [dict(k=k, test="study_t", estimate=0.474, statistic=16.92, df=26.0,
                      p_value=1.5e-15, conf_low=0.424, conf_high=0.521, p_method="t",
                      unit="concept (27)", n_perm=0),
                 dict(k=k, test="attribute_permutation", estimate=0.474, statistic=0.515,
                      df=np.nan, p_value=p_perm, conf_low=np.nan, conf_high=np.nan,
                      p_method="attribute-label permutation", unit="attribute (14)",
                      n_perm=10000),
                 dict(k=k, test="attribute_level_r", estimate=0.527, statistic=2.149, df=12.0,
                      p_value=0.32, conf_low=-0.005, conf_high=0.827, p_method="t on r",
                      unit="attribute (14)", n_perm=0)]
    t = pd.DataFrame(rows)
    t["role"] = np.where(t["test"] == "study_t", "study",
                         np.where(t["test"].isin(record_tests), "record", "extra"))
    return t.assign(task=task) if task is not None else t


def _whole(conf_method="emotion-label bootstrap (27 concepts)"):
    return pd.DataFrame({"estimate": [0.151], "conf_low": [-0.0002], "conf_high": [0.30],
                         "p_value": [1e-4], "p_method": ["Mantel, one-sided"],
                         "unit": ["concept label (27)"], "role": ["record"], "n_perm": [9999],
                         "conf_method": [conf_method]})


def _rsa_eval(conf_method="two-factor bootstrap over raters and concepts (2000 resamples)"):
    """rsa_evaluation rows: the record (rho-a, per rater, two-factor) and the study's tau-b."""
    return pd.DataFrame({
        "term": "whole_model", "role": ["record", "study"],
        "test": ["rsa_rho_a_per_rater_both", "rsa_tau_b_mean_rdm_both"],
        "comparator": ["rho_a", "tau_b"], "estimand": ["per_rater", "mean_rdm"],
        "inference": "both", "estimate": [0.151, 0.12], "std_error": [0.07, 0.05],
        "statistic": [2.2, 2.4], "df": 26.0, "p_value": [1e-4, 0.01],
        "conf_low": [-0.0002, 0.02], "conf_high": [0.30, 0.22], "ceiling_low": [0.4, 0.8],
        "ceiling_high": [0.45, 0.9], "ceiling_method": "x", "conf_method": conf_method,
        "p_method": "t test with the two-factor bootstrap variance", "n_boot": 2000,
        "unit": "raters (61) and concepts (27)", "n_raters": 61, "n_concepts": 27})


def _record(claims, claim, k=None, task=None, role="record"):
    c = claims[(claims["claim"] == claim) & (claims["role"] == role)]
    if k is not None:
        c = c[c["k"] == k]
    if task is not None:
        c = c[c["task"] == task]
    assert len(c) == 1
    return c.iloc[0]


def test_holm_and_clopper_pearson_match_statsmodels():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.2])
    ok = ~np.isnan(p)
    # statsmodels multipletests(method="holm") over the four non-missing p's
    assert np.allclose(holm(p)[ok], multipletests(p[ok], method="holm")[1])
    assert np.isnan(holm(p)[3])
    # p = (1 + b) / (1 + B) with b = 470 of B = 9999: statsmodels' beta (Clopper-Pearson)
    lo, hi = mc_interval(471 / 10000, 9999)
    ref = proportion_confint(470, 9999, alpha=0.05, method="beta")
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)
    assert mc_interval(1 / 20, 19)[0] == 0.0          # b = 0: the lower bound is 0


def test_rules_alpha_and_headline_k():
    assert alpha({}) == 0.05 and alpha({"alpha": 0.01}) == 0.01
    with pytest.raises(InputError, match="alpha"):
        alpha({"alpha": 5})
    # the largest k unless declared; a declared k must be one of the run's
    assert headline_k({"ks": [1000, 2000, 3000]}) == 3000
    assert headline_k({"ks": [1000, 2000, 3000], "headline_k": 2000}) == 2000
    with pytest.raises(InputError, match="4000"):
        headline_k({"ks": [1000, 2000, 3000], "headline_k": 4000})
    assert headline_k({"ks": []}) is None


def test_decide():
    a = 0.05
    assert decide(np.nan, alpha=a)[0] == "failed"
    assert decide(0.001, alpha=a, failed="the model failed") == ("failed", "the model failed")
    assert decide(0.001, alpha=a, at_chance="at chance")[0] == "not tested"
    assert decide(0.001, alpha=a, p_floor=0.1)[0] == "too coarse to decide"
    assert decide(0.047, alpha=a, p_mc_low=0.043, p_mc_high=0.051)[0] == "too coarse to decide"
    assert decide(0.05, alpha=a)[0] == "supported"          # p <= alpha (the rule: <=)
    assert decide(0.0500001, alpha=a)[0] == "not supported"
    assert decide(0.01, alpha=a, in_direction=False)[0] == "not supported"
    # the reason's p is never rounded across alpha either (.049995 is not ".050")
    assert decide(0.049995, alpha=a) == ("supported", "p = .04999 <= alpha 0.05, in the "
                                                      "claimed direction")


def test_19_permutations_are_too_coarse_in_claims_and_console():
    # issue 14: the console said "survives" on p = .05 from 19 permutations (floor 1/20 = .05).
    # The record is the joint max-T p: smallest p_fwer_joint .05, floor 1/20 = .05 (no
    # multiplication: one family), but b = 0 of 19 gives the Clopper-Pearson interval
    # [0, 1 - .025^(1/19)] = [0, .176], which contains .05.
    tables = {"neuron_max_t": _max_t(), "neuron_count_null": _count_null()}
    claims = build_claims(tables, REPRO)
    r = _record(claims, "neurons")
    assert (r["test"], r["source_table"]) == ("max_t_joint", "neuron_max_t")
    assert r["p_floor"] == pytest.approx(0.05) and r["p_value"] == pytest.approx(0.05)
    assert r["p_mc_high"] == pytest.approx(1 - 0.025 ** (1 / 19), abs=1e-12)
    assert r["decision"] == "too coarse to decide"
    # Holm over the 2 per-attribute p's is supporting: adjusted 2 x .05 = .10, floor .10 > .05;
    # the count nulls are supporting rows, decided by the same rule
    sup = claims[(claims["claim"] == "neurons") & (claims["role"] == "supporting")]
    assert sorted(sup["test"]) == ["count_null_selective_holm", "count_null_significant_holm",
                                   "max_t_holm"]
    holm_row = sup[sup["test"] == "max_t_holm"].iloc[0]
    assert holm_row["p_floor"] == pytest.approx(0.10) and holm_row["p_value"] == pytest.approx(0.10)
    assert set(sup["decision"]) == {"too coarse to decide"}
    text = headline(claims)
    assert "1. Attribute neurons exist: too coarse to decide" in text
    assert "survives" not in text and ": supported" not in text
    # with 9,999 permutations and joint p = .0001 the same claim is supported: floor 1e-4
    many = _record(build_claims({"neuron_max_t": _max_t(p=(1e-4, 0.3), n_perm=9999)}, REPRO),
                   "neurons")
    assert many["decision"] == "supported" and many["p_floor"] == pytest.approx(1e-4)
    # a table that carries the joint p's own floor and interval: those are used as given, and
    # the record's p is the joint p (.004), not Holm's 2 x .003
    given = _max_t(p=(0.003, 0.3), pj=(0.004, 0.3), n_perm=999, p_floor=0.001,
                   p_mc_low=0.0001, p_mc_high=0.0002, p_fwer_joint_mc_low=0.0011,
                   p_fwer_joint_mc_high=0.0102)
    g = _record(build_claims({"neuron_max_t": given}, REPRO), "neurons")
    assert (g["p_value"], g["p_floor"], g["p_mc_low"], g["p_mc_high"]) == pytest.approx(
        (0.004, 0.001, 0.0011, 0.0102))
    assert g["decision"] == "supported" and g["estimate"] == 1     # one attribute <= .05
    # no neuron_max_t (no permutations run): the claim failed, never another table's verdict
    none = _record(build_claims({"neuron_count_null": _count_null(n_perm=9999,
                                                                  p=(1e-4,) * 4)}, REPRO),
                   "neurons")
    assert none["decision"] == "failed" and "neuron_max_t" in none["reason"]
    # a table from before the joint max-T: failed, naming the missing column (no fallback)
    old = _record(build_claims({"neuron_max_t": _max_t().drop(columns="p_fwer_joint")}, REPRO),
                  "neurons")
    assert old["decision"] == "failed" and "p_fwer_joint" in old["reason"]


def test_199_permutations_decide_14_attributes_through_the_joint_max_t():
    # issue 15 item 2: with B = 199 and 14 attributes Holm's floor is 14/200 = .07 > .05, so the
    # Holm row cannot decide; the joint max-T p of the same draws has floor 1/200 = .005 and,
    # at b = 0, the Clopper-Pearson interval [0, 1 - .025^(1/199)] = [0, .0184] (scipy
    # binomtest(0, 199) exact interval), below .05: supported.
    attrs = [f"a{i}" for i in range(14)]
    p = [1 / 200] * 3 + [0.5] * 11
    t = _max_t(p=p, pj=[1 / 200, 0.03, 0.2] + [0.9] * 11, n_perm=199, attributes=attrs)
    claims = build_claims({"neuron_max_t": t}, REPRO)
    r = _record(claims, "neurons")
    assert r["p_value"] == pytest.approx(0.005) and r["p_floor"] == pytest.approx(0.005)
    ci = __import__("scipy.stats", fromlist=["binomtest"]).binomtest(0, 199).proportion_ci(
        method="exact")
    assert (r["p_mc_low"], r["p_mc_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert r["decision"] == "supported"
    assert r["estimate"] == 2                     # .005 and .03 <= .05 (joint p's, by hand)
    h = claims[(claims["claim"] == "neurons") & (claims["test"] == "max_t_holm")].iloc[0]
    assert h["p_floor"] == pytest.approx(14 / 200) and h["decision"] == "too coarse to decide"


def test_glmm_record_is_in_log_odds_in_claims_and_console():
    # issue 14: the comparison table said "12.0 points" for a binomial GLMM estimate of 0.12
    design = {"kind": "experiment", "ks": [4000], "tasks": ["choice"]}
    mm = pd.concat([_mixed(task="choice", record=("record", "gaussian", "accuracy", 0.029,
                                                  0.0024, 13.2, 0.01, "ok")).assign(
                        role=["study", "extra"]),
                    _mixed(task="choice", record=("item_glmm", "binomial", "correct", 0.12,
                                                  0.1, np.nan, 0.23, "ok")).iloc[[1]]],
                   ignore_index=True)
    claims = build_claims({"masking_mixed_model": mm}, design)
    r = _record(claims, "masking", k=4000, task="choice")
    assert (r["test"], r["scale"], r["estimate"]) == ("item_glmm", "log-odds", 0.12)
    assert r["decision"] == "not supported"               # p = .23 > .05
    sup = claims[(claims["claim"] == "masking") & (claims["test"] == "record")].iloc[0]
    assert (sup["role"], sup["scale"]) == ("supporting", "points")
    assert sup["estimate"] == pytest.approx(2.9)          # 0.029 as percentage points
    text = headline(claims, task="choice")
    # exp(-0.12) = 0.8869: odds of a correct answer under attribute masks relative to random
    assert ("of record, item-level logistic mixed model: 0.12 log-odds (odds ratio attribute / "
            "random masks 0.89)") in text
    assert "12.0 points" not in text and "z = 1.20, p = .230" in text


def test_headline_k_is_the_largest_unless_declared():
    # issue 14: with ks = [1000, 2000, 3000] the report took 2000 (the middle)
    tables = {"importance_link": _link(ks=(1000, 2000, 3000))}
    claims = build_claims(tables, {**REPRO, "ks": [1000, 2000, 3000], "headline_k": None})
    head = claims[claims["headline"] & claims["k"].notna()]
    assert set(head["k"]) == {3000}
    assert "(k = 3000)" in headline(claims) and "k = 2000" not in headline(claims)
    declared = build_claims(tables, {**REPRO, "ks": [1000, 2000, 3000], "headline_k": 2000})
    assert set(declared.loc[declared["headline"] & declared["k"].notna(), "k"]) == {2000}


def test_two_rows_of_record_are_an_error_naming_the_table():
    # issue 14: importance_link labelled both attribute tests "record" (p .047 and .32)
    both = _link(record_tests=("attribute_permutation", "attribute_level_r"))
    with pytest.raises(InputError, match="importance_link.*2 rows of record"):
        build_claims({"importance_link": both}, REPRO)
    one = build_claims({"importance_link": _link()}, REPRO)
    r = _record(one, "link", k=4000)
    assert (r["test"], r["p_value"], r["decision"]) == ("attribute_level_r", 0.32,
                                                        "not supported")
    roles = one[one["claim"] == "link"].set_index("test")["role"]
    assert roles.to_dict() == {"attribute_level_r": "record", "study_t": "study",
                               "attribute_permutation": "supporting"}


def test_a_failed_record_is_failed_never_another_row():
    design = {"kind": "experiment", "ks": [4000], "tasks": ["choice"]}
    mm = pd.concat([_mixed(task="choice").assign(role=["study", "extra"]),
                    _mixed(task="choice", record=("item_glmm", "binomial", "correct", np.nan,
                                                  np.nan, np.nan, np.nan, "failed")
                           ).iloc[[1]]], ignore_index=True)
    r = _record(build_claims({"masking_mixed_model": mm}, design), "masking", 4000, "choice")
    assert r["decision"] == "failed" and r["test"] == "item_glmm"
    # a prompt-level model still marked record beside the item GLMM: the producer's error
    bad = mm.assign(role=["study", "record", "record"])
    with pytest.raises(InputError, match="masking_mixed_model"):
        build_claims({"masking_mixed_model": bad}, design)


def test_tasks_at_chance_are_not_tested_and_above_chance_is_a_claim():
    chance = pd.DataFrame({"task": ["binary", "choice"], "n_items": [54, 54],
                           "accuracy": [0.37, 0.60], "chance": [0.5, 1 / 27],
                           "p_value": [0.98, 1e-30], "p_method": "exact binomial",
                           "interpretable": [False, True], "reason": ["not above chance",
                                                                      "above chance"]})
    design = {"kind": "experiment", "ks": [4000], "tasks": ["binary", "choice"]}
    tables = {"task_chance": chance, "masking_mixed_model": _mixed(task="choice", record=(
        "item_glmm", "binomial", "correct", 0.3, 0.1, np.nan, 0.003, "ok")),
        "importance_link": _link(task="choice")}
    claims = build_claims(tables, design)
    assert _record(claims, "masking", 4000, "binary")["decision"] == "not tested"
    assert "not above chance" in _record(claims, "link", 4000, "binary")["reason"]
    assert _record(claims, "masking", 4000, "choice")["decision"] == "supported"
    assert _record(claims, "above_chance", task="binary")["decision"] == "not supported"
    assert _record(claims, "above_chance", task="choice")["decision"] == "supported"


def test_interval_only_over_the_p_unit():
    assert same_unit("concept label (27)", "emotion-label bootstrap (27 concepts)")
    assert not same_unit("concept label (27)", "participant bootstrap (61 participants)")
    claims = build_claims({"rsa_evaluation": _rsa_eval(), "whole_model_rsa": _whole()}, REPRO)
    r = _record(claims, "whole_model")
    assert (r["conf_low"], r["conf_high"]) == (-0.0002, 0.30)
    assert r["test"] == "rsa_rho_a_per_rater_both" and r["scale"] == "rho"   # rho-a, not r
    # the bound -.0002 keeps its sign in the console ("[.000, ...]" would hide it)
    assert "95% CI [-.0002, .300]" in headline(claims)
    # the study's tau-b on the mean RDM stays, as role study; Mantel is supporting
    st = _record(claims, "whole_model", role="study")
    assert st["test"] == "rsa_tau_b_mean_rdm_both" and st["scale"] == "tau"
    sup = _record(claims, "whole_model", role="supporting")
    assert (sup["conf_low"], sup["conf_high"]) == (-0.0002, 0.30)
    other = _record(build_claims({"rsa_evaluation": _rsa_eval("participant bootstrap"),
                                  "whole_model_rsa": _whole("participant bootstrap")}, REPRO),
                    "whole_model", role="supporting")
    assert math.isnan(other["conf_low"]) and other["conf_method"] is None
    rec = _record(build_claims({"rsa_evaluation": _rsa_eval("participant bootstrap")}, REPRO),
                  "whole_model")
    assert math.isnan(rec["conf_low"])
    # the "r = .474, 95% CI [.424, .521], p = .052": an emotion-level CI beside an
    # attribute-level p is dropped; an interval over the attributes is kept
    link = _link().assign(conf_method="t over 27 emotions' Fisher z")
    r = _record(build_claims({"importance_link": link}, REPRO), "link", k=4000)
    assert math.isnan(r["conf_low"]) and r["unit"] == "attribute (14)"
    link["conf_method"] = "Fisher z over 14 attributes"
    r = _record(build_claims({"importance_link": link}, REPRO), "link", k=4000)
    assert (r["conf_low"], r["conf_high"]) == (-0.005, 0.827)


def test_full_table_one_record_per_key_and_schema(tmp_path):
    tables = {"neuron_max_t": _max_t(), "importance_link": _link(),
              "masking_mixed_model": _mixed(), "whole_model_rsa": _whole(),
              "rsa_evaluation": _rsa_eval(),
              "attribute_importance": pd.DataFrame({
                  "attribute": ["valence", "arousal"], "estimate": [0.586, -0.003],
                  "p_value": [1e-4, 0.52], "p_method": "Mantel", "unit": "concept label (27)",
                  "role": "record", "n_perm": 9999})}
    claims = build_claims(tables, REPRO)
    assert list(claims.columns) == COLUMNS
    rec = claims[claims["role"] == "record"]
    assert not rec.duplicated(["claim", "task", "k"]).any()
    assert set(rec["claim"]) == {"neurons", "importance", "masking", "link", "whole_model"}
    # importance: Holm over 2 attributes, smallest adjusted p 2e-4, floor 2 x 1e-4
    imp = _record(claims, "importance")
    assert imp["p_value"] == pytest.approx(2e-4) and imp["decision"] == "supported"
    assert _record(claims, "masking", 4000)["decision"] == "supported"   # p .01, est > 0
    path = io.write_table(claims, tmp_path / "claims.parquet", dataset="claims")
    back = io.read_table(path, dataset="claims")
    assert back["decision"].tolist() == claims["decision"].tolist()
    assert schemas.version("claims") == 1
    assert set(k for k, _ in RECORD) >= set(rec["claim"])


def test_link_over_two_attributes_is_not_tested_never_failed():
    # the quick profile masks 2 attributes: link.link_test writes no attribute-level row (a
    # correlation over 2 points is +-1 by construction), so the claim is "not tested" with the
    # reason, not "failed" (the w-geometry quick run printed "failed: no row of record")
    chance = pd.DataFrame({"task": ["choice"], "n_items": [27], "accuracy": [0.3],
                           "chance": [1 / 27], "p_value": [1e-9], "p_method": "exact binomial",
                           "interpretable": [True], "reason": ["above chance"]})
    vs = pd.DataFrame({"task": "choice", "k": 2304, "attribute": ["arousal", "valence"],
                       "estimate": [0.01, -0.02], "q_value_bh": [0.5, 0.6],
                       "p_method": "prediction-interval t", "unit": "mask (5)"})
    link = _link(ks=(2304,), task="choice")
    link = link[link["role"] != "record"]
    design = {"kind": "experiment", "ks": [2304], "tasks": ["choice"]}
    claims = build_claims({"task_chance": chance, "attribute_vs_null": vs,
                           "importance_link": link}, design)
    row = _record(claims, "link", 2304, "choice")
    assert row["decision"] == "not tested"
    assert "masks 2 attributes at k = 2,304; it needs at least 3" in row["reason"]
