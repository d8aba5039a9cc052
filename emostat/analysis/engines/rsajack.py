"""Two-factor variance of RSA evaluations from the concepts' pair structure and the raters.

An RDM comparison over n concepts is a statistic of the concepts' pairs: to first and second
order a U-statistic of degree 2 in the concepts (Hoeffding), whose variance is
``Var = [2 (n - 2) zeta_1 + zeta_2] / C(n, 2)``. Resampling concepts (bootstrap) or leaving
one out (jackknife) counts the pair term zeta_2 about twice, which is large when concepts
carry little signal of their own (a model unrelated to the raters): the concept bootstrap's
variance was then 1.26 times the true one at 27 concepts (2.8 times for a model of pure pair
noise) and the two-factor bootstrap test conservative (size .022 at alpha .05,
``benchmarks/results/rsa_calibration.json``). Here instead:

- concepts (every rater kept): the statistic on all concepts, on every leave-one-out and on
  every leave-two-out concept set (or a seeded sample of ``max_pairs`` of them, for large n)
  gives the pair kernel ``h_ij`` exactly when the statistic is a U-statistic of degree 2
  (``g_i = -C(n-1, 2)(S_-i - S)``, ``h_ij = C(n-2, 2)(S_-ij - S) + g_i + g_j``), and
  zeta_1, zeta_2 and the mean's square by their unbiased U-statistic estimators
  (:func:`pair_variance`; unbiased for any degree-2 U-statistic);
- raters (every concept kept): the delete-one-rater jackknife (for the ``per_rater``
  estimand, a mean over raters, the sample variance of the raters' scores / R);
- their interaction, which each of the two counts once: for a mean over raters (the models'
  scores on ``per_rater``; rater pseudo-values on ``mean_rdm``) ``sum_r V_c(u_r - u_bar) /
  (R (R - 1))`` with ``V_c`` the concept variance above of rater r's own scores; contrasts
  that involve the noise ceiling keep it (their variance is then conservative by it).
``V = V_c - V_cr + V_r``, at least each of V_c and V_r (either factor alone is a lower
bound of the two-factor variance). V_c is a difference of two sums of squares (the kernel's
row sums, n - 1 df; the kernels, C(n, 2) - n df) and is at least its pair term; its df is
Satterthwaite's for that difference, and V's Satterthwaite's from V_c's and the raters'
(R - 1). Calibration (``benchmarks/bench_rsa_calibration.py``, 27 concepts x 61 raters):
size .045 (null model against 0) and .051 (difference of two equal models) over 1,000 null
data sets; somewhat conservative (.037) where a model RDM is pure pair noise, whose concept
term zeta_1 is 0 and estimated as noise above 0 (the bootstrap there: .000).
"""

from __future__ import annotations

import math

import numpy as np

from emostat.analysis.engines.rsaboot import evaluate
from emostat.analysis.engines.rsacompare import Resample, n_items
from emostat.errors import InputError

__all__ = ["concept_sets", "pair_variance", "jackknife", "jack_variance", "MAX_PAIRS"]

MAX_PAIRS = 2016            # every leave-two-out set up to n = 64 concepts
BLOCK = 128


def concept_sets(n: int, max_pairs: int = MAX_PAIRS, seed=0):
    """Concept counts (1 + n + K, n) of the full set, the n leave-one-out sets and K
    leave-two-out sets (all C(n, 2) when at most ``max_pairs``, else a seeded sample), and
    the (K, 2) pairs left out."""
    if n < 5:
        raise InputError(f"the two-factor jackknife leaves two of the {n} concepts out and "
                         "needs 3 left: at least 5 concepts (use inference='both_schutt' "
                         "or 'permutation')")
    i, j = np.triu_indices(n, 1)
    if len(i) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(i), max_pairs, replace=False))
        i, j = i[keep], j[keep]
    K = len(i)
    c = np.ones((1 + n + K, n))
    c[1 + np.arange(n), np.arange(n)] = 0.0
    c[1 + n + np.arange(K), i] = 0.0
    c[1 + n + np.arange(K), j] = 0.0
    return c, np.column_stack([i, j])


