"""Batched emotion-label permutation nulls of the searchlight (count null, max-T) against brute
force: scipy.stats.kendalltau looped over permutations, relabelling a square RDM."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss

from emostat.analysis.neurons import neuronnull as nn
from emostat.analysis.neurons import searchlight as sl
from emostat.analysis.engines.kendall import dense_ranks
from emostat.analysis.engines.mantel import monte_carlo_ci, perm_blocks
from emostat.analysis.engines.multitest import fdr_study
from emostat.constants import pair_indices


def _data(c=5, n=9, q=3, T=2, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(T, c, n))
    i, j = pair_indices(c)
    means = rng.normal(size=(c, q))
    attr = pd.DataFrame(np.abs(means[i] - means[j]), columns=[f"a{k}" for k in range(q)])
    A[:, :, :2] += 2 * means[None, :, :1]          # two neurons carry attribute a0
    return A, attr


def _relabel(v, perm, c):
    """An RDM vector with its concepts relabelled by perm (square matrix, independent path)."""
    i, j = pair_indices(c)
    D = np.zeros((c, c))
    D[i, j] = D[j, i] = v
    return D[np.ix_(perm, perm)][i, j]


def _brute_joint_p(rdm, attr, perms, c):
    """Per attribute: the best observed tau and the joint max-T exceedance count over ``perms``
    (scipy's tau-b, maximum over all neurons and attributes per relabelling)."""
    Y = attr.to_numpy()
    jmax = np.array([max(_brute_max(rdm, Y[:, k], [p], c)[0] for k in range(Y.shape[1]))
                     for p in perms])
    best = [max(ss.kendalltau(rdm[:, m], Y[:, k]).statistic for m in range(rdm.shape[1]))
            for k in range(Y.shape[1])]
    return [(a, int(np.sum(jmax >= t - 1e-12))) for a, t in zip(attr.columns, best)]


def _brute_max(rdm, y, perms, c):
    """Max over all neurons of scipy's tau-b against y relabelled by each permutation."""
    return np.array([max(ss.kendalltau(rdm[:, m], _relabel(y, p, c)).statistic
                         for m in range(rdm.shape[1])) for p in perms])


def test_concordance_bits_equal_direct_sign_products(monkeypatch):
    """signbits.concordance against the float64 product of the sign matrices (brute force) and
    kendall.con_minus_dis (the BLAS route): tied and untied x and y columns (all four kinds of
    pair), blocks of four x columns of one kind and a mixed block (chunk 8..16: six untied, two
    tied), constant columns, 4005 pairs of entries (not a multiple of 64 bits), several chunks
    on 2 threads."""
    from emostat.analysis.engines import signbits
    from emostat.analysis.engines.kendall import con_minus_dis

    monkeypatch.setattr(signbits, "CHUNK", 8)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 21))
    X[:, :7] = rng.integers(0, 6, size=(90, 7))              # ties
    X[:, 7] = 2.0                                            # constant: no nonzero sign
    X[:, 9:11] = rng.integers(0, 4, size=(90, 2))            # a block of mixed kinds
    Y = rng.normal(size=(90, 7))
    Y[:9, 3] = 1.0
    Y[:, 5] = np.round(Y[:, 5])
    RX, RY = dense_ranks(X)[0], dense_ranks(Y)[0]
    S = signbits.concordance(RX, RY, n_jobs=2)
    i, j = np.triu_indices(90, 1)
    sx, sy = np.sign(X[i] - X[j]), np.sign(Y[i] - Y[j])     # float64 direct product
    np.testing.assert_array_equal(S, sx.T @ sy)
    np.testing.assert_array_equal(S, con_minus_dis(RX, RY))
    assert S.dtype == np.int64 and S[7].tolist() == [0] * 7


def test_study_counts_equals_full_fdr_study():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(300, 4)) ** 3
    p[5, 1] = p[6, 1]                                        # a tie among small p
    p[7, 2] = np.nan
    alpha = 0.05
    q = fdr_study(p.ravel()).reshape(p.shape)                # the study's rule, all tests
    sig = q < alpha
    sel = sig & (sig.sum(axis=1) == 1)[:, None]
    got = nn.study_counts(p, alpha)
    np.testing.assert_array_equal(got[0], sig.sum(axis=0))
    np.testing.assert_array_equal(got[1], sel.sum(axis=0))
    assert got[0].sum() > 0


