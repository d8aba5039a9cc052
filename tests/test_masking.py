"""Tests of the masking reader (emostat.release.masking) and statistics (emostat.analysis.masking.drops).

Reference numbers come from the study's released files (../shared/data/model-emotion) and from
docs/reference-values.md (recomputed from those files with the study's definitions); t-tests are
checked against scipy.stats.ttest_1samp and pingouin.
"""

import json

import numpy as np
import pandas as pd
import pytest

from emostat.constants import ATTRIBUTES, K_VALUES, OLD_ATTRIBUTE_KEYS
from emostat.errors import InputError
from release_path import SHARED_RELEASE
from emostat.release.common import MASK_RANDOM_DIR, MASK_TOP_DIR
from emostat.release.masking import (check_base_accuracy, read_base_accuracy,
                                     read_masking_accuracy)

needs_release = pytest.mark.skipif(
    not (SHARED_RELEASE / "Result").is_dir(),
    reason=f"the study's released data is not at {SHARED_RELEASE} (see docs: shared data)")


@pytest.fixture(scope="module")
def accuracy():
    if not (SHARED_RELEASE / "Result").is_dir():
        pytest.skip(f"the study's released data is not at {SHARED_RELEASE}")
    return read_masking_accuracy(SHARED_RELEASE)


# ---- reader: real release ------------------------------------------------------------------

def test_reader_shape_and_values(accuracy):
    counts = accuracy["condition"].value_counts()
    assert counts["none"] == 324                      # 27 emotions x 12 seeds
    assert counts["attribute"] == 324 * 14 * 7        # keys <attr>_top<k>, 7 k
    assert counts["random"] == 324 * 14 * 9           # keys <attr>_random<k>, k 500..6000
    assert sorted(accuracy.loc[accuracy.condition == "random", "k"].unique()) == \
        [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000]
    none = accuracy[accuracy.condition == "none"]
    assert none["attribute"].isna().all() and none["k"].isna().all()
    assert (accuracy.loc[accuracy.condition == "random", "draw"] == 0).all()
    assert set(accuracy["attribute"].dropna()) == set(ATTRIBUTES)
    # values copied from admiration-1.json: "best", "arousal_top1500", "happy_random6000"
    a1 = accuracy[(accuracy.concept == "admiration") & (accuracy.template == "1")]
    assert a1.loc[a1.condition == "none", "accuracy"].item() == 0.9010667204856873
    pick = a1[(a1.condition == "attribute") & (a1.attribute == "arousal") & (a1.k == 1500)]
    assert pick["accuracy"].item() == 0.9120526313781738
    pick = a1[(a1.condition == "random") & (a1.attribute == "happy-face") & (a1.k == 6000)]
    assert pick["accuracy"].item() == 0.7120526432991028


def test_base_accuracy_agrees_with_best(accuracy):
    base = read_base_accuracy(SHARED_RELEASE)
    assert len(base) == 324
    # accuracy.csv and the JSON "best" differ only in float printing (max 1.1e-16 here)
    assert check_base_accuracy(accuracy, base) < 1e-12


# ---- reader: bad input ----------------------------------------------------------------------

