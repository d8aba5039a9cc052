"""BCa intervals (emostat.analysis.engines.bca) against scipy.stats.bootstrap(method="BCa") on the same
resamples, and against R boot::boot.ci(type = "bca") on frozen deterministic replicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.engines import bca
from emostat.analysis.human.humanspace import _snap, attribute_importance
from emostat.analysis.engines.kendall import kendall_tau_b
from emostat.constants import ANALYSIS_ORDER, pair_indices


def test_counts_are_scipys_resamples():
    # scipy.stats.bootstrap draws rng.integers(0, n, (n_resamples, n)) in one call (batch=None)
    seen = []

    def stat(i, axis=-1):
        seen.append(np.array(i))
        return np.mean(i, axis=axis)

    stats.bootstrap((np.arange(7),), stat, n_resamples=50, method="percentile",
                    rng=np.random.default_rng(3), vectorized=True)
    idx = seen[0]
    counts = np.stack([np.bincount(r, minlength=7) for r in idx])
    assert np.array_equal(counts, bca.bootstrap_counts(7, 50, 3))


def test_bca_equals_scipy_on_the_same_resamples():
    x = np.random.default_rng(0).lognormal(size=30)          # skewed: z0 and a matter
    res = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa",
                          rng=np.random.default_rng(42), vectorized=True)
    boot = bca.bootstrap_counts(30, 4000, 42) @ x / 30
    jack = bca.jackknife_means(x[:, None])[:, 0]
    lo, hi, z0, a = bca.bca_interval(x.mean(), boot[:, None], jack[:, None])
    assert lo[0] == pytest.approx(res.confidence_interval.low, abs=1e-12)
    assert hi[0] == pytest.approx(res.confidence_interval.high, abs=1e-12)
    assert abs(a[0]) > 0.01                                     # a non-trivial acceleration


def test_importance_ci_equals_scipy_bca():
    """attribute_importance's CI is scipy's BCa of 'tau of the resampled participants' mean RDM'."""
    rng = np.random.default_rng(1)
    n_sub, n_pairs = 15, len(pair_indices(len(ANALYSIS_ORDER))[0])
    truth = rng.normal(size=n_pairs)
    S = np.round(truth + rng.normal(0, 3, size=(n_sub, n_pairs)))   # ties, as 1-9 ratings
    Y = pd.DataFrame({"a": truth + rng.normal(0, 2, n_pairs), "b": rng.normal(size=n_pairs)})
    ours = attribute_importance(S, Y, n_boot=2000, n_perm=0, seed=9)
    for c, col in enumerate(Y.columns):
        def stat(i, axis=-1, y=Y[col].to_numpy()):
            i = np.asarray(i)
            m = _snap(S[i.reshape(-1, i.shape[-1])].mean(axis=1))
            return np.asarray(kendall_tau_b(m.T, y)[0]).reshape(i.shape[:-1])
        ref = stats.bootstrap((np.arange(n_sub),), stat, n_resamples=2000, method="BCa",
                              rng=np.random.default_rng(9), vectorized=True)
        lo, hi = ours["conf_low_participants"][c], ours["conf_high_participants"][c]
        assert lo == pytest.approx(ref.confidence_interval.low, abs=1e-12)
        assert hi == pytest.approx(ref.confidence_interval.high, abs=1e-12)
        assert ours["std_error_participants"][c] == pytest.approx(ref.standard_error, rel=1e-9)


# Rscript tests/r/bca.R (R 4.2.2, boot 1.3-28): t = qgamma(ppoints(999), 3) / 3, t0 = 1.1,
# L = exp((1:20) / 5) centred. boot.ci(type = "bca", L = L)$bca gives the order-statistic
# positions (R + 1) * adjusted alpha and the endpoints (R interpolates on the normal scale).
R_BCA = {0.95: (129.51, 998.47, 0.413087448150558, 3.7515095551238),
         0.90: (197.1, 994.94, 0.507473505260294, 3.12884290518129)}
