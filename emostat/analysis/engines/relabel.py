"""Label orderings of a permutation test whose labels move within groups (or over all units).

A shuffle within groups can only produce as many *distinct* label vectors as the product over
groups of the multinomial coefficients n_g! / prod_c n_gc! (1 when every group is a singleton,
or holds one label only: the null cannot move). :func:`n_orderings` counts them;
:func:`orderings` gives them all when they are few (an exact test, p = count / D, floor 1/D)
and seeded random draws otherwise (p = (1 + count) / (1 + B), floor 1/(B + 1)).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def _group_index(groups, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.arange(n)]
    groups = np.asarray(groups)
    return [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]


def n_orderings(codes, groups=None) -> int:
    """The number of distinct label vectors that shuffles of ``codes`` within ``groups`` (None:
    over all units) can produce, the observed one included (an exact Python int)."""
    codes = np.asarray(codes)
    total = 1
    for idx in _group_index(groups, len(codes)):
        _, counts = np.unique(codes[idx], return_counts=True)
        total *= math.factorial(len(idx)) // math.prod(math.factorial(int(c)) for c in counts)
    return total


def _distinct_arrangements(values: np.ndarray) -> list[tuple]:
    """Every distinct ordering of a multiset (lexicographic)."""
    vals, counts = np.unique(values, return_counts=True)
    counts = counts.tolist()
    out, cur = [], []

    def rec():
        if len(cur) == len(values):
            out.append(tuple(cur))
            return
        for k, v in enumerate(vals):
            if counts[k]:
                counts[k] -= 1
                cur.append(v)
                rec()
                cur.pop()
                counts[k] += 1

    rec()
    return out


def orderings(codes, groups=None, n_perm: int = 999, seed=0) -> tuple[np.ndarray, bool]:
    """Label vectors of the null: (array [n, K], exact).

    Exact (all D distinct orderings, the observed one among them) when D <= ``n_perm``; else
    ``n_perm`` seeded shuffles within groups (the observed vector not added).
    """
    codes = np.asarray(codes)
    n = len(codes)
    parts = _group_index(groups, n)
    if n_orderings(codes, groups) <= int(n_perm):
        per_group = [_distinct_arrangements(codes[idx]) for idx in parts]
        combos = list(itertools.product(*per_group))
        out = np.empty((n, len(combos)), dtype=codes.dtype)
        for k, combo in enumerate(combos):
            for idx, arr in zip(parts, combo):
                out[idx, k] = arr
        return out, True
    rng = np.random.default_rng(seed)
    out = np.repeat(codes[:, None], int(n_perm), axis=1)
    for idx in parts:
        if len(idx) > 1:
            out[idx] = rng.permuted(out[idx], axis=0)
    return out, False