def _fake_release(tmp_path, top=None, rnd=None, name="joy-1.json"):
    (tmp_path / "Data").mkdir()
    td, rd = tmp_path / MASK_TOP_DIR, tmp_path / MASK_RANDOM_DIR
    td.mkdir(parents=True)
    rd.mkdir(parents=True)
    if top is None:
        top = {"sentiment": "joy", "seed": 1, "best": 0.9}
        top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    if rnd is None:
        rnd = {"sentiment": "joy", "seed": 1, "best": 0.9}
        rnd.update({f"{o}_random{k}": 0.7 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    (td / name).write_text(top if isinstance(top, str) else json.dumps(top))
    (rd / name).write_text(rnd if isinstance(rnd, str) else json.dumps(rnd))
    return tmp_path


def test_reader_fake_release_ok(tmp_path):
    df = read_masking_accuracy(_fake_release(tmp_path))
    assert len(df) == 1 + 2 * 14 * 7
    assert df.loc[df.condition == "none", "accuracy"].item() == 0.9
    assert set(df.loc[df.attribute.notna(), "attribute"]) == set(ATTRIBUTES)


def test_reader_malformed_json(tmp_path):
    with pytest.raises(InputError, match=r"joy-1\.json.*malformed JSON"):
        read_masking_accuracy(_fake_release(tmp_path, top='{"best": 0.9,'))


def test_reader_missing_key(tmp_path):
    top = {"sentiment": "joy", "seed": 1, "best": 0.9}
    top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    del top["non-novelty_top4000"]
    with pytest.raises(InputError, match="non-novelty_top4000"):
        read_masking_accuracy(_fake_release(tmp_path, top=top))


def test_reader_unknown_attribute_key(tmp_path):
    rnd = {"sentiment": "joy", "seed": 1, "best": 0.9, "pride_random4000": 0.5}
    rnd.update({f"{o}_random{k}": 0.7 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    with pytest.raises(InputError, match="pride_random4000"):
        read_masking_accuracy(_fake_release(tmp_path, rnd=rnd))


def test_reader_unknown_emotion(tmp_path):
    with pytest.raises(InputError, match="unknown emotion 'joyful'"):
        read_masking_accuracy(_fake_release(tmp_path, name="joyful-1.json"))


def test_reader_non_numeric_accuracy(tmp_path):
    top = {"sentiment": "joy", "seed": 1, "best": "high"}
    top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    with pytest.raises(InputError, match="best"):
        read_masking_accuracy(_fake_release(tmp_path, top=top))


# ---- analysis: synthetic, hand-checkable ---------------------------------------------------

from scipy import stats  # noqa: E402

from emostat.analysis.masking.drops import (acc_diff, condition_means, dip_tests,  # noqa: E402
                                      masking_by_attribute, masking_by_emotion, masking_cells,
                                      paired_tests)
from emostat.analysis.engines.multitest import fdr_bh, fdr_study  # noqa: E402


def _toy_accuracy(draws=1):
    """2 emotions x 3 seeds x 2 attributes x 2 k, deterministic values."""
    rng = np.random.default_rng(11)
    rows = []
    for e in ("joy", "fear"):
        for s in ("1", "2", "3"):
            rows.append(("m", e, s, "none", None, None, None, 0.9))
            for a in ("valence", "arousal"):
                for k in (100, 200):
                    rows.append(("m", e, s, "attribute", a, k, None, rng.uniform(0.5, 0.8)))
                    for dr in range(draws):
                        rows.append(("m", e, s, "random", a, k, dr, rng.uniform(0.6, 0.9)))
    df = pd.DataFrame(rows, columns=["model", "concept", "template", "condition", "attribute",
                                     "k", "draw", "accuracy"])
    df["k"] = df["k"].astype("Int64")
    df["draw"] = df["draw"].astype("Int64")
    return df


def test_acc_diff_mean_over_draws_and_per_draw():
    acc = _toy_accuracy(draws=4)
    d = acc_diff(acc)
    assert len(d) == 2 * 3 * 2 * 2 and (d["n_draws"] == 4).all()
    sel = acc[(acc.concept == "fear") & (acc.template == "2") & (acc.attribute == "arousal")
              & (acc.k == 200)]
    want_r = sel.loc[sel.condition == "random", "accuracy"].mean()
    want_a = sel.loc[sel.condition == "attribute", "accuracy"].item()
    row = d[(d.concept == "fear") & (d.template == "2") & (d.attribute == "arousal")
            & (d.k == 200)]
    assert row["acc_random"].item() == pytest.approx(want_r, abs=1e-15)
    assert row["diff"].item() == pytest.approx(want_a - want_r, abs=1e-15)
    assert row["acc_none"].item() == 0.9
    per = acc_diff(acc, per_draw=True)
    assert len(per) == 4 * len(d)
    # the mean over draws of the per-draw diffs is the diff against the mean random accuracy
    m = per.groupby(["concept", "template", "attribute", "k"])["diff"].mean()
    dd = d.set_index(["concept", "template", "attribute", "k"])["diff"]
    np.testing.assert_allclose(m.loc[dd.index], dd, atol=1e-15)


def test_acc_diff_missing_condition():
    acc = _toy_accuracy()
    with pytest.raises(InputError, match="random"):
        acc_diff(acc[acc.condition != "random"])


def test_paired_tests_vs_scipy_and_pingouin():
    d = acc_diff(_toy_accuracy())
    res = paired_tests(d, ["k", "concept"])
    assert len(res) == 4 and (res["n"] == 6).all()
    for _, r in res.iterrows():
        # estimate = random − attribute = −ACC.diff; H1 "greater" = the study's "less"
        x = -d.loc[(d.k == r.k) & (d.concept == r.concept), "diff"].to_numpy()
        ref = stats.ttest_1samp(x, 0, alternative="greater")
        assert r.p_value == pytest.approx(
            stats.ttest_1samp(-x, 0, alternative="less").pvalue, rel=1e-12)
        assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
        ci = stats.ttest_1samp(x, 0).confidence_interval(0.95)  # two-sided interval
        assert (r.conf_low, r.conf_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
        assert r.estimate == pytest.approx(x.mean()) and r.df == 5
    pg = pytest.importorskip("pingouin")
    x = -d.loc[(d.k == 100) & (d.concept == "fear"), "diff"].to_numpy()
    ref = pg.ttest(x, 0, alternative="greater")
    r = res[(res.k == 100) & (res.concept == "fear")].iloc[0]
    assert r.statistic == pytest.approx(ref["T"].item(), rel=1e-10)
    assert r.p_value == pytest.approx(ref["p_val"].item(), rel=1e-10)
    # q over the whole table (all k together), both rules
    np.testing.assert_allclose(res["q_value"], fdr_study(res["p_value"].to_numpy()))
    np.testing.assert_allclose(res["q_value_bh"], fdr_bh(res["p_value"].to_numpy()))
    assert set(res["role"]) == {"study"} and set(res["unit"]) == {"attribute × template (6)"}
    assert res["p_method"].str.contains("one-sided").all()
    assert res["p_method_perm"].str.startswith("sign-flip").all()


def test_shared_random_draws_pair_in_memory():
    # a run's shared draws appear once (null attribute); acc_diff pairs them with every
    # attribute, giving the same diffs as the old per-attribute copies
    acc = _toy_accuracy(draws=2)
    rnd = acc[(acc.condition == "random") & (acc.attribute == "valence")]
    shared = pd.concat([acc[acc.condition != "random"], rnd.assign(attribute=None)])
    copies = pd.concat([acc[acc.condition != "random"], rnd,
                        rnd.assign(attribute="arousal")])
    a, b = acc_diff(shared), acc_diff(copies)
    cols = ["concept", "template", "attribute", "k", "diff", "n_draws"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)
    assert (a["n_draws"] == 2).all() and len(a) == 2 * 3 * 2 * 2


# ---- analysis: the study's numbers ---------------------------------------------------------

@pytest.fixture(scope="module")
def diff(accuracy):
    return acc_diff(accuracy)


@pytest.fixture(scope="module")
def by_emotion(diff):
    return masking_by_emotion(diff)


def test_grand_means_k4000(diff):
    # reference-values.md: unmanipulated 83.18 %, attribute-specific 69.93 %, random 72.80 %
    g = condition_means(diff).set_index("k").loc[4000]
    assert round(g.acc_none * 100, 2) == 83.18
    assert round(g.acc_attribute * 100, 2) == 69.93
    assert round(g.acc_random * 100, 2) == 72.80
    assert g.n == 324 * 14


def test_by_emotion_k4000(by_emotion):
    assert len(by_emotion) == 27 * 7 and (by_emotion["n"] == 168).all()
    e = by_emotion[by_emotion.k == 4000].set_index("concept")
    # reference-values.md: 20 of 27 significant (study rule, q < .05); these 7 not
    assert (e.q_value < 0.05).sum() == 20
    assert set(e.index[e.q_value >= 0.05]) == {"desire", "surprise", "grief", "nervousness",
                                               "realization", "embarrassment", "relief"}
    # remorse 8.1 points t(167) = -3.56, annoyance 5.8 (-6.08), confusion 5.0 (-4.14), in the
    # study's sign; here estimate = random − attribute (the drop), so t has the opposite sign
    for emo, drop, t in (("remorse", 8.1, -3.56), ("annoyance", 5.8, -6.08),
                         ("confusion", 5.0, -4.14)):
        assert round(e.loc[emo, "estimate"] * 100, 1) == drop
        assert round(-e.loc[emo, "statistic"], 2) == t
        assert e.loc[emo, "df"] == 167
    assert e["estimate"].idxmax() == "remorse"
    # per emotion (w/o, random, attribute-specific, %)
    ref = {"gratitude": (96.4, 93.8, 91.6), "love": (95.5, 92.0, 88.8),
           "remorse": (89.2, 72.4, 64.3), "relief": (68.5, 54.2, 54.2),
           "realization": (68.0, 56.8, 56.2)}
    for emo, want in ref.items():
        got = tuple(round(e.loc[emo, c] * 100, 1)
                    for c in ("acc_none", "acc_random", "acc_attribute"))
        assert got == want, emo


def test_by_emotion_q_over_whole_table(by_emotion):
    # the study's R: q.value := p.value * .N / rank(p.value) over all 189 rows
    p = by_emotion["p_value"].to_numpy()
    q = np.minimum(p * 189 / stats.rankdata(p), 1)
    np.testing.assert_allclose(by_emotion["q_value"], q, rtol=1e-12)
    assert (by_emotion["q_value_bh"] <= by_emotion["q_value"] + 1e-15).all()


def test_by_emotion_t_vs_scipy(diff, by_emotion):
    r = by_emotion[(by_emotion.k == 2500) & (by_emotion.concept == "pride")].iloc[0]
    x = diff.loc[(diff.k == 2500) & (diff.concept == "pride"), "diff"]
    ref = stats.ttest_1samp(x, 0, alternative="less")       # the study's test of ACC.diff
    assert r.statistic == pytest.approx(-ref.statistic, rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_by_attribute_and_cells(diff):
    a = masking_by_attribute(diff, n_perm=2000)
    assert len(a) == 14 * 7 and (a["n"] == 324).all() and (a["df"] == 323).all()
    c = masking_cells(diff)
    assert len(c) == 27 * 14 * 7 and (c["n"] == 12).all()
    r = c[(c.k == 4000) & (c.concept == "remorse") & (c.attribute == "valence")].iloc[0]
    x = diff.loc[(diff.k == 4000) & (diff.concept == "remorse")
                 & (diff.attribute == "valence"), "diff"].to_numpy()
    assert r.statistic == pytest.approx(-stats.ttest_1samp(x, 0).statistic, rel=1e-10)
    # n = 12 -> exact sign-flip p; check against scipy's exact enumeration (study's "less")
    ref = stats.permutation_test((x,), np.mean, permutation_type="samples",
                                 alternative="less", n_resamples=np.inf).pvalue
    assert r.p_value_perm == pytest.approx(ref, abs=1e-12)
    # cell estimate = −(mean over seeds of ACC.diff)
    assert r.estimate == pytest.approx(-x.mean(), abs=1e-15)
    assert r.unit == "template (12)" and r.role == "study"


# importance = Kendall tau-b(mean human RDM, attribute RDM), reference-values.md (4 decimals)
IMPORTANCE_REF = {
    "arousal": -0.0027, "other-relativity": 0.0084, "novelty": 0.0291, "surprise-face": 0.0456,
    "self-relativity": 0.0676, "control": 0.0687, "expectedness": 0.0822, "fear-face": 0.2646,
    "sad-face": 0.3623, "disgust-face": 0.3827, "anger-face": 0.3843, "fairness": 0.4234,
    "valence": 0.5860, "happy-face": 0.6052}

@pytest.fixture(scope="module")
def importance():
    from emostat.release.common import ATTRIBUTE_DIST, MEAN_DIST

    if not (SHARED_RELEASE / ATTRIBUTE_DIST).exists():
        pytest.skip(f"the study's released data is not at {SHARED_RELEASE}")
    att = pd.read_csv(SHARED_RELEASE / ATTRIBUTE_DIST)
    human = pd.read_csv(SHARED_RELEASE / MEAN_DIST).iloc[:, 0].to_numpy()
    return pd.Series({c: stats.kendalltau(human, att[c]).statistic for c in att.columns})


def test_importance_taus(importance, release):
    # emostat's importance (not the scipy fixture itself) against the scipy fixture and
    # reference-values.md
    from emostat.analysis.human.humanspace import attribute_importance
    from emostat.release.human import load_human

    human = load_human(release)
    ours = attribute_importance(human.subject_rdms, human.attribute_rdms_for_study, n_boot=0,
                                n_perm=0).set_index("attribute")["estimate"]
    for a, want in IMPORTANCE_REF.items():
        assert round(ours[a], 4) == want, a
        assert ours[a] == pytest.approx(importance[a], abs=1e-6), a


def test_dip_tests_shape(diff):
    dip = dip_tests(diff)
    assert len(dip) == 14 * 7 and (dip["n"] == 27).all()
    assert ((dip["p_value"] >= 0) & (dip["p_value"] <= 1)).all()
    # the dip of n points is at least 1/(2n) and at most 1/4
    assert (dip["statistic"] >= 1 / 54 - 1e-12).all() and (dip["statistic"] <= 0.25).all()


# R 4.2.2 diptest 0.76-0, tests/r/dip_masking.R (reads the JSONs itself): k, attribute, D, p
DIP_R = [(4000, "arousal", 0.0702169204500285, 0.345898380659058),
         (4000, "valence", 0.0481992173495746, 0.922244331068623),
         (1500, "happy-face", 0.0622805727883859, 0.560502947313669),
         (6000, "novelty", 0.0660732273571728, 0.451105598601862)]


def test_dip_tests_vs_r(diff):
    dip = dip_tests(diff).set_index(["k", "attribute"])
    for k, a, d, p in DIP_R:
        assert dip.loc[(k, a), "statistic"] == pytest.approx(d, rel=1e-12)
        assert dip.loc[(k, a), "p_value"] == pytest.approx(p, rel=1e-10)


def test_constant_differences_give_no_t():
    """R: t.test(rep(-0.1, 5)) stops with "data are essentially constant"; emostat gives NaN
    (never an infinite t counted as significant)."""
    from emostat.analysis.masking.drops import _t_summary

    g = pd.DataFrame({"n": [5, 5], "sd": [0.0, 0.1], "mean": [-0.1, -0.1]})
    out = _t_summary(g, "less", 0.95)
    assert np.isnan(out["statistic"][0]) and np.isnan(out["p_value"][0])
    # second group: t = -0.1 / (0.1 / sqrt 5) = -sqrt(5)
    assert out["statistic"][1] == pytest.approx(-np.sqrt(5))


def test_attribute_vs_null_release_k4000(accuracy):
    from emostat.analysis.masking.drops import attribute_vs_null

    acc = accuracy[accuracy["k"].isna() | accuracy["k"].isin(K_VALUES)]
    res = attribute_vs_null(acc)
    assert len(res) == 14 * 7 and (res["n_null"] == 14).all() and (res["df"] == 13).all()
    # by hand: each mask's accuracy averaged over the 324 prompts; the 14 random sets are the
    # null; the prediction t is the pooled two-sample t of one value against the 14
    k4 = acc[acc["k"] == 4000]
    att = k4[k4.condition == "attribute"].groupby("attribute")["accuracy"].mean()
    rnd = k4[k4.condition == "random"].groupby("attribute")["accuracy"].mean()
    r = res[res.k == 4000].set_index("attribute")
    for a in ("happy-face", "valence", "arousal"):
        assert r.loc[a, "estimate"] == pytest.approx(rnd.mean() - att[a], abs=1e-12)
        ref = stats.ttest_ind([-att[a]], -rnd.to_numpy(), alternative="greater")
        assert r.loc[a, "statistic"] == pytest.approx(ref.statistic, rel=1e-10)
        assert r.loc[a, "p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    # happy-face: 17.4 points more drop than the random masks' mean, t(13) = 3.48, p = .0020
    assert round(r.loc["happy-face", "estimate"] * 100, 1) == 17.4
    assert round(r.loc["happy-face", "statistic"], 2) == 3.48
    assert (r["p_min_perm"] == 1 / 15).all()
    np.testing.assert_allclose(res["q_value_bh"], fdr_bh(res["p_value"].to_numpy()))


def test_attribute_vs_null_layer_matched_uses_own_draws_planted_effect():
    # Layer-matched draws: attribute a's random masks hurt by its own layer profile (0.05 for
    # valence, 0.30 for arousal); each attribute mask hurts 0.08 more than its own draws.
    import scipy.stats as sst

    from emostat.analysis.masking.drops import attribute_vs_null
    rng = np.random.default_rng(0)
    base = {"valence": 0.05, "arousal": 0.30}
    rows = [("joy", "1", "none", None, None, None, 0.9)]
    own = {}
    for a, b in base.items():
        draws = b + rng.normal(0, 0.01, 6)
        own[a] = draws
        rows.append(("joy", "1", "attribute", a, 10, None, 0.9 - (draws.mean() + 0.08)))
        rows += [("joy", "1", "random", a, 10, d, 0.9 - x) for d, x in enumerate(draws)]
    acc = pd.DataFrame(rows, columns=["concept", "template", "condition", "attribute", "k",
                                      "draw", "accuracy"])
    out = attribute_vs_null(acc).set_index("attribute")
    for a in base:
        # brute force: the planted +0.08 against the attribute's own draws
        assert out.loc[a, "estimate"] == pytest.approx(0.08, abs=1e-12)
        assert out.loc[a, "n_null"] == 6 and out.loc[a, "null"].startswith("own")
        assert out.loc[a, "normality_p"] == pytest.approx(sst.shapiro(own[a]).pvalue)
        t = out.loc[a, "statistic"]
        assert out.loc[a, "p_value_robust"] == pytest.approx(1 / (1 + t * t))
        assert out.loc[a, "p_value_perm"] == pytest.approx(1 / 7)
