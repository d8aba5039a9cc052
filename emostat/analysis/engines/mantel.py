"""Mantel test: permute the item labels of one RDM and compare its correlation with others.

The RDM behind ``x`` is a vector in R ``dist()`` pair order (``emostat.constants.pair_indices``).
A permutation of the items reorders rows and columns of the square matrix together; in vector form
that is a gather through a table of pair indices, done for a block of permutations at once. The
Kendall statistic of every permuted x against every column of Y is one call of the vectorised
sign-matrix product of :mod:`emostat.analysis.engines.kendall`.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
from scipy.stats import rankdata

from emostat.analysis.engines.kendall import (ALTERNATIVES, con_minus_dis, dense_ranks,
                                      single_threaded_blas)
from emostat.constants import pair_indices
from emostat.errors import InputError

METHODS = ("kendall", "pearson", "spearman")
_PERM_CHUNK = 2048
_EXACT_MAX_ITEMS = 8  # 8! = 40,320 permutations


def items_from_pairs(n_pairs: int, n_items: int | None) -> int:
    """The n with n(n-1)/2 = ``n_pairs`` (an InputError when none, or when not ``n_items``)."""
    guess = int(round((1 + math.sqrt(1 + 8 * n_pairs)) / 2))
    if guess * (guess - 1) // 2 != n_pairs:
        raise InputError(f"mantel: x has {n_pairs} values, not n(n-1)/2 for any n")
    if n_items is not None and n_items != guess:
        raise InputError(f"mantel: x has {n_pairs} pairs, which is {guess} items, "
                         f"not n_items={n_items}")
    return guess


def pair_lookup(n: int) -> np.ndarray:
    """(n, n) table: entry [a, b] is the position of pair {a, b} in dist() order (-1 on diagonal)."""
    i, j = pair_indices(n)
    table = np.full((n, n), -1, dtype=np.intp)
    table[i, j] = np.arange(len(i))
    table[j, i] = np.arange(len(i))
    return table


def permuted_pairs(perms: np.ndarray, n: int) -> np.ndarray:
    """Index arrays (n_perm, n_pairs): ``x[idx[k]]`` is x's RDM with items relabelled by perms[k]."""
    i, j = pair_indices(n)
    return pair_lookup(n)[perms[:, i], perms[:, j]]


def check_n_perm(n_perm, n: int, max_exact: int, who: str):
    """``n_perm`` as an int >= 1, or "exact" when all n! permutations are affordable."""
    if n_perm == "exact":
        if n > max_exact:
            raise InputError(f"{who}: exact enumeration needs at most {max_exact} labels "
                             f"({n}! permutations is too many); pass an integer n_perm")
        return n_perm
    if int(n_perm) < 1:
        raise InputError(f"{who}: n_perm must be >= 1 or 'exact', got {n_perm}")
    return int(n_perm)


def exact_if_fewer(n_perm, n: int, max_exact: int = _EXACT_MAX_ITEMS):
    """``"exact"`` when the n! relabellings of n items are no more than the ``n_perm`` draws
    asked for (and n <= ``max_exact``), else ``n_perm``: Monte-Carlo draws beyond n! would
    repeat orderings and claim a floor 1/(B + 1) below the exact test's 1/n!.

    >>> exact_if_fewer(999, 6), exact_if_fewer(999, 7), exact_if_fewer("exact", 5)
    ('exact', 999, 'exact')
    """
    if n_perm == "exact" or n > max_exact or math.factorial(n) > int(n_perm):
        return n_perm
    return "exact"


def method_text(text: str, exact: bool) -> str:
    """A ``p_method`` whose Monte-Carlo formula ``(1 + #{..}) / (1 + n_perm)`` becomes the
    exact one (``exact, #{..} / n!``) when all orderings were enumerated."""
    if not exact:
        return text
    return re.sub(r"\(1 \+ (#\{[^}]*\})\) / \(1 \+ n_perm\)", r"exact, \1 / n!", text)


def monte_carlo_ci(exceed, n_perm, level: float = 0.95):
    """Clopper-Pearson interval of a Monte-Carlo permutation p.

    ``exceed`` permuted statistics at least as extreme as the observed one out of ``n_perm``
    random draws: the exact binomial interval of exceed / n_perm (the p the draws estimate),
    from beta quantiles. Arrays broadcast. Returns (low, high).
    """
    from scipy.stats import beta

    k = np.asarray(exceed, dtype=float)
    n = np.asarray(n_perm, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, beta.ppf(a, k, n - k + 1), 0.0)
        high = np.where(k < n, beta.ppf(1 - a, k + 1, n - k), 1.0)
    return low, high


