"""Permutation floors follow the number of distinct orderings (issue 22 item 6): with 6
concepts only 6! = 720 relabellings exist, so draws asked for beyond that enumerate them all
(p = count / 720, floor 1/720, no Monte-Carlo interval) instead of claiming a floor of
1/(B + 1). References: brute-force enumeration with itertools and scipy's kendalltau; the
n_perm = "exact" code paths (themselves checked against brute force in test_mantel.py and
test_geometry.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.constants import pair_indices

C = 6


def _square(v, n):
    i, j = pair_indices(n)
    S = np.zeros((n, n))
    S[i, j] = S[j, i] = v
    return S


def _rdms(seed, q=2):
    rng = np.random.default_rng(seed)
    i, j = pair_indices(C)
    a = rng.normal(size=(C, q))
    attr = pd.DataFrame(np.abs(a[i] - a[j]), columns=[f"a{k}" for k in range(q)])
    return rng, attr


def test_mantel_test_enumerates_when_draws_exceed_n_factorial():
    from emostat.stats import mantel_test

    rng, attr = _rdms(0)
    x = attr["a0"].to_numpy() + rng.normal(0, 0.3, 15)
    y = attr["a1"].to_numpy()
    out = mantel_test(x, attr["a0"], n_perm=10_000).iloc[0]
    i, j = pair_indices(C)
    obs = stats.kendalltau(x, attr["a0"]).statistic
    ref = np.mean([stats.kendalltau(_square(x, C)[np.ix_(p, p)][i, j], attr["a0"]).statistic
                   >= obs - 1e-12 for p in map(list, itertools.permutations(range(C)))])
    assert out.n_perm == 720 and out.p_value == pytest.approx(ref, abs=1e-12)
    assert "exact" in out.p_method
    assert mantel_test(x, y, n_perm=500).iloc[0].n_perm == 500          # fewer: Monte Carlo


def test_geometry_rsa_and_pca_floors_are_one_over_720():
    from emostat.analysis.geometry import layers as g

    rng, attr = _rdms(1)
    M = rng.normal(size=(3, 15))
    drawn = g.layer_rsa(M, attr, n_perm=999, seed=2)
    exact = g.layer_rsa(M, attr, n_perm="exact")
    pd.testing.assert_frame_equal(drawn, exact)
    rec = drawn[drawn.test == "max_over_layers"]
    assert (rec.p_floor == 1 / 720).all() and (rec.n_perm == 720).all()
    assert rec.p_mc_low.isna().all()                      # an exact p has no MC interval
    V = rng.normal(size=(3, C, 5))
    means = pd.DataFrame({"v": rng.normal(size=C)}, index=list("abcdef"))
    pca = g.pca_attributes(V, means, n_perm=999, seed=3)
    assert (pca.loc[pca.test == "max_over_layers", "p_floor"] == 1 / 720).all()
    assert "all n! relabellings" in pca.loc[pca.test == "max_over_layers", "p_method"].iloc[0]


def test_importance_whole_model_and_neuron_nulls_enumerate():
    from emostat.analysis.neurons.neuronnull import neuron_max_t
    from emostat.analysis.neurons.searchlight import neuron_mantel
    from emostat.analysis.neurons.wholemodel import whole_model_rsa
    from emostat.analysis.pipelines.runspace import importance_from_mean

    rng, attr = _rdms(4)
    mean = attr["a0"].to_numpy() + rng.normal(0, 0.5, 15)
    imp = importance_from_mean(mean, attr, n_perm=10_000, seed=1)
    ref = importance_from_mean(mean, attr, n_perm=720, seed=1)
    assert (imp.n_perm == 720).all() and (imp.p_floor == 1 / 720).all()
    np.testing.assert_array_equal(imp.p_value, ref.p_value)
    assert imp.p_method.str.contains("exact").all() and imp.p_mc_low.isna().all()
    A = rng.normal(size=(2, C, 8))
    subj = np.abs(rng.normal(size=(5, 15)))
    w = whole_model_rsa(A, subj, n_boot=0, n_perm=10_000, seed=0).iloc[0]
    assert w.n_perm == 720 and w.p_floor == pytest.approx(1 / 720) and "exact" in w.p_method
    nm = neuron_mantel(A, attr, {"a0": [0, 1]}, n_perm=5000)
    assert (nm.n_perm == 720).all() and nm.p_method.iloc[0].find("exact") >= 0
    mt = neuron_max_t(A, attr, n_perm=999)
    ex = neuron_max_t(A, attr, n_perm="exact")
    np.testing.assert_array_equal(mt.p_value, ex.p_value)
    assert (mt.n_perm == 720).all() and (mt.p_floor == 1 / 720).all()


def test_doubling_draws_that_would_pass_n_factorial_enumerate_instead():
    from emostat.analysis.neurons.neuronnull import decided_null, record_exceed, searchlight_null

    rng, attr = _rdms(5)
    A = rng.normal(size=(2, C, 8))
    first = searchlight_null(A, attr, n_perm=400, seed=1)
    p = (1 + record_exceed(first)) / 401
    # alpha at the first draws' p: undecided, so the draws double: 800 > 720 orderings
    null = decided_null(A, attr, n_perm=400, seed=1, alpha=float(np.nanmin(p)))
    ex = searchlight_null(A, attr, n_perm="exact")
    assert null.exact and null.n_perm == 720
    np.testing.assert_array_equal(record_exceed(null), record_exceed(ex))