def test_null_counts_from_z_equal_study_counts_of_all_p():
    """The sparse path (p computed only beyond the critical z) equals study_counts over the full
    p matrix for every alternative, z values placed on both sides of the critical value."""
    from scipy.special import ndtri
    from emostat.analysis.engines.kendall import p_from_z

    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.5, size=(400, 5))
    z[:3, 0] = -ndtri(0.01) + np.array([-1e-9, 0.0, 1e-9])   # at the one-sided boundary
    z[10, 1] = np.nan
    for alt in ("greater", "less", "two-sided"):
        p = p_from_z(z, alt)
        want = nn.study_counts(p, 0.01)
        got = nn.null_counts(z, int(np.isfinite(p).sum()), 0.01, alt)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert want[0].sum() > 0


def test_max_t_exact_equals_brute_force():
    A, attr = _data()
    rdm = sl.neuron_rdms(A)
    out = nn.neuron_max_t(A, attr, n_perm="exact", layer_sizes=[4, 5]).set_index("attribute")
    perms = [list(p) for p in itertools.permutations(range(5))]
    for a in attr.columns:
        y = attr[a].to_numpy()
        obs = [ss.kendalltau(rdm[:, m], y).statistic for m in range(rdm.shape[1])]
        null = _brute_max(rdm, y, perms, 5)
        row = out.loc[a]
        assert row["neuron"] == int(np.argmax(obs))
        assert row["estimate"] == pytest.approx(max(obs), abs=1e-12)
        # brute force: share of the 5! relabellings whose best neuron reaches the best tau
        assert row["p_value"] == pytest.approx(np.mean(null >= max(obs) - 1e-12), abs=1e-15)
        assert row["p_floor"] == pytest.approx(1 / 120) and np.isnan(row["p_mc_low"])
    assert (out["n_perm"] == 120).all() and (out["role"] == "record").all()
    assert out.loc["a0", "p_value"] < out.loc["a2", "p_value"]   # the planted attribute
    from statsmodels.stats.multitest import multipletests
    np.testing.assert_allclose(out["p_adjusted"], multipletests(out["p_value"], method="holm")[1])


def test_max_t_random_draws_and_fwer_equal_brute_force():
    c = 7
    A, attr = _data(c=c, n=6, q=2, seed=3)
    rdm = sl.neuron_rdms(A)
    B = 40
    null = nn.searchlight_null(A, attr, n_perm=B, seed=11)
    perms = np.concatenate(list(perm_blocks(c, B, 11)))        # the same seeded draws
    pf = nn.fwer_p(null, joint=False)
    for k, a in enumerate(attr.columns):
        y = attr[a].to_numpy()
        mx = _brute_max(rdm, y, perms, c)
        np.testing.assert_allclose(null.null_max[:, k], mx, atol=1e-12)
        for m in range(rdm.shape[1]):
            t = ss.kendalltau(rdm[:, m], y).statistic
            # Westfall-Young single step: (1 + #{max* >= tau}) / (1 + B)
            assert pf[m, k] == pytest.approx((1 + np.sum(mx >= t - 1e-12)) / (B + 1))
    tab = nn.max_t_table(null, np.zeros(rdm.shape[1], int)).set_index("attribute")
    exceed = np.round(tab["p_value"] * (B + 1) - 1)
    for a in attr.columns:
        ci = ss.binomtest(int(exceed[a]), B).proportion_ci(method="exact")   # scipy reference
        assert (tab.loc[a, "p_mc_low"], tab.loc[a, "p_mc_high"]) == pytest.approx(
            (ci.low, ci.high), abs=1e-12)
        assert tab.loc[a, "p_floor"] == pytest.approx(1 / (B + 1))


def test_count_null_exact_equals_brute_force():
    A, attr = _data(n=6)
    rdm = sl.neuron_rdms(A)
    alpha = 0.3
    out = nn.count_null(A, attr, n_perm="exact", alpha=alpha).set_index(["attribute", "count"])

    def counts(Y):
        p = np.array([[ss.kendalltau(rdm[:, n], Y[:, k], alternative="greater",
                                     method="asymptotic").pvalue for k in range(Y.shape[1])]
                      for n in range(rdm.shape[1])])
        q = np.minimum(p * p.size / ss.rankdata(p.ravel()).reshape(p.shape), 1)  # study rule
        sig = q < alpha
        return sig.sum(axis=0), (sig & (sig.sum(axis=1) == 1)[:, None]).sum(axis=0)

    Y = attr.to_numpy()
    obs = counts(Y)
    null = [counts(np.column_stack([_relabel(Y[:, k], p, 5) for k in range(Y.shape[1])]))
            for p in map(list, itertools.permutations(range(5)))]
    for k, a in enumerate(attr.columns):
        for m, name in enumerate(("significant", "selective")):
            ref = np.array([c[m][k] for c in null])
            row = out.loc[(a, name)]
            assert row["statistic"] == obs[m][k]
            assert row["p_value"] == pytest.approx(np.mean(ref >= obs[m][k]), abs=1e-15)
            assert row["null_mean"] == pytest.approx(ref.mean())
    assert out["n_perm"].eq(120).all()
    assert out.loc[("a0", "significant"), "statistic"] > 0     # not a trivially empty count


