"""Tests of emostat.analysis.engines.mantel against brute-force enumeration of all label permutations."""

import itertools

import numpy as np
import pytest
import scipy.stats as ss

from emostat.analysis.engines.mantel import mantel, permuted_pairs
from emostat.constants import pair_indices
from emostat.errors import InputError

N = 5  # 5 items -> 10 pairs, 120 permutations


def _rdm(values):
    i, j = pair_indices(len(values))
    return np.abs(values[i] - values[j])


def _brute_force(x, y, stat, alternative):
    """Independent reference: relabel the square matrix with each of the n! permutations."""
    i, j = pair_indices(N)
    D = np.zeros((N, N))
    D[i, j] = D[j, i] = x
    obs = stat(x, y)
    null = np.array([stat(D[np.ix_(p, p)][i, j], y)
                     for p in map(list, itertools.permutations(range(N)))])
    if alternative == "greater":
        return np.mean(null >= obs - 1e-12)
    if alternative == "less":
        return np.mean(null <= obs + 1e-12)
    return np.mean(np.abs(null) >= abs(obs) - 1e-12)


def _data(seed, ties):
    rng = np.random.default_rng(seed)
    x = _rdm(rng.normal(size=N))
    Y = np.column_stack([_rdm(rng.normal(size=N)) for _ in range(3)] + [x + rng.normal(0, .1, 10)])
    if ties:
        x, Y = np.round(x, 1), np.round(Y, 1)
    return x, Y


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
@pytest.mark.parametrize("ties", [False, True])
def test_exact_kendall_equals_enumeration(alternative, ties):
    x, Y = _data(1, ties)

    def tau(a, b):
        return ss.kendalltau(a, b).statistic

    ref = [_brute_force(x, Y[:, k], tau, alternative) for k in range(Y.shape[1])]
    np.testing.assert_allclose(mantel(x, Y, "exact", alternative=alternative), ref, atol=1e-15)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_exact_pearson_spearman_equal_enumeration(method):
    x, Y = _data(2, False)
    f = ss.pearsonr if method == "pearson" else ss.spearmanr

    def r(a, b):
        return f(a, b).statistic

    ref = [_brute_force(x, Y[:, k], r, "greater") for k in range(Y.shape[1])]
    np.testing.assert_allclose(mantel(x, Y, "exact", method=method), ref, atol=1e-15)


def test_monte_carlo_close_to_exact_and_seeded():
    x, Y = _data(3, False)
    exact = mantel(x, Y, "exact")
    mc = mantel(x, Y, n_perm=100, seed=7)                  # 100 draws of the 120 orderings
    # binomial SE at most sqrt(.25/100) = .05; allow 4 SE
    np.testing.assert_allclose(mc, exact, atol=4 * 0.05)
    np.testing.assert_array_equal(mc, mantel(x, Y, n_perm=100, seed=7))
    # the p formula (1 + count) / (1 + n_perm): values are multiples of 1/101
    np.testing.assert_allclose(mc * 101, np.round(mc * 101), atol=1e-9)


def test_draws_beyond_n_factorial_enumerate_exactly():
    # 5 items have 120 orderings: 4000 draws would repeat them and claim a floor of 1/4001;
    # the test enumerates the 120 instead (p = count / 120, floor 1/120)
    from emostat.analysis.engines.mantel import exact_if_fewer, mantel_decided

    x, Y = _data(3, False)
    np.testing.assert_array_equal(mantel(x, Y, n_perm=4000, seed=7), mantel(x, Y, "exact"))
    assert exact_if_fewer(119, 5) == 119 and exact_if_fewer(120, 5) == "exact"
    p, draws, cols = mantel_decided(x, Y, 999, seed=1)
    np.testing.assert_array_equal(p, mantel(x, Y, "exact"))
    assert set(draws) == {120} and cols["p_floor"] == [1 / 120] * 4
    np.testing.assert_allclose(p * 120, np.round(p * 120), atol=1e-9)   # multiples of 1/120


def test_permuted_pairs_matches_square_relabelling():
    rng = np.random.default_rng(4)
    n = 27
    x = rng.normal(size=n * (n - 1) // 2)
    i, j = pair_indices(n)
    D = np.zeros((n, n))
    D[i, j] = D[j, i] = x
    perms = np.array([rng.permutation(n) for _ in range(5)])
    idx = permuted_pairs(perms, n)
    for p, k in zip(perms, idx):
        np.testing.assert_array_equal(x[k], D[np.ix_(p, p)][i, j])


def test_bad_input():
    with pytest.raises(InputError, match="n\\(n-1\\)/2"):
        mantel(np.ones(11), np.ones(11))
    with pytest.raises(InputError, match="n_items"):
        mantel(np.ones(10), np.ones(10), n_items=27)
    with pytest.raises(InputError, match="exact"):
        mantel(np.ones(351), np.ones(351), "exact")


def test_check_n_perm_names_the_caller():
    from emostat.analysis.engines.mantel import check_n_perm
    from emostat.errors import InputError

    assert check_n_perm("exact", 8, 8, "mantel") == "exact" and check_n_perm(99.0, 27, 8, "x") == 99
    with pytest.raises(InputError, match=r"link: exact enumeration needs at most 10 labels "
                                         r"\(14! permutations"):
        check_n_perm("exact", 14, 10, "link")
    with pytest.raises(InputError, match="mantel: n_perm must be >= 1"):
        check_n_perm(0, 27, 8, "mantel")


def test_mantel_decided_doubles_draws_near_alpha_and_reports_clopper_pearson():
    from scipy.stats import binomtest

    from emostat.analysis.engines.mantel import mantel_decided
    i, j = pair_indices(7)
    rng = np.random.default_rng(85)      # a case whose exact p (all 5040) is .0486, near .05
    v = rng.normal(size=7)
    y = np.abs(v[i] - v[j])
    x = y + rng.normal(scale=1.5, size=21)
    exact = float(mantel(x, y, n_perm="exact"))
    assert 0.045 < exact < 0.055
    p, draws, mc = mantel_decided(x, y[:, None], 199, seed=1)
    assert draws[0] in (398, 796, 1592)
    assert draws[0] > 199                              # extended: 199 draws do not decide
    k = round(p[0] * (draws[0] + 1) - 1)
    ci = binomtest(k, int(draws[0])).proportion_ci(method="exact")     # scipy reference
    assert (mc["p_mc_low"][0], mc["p_mc_high"][0]) == pytest.approx((ci.low, ci.high))
    assert mc["p_floor"][0] == pytest.approx(1 / (draws[0] + 1))
    assert abs(p[0] - exact) < 4 * np.sqrt(exact * (1 - exact) / draws[0]) + 1 / draws[0]
    far = mantel_decided(y, y[:, None], 199, seed=1)    # p at the floor: decided at once
    assert far[1][0] == 199 and far[2]["mc_warning"][0] == ""
