"""Concept-label permutation test of RSA evaluations (both estimands, every comparator).

Relabelling the concepts of a model RDM reorders its rows and columns together; every
comparator is invariant to a common reordering of its two vectors' entries, so the permuted
score is the model's prepared vector gathered through the permutation's pair table against the
fixed rater side. The rater side is the mean of the raters' prepared vectors (``per_rater``,
linear comparators), or each rater's exact Kendall count (sign bit-planes) averaged with its
tau-b denominator, or the mean RDM (``mean_rdm``). All n! orderings are enumerated when there
are at most ``n_perm`` of them (p = #{T* >= T} / n!); otherwise p = (1 + #{T* >= T}) /
(1 + n_perm), with the floor and the Clopper-Pearson interval of the p contract.
"""

from __future__ import annotations

import math

import numpy as np

from emostat.analysis.engines.mantel import mc_columns, perm_blocks, permuted_pairs
from emostat.analysis.engines.rsacompare import Resample, n_items
from emostat.analysis.engines.signbits import concordance
from emostat.analysis.engines.weighted import tied_weight

__all__ = ["permutation_test"]


def _stat_fn(X, Y, comparator: str, estimand: str, n: int):
    """A function perms (np, n) -> (M, np) of permuted scores, and the observed scores."""
    res = Resample.full(n, comparator)
    target = Y.mean(axis=0, keepdims=True) if estimand == "mean_rdm" else Y
    if comparator in ("tau_a", "tau_b"):
        P = X.shape[1]
        tot = P * (P - 1) / 2
        if comparator == "tau_b":
            tx = tied_weight(X, 1.0)                                        # (M,)
            ty = tied_weight(target, 1.0)                                   # (R,)
            scale = 1 / np.sqrt(tot - tx)[:, None] / np.sqrt(tot - ty)[None, :]
        else:
            scale = np.full((X.shape[0], target.shape[0]), 1 / tot)
        RY = np.ascontiguousarray(target.T)

        def stat(perms):
            idx = permuted_pairs(perms, n)                                  # (np, P)
            out = np.empty((X.shape[0], len(perms)))
            for m in range(X.shape[0]):          # one pass per model; rows are permutations
                S = concordance(np.ascontiguousarray(X[m][idx].T), RY)      # (np, R) exact
                out[m] = (S * scale[m]).mean(axis=1)
            return out
    else:
        U = res.prep(X)[0]                                                  # (M, L)
        t = res.prep(target)[0].mean(axis=0)                                # (L,)
        P = X.shape[1]

        def stat(perms):
            idx = permuted_pairs(perms, n)
            out = U[:, idx] if U.shape[1] == P else None
            if out is None:                     # whitened: pairs, then the diagonal
                out = np.concatenate([U[:, :P][:, idx], U[:, P:][:, perms]], axis=2)
            return out @ t
    return stat, stat(np.arange(n)[None])[:, 0]


def permutation_test(X, Y, comparator: str, estimand: str, n_perm=10_000, seed=0,
                     alpha: float = 0.05) -> dict:
    """One-sided (greater) concept-label permutation p of each model's score.

    Parameters
    ----------
    X : ndarray (M, P)
        Model RDMs (their labels are permuted).
    Y : ndarray (R, P)
        Rater RDMs.
    comparator, estimand : str
    n_perm : int or "exact"
        Random permutations; all n! when "exact" or when n! <= n_perm.
    seed : int
    alpha : float
        For the Monte-Carlo warning of the p contract.

    Returns
    -------
    dict: ``estimate`` (M,), ``p_value`` (M,), ``exceed`` (M,), ``n_perm`` (draws, or n!),
    ``exact`` (bool), and the contract's ``p_floor, p_mc_low, p_mc_high, mc_warning`` (M,).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = n_items(X.shape[1])
    exact = n_perm == "exact" or (n <= 12 and math.factorial(n) <= int(n_perm))
    stat, obs = _stat_fn(X, Y, comparator, estimand, n)
    tol = 1e-12 * (1 + np.abs(obs))
    exceed = np.zeros(X.shape[0])
    total = 0
    for perms in perm_blocks(n, "exact" if exact else int(n_perm), seed, chunk=512):
        exceed += (stat(perms) >= (obs - tol)[:, None]).sum(axis=1)
        total += len(perms)
    p = exceed / total if exact else (1 + exceed) / (1 + total)
    mc = mc_columns(exceed, total, exact, alpha)
    return {"estimate": obs, "p_value": p, "exceed": exceed, "n_perm": total, "exact": exact,
            **mc}
