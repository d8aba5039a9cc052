"""Tests of emostat.analysis.engines.kendall (vectorised tau-b) against R cor.test and scipy."""

import numpy as np
import pytest
import scipy.stats as ss

from emostat.analysis.engines import kendall
from emostat.analysis.engines.kendall import dense_ranks, kendall_tau_b
from emostat.errors import InputError

# R 4.2: x, y from ?cor.test (Hollander & Wolfe p. 187)
X_R = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
Y_R = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]
# a, b with ties in both
A_R = [1, 2, 2, 3, 3, 3, 4, 5, 5, 6]
B_R = [2, 1, 3, 3, 2, 5, 4, 4, 6, 6]


def test_matches_r_cor_test():
    # R: cor.test(x, y, method = "kendall", exact = FALSE, alternative = "greater")
    #    tau 0.444444444444445, p 0.0476464190117283; two-sided p 0.0952928380234565
    tau, p = kendall_tau_b(X_R, Y_R, "greater")
    assert tau == pytest.approx(0.444444444444445, abs=1e-14)
    assert p == pytest.approx(0.0476464190117283, abs=1e-14)
    assert kendall_tau_b(X_R, Y_R, "two-sided")[1] == pytest.approx(0.0952928380234565, abs=1e-14)


def test_matches_r_cor_test_with_ties():
    # R: cor.test(a, b, method = "kendall", exact = FALSE, alternative = "greater")
    #    tau 0.691410717654713, p 0.00463100612249287; alternative = "less": p 0.995368993877507
    tau, p = kendall_tau_b(A_R, B_R, "greater")
    assert tau == pytest.approx(0.691410717654713, abs=1e-14)
    assert p == pytest.approx(0.00463100612249287, abs=1e-14)
    assert kendall_tau_b(A_R, B_R, "less")[1] == pytest.approx(0.995368993877507, abs=1e-14)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("n", [3, 10, 351])
def test_all_columns_match_scipy(ties, alternative, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 7))
    Y = rng.normal(size=(n, 5))
    if ties:
        X = np.round(X * 2) / 2
        Y = np.round(Y)
    tau, p = kendall_tau_b(X, Y, alternative)
    assert tau.shape == p.shape == (7, 5)
    for a in range(7):
        for b in range(5):
            ref = ss.kendalltau(X[:, a], Y[:, b], alternative=alternative, method="asymptotic")
            np.testing.assert_allclose([tau[a, b], p[a, b]], [ref.statistic, ref.pvalue],
                                       rtol=0, atol=1e-12, equal_nan=True)


def test_constant_column_is_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    X[:, 1] = 2.5
    tau, p = kendall_tau_b(X, rng.normal(size=20))
    assert tau.shape == (3,)
    assert np.isnan(tau[1]) and np.isnan(p[1])
    assert np.isfinite(tau[[0, 2]]).all()


def test_wide_y_threads_and_uncached_paths_agree(monkeypatch):
    # q > m swaps the roles; n_jobs=2 uses threads; a tiny cache limit rebuilds narrow signs.
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(60, 3)), 1)
    Y = rng.normal(size=(60, 600))
    ref = np.array([[ss.kendalltau(X[:, a], Y[:, b], alternative="greater").statistic
                     for b in range(600)] for a in range(3)])
    np.testing.assert_allclose(kendall_tau_b(X, Y)[0], ref, atol=1e-12)
    np.testing.assert_allclose(kendall_tau_b(Y, X, n_jobs=2)[0], ref.T, atol=1e-12)
    monkeypatch.setattr(kendall, "_PAIR_BLOCK", 100)
    monkeypatch.setattr(kendall, "_CACHE_BYTES", 0)
    np.testing.assert_allclose(kendall_tau_b(Y, X, n_jobs=2)[0], ref.T, atol=1e-12)


def test_dense_ranks_tie_terms():
    # column [3, 1, 3, 3, 2, 1]: groups t = 3 (value 3), 2 (value 1), 1 (value 2)
    # sum t(t-1)/2 = 3 + 1 = 4; sum t(t-1)(t-2) = 6 + 0 = 6; sum t(t-1)(2t+5) = 66 + 18 = 84
    r, ties = dense_ranks(np.array([[3, 1, 3, 3, 2, 1]], float).T)
    np.testing.assert_array_equal(r[:, 0], [2, 0, 2, 2, 1, 0])
    np.testing.assert_array_equal(ties[:, 0], [4, 6, 84])


def test_bad_input():
    with pytest.raises(InputError, match="rows"):
        kendall_tau_b(np.ones((5, 2)), np.ones((4, 2)))
    with pytest.raises(InputError, match="NaN"):
        kendall_tau_b([1, 2, np.nan, 4], [1, 2, 3, 4])
    with pytest.raises(InputError, match="alternative"):
        kendall_tau_b([1, 2, 3], [1, 2, 3], alternative="bigger")