def test_count_null_threads_equal_inline_and_mc_columns():
    A, attr = _data(c=8, n=40, q=3, seed=5)
    one = nn.count_null(A, attr, n_perm=30, seed=3, alpha=0.2)
    two = nn.count_null(A, attr, n_perm=30, seed=3, alpha=0.2, n_jobs=2)
    pd.testing.assert_frame_equal(one, two)
    assert one["p_value"].min() >= 1 / 31 and (one["p_floor"] == 1 / 31).all()
    k = np.round(one["p_value"] * 31 - 1).astype(int)
    for kk, lo, hi in zip(k, one["p_mc_low"], one["p_mc_high"]):
        ci = ss.binomtest(int(kk), 30).proportion_ci(method="exact")      # scipy reference
        assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_monte_carlo_ci_equals_scipy_binomtest():
    for k, n in [(0, 199), (3, 199), (199, 199), (57, 999), (1, 19)]:
        lo, hi = monte_carlo_ci(k, n)
        ci = ss.binomtest(k, n).proportion_ci(method="exact")   # Clopper-Pearson, scipy
        assert (float(lo), float(hi)) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_joint_max_t_exact_equals_brute_force_over_neurons_and_attributes():
    # single-step max-T over the whole family: under each of the 5! relabellings (the same one
    # for every attribute RDM) the largest scipy tau-b over all neurons AND attributes
    c = 5
    A, attr = _data(c=c, n=7, q=3, seed=2)
    rdm = sl.neuron_rdms(A)
    perms = [list(p) for p in itertools.permutations(range(c))]
    Y = attr.to_numpy()
    jmax = np.array([max(_brute_max(rdm, Y[:, k], [p], c)[0] for k in range(Y.shape[1]))
                     for p in perms])
    obs = np.array([[ss.kendalltau(rdm[:, m], Y[:, k]).statistic for k in range(Y.shape[1])]
                    for m in range(rdm.shape[1])])
    null = nn.searchlight_null(A, attr, n_perm="exact")
    np.testing.assert_allclose(nn.joint_max(null), jmax, atol=1e-12)
    ref = np.array([[np.mean(jmax >= t - 1e-12) for t in row] for row in obs])  # exact share
    np.testing.assert_allclose(nn.fwer_p(null), ref, atol=1e-15)
    tab = nn.max_t_table(null, np.zeros(rdm.shape[1], int)).set_index("attribute")
    for k, a in enumerate(attr.columns):
        assert tab.loc[a, "p_fwer_joint"] == pytest.approx(np.mean(jmax >= obs[:, k].max()
                                                                    - 1e-12), abs=1e-15)
        assert tab.loc[a, "n_above_joint"] == int((ref[:, k] <= 0.05).sum())
        assert tab.loc[a, "p_fwer_joint"] >= tab.loc[a, "p_value"]    # a larger family
    assert tab["p_fwer_joint"].min() <= 0.05 < tab["p_fwer_joint"].max()   # not degenerate
    assert tab["joint_null_q95"].iloc[0] == pytest.approx(np.quantile(jmax, 0.95))


def test_joint_max_t_random_draws_equal_brute_force_with_mc_interval():
    c, B = 7, 60
    A, attr = _data(c=c, n=6, q=3, seed=4)
    rdm = sl.neuron_rdms(A)
    null = nn.searchlight_null(A, attr, n_perm=B, seed=5)
    perms = np.concatenate(list(perm_blocks(c, B, 5)))           # the same seeded draws
    Y = attr.to_numpy()
    tab = nn.max_t_table(null, np.zeros(rdm.shape[1], int)).set_index("attribute")
    for a, b in _brute_joint_p(rdm, attr, perms, c):
        assert tab.loc[a, "p_fwer_joint"] == pytest.approx((1 + b) / (B + 1))
        ci = ss.binomtest(b, B).proportion_ci(method="exact")        # scipy Clopper-Pearson
        assert (tab.loc[a, "p_fwer_joint_mc_low"], tab.loc[a, "p_fwer_joint_mc_high"]) == \
            pytest.approx((ci.low, ci.high), abs=1e-12)
    # per-attribute family-wise p (joint=False) is still the per-attribute brute force
    pf = nn.fwer_p(null, joint=False)
    mx = _brute_max(rdm, Y[:, 0], perms, c)
    t0 = ss.kendalltau(rdm[:, 0], Y[:, 0]).statistic
    assert pf[0, 0] == pytest.approx((1 + np.sum(mx >= t0 - 1e-12)) / (B + 1))