def mc_columns(exceed, B: int, exact: bool, alpha: float = 0.05) -> dict:
    """The contract's Monte-Carlo columns beside permutation p's with ``exceed`` counts of B.

    ``p_floor`` (1/(B+1), or 1/B = 1/n! for an exact enumeration), ``p_mc_low``/``p_mc_high``
    (Clopper-Pearson 95%, :func:`monte_carlo_ci`; NaN when exact) and ``mc_warning`` (non-empty
    when that interval contains ``alpha``: the draws do not decide at alpha).
    """
    exceed = np.atleast_1d(np.asarray(exceed, dtype=float))
    if exact:
        nan = np.full(exceed.shape, np.nan)
        return {"p_floor": np.full(exceed.shape, 1 / B), "p_mc_low": nan, "p_mc_high": nan,
                "mc_warning": np.full(exceed.shape, "", dtype=object)}
    lo, hi = monte_carlo_ci(exceed, B)
    warn = np.where((lo <= alpha) & (alpha <= hi),
                    f"Monte-Carlo 95% interval contains alpha = {alpha:g}: {B} permutations "
                    "do not decide", "")
    return {"p_floor": np.full(exceed.shape, 1 / (B + 1)), "p_mc_low": lo, "p_mc_high": hi,
            "mc_warning": warn.astype(object)}


MAX_PERM_FACTOR = 8   # draws doubled up to 8x the first count while the MC interval holds alpha


def undecided(exceed, B: int, alpha: float = 0.05) -> np.ndarray:
    """True where the Clopper-Pearson interval of exceed / B contains alpha."""
    lo, hi = monte_carlo_ci(exceed, B)
    return np.atleast_1d((lo <= alpha) & (alpha <= hi))


def perm_blocks(n: int, n_perm, seed, chunk: int = _PERM_CHUNK):
    """Yield blocks of permutations of range(n) (rows): all n! if n_perm == 'exact', else
    ``n_perm`` seeded draws, ``chunk`` rows at a time."""
    if n_perm == "exact":
        it = itertools.permutations(range(n))
        while block := list(itertools.islice(it, chunk)):
            yield np.asarray(block, dtype=np.intp)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, n_perm, chunk):
        size = min(chunk, n_perm - start)
        yield rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1)


