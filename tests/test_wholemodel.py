"""Tests of emostat.analysis.neurons.wholemodel against scipy (pdist, kendalltau) and brute force."""

import gzip
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import kendalltau

from emostat.analysis.neurons.wholemodel import model_rdm, whole_model_rsa
from emostat.constants import ANALYSIS_ORDER
from emostat.errors import InputError
from release_path import SHARED_RELEASE
from emostat.release.common import ACTIVATIONS_DIR, SUBJECT_DIST


def _toy(seed=0, T=3, C=6, N=20, P=15):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(T, C, N)) + rng.normal(size=(1, C, N))   # shared concept signal
    mrdm = np.mean([pdist(A[t], "cosine") for t in range(T)], axis=0)
    S = mrdm * 3 + rng.normal(scale=0.3, size=(P, mrdm.size))    # subjects: model + noise
    return A, S


def test_model_rdm_vs_scipy_pdist():
    # pdist's condensed order (i < j, row-major) equals R dist()'s column-major lower triangle
    A, _ = _toy()
    want = np.mean([pdist(A[t], "cosine") for t in range(A.shape[0])], axis=0)
    np.testing.assert_allclose(model_rdm(A), want, rtol=1e-12, atol=1e-14)


def test_estimate_and_bootstrap_vs_naive_loop():
    A, S = _toy(1)
    res = whole_model_rsa(A, S, n_boot=50, n_perm=0, seed=3).iloc[0]
    m = model_rdm(A)
    ref = kendalltau(S.mean(axis=0), m)
    assert res.estimate == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value_asymptotic == pytest.approx(
        kendalltau(S.mean(axis=0), m, alternative="greater", method="asymptotic").pvalue,
        rel=1e-9)
    # scipy's BCa bootstrap with the same draws (participants resampled, scipy tau per resample)
    ref = _scipy_bca(S, m, 50, 3)
    assert res.std_error == pytest.approx(ref.standard_error, rel=1e-10)
    assert res.conf_low_participants == pytest.approx(ref.confidence_interval.low, rel=1e-10)
    assert res.conf_high_participants == pytest.approx(ref.confidence_interval.high, rel=1e-10)
    assert np.isnan(res.p_value) and res.n_boot == 50 and res.n_subjects == 15
    assert res.p_method == "not tested (n_perm = 0)" and res.unit == "concept label (6)"


def _scipy_bca(S, m, n_boot, seed):
    """scipy.stats.bootstrap(method="BCa") of scipy's tau of the resampled participants' mean
    (rounded to 12 decimals so that equal means tie whatever the summation order)."""
    from scipy.stats import bootstrap

    def stat(i, axis=-1):
        i = np.asarray(i)
        flat = i.reshape(-1, i.shape[-1])
        return np.array([kendalltau(np.round(S[r].mean(axis=0), 12), m).statistic
                         for r in flat]).reshape(i.shape[:-1])
    return bootstrap((np.arange(len(S)),), stat, n_resamples=n_boot, method="BCa",
                     rng=np.random.default_rng(seed), vectorized=True)


def test_mantel_p_close_to_exact_enumeration():
    # 5 concepts: all 120 label permutations of the model RDM, scipy tau (brute force)
    A, S = _toy(2, C=5)
    m, h = model_rdm(A), S.mean(axis=0)
    obs = kendalltau(h, m).statistic
    n = 5
    D = np.zeros((n, n))
    iu = np.triu_indices(n, 1)
    D[iu] = m            # pdist order == row-major upper triangle
    D = D + D.T
    null = [kendalltau(h, D[np.ix_(p, p)][iu]).statistic for p in itertools.permutations(range(n))]
    exact = np.mean(np.array(null) >= obs - 1e-12)
    p = whole_model_rsa(A, S, n_boot=0, n_perm=4000, seed=0).iloc[0].p_value
    assert abs(p - exact) < 0.03   # Monte-Carlo sd <= .008 at 4000 draws
    assert np.isnan(whole_model_rsa(A, S, n_boot=0, n_perm=0).iloc[0].std_error)


def test_deterministic_given_seed():
    A, S = _toy(4)
    a = whole_model_rsa(A, S, n_boot=30, n_perm=30, seed=5)
    b = whole_model_rsa(A, S, n_boot=30, n_perm=30, seed=5)
    pd.testing.assert_frame_equal(a, b)


def test_bad_input():
    A, S = _toy()
    with pytest.raises(InputError, match="subject_rdms"):
        whole_model_rsa(A, S[:, :-1], n_boot=0, n_perm=0)
    A0 = A.copy()
    A0[1, 2] = 0
    with pytest.raises(InputError, match="all-zero"):
        model_rdm(A0)
    with pytest.raises(InputError, match="templates, concepts, neurons"):
        model_rdm(A[0])


SEEDS = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 42, 100)


def _release_activations():
    """(12 seeds, 27 concepts in ANALYSIS_ORDER, 36,864 neurons) from the release files."""
    folder = SHARED_RELEASE / ACTIVATIONS_DIR
    A = np.empty((len(SEEDS), len(ANALYSIS_ORDER), 36864))
    for si, s in enumerate(SEEDS):
        for ci, e in enumerate(ANALYSIS_ORDER):
            path = folder / f"{e}-{s}.csv.gz"
            opener = gzip.open if path.exists() else open
            path = path if path.exists() else folder / f"{e}-{s}.csv"
            with opener(path, "rt") as fh:
                lines = fh.read().strip().splitlines()   # header row, then one row of values
            A[si, ci] = np.array(lines[1].split(","), dtype=float)
    return A


def test_release_whole_model_tau():
    if not (SHARED_RELEASE / ACTIVATIONS_DIR).is_dir():
        pytest.skip(f"the study's released activations are not at {SHARED_RELEASE}")
    A = _release_activations()
    S = pd.read_csv(SHARED_RELEASE / SUBJECT_DIST).to_numpy(float)
    assert S.shape == (61, 351)
    res = whole_model_rsa(A, S, n_boot=200, n_perm=200, seed=0).iloc[0]
    # independent: scipy cosine distances per seed, averaged; scipy tau-b with the mean RDM
    mrdm = np.mean([pdist(A[t], "cosine") for t in range(len(SEEDS))], axis=0)
    ref = kendalltau(S.mean(axis=0), mrdm).statistic
    assert res.estimate == pytest.approx(ref, rel=1e-10)
    boot = _scipy_bca(S, mrdm, 200, 0)      # scipy BCa on the same participant resamples
    assert res.conf_low_participants == pytest.approx(boot.confidence_interval.low, rel=1e-9)
    assert res.conf_high_participants == pytest.approx(boot.confidence_interval.high, rel=1e-9)
    assert res.conf_low_participants <= res.estimate <= res.conf_high_participants
    assert res.conf_method.startswith("BCa bootstrap over concept labels") or res.conf_method.startswith("percentile")
    assert res.p_value == pytest.approx(1 / 201)   # no permutation reaches the observed tau
