"""The two-factor jackknife (emostat.analysis.engines.rsajack), the test of record of
inference='both'.

References: brute-force enumeration of the unbiased U-statistic variance estimator over
distinct index tuples; the closed-form variance of a U-statistic with a known kernel
(Hoeffding 1948: Var U = [2 (n - 2) zeta_1 + zeta_2] / C(n, 2)); numpy's Pearson correlation
on the concept subsets; numpy's sample variance of the raters' scores. The rsatoolbox-equal
path (Schütt et al.'s two-factor bootstrap) stays as inference='both_schutt' and is tied here
to the engine functions that test_rsa_reference.py checks against rsatoolbox."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from emostat.analysis.engines.rsaboot import bootstrap
from emostat.analysis.engines.rsainfer import boot_cov, contrast_variance, dual_variance
from emostat.analysis.engines.rsajack import (concept_sets, jack_variance, jackknife,
                                              pair_variance)
from emostat.constants import pair_indices
from emostat.errors import InputError
from emostat.stats import rsa_evaluate


def _u_values(H, counts):
    """A degree-2 U-statistic (mean of the kernel H over the kept pairs) on concept sets."""
    out = []
    for c in counts:
        keep = np.flatnonzero(c)
        i, j = np.triu_indices(len(keep), 1)
        out.append(H[..., keep[i], keep[j]].mean(axis=-1))
    return np.asarray(out)


def test_pair_variance_is_the_unbiased_u_statistic_variance_by_enumeration():
    n = 7
    rng = np.random.default_rng(5)
    A = rng.normal(size=(n, n)) + 0.5
    H = (A + A.T) / 2                                         # a symmetric kernel h(i, j)
    counts, pairs = concept_sets(n)
    E = _u_values(H, counts)
    # brute force: A2 = mean h(i,j)^2 over pairs, A1 = mean h(i,j) h(i,k) over distinct
    # (i, j, k), A0 = mean h(i,j) h(k,l) over distinct (i, j, k, l)
    A2 = np.mean([H[i, j] ** 2 for i, j in itertools.combinations(range(n), 2)])
    A1 = np.mean([H[i, j] * H[i, k] for i, j, k in itertools.permutations(range(n), 3)])
    A0 = np.mean([H[i, j] * H[k, l] for i, j, k, l in itertools.permutations(range(n), 4)])
    ref = (2 * (n - 2) * (A1 - A0) + (A2 - A0)) / math.comb(n, 2)
    assert pair_variance(E, n, pairs, clip=False) == pytest.approx(ref, rel=1e-9)
    # clipped: never below the pair term zeta_2 / C(n, 2)
    assert pair_variance(E, n, pairs) >= (A2 - A0) / math.comb(n, 2) - 1e-12


def test_pair_variance_is_unbiased_for_a_known_kernel():
    # h(x_i, x_j) = x_i x_j, x ~ N(mu, 1): zeta_1 = mu^2, zeta_2 = 1 + 2 mu^2 (closed form)
    n, mu, reps = 8, 0.4, 4000
    x = np.random.default_rng(9).normal(mu, 1, size=(reps, n))
    H = x[:, :, None] * x[:, None, :]
    counts, pairs = concept_sets(n)
    E = _u_values(H, counts)                                            # (sets, reps)
    v = pair_variance(E, n, pairs, clip=False)
    truth = (2 * (n - 2) * mu ** 2 + 1 + 2 * mu ** 2) / math.comb(n, 2)
    assert np.var(E[0], ddof=1) == pytest.approx(truth, rel=0.08)        # the simulation
    mc_se = v.std(ddof=1) / np.sqrt(reps)
    assert abs(v.mean() - truth) < 4 * mc_se                            # unbiased
    # leave-one-out (the plain concept jackknife) overstates it: the pair term twice
    loo = E[1:1 + n]
    plain = (n - 1) / n * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0)
    assert plain.mean() > 1.2 * truth


def test_concept_sets_and_rater_factor_against_direct_computation():
    n, R = 8, 6
    rng = np.random.default_rng(2)
    P = n * (n - 1) // 2
    X = rng.normal(size=(2, P))
    Y = X[0] + rng.normal(size=(R, P))
    jk = jackknife(X, Y, "pearson", "per_rater", ceiling=False)
    counts, pairs = concept_sets(n)
    i, j = pair_indices(n)
    for s in (0, 3, 1 + n + 5, len(counts) - 1):                      # full, loo, l2o sets
        keep = counts[s][i] * counts[s][j] > 0
        ref = [np.mean([np.corrcoef(X[m, keep], Y[r, keep])[0, 1] for r in range(R)])
               for m in range(2)]
        np.testing.assert_allclose(jk["E"][s, :2], ref, atol=1e-12)
    # the rater factor of a mean over raters: the raters' sample variance / R
    scores = np.array([[np.corrcoef(X[m], Y[r])[0, 1] for r in range(R)] for m in range(2)])
    v = jack_variance(jk, np.array([[1.0, 0, 0, 0], [1.0, -1.0, 0, 0]]))
    np.testing.assert_allclose(v["var_raters"], [scores[0].var(ddof=1) / R,
                                                 (scores[0] - scores[1]).var(ddof=1) / R],
                               rtol=1e-10)
    # two factors: at least each factor alone; df between the factors' and their sum
    assert (v["var"] >= v["var_concepts"] - 1e-15).all()
    assert (v["var"] >= v["var_raters"] - 1e-15).all()
    assert (v["df"] > 0).all()
    with pytest.raises(InputError, match="at least 5 concepts"):
        concept_sets(4)


def _space(n=10, R=8, seed=0):
    rng = np.random.default_rng(seed)
    i, j = pair_indices(n)
    x = rng.normal(size=(n, 2))
    truth = np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))
    return rng, truth, truth + rng.normal(0, 1.0, (R, len(i)))


def test_record_is_the_jackknife_and_the_schutt_path_stays_available():
    rng, truth, Y = _space()
    models = {"a": truth + rng.normal(0, .5, truth.size), "b": rng.normal(size=truth.size)}
    jk = rsa_evaluate(models, Y, comparator="rho_a", n_boot=100, seed=4).models
    assert jk.conf_method[0].startswith("two-factor jackknife")
    assert "Satterthwaite" in jk.p_method[0] and jk.unit[0] == "raters (8) and concepts (10)"
    # the record's numbers are jack_variance's
    X = np.vstack(list(models.values()))
    v = jack_variance(jackknife(X, Y, "rho_a", "per_rater"), np.eye(X.shape[0] + 2)[:2])
    np.testing.assert_allclose(jk.std_error, np.sqrt(v["var"]), rtol=1e-12)
    np.testing.assert_allclose(jk.df, v["df"], rtol=1e-12)
    # both_schutt: Schütt et al.'s corrected bootstrap variance (rsatoolbox's, see
    # test_rsa_reference.py) on min(R, n) - 1 df
    sc = rsa_evaluate(models, Y, comparator="rho_a", inference="both_schutt", n_boot=100,
                      seed=4).models
    reps = bootstrap(X, Y, "rho_a", "per_rater", n_boot=100, seed=4)
    C = np.eye(4)[:2]
    ref = dual_variance(*(contrast_variance(boot_cov(reps[k]), C)
                          for k in ("both", "raters", "concepts")), 8, 10)
    np.testing.assert_allclose(sc.std_error, np.sqrt(ref), rtol=1e-12)
    assert (sc.df == 7).all() and "Schütt" in sc.conf_method[0]
    # on the mean RDM, 'both' is Schütt's bootstrap (the jackknife's differences there were
    # liberal in simulation, docs/inference.md)
    mr = rsa_evaluate(models, Y, comparator="rho_a", estimand="mean_rdm", n_boot=50,
                      seed=4).models
    assert "Schütt" in mr.conf_method[0] and (mr.inference == "both_schutt").all()