def mantel(x, Y, n_perm=10_000, seed=0, n_items: int | None = None,
           alternative: str = "greater", method: str = "kendall"):
    """Permutation p-values of the association between RDM ``x`` and each RDM in ``Y``.

    Parameters
    ----------
    x : array_like (n_pairs,)
        RDM whose item labels are permuted, in R ``dist()`` pair order.
    Y : array_like (n_pairs,) or (n_pairs, q)
        Fixed RDMs, same pair order.
    n_perm : int or "exact"
        Random label permutations, or "exact" to enumerate all n! of them (n <= 8); an int
        of at least n! enumerates them too (:func:`exact_if_fewer`).
    seed : int
        Seed of the permutation draws (numpy default_rng).
    n_items : int, optional
        Number of items; inferred from ``len(x)`` and checked if given (27 for the study).
    alternative : {"greater", "less", "two-sided"}
        "greater" counts permuted statistics >= the observed one.
    method : {"kendall", "pearson", "spearman"}
        Statistic: Kendall tau-b (the study's RSA), Pearson r or Spearman rho.

    Returns
    -------
    p : ndarray (q,) (0-d if Y is 1-D)
        Monte Carlo: ``(1 + #{perm >= obs}) / (1 + n_perm)``. Exact: ``#{perm >= obs} / n!``
        (the identity permutation is among them), also when ``n_perm`` >= n!. Two-sided
        compares absolute values.

    Notes
    -----
    Kendall tau-b's denominator does not change under relabelling, so permuted statistics are
    compared as exact integer counts (concordant minus discordant pairs). Pearson and Spearman
    are compared as inner products with the centred Y, with a relative tolerance of 1e-12 so that
    permutations equal to the observed statistic count as ">=".
    """
    if method not in METHODS:
        raise InputError(f"mantel: method must be one of {METHODS}, got {method!r}")
    if alternative not in ALTERNATIVES:
        raise InputError(f"mantel: alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    x = np.asarray(x, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    y1d = Y.ndim == 1
    Y = Y[:, None] if y1d else Y
    if x.ndim != 1 or Y.ndim != 2 or Y.shape[0] != x.shape[0]:
        raise InputError(f"mantel: x must be (n_pairs,) and Y (n_pairs, q); got {x.shape}, "
                         f"{Y.shape}")
    if np.isnan(x).any() or np.isnan(Y).any():
        raise InputError("mantel: x or Y contains NaN")
    n = items_from_pairs(x.shape[0], n_items)
    n_perm = exact_if_fewer(check_n_perm(n_perm, n, _EXACT_MAX_ITEMS, "mantel"), n)

    if method == "kendall":
        rx = dense_ranks(x[:, None])[0][:, 0]
        RY = dense_ranks(Y)[0]

        def stat(idx):  # concordant - discordant, (perms, q)
            return con_minus_dis(np.ascontiguousarray(rx[idx].T), RY)
        tol = 0.0
    else:
        if method == "spearman":
            x, Y = rankdata(x), rankdata(Y, axis=0)
        xc = x - x.mean()
        Yc = Y - Y.mean(axis=0)

        def stat(idx):
            return xc[idx] @ Yc
        tol = 1e-12 * np.abs(xc).sum() * np.abs(Yc).max(axis=0)

    obs = stat(np.arange(x.shape[0])[None, :])[0]
    with single_threaded_blas():
        count, total = _count(stat, obs, tol, alternative, perm_blocks(n, n_perm, seed), n)
    p = count / total if n_perm == "exact" else (1 + count) / (1 + total)
    return p[0] if y1d else p


def _count(stat, obs, tol, alternative, blocks, n):
    """Number of permutations at least as extreme as ``obs``, and the number drawn."""
    count = np.zeros(obs.shape)
    total = 0
    for perms in blocks:
        s = stat(permuted_pairs(perms, n))
        if alternative == "greater":
            count += (s >= obs - tol).sum(axis=0)
        elif alternative == "less":
            count += (s <= obs + tol).sum(axis=0)
        else:
            count += (np.abs(s) >= np.abs(obs) - tol).sum(axis=0)
        total += len(perms)
    return count, total


def mantel_decided(x, Y, n_perm: int, seed, alpha: float = 0.05, *, n_items=None,
                   factor: int = MAX_PERM_FACTOR):
    """One-sided Kendall Mantel p per column of Y (:func:`mantel`); columns whose Monte-Carlo
    interval holds ``alpha`` get doubled draws (same seed), up to ``factor`` x n_perm.

    Returns (p, draws per column, the contract's columns ``p_floor, p_mc_low, p_mc_high,
    mc_warning`` as lists). When n! <= n_perm all n! relabellings are enumerated instead
    (draws = n!, floor 1/n!, no Monte-Carlo interval).
    """
    Y = np.asarray(Y, dtype=float).reshape(len(x), -1)
    q = Y.shape[1]
    n = items_from_pairs(len(x), n_items)
    if exact_if_fewer(n_perm, n) == "exact":
        p = np.atleast_1d(mantel(x, Y, n_perm="exact", seed=seed, n_items=n_items))
        total = math.factorial(n)
        cols = mc_columns(np.rint(p * total), total, True, alpha)
        return p, np.full(q, total, np.int64), {c: list(v) for c, v in cols.items()}
    p = np.atleast_1d(mantel(x, Y, n_perm=n_perm, seed=seed, n_items=n_items))
    draws = np.full(q, int(n_perm), np.int64)
    exceed = np.rint(p * (draws + 1) - 1)
    todo = undecided(exceed, draws, alpha)
    while todo.any() and 2 * draws[todo].max() <= factor * n_perm:
        cols = np.flatnonzero(todo)
        B = int(2 * draws[cols].max())
        p[cols] = np.atleast_1d(mantel(x, Y[:, cols], n_perm=B, seed=seed, n_items=n_items))
        draws[cols] = B
        exceed[cols] = np.rint(p[cols] * (B + 1) - 1)
        todo = np.zeros(q, bool)
        todo[cols] = undecided(exceed[cols], B, alpha)
    out = {c: [] for c in ("p_floor", "p_mc_low", "p_mc_high", "mc_warning")}
    for k in range(q):
        one = mc_columns(exceed[k], int(draws[k]), False, alpha)
        for c in out:
            out[c].append(one[c][0])
    return p, draws, out
