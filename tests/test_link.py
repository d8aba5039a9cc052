"""The drop–importance link (emostat.analysis.masking.link) against independent references.

References: exact enumeration of all permutations by a brute-force loop over scipy.stats.pearsonr;
scipy.stats.pearsonr / R cor.test for the attribute-level r; R (tests/r/link.R, base R) and
../shared/docs/reference-values.md for the release's numbers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.masking import link
from emostat.constants import ATTRIBUTES, EMOTIONS, K_VALUES
from emostat.errors import InputError


def _toy(seed=3, n_emo=5, n_att=6, signal=0.5):
    rng = np.random.default_rng(seed)
    imp = pd.Series(rng.normal(size=n_att), index=ATTRIBUTES[:n_att])
    rows = []
    for e in EMOTIONS[:n_emo]:
        for a in imp.index:
            for t in range(2):
                rows.append((4000, e, a, t, -(signal * imp[a] + rng.normal())))
    return pd.DataFrame(rows, columns=["k", "concept", "attribute", "template", "diff"]), imp


def _brute_force_p(D, v):
    """All n! relabellings of v, each emotion's r by scipy.stats.pearsonr: the exact two-sided p."""
    def stat(w):
        return np.mean([math.atanh(stats.pearsonr(x, w).statistic) for x in D])
    obs = stat(v)
    null = np.array([stat(v[list(p)]) for p in itertools.permutations(range(len(v)))])
    return obs, np.mean(np.abs(null) >= abs(obs) - 1e-12), len(null)


def test_exact_permutation_equals_brute_force_enumeration():
    diff, imp = _toy()
    D = link.drop_matrix(diff)[4000]
    v = imp[D.columns].to_numpy()
    obs, p, total = link.perm_mean_z(D.to_numpy(), v, n_perm="exact")
    ref_obs, ref_p, ref_total = _brute_force_p(D.to_numpy(), v)
    assert total == ref_total == 720
    assert obs == pytest.approx(ref_obs, abs=1e-12)
    assert p == pytest.approx(ref_p, abs=1e-15)
    assert 0.001 < p < 0.5        # a case that is neither trivial nor saturated


def test_monte_carlo_permutation_close_to_exact_and_seeded():
    diff, imp = _toy(seed=5, signal=0.3)
    D = link.drop_matrix(diff)[4000].to_numpy()
    v = imp.to_numpy()
    _, exact, _ = link.perm_mean_z(D, v, n_perm="exact")
    _, mc, n = link.perm_mean_z(D, v, n_perm=20_000, seed=7)
    se = math.sqrt(exact * (1 - exact) / n)
    assert abs(mc - exact) < 4 * se + 1 / n
    assert link.perm_mean_z(D, v, n_perm=20_000, seed=7)[1] == mc


