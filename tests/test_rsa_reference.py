"""The RSA engine against rsatoolbox 0.3.2 (the reference: Schütt et al., eLife 2023).

Fixed data with Likert-style ties. Deterministic numbers (comparators, ceilings, variances)
agree to 1e-10; the bootstraps are fed the same resample indices (rsatoolbox draws with
``np.random.randint``: raters, then concepts, per resample; the test replaces it with ours).
Where rsatoolbox has no counterpart (the ``mean_rdm`` estimand under resampling, the
permutation test, the split-half ceiling), the reference is a direct loop written here over
rsatoolbox's own subsampled RDMs or over every permutation."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from emostat.analysis.engines.rsaboot import bootstrap, draw
from emostat.analysis.engines.rsaceiling import (from_pearson, full_reliability, half_splits,
                                                 nili_ceiling, split_half_ceiling, to_pearson)
from emostat.analysis.engines.rsacompare import COMPARATORS, Resample, compare
from emostat.analysis.engines.rsainfer import boot_cov, contrast_variance, dual_variance
from emostat.analysis.engines.rsaperm import permutation_test
from emostat.constants import pair_indices

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.rdm import RDMs  # noqa: E402
from rsatoolbox.rdm import compare as rs_compare  # noqa: E402

RS_NAME = {"tau_b": "tau-b", "tau_a": "tau-a", "rho_a": "rho-a", "spearman": "spearman",
           "pearson": "corr",
           "cosine": "cosine", "whitened_cosine": "cosine_cov"}


def data(n=8, R=5, M=3, seed=3):
    """Model RDMs (one with ties) and Likert rater RDMs (1-9, many ties)."""
    rng = np.random.default_rng(seed)
    P = n * (n - 1) // 2
    X = rng.normal(size=(M, P))
    X[1] = np.round(X[1])
    Y = np.clip(np.round(rng.normal(size=(R, P)) * 2) + 5, 1, 9)
    return X, Y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("comp", COMPARATORS)
def test_comparators_and_ceilings_equal_rsatoolbox(comp):
    from rsatoolbox.inference.noise_ceiling import boot_noise_ceiling

    X, Y = data(n=9, R=6)
    np.testing.assert_allclose(compare(X, Y, comp), rs_compare(RDMs(X), RDMs(Y), RS_NAME[comp]),
                               rtol=0, atol=1e-10)
    low, up = nili_ceiling(Resample.full(9, comp), Y)
    ref = boot_noise_ceiling(RDMs(Y), method=RS_NAME[comp])
    np.testing.assert_allclose([low[0], up[0]], ref, rtol=0, atol=1e-10)


def _rsatoolbox_dual(X, Y, comp, ridx, cidx):
    """rsatoolbox's eval_dual_bootstrap (no cross-validation) on our resample indices."""
    import rsatoolbox.inference.bootstrap as rb
    from rsatoolbox.inference import eval_dual_bootstrap
    from rsatoolbox.model import ModelFixed

    feed = iter([a for b in range(len(ridx)) for a in (ridx[b], cidx[b])])
    original = rb.np.random.randint
    rb.np.random.randint = lambda *a, **k: next(feed).copy()
    try:
        models = [ModelFixed(f"m{k}", RDMs(X[k:k + 1])) for k in range(len(X))]
        return eval_dual_bootstrap(models, RDMs(Y), method=RS_NAME[comp], k_pattern=1,
                                   k_rdm=1, N=len(ridx))
    finally:
        rb.np.random.randint = original


