"""Tests of emostat.analysis.engines.signflip: exact enumeration, scipy's permutation_test, Monte-Carlo."""

import itertools

import numpy as np
import pytest
from scipy.stats import permutation_test

from emostat.analysis.engines.signflip import sign_flip_many, sign_flip_test


def brute_force(d, alternative):
    """Independent oracle: loop over all 2^n sign vectors with itertools."""
    d = np.asarray(d, float)
    obs = d.sum()
    hits = 0
    total = 0
    for signs in itertools.product((1, -1), repeat=d.size):
        s = float(np.dot(signs, d))
        total += 1
        if alternative == "less":
            hits += s <= obs + 1e-12
        elif alternative == "greater":
            hits += s >= obs - 1e-12
        else:
            hits += abs(s) >= abs(obs) - 1e-12
    return hits / total


@pytest.mark.parametrize("alternative", ["less", "greater", "two-sided"])
def test_exact_matches_brute_force(alternative):
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 9):
        d = rng.normal(-0.3, 1, n)
        assert sign_flip_test(d, alternative) == pytest.approx(brute_force(d, alternative),
                                                               abs=1e-15)


def test_hand_worked():
    # d = (-1, -2, -3): sums over 8 sign vectors: -6,-4,-2,0,0,2,4,6 (the observed is -6).
    assert sign_flip_test([-1, -2, -3], "less") == 1 / 8
    assert sign_flip_test([-1, -2, -3], "greater") == 1.0
    assert sign_flip_test([-1, -2, -3], "two-sided") == 2 / 8
    # ties: d = (1, -1): sums -2, 0, 0, 2; observed 0 -> P(S <= 0) = 3/4
    assert sign_flip_test([1.0, -1.0], "less") == 3 / 4


def test_exact_matches_scipy_permutation_test():
    # scipy enumerates all sign flips for a one-sample 'samples' test when n_resamples=inf.
    rng = np.random.default_rng(4)
    d = np.round(rng.normal(-0.02, 0.05, 12), 4)
    ref = permutation_test((d,), np.mean, permutation_type="samples", alternative="less",
                           n_resamples=np.inf).pvalue
    assert sign_flip_test(d, "less") == pytest.approx(ref, abs=1e-12)


def test_tied_magnitudes_with_float_rounding():
    # accuracies like .7012105584 - .6413684487 give sums that differ only by rounding
    d = np.array([0.1, 0.2, 0.3, -0.6, 0.1 + 0.2, -0.3])
    assert sign_flip_test(d, "less") == pytest.approx(brute_force(d, "less"), abs=0)


def test_monte_carlo_close_to_exact():
    rng = np.random.default_rng(5)
    d = rng.normal(-0.25, 1, 14)
    exact = sign_flip_test(d, "less")
    mc = sign_flip_test(d, "less", n_perm=40_000, seed=1, exact_max_n=0)
    # binomial MC error sd = sqrt(p(1-p)/40000) <= .0025; allow 4 sd
    assert abs(mc - exact) < 0.01
    assert 0 < exact < 1


def test_monte_carlo_p_never_zero_and_deterministic():
    d = np.full(40, -1.0)
    p = sign_flip_test(d, "less", n_perm=999, seed=7)
    assert p == pytest.approx(1 / 1000)  # only the +1 term: no draw is as small
    assert sign_flip_test(np.arange(40) - 25.0, n_perm=500, seed=3) == \
        sign_flip_test(np.arange(40) - 25.0, n_perm=500, seed=3)


def test_many_forms_agree():
    rng = np.random.default_rng(6)
    G = rng.normal(-0.1, 1, (30, 12))
    p2d = sign_flip_many(G)
    plist = sign_flip_many(list(G))
    ids = np.repeat(np.arange(30), 12)
    pids = sign_flip_many(G.ravel(), group_ids=ids)
    single = [sign_flip_test(g) for g in G[:5]]
    np.testing.assert_array_equal(p2d, plist)
    np.testing.assert_array_equal(p2d, pids)
    np.testing.assert_array_equal(p2d[:5], single)


def test_ragged_groups_and_nan():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=5), rng.normal(size=7)
    p = sign_flip_many([a, np.append(b, np.nan), []])
    assert p[0] == pytest.approx(brute_force(a, "less"))
    assert p[1] == pytest.approx(brute_force(b, "less"))
    assert np.isnan(p[2])


def test_bad_alternative():
    with pytest.raises(ValueError):
        sign_flip_test([1.0], alternative="lower")