def test_decided_null_doubles_draws_while_interval_holds_alpha():
    """19 draws cannot decide at .05 (the Clopper-Pearson interval of 0/19 is [0, .176]), so
    decided_null appends 19 then 38 new draws from child seeds (factor 4: 76 in all); every
    record p equals the brute force over exactly those 76 relabellings."""
    from emostat.checks import child_seeds

    c, B = 7, 19
    A, attr = _data(c=c, n=6, q=3, seed=4)
    rdm = sl.neuron_rdms(A)
    null = nn.decided_null(A, attr, n_perm=B, seed=5, factor=4)
    assert (null.requested, null.n_perm) == (19, 76)
    s = child_seeds(5, 3)
    perms = np.concatenate(list(perm_blocks(c, B, 5)) + list(perm_blocks(c, B, s[0]))
                           + list(perm_blocks(c, 2 * B, s[1])))
    tab = nn.max_t_table(null, np.zeros(rdm.shape[1], int)).set_index("attribute")
    for a, b in _brute_joint_p(rdm, attr, perms, c):
        assert tab.loc[a, "p_fwer_joint"] == pytest.approx((1 + b) / 77)
    assert (tab["n_perm"] == 76).all()
    assert "19 draws doubled to 76" in tab["p_method"].iloc[0]
    # the doubling stops once decided: from 199, a0's joint p sits near .05 at 199 and 398
    # draws and is decided at 796 (24 exceedances: Clopper-Pearson [.019, .045])
    kept = nn.decided_null(A, attr, n_perm=199, seed=5)
    assert kept.n_perm == 796
    lo, hi = monte_carlo_ci(nn.record_exceed(kept), 796)
    assert hi[0] < 0.05 and lo[1:].min() > 0.05
    half = nn.merged(nn.searchlight_null(A, attr, n_perm=199, seed=5),
                     nn.searchlight_null(A, attr, n_perm=199, seed=child_seeds(5, 4)[0]))
    lo, hi = monte_carlo_ci(nn.record_exceed(half), 398)
    assert lo[0] <= 0.05 <= hi[0]


def test_min_p_joint_equals_brute_force_min_p_over_attributes():
    """Westfall-Young single-step min-P over attributes, recomputed from scipy's tau-b: per
    relabelling the best tau of each attribute, its share among the B + 1 relabellings
    (observed included), the smallest share over attributes; adjusted p = share of
    relabellings whose smallest share is <= the observed attribute's own."""
    c, B = 7, 40
    A, attr = _data(c=c, n=6, q=3, seed=4)
    rdm = sl.neuron_rdms(A)
    null = nn.searchlight_null(A, attr, n_perm=B, seed=5)
    perms = np.concatenate([np.arange(c)[None, :]] + list(perm_blocks(c, B, 5)))
    Y = attr.to_numpy()
    M = np.column_stack([_brute_max(rdm, Y[:, k], perms, c) for k in range(Y.shape[1])])
    share = np.array([[np.sum(M[:, k] >= M[d, k] - 1e-12) for k in range(M.shape[1])]
                      for d in range(len(M))]) / len(M)
    want = [np.sum(share.min(axis=1) <= share[0, k] + 1e-12) / len(M) for k in range(M.shape[1])]
    np.testing.assert_allclose(nn.min_p_joint(null), want)
    assert nn.min_p_joint(null)[0] < 0.1 < max(want)          # a0 carries the signal
    # exact enumeration (5 concepts, 120 relabellings, the identity among them)
    A5, attr5 = _data(c=5, n=4, q=2, seed=2)
    r5 = sl.neuron_rdms(A5)
    ex = nn.searchlight_null(A5, attr5, n_perm="exact")
    allp = np.array(list(itertools.permutations(range(5))))
    M5 = np.column_stack([_brute_max(r5, attr5.to_numpy()[:, k], allp, 5) for k in range(2)])
    s5 = np.array([[np.sum(M5[:, k] >= M5[d, k] - 1e-12) for k in range(2)]
                   for d in range(len(M5))]) / len(M5)
    obs = [np.sum(M5[:, k] >= M5[0, k] - 1e-12) / len(M5) for k in range(2)]   # row 0: identity
    want5 = [np.sum(s5.min(axis=1) <= obs[k] + 1e-12) / len(M5) for k in range(2)]
    np.testing.assert_allclose(nn.min_p_joint(ex), want5)