@pytest.mark.parametrize("comp", COMPARATORS)
def test_dual_bootstrap_equals_rsatoolbox_on_the_same_resamples(comp):
    from rsatoolbox.util.inference_util import extract_variances

    X, Y = data()
    R, n, M, B = len(Y), 8, len(X), 12
    ridx, cidx = draw(R, n, B, seed=7)
    res = _rsatoolbox_dual(X, Y, comp, ridx, cidx)
    mine = bootstrap(X, Y, comp, "per_rater", n_boot=B, draws=(ridx, cidx), block=5)
    for k, kind in enumerate(("both", "raters", "concepts")):
        ref = np.column_stack([res.evaluations[:, :, 0, 0, k], res.noise_ceiling[0, :, 0, k],
                               res.noise_ceiling[1, :, 0, k]])
        np.testing.assert_allclose(mine[kind], ref, rtol=0, atol=1e-10, err_msg=kind)
    covs = np.stack([boot_cov(mine[k]) for k in ("both", "raters", "concepts")])
    np.testing.assert_allclose(covs, res.variances, rtol=0, atol=1e-10)
    # Schütt's corrected variance of each model, each pair and each model minus the ceiling
    model_v, diff_v, nc_v = extract_variances(covs, True, R, n)
    eye = np.eye(M + 2)
    pairs = np.array([eye[a] - eye[b] for a, b in itertools.combinations(range(M), 2)])

    def dual(C):
        return dual_variance(*(contrast_variance(c, C) for c in covs), R, n)

    np.testing.assert_allclose(dual(eye[:M]), model_v, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dual(pairs), diff_v, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dual(eye[:M] - eye[M]), nc_v[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.model_var, model_v, rtol=0, atol=1e-10)


def test_dual_variance_formulas_equal_rsatoolbox():
    from rsatoolbox.util.inference_util import _dual_bootstrap

    v = np.random.default_rng(0).uniform(0.01, 1, size=(3, 50))
    np.testing.assert_allclose(dual_variance(v[0], v[1], v[2], 61, 27),
                               _dual_bootstrap(v, 61, 27), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dual_variance(v[0], v[1], v[2], 61, 27, small_sample=False),
                               _dual_bootstrap(v), rtol=0, atol=1e-12)


@pytest.mark.parametrize("comp", ["rho_a", "tau_b", "whitened_cosine"])
def test_one_factor_bootstraps_equal_rsatoolbox(comp):
    # rsatoolbox's eval_bootstrap_rdm / eval_bootstrap_pattern on the same indices
    import rsatoolbox.inference.bootstrap as rb
    from rsatoolbox.inference import eval_bootstrap_pattern, eval_bootstrap_rdm
    from rsatoolbox.model import ModelFixed

    X, Y = data()
    ridx, cidx = draw(len(Y), 8, 10, seed=11)
    models = [ModelFixed(f"m{k}", RDMs(X[k:k + 1])) for k in range(len(X))]
    original = rb.np.random.randint
    try:
        feed = iter(list(ridx))
        rb.np.random.randint = lambda *a, **k: next(feed).copy()
        ref_r = eval_bootstrap_rdm(models, RDMs(Y), method=RS_NAME[comp], N=10)
        feed = iter(list(cidx))
        rb.np.random.randint = lambda *a, **k: next(feed).copy()
        ref_c = eval_bootstrap_pattern(models, RDMs(Y), method=RS_NAME[comp], N=10)
    finally:
        rb.np.random.randint = original
    mine = bootstrap(X, Y, comp, "per_rater", kinds=("raters", "concepts"), n_boot=10,
                     draws=(ridx, cidx))
    np.testing.assert_allclose(mine["raters"][:, :3], ref_r.evaluations, atol=1e-10)
    np.testing.assert_allclose(mine["concepts"][:, :3], ref_c.evaluations, atol=1e-10)
    np.testing.assert_allclose(mine["concepts"][:, 3:].T, ref_c.noise_ceiling, atol=1e-10)
    # the one-factor variance with n / (n - 1) (rsatoolbox's _correct_1d)
    from emostat.analysis.engines.rsainfer import variance

    cov = {"concepts": boot_cov(mine["concepts"])}
    v, df = variance(cov, np.eye(5)[:3], "concepts", len(Y), 8)
    np.testing.assert_allclose(v, ref_c.model_var, atol=1e-10)
    assert df == 7


@pytest.mark.parametrize("comp", COMPARATORS)
def test_mean_rdm_estimand_on_rsatoolbox_subsampled_rdms(comp):
    # compare(model, mean of the drawn raters) on rsatoolbox's resampled RDM (copies' pairs NaN)
    X, Y = data()
    ridx, cidx = draw(len(Y), 8, 6, seed=5)
    mine = bootstrap(X, Y, comp, "mean_rdm", n_boot=6, draws=(ridx, cidx), ceiling=False)
    for b in range(6):
        ybar = RDMs(Y[ridx[b]].mean(axis=0)[None]).subsample_pattern("index", cidx[b])
        xs = RDMs(X).subsample_pattern("index", cidx[b])
        ref = rs_compare(xs, ybar, RS_NAME[comp])[:, 0]
        if len(np.unique(cidx[b])) < 3:
            assert np.isnan(mine["both"][b, :3]).all()
            continue
        np.testing.assert_allclose(mine["both"][b, :3], ref, atol=1e-10)


@pytest.mark.parametrize("comp", COMPARATORS)
@pytest.mark.parametrize("estimand", ["per_rater", "mean_rdm"])
def test_permutation_p_is_the_count_over_all_orderings(comp, estimand):
    X, Y = data(n=6, R=4, M=2, seed=8)
    Y[:, :5] += 3 * X[0, :5]                                   # some signal for model 0
    out = permutation_test(X, Y, comp, estimand, n_perm=1000)   # 6! = 720 <= 1000: exact
    assert out["exact"] and out["n_perm"] == 720
    i, j = pair_indices(6)
    lookup = np.zeros((6, 6), int)
    lookup[i, j] = lookup[j, i] = np.arange(len(i))
    target = Y.mean(axis=0, keepdims=True) if estimand == "mean_rdm" else Y
    obs = compare(X, target, comp).mean(axis=1)
    counts = np.zeros(2)
    for perm in itertools.permutations(range(6)):
        p = np.array(perm)
        stat = compare(X[:, lookup[p[i], p[j]]], target, comp).mean(axis=1)
        counts += stat >= obs - 1e-12
    np.testing.assert_allclose(out["estimate"], obs, atol=1e-12)
    np.testing.assert_allclose(out["p_value"], counts / 720, atol=1e-12)
    assert out["p_floor"][0] == pytest.approx(1 / 720)


@pytest.mark.parametrize("comp", ["pearson", "rho_a", "tau_b"])
def test_split_half_ceiling_by_hand(comp):
    X, Y = data(n=8, R=6)
    splits = half_splits(6, 100, seed=0)                        # C(6, 3) = 20: all of them
    assert len(splits) == 20
    low, high, r = split_half_ceiling(Resample.full(8, comp), Y, splits)
    rs, rels = [], []
    for s in splits:
        v = compare(Y[s].mean(axis=0), Y[~s].mean(axis=0), comp)[0, 0]
        rs.append(v)
        rp = to_pearson(v, comp)
        rels.append(2 * rp / (1 + rp) if rp > 0 else 0.0)      # equal halves: Spearman-Brown
    assert r[0] == pytest.approx(np.mean(rs), abs=1e-12)
    assert low[0] == pytest.approx(from_pearson(np.mean(rels), comp), abs=1e-12)
    assert high[0] == pytest.approx(from_pearson(np.sqrt(np.mean(rels)), comp), abs=1e-12)
    # unequal halves: the reliability of the mean of N from halves of 2 and 3 raters
    rho1 = 0.3
    rel = lambda k: k * rho1 / (1 + (k - 1) * rho1)  # noqa: E731
    assert full_reliability(np.sqrt(rel(2) * rel(3)), 2, 3, 5) == pytest.approx(rel(5))


@pytest.mark.parametrize("comp", COMPARATORS)
def test_a_true_model_scores_within_the_ceiling_of_its_estimand(comp):
    # 100 data sets of 20 raters = true RDM + noise. per_rater: the true RDM's mean score lies
    # between Nili's bounds; mean_rdm: its score on the mean RDM is the attenuated correlation,
    # at the split-half upper bound and above the lower one. (One Resample serves every data
    # set: cached sort orders must follow the data.)
    rng = np.random.default_rng(9)
    n, R = 12, 20
    i, j = pair_indices(n)
    res = Resample.full(n, comp)
    splits = half_splits(R, 30, seed=1)
    rows = []
    for _ in range(100):
        x = rng.normal(size=(n, 3))
        truth = np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))
        Y = truth + rng.normal(0, 1.2, (R, len(i)))
        lo, hi, _ = split_half_ceiling(res, Y, splits)
        nlo, nhi = nili_ceiling(res, Y)
        rows.append([compare(truth, Y.mean(axis=0), comp)[0, 0], lo[0], hi[0],
                     compare(truth, Y, comp).mean(), nlo[0], nhi[0]])
    mean_score, low, high, rater_score, nili_low, nili_high = np.mean(rows, axis=0)
    assert low < mean_score and abs(mean_score - high) < 0.01
    assert nili_low < rater_score < nili_high