def test_attribute_level_r_matches_scipy_pearsonr():
    diff, imp = _toy(n_att=8)
    res = link.link_test(diff, imp, n_perm=999, seed=1)
    row = res[res["test"] == "attribute_level_r"].iloc[0]
    x = link.drop_matrix(diff)[4000].mean(axis=0)
    ref = stats.pearsonr(x.to_numpy(), imp[x.index].to_numpy())
    ci = ref.confidence_interval(0.95)      # Fisher z interval, as R cor.test
    assert row["estimate"] == pytest.approx(ref.statistic, abs=1e-12)
    assert row["p_value_t"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["df"] == 6
    assert row["conf_method"] == "Fisher z over 8 attributes (scipy pearsonr)"
    assert (row["conf_low"], row["conf_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_study_t_matches_scipy_ttest_on_fisher_z():
    diff, imp = _toy()
    res = link.link_test(diff, imp, n_perm=99)
    D = link.drop_matrix(diff)[4000]
    z = [math.atanh(stats.pearsonr(x, imp[D.columns]).statistic) for _, x in D.iterrows()]
    ref = stats.ttest_1samp(z, 0.0)
    row = res[res["test"] == "study_t"].iloc[0]
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["estimate"] == pytest.approx(math.tanh(np.mean(z)), abs=1e-12)


def test_columns_roles_and_drop_equals_minus_diff():
    diff, imp = _toy()
    a = link.link_test(diff, imp, n_perm=200, seed=2)
    b = link.link_test(diff.assign(drop=-diff["diff"]).drop(columns="diff"), imp, n_perm=200,
                       seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["test"]) == ["study_t", "attribute_permutation", "attribute_level_r"]
    assert list(a["role"]) == ["study", "extra", "record"]
    assert a["p_method"].notna().all() and a["unit"].notna().all()
    assert a.loc[1, "unit"] == "attribute (6)" and a.loc[0, "unit"] == "concept (5)"


def test_attribute_level_r_exact_when_orderings_are_fewer_than_draws():
    # 6 attributes: 720 orderings < 999 requested draws -> exact enumeration, n_perm = 720
    diff, imp = _toy(n_att=6)
    row = link.link_test(diff, imp, n_perm=999).set_index("test").loc["attribute_level_r"]
    x = link.drop_matrix(diff)[4000].mean(axis=0).to_numpy()
    v = imp.to_numpy()
    obs = stats.pearsonr(x, v).statistic
    null = np.array([stats.pearsonr(x, v[list(p)]).statistic      # brute force, scipy
                     for p in itertools.permutations(range(6))])
    assert row["p_value"] == pytest.approx(np.mean(np.abs(null) >= abs(obs) - 1e-12), abs=1e-15)
    assert row["n_perm"] == 720 and np.isnan(row["p_mc_low"])
    assert row["p_floor"] == pytest.approx(1 / 720)
    three = link.link_test(*_toy(n_att=3), n_perm=10_000).set_index("test")
    assert three.loc["attribute_level_r", "n_perm"] == 6      # 3! orderings, not 10,000


def test_perm_test_doubles_draws_while_undecided_and_mc_interval_is_clopper_pearson():
    # T = 1 when item 0 stays first: P(T* >= T) = 1/20 = alpha exactly, never decided
    res = link.perm_test(lambda P: (P[:, 0] == 0).astype(float), 20, 1000, 3)
    assert res["n_perm"] == 8000 and res["mc_warning"]
    ci = stats.binomtest(res["exceed"], res["n_perm"]).proportion_ci(method="exact")
    assert (res["p_mc_low"], res["p_mc_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # far from alpha: decided at the first draw count
    res = link.perm_test(lambda P: (P[:, 0] == 0).astype(float), 5, 1000, 3)
    assert res["exact"] and res["n_perm"] == 120 and res["p_value"] == pytest.approx(0.2)


def test_pooled_null_is_the_one_record_row_per_k():
    rng = np.random.default_rng(0)
    rows = []
    for e in EMOTIONS[:6]:
        for t in range(2):
            rows.append((e, str(t), "none", None, None, 0.9))
            for i, a in enumerate(ATTRIBUTES[:5]):
                rows.append((e, str(t), "attribute", a, 10, 0.8 - 0.05 * i + rng.normal(0, .02)))
                rows.append((e, str(t), "random", a, 10, 0.85 + rng.normal(0, .05)))
    acc = pd.DataFrame(rows, columns=["concept", "template", "condition", "attribute", "k",
                                      "accuracy"])
    from emostat.analysis.masking.drops import acc_diff
    imp = pd.Series(np.arange(5.0), index=ATTRIBUTES[:5])
    out = link.link_test(acc_diff(acc), imp, pooled=link.pooled_drops(acc), n_perm=200)
    assert (out["role"] == "record").sum() == 1
    rec = out[out["role"] == "record"].iloc[0]
    assert rec["test"] == "attribute_level_r_pooled"
    # pooled null by hand: mean of ALL random rows of the prompt minus the attribute mask
    rnd = acc[acc["condition"] == "random"].groupby(["concept", "template"])["accuracy"].mean()
    att = acc[acc["condition"] == "attribute"]
    drop = rnd.loc[list(zip(att["concept"], att["template"]))].to_numpy() - att["accuracy"]
    x = pd.Series(drop.to_numpy(), index=att.index).groupby(att["attribute"]).mean()[imp.index]
    assert rec["estimate"] == pytest.approx(stats.pearsonr(x, imp).statistic, abs=1e-12)
    assert set(out.loc[out["test"].isin(["attribute_level_r", "attribute_permutation"]),
                       "role"]) == {"study"}


def test_bad_input():
    diff, imp = _toy()
    with pytest.raises(InputError, match="no value for attribute"):
        link.link_test(diff, imp.iloc[:3])
    with pytest.raises(InputError, match="'drop'"):
        link.link_test(diff.drop(columns="diff"), imp)
    with pytest.raises(InputError, match="exact enumeration"):
        link.perm_mean_z(np.ones((3, 10)) + np.arange(10), np.arange(10.0), n_perm="exact")


# ---------------------------------------------------------------------------------------------
# the release

# Rscript tests/r/link.R ../shared/data/model-emotion (R 4.2.2, base R): per k, the study's
# tanh(mean z), t(26), p; the attribute-level cor.test r, t(12), p, CI; perm p (100,000 draws).
R_LINK = {
    1500: (0.165143024907447, 5.81150408638585, 4.00881301981464e-06, 0.158623910312153,
           0.556535597667049, 0.588073359432952, -0.406137148735498, 0.635701153809473, 0.5314),
    2000: (0.341190888866982, 10.1730448859117, 1.48140451614634e-10, 0.373829288379447,
           1.396211422179453, 0.187943137018117, -0.195533540654323, 0.754714140789733, 0.1767),
    2500: (0.396928601945624, 16.5475611209353, 2.53481863998955e-15, 0.442210175482718,
           1.707928884300729, 0.113364832901710, -0.115459263191538, 0.787921503397697, 0.1166),
    3000: (0.325685566412556, 11.0665280976927, 2.46757897200991e-11, 0.370603112564755,
           1.382233878189688, 0.192086425375728, -0.199132739757082, 0.753097691083084, 0.2074),
    4000: (0.473587575579374, 16.9184594474825, 1.49336368803110e-15, 0.527131627693898,
           2.148826385228181, 0.052753684311111, -0.004786622454074, 0.826540073923238, 0.0532),
    5000: (0.199082204786287, 4.116337967395176, 0.000344963143077, 0.238602588045162,
           0.851126442687632, 0.411361778578030, -0.334298289841907, 0.682747825458587, 0.4063),
    6000: (0.144871443682440, 3.378717638382790, 0.002305144824703, 0.198404730984483,
           0.701234567654085, 0.496530716436516, -0.371256781108082, 0.659553388929713, 0.5419),
}
# reference-values.md, "Drop vs human importance": k -> (mean r, CI low, CI high, t(26))
REFERENCE = {1500: (.165, .107, .222, 5.81), 2000: (.341, .276, .403, 10.17),
             2500: (.397, .352, .440, 16.55), 3000: (.326, .268, .381, 11.07),
             4000: (.474, .424, .521, 16.92), 5000: (.199, .101, .294, 4.12),
             6000: (.145, .057, .230, 3.38)}


@pytest.fixture(scope="module")
def release_link(release):
    from emostat.analysis.human.humanspace import _snap
    from emostat.release.human import load_human
    from emostat.analysis.engines.kendall import kendall_tau_b
    from emostat.analysis.masking.drops import acc_diff
    from emostat.release.masking import read_masking_accuracy

    human = load_human(release)
    attr = human.attribute_rdms_for_study
    tau = kendall_tau_b(_snap(human.subject_rdms.mean(axis=0))[:, None], attr.to_numpy(float))
    imp = pd.Series(tau[0][0], index=attr.columns)
    diff = acc_diff(read_masking_accuracy(release))
    return link.link_test(diff, imp, n_perm=20_000, seed=20241201)


@pytest.mark.parametrize("k", K_VALUES)
def test_release_study_t_hits_reference_values(release_link, k):
    r = release_link[(release_link["k"] == k) & (release_link["test"] == "study_t")].iloc[0]
    est, lo, hi, t = REFERENCE[k]
    assert round(r["estimate"], 3) == est and round(r["statistic"], 2) == t
    assert (round(r["conf_low"], 3), round(r["conf_high"], 3)) == (lo, hi)
    assert r["df"] == 26


@pytest.mark.parametrize("k", K_VALUES)
def test_release_matches_r(release_link, k):
    ref = R_LINK[k]
    g = release_link[release_link["k"] == k].set_index("test")
    s, a, p = g.loc["study_t"], g.loc["attribute_level_r"], g.loc["attribute_permutation"]
    assert s["estimate"] == pytest.approx(ref[0], abs=1e-9)
    assert s["statistic"] == pytest.approx(ref[1], rel=1e-8)
    assert s["p_value"] == pytest.approx(ref[2], rel=1e-6)
    assert a["estimate"] == pytest.approx(ref[3], abs=1e-9)
    assert a["statistic"] == pytest.approx(ref[4], rel=1e-8)
    assert a["p_value_t"] == pytest.approx(ref[5], rel=1e-6)
    assert (a["conf_low"], a["conf_high"]) == pytest.approx(ref[6:8], abs=1e-9)
    assert a["df"] == 12
    # two Monte Carlo p's (R 100,000 draws, emostat 20,000): within 4 binomial SEs of emostat's
    se = math.sqrt(ref[8] * (1 - ref[8]) / 20_000)
    assert abs(p["p_value"] - ref[8]) < 4 * se
    assert p["n_perm"] >= 20_000      # doubled while the MC interval holds .05