def pair_variance(E, n: int, pairs, clip: bool = True, with_df: bool = False):
    """Variance of a statistic of n concepts from its values E (1 + n + K, ...) on
    :func:`concept_sets` (full, leave-one-out, the K leave-two-out sets of ``pairs``): the
    unbiased variance of a U-statistic of degree 2, ``[2 (n - 2) zeta_1 + zeta_2] / C(n, 2)``
    with ``zeta_1 = A1 - A0``, ``zeta_2 = A2 - A0`` and A2, A1, A0 the unbiased estimates of
    E h(1,2)^2, E h(1,2) h(1,3) and E h(1,2) h(3,4) from the kernel recovered from E
    (K < C(n, 2): the sum of squared kernels is estimated from the sampled pairs).

    The estimate is ``a G2 - b S2`` (G2 the sum of squared kernel row sums, S2 of squared
    kernels, a, b > 0). ``clip``: at least the pair term ``zeta_2 / C(n, 2)`` (zeta_1 >= 0).
    ``with_df``: also its Satterthwaite df, ``V^2 / ((a G2)^2 / (n - 1) + (b S2)^2 /
    (C(n, 2) - n))`` (``C(n, 2) - n`` where the pair term alone is used).
    """
    E = np.asarray(E, dtype=float)
    N = n * (n - 1) // 2
    c1, c2 = math.comb(n - 1, 2), math.comb(n - 2, 2)
    pairs = np.asarray(pairs)
    g = -c1 * (E[1:1 + n] - E[0])                       # kernel row sums (kernel centred)
    h = c2 * (E[1 + n:] - E[0]) + g[pairs[:, 0]] + g[pairs[:, 1]]   # centred kernel
    S2 = (h ** 2).sum(axis=0) * (N / len(pairs))
    G2 = (g ** 2).sum(axis=0)
    # V = [2 (n - 2) (A1 - A0) + (A2 - A0)] / N with A2 = S2 / N,
    # A1 = (G2 - 2 S2) / (n (n - 1) (n - 2)), A0 = (S2 - G2) / (N c2)
    k1, k0 = 1.0 / (n * (n - 1) * (n - 2)), 1.0 / (N * c2)
    a = (2 * (n - 2) * (k1 + k0) + k0) / N
    b = -(2 * (n - 2) * (-2 * k1 - k0) + 1.0 / N - k0) / N
    var = a * G2 - b * S2
    pair_term = (S2 / N - (S2 - G2) * k0) / N                   # (A2 - A0) / N
    df = var ** 2 / ((a * G2) ** 2 / (n - 1) + (b * S2) ** 2 / (N - n))
    if clip:
        low = var < pair_term
        var = np.where(low, np.maximum(pair_term, 0.0), var)
        df = np.where(low, float(N - n), df)
    return (var, df) if with_df else var


