"""The design table (issue 24): closed-form power and floors against independent references.

References: lme4's standard errors of the record item GLMM on ``tests/r/item_mask.csv``
(``tests/r/item_mask_lme4.json`` and ``../shared/docs/reference-values.md``), scipy's
two-sample t (Crawford & Howell's t is the pooled t with a group of one), statsmodels' normal
power, and Monte Carlo simulations with numpy/scipy (each with its binomial error).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.engines import designpower as dp
from emostat.analysis.engines.casecontrol import crawford_howell
from emostat.analysis.masking import design as dz

R_DIR = Path(__file__).parent / "r"


def _mc_ok(hits: int, n: int, target: float) -> bool:
    """``target`` inside the 99.9% Clopper-Pearson interval of hits / n."""
    lo = stats.beta.ppf(0.0005, hits, n - hits + 1) if hits else 0.0
    hi = stats.beta.ppf(0.9995, hits + 1, n - hits) if hits < n else 1.0
    return lo <= target <= hi


# ---- the record contrast's standard error against lme4 ---------------------------------------
def test_contrast_se_matches_lme4_one_mask_variance():
    # lme4 1.1.31 glmer(correct ~ attribute_vs_random + (1|item) + (1|mask)) on item_mask.csv:
    # 60 items x (6 attribute + 10 random masks); SE of the contrast 0.200645 (Hessian),
    # 0.198584 (use.hessian = FALSE)
    ref = json.loads((R_DIR / "item_mask_lme4.json").read_text())["glmm"]
    v = ref["var"]
    c = dz.Components(v["item"], v["mask"], v["mask"], ref["fixef"][0], ref["fixef"][1])
    assert c.contrast_se(60, 6, 10) == pytest.approx(ref["se"][1], rel=0.01)
    assert c.contrast_se(60, 6, 10) == pytest.approx(ref["se_use_hessian_false"][1], rel=0.015)


def test_contrast_se_matches_lme4_separate_variances():
    # ../shared/docs/reference-values.md, the record model with separate mask variances:
    # variances item 0.93587, attribute 0.20235, random ~0; fixef 0.34141, -0.048972;
    # SE 0.23582 (Hessian), 0.23406 (use.hessian = FALSE)
    c = dz.Components(0.93587, 0.20235, 0.0, 0.34141, -0.048972)
    assert c.contrast_se(60, 6, 10) == pytest.approx(0.23582, rel=0.01)
    assert c.contrast_se(60, 6, 10) == pytest.approx(0.23406, rel=0.01)


def test_bernoulli_information_against_monte_carlo():
    rng = np.random.default_rng(3)
    u = rng.normal(0, np.sqrt(1.7), 400_000)
    mu = 1 / (1 + np.exp(-(-0.8 + u)))
    mc = np.mean(mu * (1 - mu))
    assert dp.bernoulli_information(-0.8, 1.7) == pytest.approx(mc, rel=0.01)
    assert dp.mean_logistic(-0.8, 1.7) == pytest.approx(np.mean(mu), rel=0.01)


# ---- detectable effects against simulation ------------------------------------------------------
def test_wald_detectable_is_statsmodels_normal_power():
    from statsmodels.stats.power import NormalIndPower

    # a z test of effect size d with one unit of SE: NormalIndPower with nobs1 = 1, ratio = 0
    d = NormalIndPower().solve_power(nobs1=1, ratio=0, alpha=0.05, power=0.8,
                                     alternative="two-sided")
    assert dp.wald_detectable(1.0, 0.05) == pytest.approx(d, rel=1e-3)


def test_case_detectable_reaches_its_power_in_simulation():
    rng = np.random.default_rng(11)
    n, sd, alpha = 20, 1.3, 0.05 / 14
    delta = dp.case_detectable(sd, n, alpha)
    reps = 20_000
    controls = rng.normal(0, sd, (reps, n))
    case = rng.normal(delta, sd, reps)
    t = (case - controls.mean(1)) / (controls.std(1, ddof=1) * np.sqrt(1 + 1 / n))
    hits = int((t > stats.t.isf(alpha, n - 1)).sum())
    assert _mc_ok(hits, reps, 0.8)


def test_correlation_detectable_with_attenuation_in_simulation():
    rng = np.random.default_rng(5)
    n, rel, reps = 14, 0.8, 20_000
    _, rho = dp.correlation_detectable(n, 0.05, 0.8, rel)
    x = rng.standard_normal((reps, n))
    true = rho * x + np.sqrt(1 - rho ** 2) * rng.standard_normal((reps, n))
    noisy = true + np.sqrt((1 - rel) / rel) * rng.standard_normal((reps, n))   # reliability rel
    xc = x - x.mean(1, keepdims=True)
    yc = noisy - noisy.mean(1, keepdims=True)
    r = (xc * yc).sum(1) / np.sqrt((xc ** 2).sum(1) * (yc ** 2).sum(1))
    p = 2 * stats.t.sf(np.abs(r) * np.sqrt((n - 2) / (1 - r ** 2)), n - 2)
    hits = int(((p < 0.05) & (r > 0)).sum())
    assert _mc_ok(hits, reps, 0.8)
    # the exact density integrates to 1 and gives the test's size at rho = 0 (one tail)
    from scipy import integrate

    assert integrate.quad(lambda v: dp.r_density(v, 0.4, 14), -1, 1)[0] == pytest.approx(1)
    assert dp.correlation_power(0.0, 14, 0.05) == pytest.approx(0.025, rel=1e-6)


def test_binomial_detectable_and_floor_by_enumeration():
    n, chance, alpha = 40, 0.1, 0.05
    # critical count by enumeration of the binomial tail (scipy pmf summed by hand)
    pmf = stats.binom.pmf(np.arange(n + 1), n, chance)
    tail = pmf[::-1].cumsum()[::-1]                          # P(X >= c)
    c = int(np.flatnonzero(tail <= alpha)[0])
    p1 = dp.binomial_detectable(n, chance, alpha)
    pw = stats.binom.pmf(np.arange(c, n + 1), n, p1).sum()
    assert pw == pytest.approx(0.8, abs=1e-6)
    assert dp.binomial_floor(n, chance) == pytest.approx(pmf[-1], rel=1e-9)
    assert np.isnan(dp.binomial_detectable(1, 0.5, 0.05))    # floor .5 > alpha


# ---- Crawford & Howell -----------------------------------------------------------------------------
def test_crawford_howell_is_the_pooled_t_with_a_group_of_one():
    rng = np.random.default_rng(2)
    controls = rng.normal(10, 2, 17)
    ref = stats.ttest_ind([15.0], controls, equal_var=True)
    r = crawford_howell(15.0, controls, "two-sided")
    assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert r["df"] == 16
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert crawford_howell(15.0, controls)["p_value"] == pytest.approx(ref.pvalue / 2, rel=1e-10)


def test_crawford_howell_paper_example():
    # Crawford & Howell (1998), p. 483: a case of 33 against 15 controls of mean 50, SD 10
    # (the controls below have exactly that mean and SD). The reference t is the pooled
    # two-sample t of scipy with the case as a group of one.
    x = 10 * np.sqrt(7)
    controls = np.array([50 - x] + [50.0] * 13 + [50 + x])
    assert controls.mean() == pytest.approx(50) and controls.std(ddof=1) == pytest.approx(10)
    ref = stats.ttest_ind([33.0], controls)
    r = crawford_howell(33.0, controls, "less")
    assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert r["statistic"] == pytest.approx(-17 / (10 * np.sqrt(16 / 15)), rel=1e-12)
    assert r["p_value"] == pytest.approx(ref.pvalue / 2, rel=1e-10)


def test_crawford_howell_keeps_its_size_with_few_controls():
    # the case drawn from the controls' own normal: rejection rate alpha (simulation)
    rng = np.random.default_rng(7)
    reps, n, alpha = 40_000, 5, 0.05
    controls = rng.normal(0, 1, (reps, n))
    case = rng.normal(0, 1, reps)
    t = (case - controls.mean(1)) / (controls.std(1, ddof=1) * np.sqrt(1 + 1 / n))
    hits = int((stats.t.sf(t, n - 1) <= alpha).sum())
    assert _mc_ok(hits, reps, alpha)


# ---- the table --------------------------------------------------------------------------------
COMP = dz.Components(var_item=1.5, var_attribute=0.9, var_random=1.1, intercept=-0.6,
                     contrast=0.3)


def _table(**kw):
    s = dz.Setting(gflop_per_row=8.5)
    return dz.design_table(COMP, s, run=(15, 14, 20), available=15, quick=(2, 2, 3), **kw)


def test_design_table_labels_floors_and_choice():
    t = _table()
    before = t[t["label"].str.contains("before")].set_index("test")
    # the rank p with 20 random masks cannot pass a correction over 14 attributes
    assert before.loc["attribute_vs_null_rank", "p_floor"] == pytest.approx(14 / 21)
    assert not before.loc["attribute_vs_null_rank", "can_decide"]
    assert before.loc["attribute_vs_null", "p_floor"] == 0.0
    assert before.loc["masking", "alpha_corrected"] == 0.05
    assert before.loc["attribute_vs_null", "alpha_corrected"] == pytest.approx(0.05 / 14)
    chosen = t[t["chosen"]]
    assert len(chosen) and chosen["feasible"].all()
    c = chosen.set_index("test")
    # the chosen design detects no less than the design before, at fewer rows
    for test in ("masking", "attribute_vs_null"):
        assert c.loc[test, "detectable"] <= before.loc[test, "detectable"] + 1e-12
    assert c["rows"].iloc[0] <= before["rows"].iloc[0]
    assert c["gflop"].iloc[0] == pytest.approx(8.5 * c["rows"].iloc[0])
    # rows = items x (1 + attribute + random masks)
    assert before["rows"].iloc[0] == 405 * (1 + 14 + 20)


def test_quick_design_cannot_decide_the_link_or_rank():
    q = _table().query("label.str.contains('quick')", engine="python").set_index("test")
    assert not q.loc["link", "can_decide"]                 # 2 attributes: no correlation
    assert q.loc["attribute_vs_null_rank", "p_floor"] == pytest.approx(min(1, 2 / 4))
    assert q.loc["above_chance", "can_decide"]
    assert not q["feasible"].iloc[0]


def test_more_random_masks_shrink_the_contrast_se_by_the_formula():
    se20, se_inf = COMP.contrast_se(405, 14, 20), COMP.contrast_se(405, 14, 10 ** 9)
    assert se_inf == pytest.approx(np.sqrt(COMP.mask_variance("attribute", 405) / 14))
    assert se20 ** 2 - se_inf ** 2 == pytest.approx(COMP.mask_variance("random", 405) / 20)


def test_quick_items_detect_fifteen_points_above_chance():
    # a user's 10-concept space with 8 situations each (issue 24): 1 per concept gave 10
    # items, too few; the quick rule takes 4 per concept, whose exact test detects 25%
    ipc = dz.quick_items_per_concept(10, 8)
    assert ipc == 4
    assert dp.binomial_detectable(10 * ipc, 0.1, 0.05) <= 0.25
    assert dp.binomial_detectable(10 * (ipc - 1), 0.1, 0.05) > 0.25
    # the user's observed 30% on 40 items is far above chance
    assert stats.binomtest(12, 40, 0.1, alternative="greater").pvalue < 0.001
    assert dz.quick_items_per_concept(6, 3) == 3           # all of a small space


def test_components_from_a_record_fit():
    tidy = pd.DataFrame({
        "task": "choice", "k": 5, "model": "item_glmm", "status": "ok",
        "effect": ["fixed", "fixed", "ran_pars", "ran_pars", "ran_pars"],
        "group": [None, None, "item", "mask", "mask.1"],
        "term": ["(Intercept)", "attribute_vs_random", "sd__(Intercept)", "sd__is_attribute",
                 "sd__is_random"],
        "estimate": [-0.5, 0.4, 1.2, 0.9, 1.1]})
    glance = pd.DataFrame({"task": ["choice"], "k": [5], "model": ["item_glmm"],
                           "var_mask_attribute": [0.81], "var_mask_random": [1.21]})
    c = dz.components(tidy, glance, "choice", 5)
    assert (c.var_item, c.var_attribute, c.var_random) == pytest.approx((1.44, 0.81, 1.21))
    assert (c.intercept, c.contrast) == (-0.5, 0.4)
    assert dz.components(tidy.assign(status="failed"), glance, "choice", 5) is None


def test_items_per_concept_option_on_run_and_collect():
    from emostat.cli import build_parser
    from emostat.collect.driver import build_config

    p = build_parser()
    assert p.parse_args(["run", "--quick", "--items-per-concept", "4"]).items_per_concept == 4
    assert p.parse_args(["collect", "--out", "x", "--items-per-concept", "3"]
                        ).items_per_concept == 3
    with pytest.raises(SystemExit):
        p.parse_args(["run", "--items-per-concept", "0"])
    assert build_config(quick=True, items_per_concept=4).items_per_emotion == 4
    assert build_config(quick=True).items_per_emotion == 2


def test_default_is_the_best_design_of_the_measured_default_run():
    # the default run of the embedded model (Dec 7, 405 items x 14 + 20 masks) measured the
    # record GLMM's components; its design table's "best here" is the default profile's design
    m = dz.MEASURED_COMPONENTS
    c = dz.Components(m["var_item"], m["var_attribute"], m["var_random"], m["intercept"],
                      m["contrast"])
    t = dz.design_table(c, dz.Setting(gflop_per_row=m["gflop_per_row"]), run=(15, 14, 20),
                        available=15, quick=(2, 2, 3))
    best = t[t["chosen"]]
    assert (best["items_per_concept"].iloc[0], best["n_random_masks"].iloc[0]) == (
        dz.DEFAULT_DESIGN["items_per_concept"], dz.DEFAULT_DESIGN["n_random"]) == (10, 30)
    assert best["label"].str.contains("default").all()
    # the numbers that run's report printed (results/design.parquet of that run): fewer rows,
    # the masking test no weaker, the link within NOT_WORSE
    by = t.set_index(["label", "test"])
    new, old = "default, best here", "before, this run"
    assert by.loc[(new, "masking"), "rows"] == 12150 and by.loc[(old, "masking"), "rows"] == 14175
    assert by.loc[(new, "masking"), "detectable"] == pytest.approx(0.365276, abs=1e-5)
    assert by.loc[(old, "masking"), "detectable"] == pytest.approx(0.387323, abs=1e-5)
    assert by.loc[(new, "link"), "detectable"] == pytest.approx(0.758365, abs=1e-5)
    assert by.loc[(old, "link"), "detectable"] == pytest.approx(0.730289, abs=1e-5)
    # the labels beside the planning-value table below
    t = _table()
    assert t[t["label"].str.contains("before")]["items_per_concept"].eq(15).all()
    # the planning-value table printed in docs/inference.md (regenerated here): best here is
    # 4 per concept x 30 random masks; 3 x 60 loses 5.4% on the link, more than NOT_WORSE
    plan = dz.design_table(dz.Components(2.3, 0.5, 0.5, -0.4, 0.2),
                           dz.Setting(gflop_per_row=1.0), run=(15, 14, 20), available=15,
                           quick=(2, 2, 3))
    best = plan[plan["chosen"]].set_index("test")
    assert (best["items_per_concept"].iloc[0], best["n_random_masks"].iloc[0]) == (4, 30)
    key = plan.set_index(["items_per_concept", "n_random_masks", "test"])["detectable"]
    assert key[(3, 60, "link")] / key[(15, 20, "link")] == pytest.approx(1.054, abs=1e-3)
    assert key[(15, 20, "masking")] == pytest.approx(0.700, abs=1e-3)
    by = plan.set_index(["items_per_concept", "n_random_masks"])
    assert not by.loc[(3, 60), "feasible"].any()


def test_report_design_view_states_floors_and_where_the_run_sits():
    # the report renders the design table only (emostat.report.designview)
    from emostat.report import designview as dv

    t = _table(task="choice", k=2304)
    floors = str(dv.floors_table(t, None, "choice", 2304))
    # the rank p with 20 random masks: floor 14/21 after BH over 14 attributes, cannot decide
    assert "0.6667" in floors or ".6667" in floors
    assert "Rank among the random masks" in floors and "| no" in floors
    sentence = str(dv.design_sentence(t, "choice", 2304))
    assert "405 items × 14 attribute masks × 20 random masks" in sentence
    assert "14,175 rows" in sentence
    quick = str(dv.quick_sentence(t, "choice", 2304))
    assert "cannot decide" in quick and "Drop–importance link" in quick


def test_floors_table_names_other_claims_in_words():
    # the floors table listed "layer rsa (record)", "pc attribute (record)": the claims' ids
    import pandas as pd

    from emostat.report import designview as dv

    t = _table(task="choice", k=2304)
    claims = pd.DataFrame({"claim": ["whole_model", "pc_attribute"], "role": "record",
                           "headline": True, "p_floor": [1e-4, .014], "alpha": .05,
                           "decision": ["supported", "too coarse to decide"],
                           "reason": ["", "the Monte-Carlo interval of p contains alpha"]})
    floors = str(dv.floors_table(t, claims, "choice", 2304))
    assert "Whole-model RSA (record)" in floors and "Principal components (record)" in floors
    assert "whole model (record)" not in floors and "pc attribute" not in floors
