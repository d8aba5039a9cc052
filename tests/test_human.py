"""Human emotion space: PCA, RDMs, attribute importance and ICC against independent references.

References: the study's released tables (``dist_emotional_PCs.csv``, ``score_emotional_PCs.csv``,
``avg_dist_subjective_comparison.csv``), reference-values.md, scipy, statsmodels, pingouin, and
Shrout & Fleiss (1979). Tests marked by ``needs_release`` skip when the release is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.human import appraisal as ap
from emostat.analysis.human import humanspace as hu
from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES, pair_indices
from emostat.errors import InputError
from release_path import SHARED_RELEASE
from emostat.release import common
from emostat.release import human as rh

needs_release = pytest.mark.skipif(not (SHARED_RELEASE / "Data").is_dir(),
                                   reason="study release not in ../shared/data/model-emotion")

# reference-values.md, "Human attribute importance" (rounded to 4 decimals)
REFERENCE_TAU = {"arousal": -0.0027, "other-relativity": 0.0084, "novelty": 0.0291,
                 "surprise-face": 0.0456, "self-relativity": 0.0676, "control": 0.0687,
                 "expectedness": 0.0822, "fear-face": 0.2646, "sad-face": 0.3623,
                 "disgust-face": 0.3827, "anger-face": 0.3843, "fairness": 0.4234,
                 "valence": 0.5860, "happy-face": 0.6052}


@pytest.fixture(scope="module")
def space():
    if not (SHARED_RELEASE / "Data").is_dir():
        pytest.skip("study release not in ../shared/data/model-emotion")
    return rh.load_human(SHARED_RELEASE)


# ---------------------------------------------------------------------------------------------
# pieces, on synthetic data

def test_varimax_matches_statsmodels():
    from statsmodels.multivariate.factor_rotation import rotate_factors

    rng = np.random.default_rng(1)
    L = rng.normal(size=(20, 4))
    ours, T = ap.varimax(L, normalize=False, eps=1e-14)
    theirs, _ = rotate_factors(L, "varimax")
    # same solution up to column order and sign
    C = ours.T @ theirs / np.outer(np.linalg.norm(ours, axis=0), np.linalg.norm(theirs, axis=0))
    match = np.abs(C).argmax(axis=1)
    assert sorted(match) == [0, 1, 2, 3]
    aligned = theirs[:, match] * np.sign(C[np.arange(4), match])
    assert np.abs(ours - aligned).max() < 1e-6
    assert np.allclose(T @ T.T, np.eye(4))


def test_parallel_analysis_finds_planted_components():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(400, 3))
    X = np.repeat(F, 4, axis=1) + 0.6 * rng.normal(size=(400, 12))   # 3 blocks of 4 items
    pa = ap.parallel_analysis(X, seed=0)
    assert pa["retained"].sum() == 3


def test_rdm_vector_is_r_dist_order():
    # R: as.vector(dist(c(1, 4, 9, 16))) == 3 8 15 5 12 7
    assert hu.rdm_vector([1, 4, 9, 16]).tolist() == [3, 8, 15, 5, 12, 7]


def test_importance_estimate_is_scipy_kendall_and_bootstrap_is_seeded():
    rng = np.random.default_rng(3)
    S = rng.integers(1, 10, size=(12, 351)).astype(float)
    A = pd.DataFrame(rng.integers(0, 5, size=(351, 3)).astype(float), columns=list("abc"))
    out = hu.attribute_importance(S, A, n_boot=300, n_perm=99, seed=5)
    m = S.mean(axis=0)
    for a in "abc":
        tau = stats.kendalltau(m, A[a]).statistic              # scipy's tau-b
        assert out.set_index("attribute").loc[a, "estimate"] == pytest.approx(tau, abs=1e-12)
    again = hu.attribute_importance(S, A, n_boot=300, n_perm=99, seed=5)
    pd.testing.assert_frame_equal(out, again)
    assert list(out.columns) == ["attribute", "estimate", "std_error", "statistic", "df",
                                 "p_value", "conf_low", "conf_high", "conf_method",
                                 "conf_low_participants", "conf_high_participants",
                                 "conf_method_participants", "std_error_participants",
                                 "boot_share_le0", "p_method", "unit", "role", "n_boot",
                                 "n_perm", "p_floor", "p_mc_low", "p_mc_high", "mc_warning"]
    assert out["conf_method"].str.contains("concept labels").all()
    assert out["conf_method_participants"].str.contains("rater-sampling precision").all()
    # p_value is the Mantel test of the mean RDM (emostat.analysis.engines.mantel is checked against
    # exact enumeration in test_mantel.py), seeded with seed + 1
    from emostat.analysis.engines.mantel import mantel
    want = mantel(hu._snap(m), A.to_numpy(), n_perm=99, seed=6)
    np.testing.assert_array_equal(out["p_value"], want)
    assert out["p_method"].str.startswith("Mantel").all()
    assert (out["unit"] == "concept label (27)").all()


def test_importance_bootstrap_by_hand():
    # bootstrap = tau of the mean RDM of resampled participants, same rng stream as the code
    rng = np.random.default_rng(4)
    S = rng.normal(size=(8, 351))
    A = pd.DataFrame({"a": S[:3].mean(axis=0) + rng.normal(size=351)})
    out = hu.attribute_importance(S, A, n_boot=50, n_perm=0, seed=11)
    draws = np.random.default_rng(11).integers(0, 8, size=(50, 8))
    taus = [stats.kendalltau(S[d].mean(axis=0), A["a"]).statistic for d in draws]
    assert out["std_error_participants"][0] == pytest.approx(np.std(taus, ddof=1), abs=1e-10)
    assert out["boot_share_le0"][0] == np.mean(np.array(taus) <= 0)
    assert np.isnan(out["p_value"][0]) and out["p_method"][0] == "not tested (n_perm = 0)"


def test_importance_bad_shapes():
    with pytest.raises(InputError, match=r"subject_rdms must be \(n, 351\)"):
        hu.attribute_importance(np.zeros((3, 10)), pd.DataFrame({"a": np.zeros(351)}))
    with pytest.raises(InputError, match="351 rows without NaN"):
        hu.attribute_importance(np.ones((3, 351)), pd.DataFrame({"a": [np.nan] * 351}))


def test_icc_shrout_fleiss_example():
    # Shrout & Fleiss (1979), Psychol. Bull. 86:420, Table 2 data (6 targets x 4 judges);
    # their Table 4: ICC(2,1) = .29, ICC(2,4) = .62; ANOVA F(5, 15) for targets = 11.03
    Y = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                  [6, 2, 4, 7]], float)
    r = hu.icc2(Y)
    assert round(r["ICC2"][0], 2) == 0.29 and round(r["ICC2k"][0], 2) == 0.62
    assert round(r["F"], 2) == 11.03 and (r["df1"], r["df2"]) == (5, 15)


def test_icc_matches_pingouin(space):
    pg = pytest.importorskip("pingouin", reason="pingouin is in the test extra")

    ratings = space.ratings
    ours = hu.rating_icc(ratings).set_index(["attribute", "type"])
    for attr in ("arousal", "fear-face"):
        g = ratings[ratings.attribute == attr]
        pgt = pg.intraclass_corr(g, targets="concept", raters="participant",
                                 ratings="rating").set_index("Type")
        # pingouin 0.7 names: ICC(A,1) = Shrout-Fleiss ICC(2,1), ICC(A,k) = ICC(2,k)
        for t, pt in (("ICC2", "ICC(A,1)"), ("ICC2k", "ICC(A,k)")):
            assert ours.loc[(attr, t), "estimate"] == pytest.approx(pgt.loc[pt, "ICC"], abs=1e-12)
            assert ours.loc[(attr, t), "statistic"] == pytest.approx(pgt.loc[pt, "F"], rel=1e-12)
            lo, hi = pgt.loc[pt, "CI95"]                       # pingouin rounds to 2 decimals
            assert ours.loc[(attr, t), "conf_low"] == pytest.approx(lo, abs=0.0051)
            assert ours.loc[(attr, t), "conf_high"] == pytest.approx(hi, abs=0.0051)


def test_attribute_means_rejects_missing_rating():
    r = pd.DataFrame({"concept": ["joy"], "attribute": ["arousal"], "rating": [np.nan]})
    with pytest.raises(InputError, match="ratings, row 0, field 'rating': missing rating"):
        hu.attribute_means(r, None)


def test_load_human_rejects_other_folder(tmp_path):
    with pytest.raises(InputError, match="neither the study's release"):
        rh.load_human(tmp_path)


def test_shipped_summary_loads():
    space = hu.load_shipped_human()
    assert list(space.means.index) == list(ANALYSIS_ORDER)
    assert list(space.means.columns) == list(ATTRIBUTES)
    assert space.attribute_rdms.shape == (351, 14) and space.mean_rdm.shape == (351,)
    assert space.subject_rdms is None
    # valence RDM from shipped means = |mean_i - mean_j| in dist() order
    i, j = pair_indices()
    v = space.means["valence"].to_numpy()
    assert np.allclose(space.attribute_rdms["valence"], np.abs(v[i] - v[j]), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the study's release

@needs_release
def test_rating_rdms_equal_released(space):
    # 8 affective/face columns of dist_emotional_PCs.csv, from the 30 + 30 valid raters
    released = space.released_attribute_rdms
    for a in ATTRIBUTES[:8]:
        assert np.abs(space.attribute_rdms[a].to_numpy() - released[a].to_numpy()).max() < 1e-12


@needs_release
def test_appraisal_rdms_equal_released(space):
    # 6 appraisal columns: psych principal(nfactors = 6, varimax) reproduced; measured
    # Pearson r = 1.0000000000 and max |diff| = 1.8e-14 (brief asks r >= .99)
    released = space.released_attribute_rdms
    for a in ATTRIBUTES[8:]:
        ours, theirs = space.attribute_rdms[a].to_numpy(), released[a].to_numpy()
        assert np.corrcoef(ours, theirs)[0, 1] > 0.999999
        assert np.abs(ours - theirs).max() < 1e-12


@needs_release
def test_means_and_signs_equal_released_scores(space):
    # score_emotional_PCs.csv = per-emotion means rescaled to [0, 1] (bruceR RESCALE), study
    # order; equality (not 1 - x) also confirms psych's component signs
    score = pd.read_csv(SHARED_RELEASE / "Data/preprocessed/emotional_features/"
                        "score_emotional_PCs.csv")
    m = space.means
    rescaled = (m - m.min()) / (m.max() - m.min())
    assert np.abs(rescaled.to_numpy() - score[list(ATTRIBUTES)].to_numpy()).max() < 1e-12


@needs_release
def test_pca_parallel_analysis_and_variance(space):
    pca = ap.appraisal_pca(_responses(), seed=0)
    assert pca.n_components == 6                          # method.md: 6 by parallel analysis
    assert list(pca.loadings.columns) == list(ATTRIBUTES[8:])
    assert pca.loadings.shape == (38, 6)
    # rotated variance is sorted (psych's order) and sums to the first 6 eigenvalues
    assert (np.diff(pca.variance.to_numpy()) < 0).all()
    assert pca.variance.sum() == pytest.approx(pca.eigenvalues[:6].sum(), rel=1e-12)
    assert (pca.loadings.sum(axis=0) > 0).all()           # psych's sign rule


def _responses():
    from emostat.release.human import read_appraisal

    return read_appraisal(SHARED_RELEASE)[1]


@needs_release
def test_mean_rdm_equals_released(space):
    avg = pd.read_csv(SHARED_RELEASE / common.MEAN_DIST).iloc[:, 0].to_numpy()
    assert np.abs(space.mean_rdm - avg).max() < 1e-12
    assert space.subject_rdms.shape == (61, 351)


@needs_release
def test_importance_reference_values(space):
    assert space.attribute_rdms_for_study is space.released_attribute_rdms
    out = hu.attribute_importance(space.subject_rdms, space.attribute_rdms_for_study,
                                  n_boot=2000, n_perm=0, seed=0).set_index("attribute")
    for a, ref in REFERENCE_TAU.items():
        assert abs(out.loc[a, "estimate"] - ref) <= 0.00005, a
    # reference-values.md: 12 of 14 bootstrap-significant, not arousal, not other-relativity
    # (measured with n_boot = 10,000: p = .620 and .069; the other 12 have p = 0)
    significant = set(out.index[out["boot_share_le0"] < 0.05])
    assert significant == set(ATTRIBUTES) - {"arousal", "other-relativity"}
    # BCa intervals (checked against scipy in test_bca.py) hold the estimate here
    for lo, hi in (("conf_low", "conf_high"), ("conf_low_participants", "conf_high_participants")):
        assert ((out[lo] <= out["estimate"]) & (out["estimate"] <= out[hi])).all()


@needs_release
def test_importance_with_tie_exact_rdms(space):
    # emostat's own RDMs keep exact ties; tau moves only in the 4th decimal (valence .5865)
    out = hu.attribute_importance(space.subject_rdms, space.attribute_rdms, n_boot=10,
                                  n_perm=0, seed=0).set_index("attribute")
    diffs = [abs(out.loc[a, "estimate"] - ref) for a, ref in REFERENCE_TAU.items()]
    assert max(diffs) < 0.001


def test_import_folder_keeps_the_study_attribute_rdms(release, tmp_path):
    """load_human on an import-release folder uses the release's attribute distances, so the
    importance taus equal reference-values.md exactly as from the release root."""
    from emostat.release.human import load_human
    from emostat.release.human import import_human

    import_human(release, tmp_path, quiet=True)
    a = load_human(tmp_path).attribute_rdms_for_study
    b = load_human(release).attribute_rdms_for_study
    pd.testing.assert_frame_equal(a, b, check_names=False)