R_A, R_Z0 = 0.0465577389297029, 0.36017172395416


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_bca_matches_r_boot_ci(level):
    t = stats.gamma.ppf((np.arange(1, 1000) - 0.5) / 999, 3) / 3      # R ppoints(999)
    L = np.exp(np.arange(1, 21) / 5)
    L = L - L.mean()
    jack = -L / 19                                   # (n - 1)(mean(jack) - jack) = L
    lo, hi, z0, a = bca.bca_interval(1.1, t[:, None], jack[:, None], level)
    assert a[0] == pytest.approx(R_A, rel=1e-12)
    assert z0[0] == pytest.approx(R_Z0, rel=1e-12)   # no replicate equals t0: no tie halves
    # the same adjusted percentiles (R prints positions to 2 decimals)
    from scipy.special import ndtr, ndtri
    za = ndtri((1 - level) / 2)
    q_lo = ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
    q_hi = ndtr(z0 + (z0 - za) / (1 - a * (z0 - za)))
    assert 1000 * q_lo[0] == pytest.approx(R_BCA[level][0], abs=0.005)
    assert 1000 * q_hi[0] == pytest.approx(R_BCA[level][1], abs=0.005)
    # endpoints: numpy's linear interpolation vs R's normal-scale one, within two order gaps
    gap = np.diff(np.sort(t))
    for ours, r, pos in ((lo[0], R_BCA[level][2], R_BCA[level][0]),
                         (hi[0], R_BCA[level][3], R_BCA[level][1])):
        i = int(pos)
        assert abs(ours - r) <= 2 * gap[max(0, i - 2):i + 2].max()


def test_degenerate_replicates_give_nan_not_a_wrong_interval():
    lo, hi, _, _ = bca.bca_interval([1.0], np.full((100, 1), 2.0), np.arange(5.0)[:, None])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_weighted_tau_equals_scipy_on_expanded_cells():
    import scipy.stats as ss

    from emostat.analysis.engines.bca import weighted_tau
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, 15).astype(float)          # ties
    Y = rng.normal(size=(15, 2))
    W = rng.integers(0, 3, size=(4, 15)).astype(float)
    got = weighted_tau(x, Y, W)
    for r, w in enumerate(W):
        cells = np.repeat(np.arange(15), w.astype(int))
        for q in range(2):   # scipy.stats.kendalltau (tau-b) on the repeated cells
            assert got[r, q] == pytest.approx(ss.kendalltau(x[cells], Y[cells, q]).statistic,
                                              abs=1e-12)


def test_concept_bootstrap_equals_scipy_bootstrap_bca():
    import scipy.stats as ss

    from emostat.analysis.engines.bca import concept_bootstrap
    from emostat.constants import pair_indices
    n = 8
    i, j = pair_indices(n)
    rng = np.random.default_rng(5)
    m = rng.normal(size=n)
    y = np.abs(m[i] - m[j])
    x = y + rng.normal(scale=0.5, size=len(i))
    lookup = np.full((n, n), -1)
    lookup[i, j] = lookup[j, i] = np.arange(len(i))

    def stat(d):   # tau over the pairs of distinct drawn concepts, scipy only
        a, b = np.triu_indices(len(d), 1)
        keep = d[a] != d[b]
        cells = lookup[d[a][keep], d[b][keep]]
        return ss.kendalltau(x[cells], y[cells]).statistic

    ref = ss.bootstrap((np.arange(n),), stat, vectorized=False, n_resamples=300,
                       method="BCa", rng=np.random.default_rng(9))
    lo, hi, how, boot = concept_bootstrap(x, y, 300, 9)
    np.testing.assert_allclose(boot[:, 0], ref.bootstrap_distribution, atol=1e-12)
    assert (lo[0], hi[0]) == pytest.approx((ref.confidence_interval.low,
                                            ref.confidence_interval.high), abs=1e-12)
    assert how[0].startswith("BCa bootstrap over concept labels (8 concepts")


def test_bca_falls_back_to_percentile_when_extreme():
    from emostat.analysis.engines.bca import bca_or_percentile
    rng = np.random.default_rng(0)
    boot = rng.normal(size=(1000, 1))
    est = [2.9]                       # nearly every replicate below: z0 huge, BCa extreme
    jack = rng.normal(size=(20, 1))
    lo, hi, how = bca_or_percentile(est, boot, jack)
    assert how[0].startswith("percentile")
    assert (lo[0], hi[0]) == pytest.approx(tuple(np.percentile(boot[:, 0], [2.5, 97.5])))
