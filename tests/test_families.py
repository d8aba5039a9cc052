"""Families of the claims table (issue 22 item 5): one record row per claim at the headline k,
Holm over a run's tasks, and supporting rows that print their floor.

Expected numbers are worked by hand (commented) or by statsmodels' Holm; the min-P floor is
checked against the min-P p itself when the observed maximum beats every draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from emostat.analysis.claims.table import build_claims
from emostat.analysis.neurons.neuronnull import SearchlightNull, min_p_floor, min_p_joint
from emostat.console import headline
from emostat.report import findings
from test_claims import REPRO, _link, _max_t, _mixed


def _chance(tasks):
    return pd.DataFrame({"task": list(tasks), "n_items": 54, "accuracy": 0.6,
                         "chance": 1 / 27, "p_value": 1e-30, "p_method": "exact binomial",
                         "interpretable": True, "reason": "above chance"})


def _glmm(task, p):
    return _mixed(task=task, record=("item_glmm", "binomial", "correct", 0.3, 0.1, np.nan, p,
                                     "ok")).iloc[[1]]


def test_non_headline_k_are_supporting_rows():
    claims = build_claims({"importance_link": _link(ks=(1000, 2000, 3000))},
                          {**REPRO, "ks": [1000, 2000, 3000], "headline_k": 3000})
    link = claims[claims["claim"] == "link"]
    rec = link[link["role"] == "record"]
    assert rec["k"].tolist() == [3000]                     # one record row: the headline k
    demoted = link[(link["test"] == "attribute_level_r") & (link["k"] < 3000)]
    assert set(demoted["role"]) == {"supporting"} and len(demoted) == 2
    assert demoted["reason"].str.contains("not the headline k").all()
    text = headline(claims, all_k=True)
    assert "(k = 1000): supporting (not the headline k)" in text
    # the report asks for the row at a k: the supporting row of the record's test
    r = findings.record(claims, "link", k=1000)
    assert (r["role"], r["test"], r["k"]) == ("supporting", "attribute_level_r", 1000)


def test_tasks_are_one_holm_family_at_the_headline_k():
    mm = pd.concat([_glmm("binary", 0.03), _glmm("choice", 0.01)], ignore_index=True)
    design = {"kind": "experiment", "ks": [4000], "tasks": ["binary", "choice"]}
    claims = build_claims({"masking_mixed_model": mm, "task_chance": _chance(["binary",
                                                                              "choice"])},
                          design)
    rec = claims[(claims["claim"] == "masking") & (claims["role"] == "record")]
    got = rec.set_index("task")["p_value"]
    ref = multipletests([0.03, 0.01], method="holm")[1]          # [.03, .02]
    assert (got["binary"], got["choice"]) == pytest.approx(tuple(ref))
    assert rec["p_method"].str.endswith("Holm over the run's 2 tasks").all()
    # a third task left out at chance still counts in the family (fixed before the data):
    # m = 3, so .01 -> .03 and .03 -> max(.03, 2 x .03) = .06
    three = build_claims({"masking_mixed_model": mm,
                          "task_chance": _chance(["binary", "choice", "generate"]).assign(
                              interpretable=[True, True, False])},
                         {**design, "tasks": ["binary", "choice", "generate"]})
    r3 = three[(three["claim"] == "masking") & (three["role"] == "record")].set_index("task")
    assert r3.loc["choice", "p_value"] == pytest.approx(0.03)
    assert r3.loc["binary", "p_value"] == pytest.approx(0.06)
    assert r3.loc["binary", "decision"] == "not supported"
    assert r3.loc["generate", "decision"] == "not tested"
    # one task: no adjustment
    one = build_claims({"masking_mixed_model": _glmm("choice", 0.01)},
                       {**design, "tasks": ["choice"]})
    assert one.loc[(one["claim"] == "masking") & (one["role"] == "record"),
                   "p_value"].iloc[0] == 0.01


def test_min_p_row_prints_its_floor_and_is_too_coarse():
    attrs = [f"a{i}" for i in range(14)]
    t = _max_t(p=[1 / 200] * 14, pj=[1 / 200] + [0.9] * 13, n_perm=199, attributes=attrs,
               p_minp_joint=[0.07] + [0.9] * 13, p_minp_floor=0.07)
    claims = build_claims({"neuron_max_t": t}, REPRO)
    m = claims[claims["test"] == "max_t_minp"].iloc[0]
    assert m["role"] == "supporting" and m["p_floor"] == pytest.approx(0.07)
    assert m["decision"] == "too coarse to decide"           # floor .07 > alpha .05
    assert "[too coarse to decide]" in headline(claims)
    rec = findings.record(claims, "neurons")
    para = findings.claim_paragraph(claims, "neurons")
    assert rec["decision"] == "supported"                     # joint p .005, floor .005
    assert "Too coarse to decide: the smallest attainable p (.07" in para


def _null(best: np.ndarray, null_max: np.ndarray) -> SearchlightNull:
    q = best.size
    tau = np.vstack([best, np.full(q, -1.0)])
    B = len(null_max)
    return SearchlightNull(attributes=[f"a{i}" for i in range(q)], tau=tau,
                           p=np.full(tau.shape, 0.5), obs_counts=np.zeros((2, q), int),
                           null_counts=np.zeros((2, B, q), int), null_max=null_max, n_perm=B,
                           exact=False, n_concepts=27, alpha_q=0.01, alternative="greater")


def test_min_p_floor_is_the_p_of_a_maximum_beating_every_draw():
    rng = np.random.default_rng(4)
    B, q = 199, 14
    null_max = rng.normal(0, 1, (B, q))
    best = np.full(q, -5.0)
    best[0] = 50.0                      # attribute 0 beats every draw; the others never do
    null = _null(best, null_max)
    floor = min_p_floor(null)[0]
    assert min_p_joint(null)[0] == pytest.approx(floor)
    # the 13 other attributes hold their maxima in (here) distinct draws, and the observed
    # relabelling counts once: (1 + 13) / 200 = .07
    tops = len({int(np.argmax(null_max[:, j])) for j in range(1, q)})
    assert floor == pytest.approx((1 + tops) / (B + 1)) and tops == 13
    assert floor > 0.05                  # above alpha: Holm-like floor near q / (B + 1)