def jackknife(X, Y, comparator: str, estimand: str, *, splits=None, ceiling: bool = True,
              max_pairs: int = MAX_PAIRS, seed=0, block: int = BLOCK, progress=None) -> dict:
    """The evaluations that :func:`jack_variance` needs.

    Parameters
    ----------
    X : ndarray (M, P)
        Model RDMs.
    Y : ndarray (R, P)
        Rater RDMs (one row: a mean RDM, the concept factor only).
    comparator, estimand : str
    splits : ndarray (K, R) bool, optional
        Half splits of the ``mean_rdm`` ceiling.
    max_pairs : int
        Leave-two-out sets evaluated at most (all of them up to ``max_pairs``).
    seed : int
        Which leave-two-out sets, when they are sampled.
    progress : callable(int), optional
        Called with the number of concept sets done after each block.

    Returns
    -------
    dict: ``E`` (S, M + 2) evaluations (M scores, lower and upper ceiling) on the concept sets
    (every rater), ``U`` (S, M, R) the models' per-rater scores on them (``per_rater``; rater
    jackknife pseudo-values on ``mean_rdm``; None with one rater), ``E_raters`` (R, M + 2)
    the evaluations on all concepts without each rater (None with one rater), ``n``,
    ``pairs``, ``n_raters``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    M, R, n = X.shape[0], Y.shape[0], n_items(X.shape[1])
    counts, pairs = concept_sets(n, max_pairs, seed)
    per_rater = estimand == "per_rater"
    E = np.empty((len(counts), M + 2))
    U = np.empty((len(counts), M, R)) if R >= 2 else None
    loo = (Y.sum(axis=0) - Y) / (R - 1) if (R >= 2 and not per_rater) else None
    for b0 in range(0, len(counts), block):
        b1 = min(b0 + block, len(counts))
        res = Resample(counts[b0:b1], comparator)
        S = res.cross(X, Y, xkey="X", ykey="Y") if per_rater else None        # (B, M, R)
        E[b0:b1] = evaluate(res, X, Y, estimand, None, splits, ceiling, S)
        if U is not None:
            if per_rater:
                U[b0:b1] = S
            else:                            # rater pseudo-values R S - (R - 1) S_(-r)
                U[b0:b1] = R * E[b0:b1, :M, None] - (R - 1) * res.cross(X, loo, xkey="X",
                                                                        ykey="L")
        if progress is not None:
            progress(b1 - b0)
    E_r = None
    if R >= 2:
        full = Resample(np.ones((R, n)), comparator)
        S = None
        if per_rater:
            S0 = Resample.full(n, comparator).cross(X, Y)
            S = np.broadcast_to(S0, (R,) + S0.shape[1:])
        E_r = evaluate(full, X, Y, estimand, 1.0 - np.eye(R), splits, ceiling, S)
    return {"E": E, "U": U, "E_raters": E_r, "n": n, "pairs": pairs, "n_raters": R}


def jack_variance(jk: dict, C) -> dict:
    """Two-factor variance of contrasts C (J, M + 2) of the evaluations (see the module
    docstring).

    Returns
    -------
    dict of (J,) arrays: ``var``, ``df`` (Satterthwaite), ``var_concepts`` (every rater kept),
    ``var_raters`` (every concept kept), ``var_interaction`` (0 where a contrast involves
    the ceiling, or with one rater).
    """
    C = np.atleast_2d(np.asarray(C, dtype=float))
    n, R, pairs = jk["n"], jk["n_raters"], jk["pairs"]
    used = np.abs(C).sum(axis=0) > 0                 # an unused NaN column (no ceiling) stays out
    E = jk["E"][:, used] @ C[:, used].T                                     # (S, J)
    vc, dfc = pair_variance(E, n, pairs, with_df=True)
    J = C.shape[0]
    if R < 2:
        return {"var": vc, "df": dfc, "var_concepts": vc, "df_concepts": dfc,
                "var_raters": np.zeros(J), "var_interaction": np.zeros(J)}
    Er = jk["E_raters"][:, used] @ C[:, used].T                             # (R, J)
    vr = (R - 1) / R * ((Er - Er.mean(axis=0)) ** 2).sum(axis=0)
    M = jk["U"].shape[1]
    vcr = np.zeros(J)
    models_only = np.abs(C[:, M:]).sum(axis=1) == 0
    if models_only.any():
        u = np.einsum("smr,jm->sjr", jk["U"], C[models_only, :M])             # (S, J', R)
        dev = u - u.mean(axis=2, keepdims=True)
        vcr[models_only] = pair_variance(dev, n, pairs, clip=False).sum(axis=-1) / (R * (R - 1))
    conc = np.maximum(vc - vcr, 0.0)
    var = np.maximum(np.maximum(conc + vr, vc), vr)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (conc + vr) ** 2 / (conc ** 2 / dfc + vr ** 2 / (R - 1))
    df = np.where(np.isfinite(df), df, dfc)
    return {"var": var, "df": df, "var_concepts": vc, "df_concepts": dfc, "var_raters": vr,
            "var_interaction": vcr}
