"""Exact Kendall concordance counts as bit operations (numba kernels, cached after first use).

The Kendall numerator of two RDMs is the sum, over pairs of RDM entries, of the product of the
two sign(difference) values. Each column's signs go into two bit-planes of 64-bit words (bit b
set in ``pos`` where the sign of pair-of-entries b is +1, in ``neg`` where it is -1), so

    S = pc(xp & yp) + pc(xn & yn) - pc(xp & yn) - pc(xn & yp)        (pc = popcount)

and when x has no ties (xn = ~xp on the valid bits; padding bits of y are 0)

    S = 2 (pc(xp & yp) - pc(xp & yn)) + pc(yn) - pc(yp),

two AND + popcount per 64 pairs of entries, which LLVM vectorises (AVX-512 VPOPCNTQ where the
CPU has it); four x columns share each pass over a y column. Integer arithmetic throughout:
exact, no rounding, no overflow below 2**31 pairs. Values are compared in float64 (dense ranks
or raw values alike: no cast creates or breaks a tie).
Measured on the release null in ``benchmarks/bench_searchlight_perm.py`` against the packed
float32 matrix product it replaces.

Bit b counts the pairs of entries (i, j), i > j, in j-major order, the order of
:func:`emostat.analysis.engines.kendall.con_minus_dis`, which stays the reference implementation.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from emostat.analysis.engines.kendall import over_spans
from emostat.errors import InputError

CHUNK = 512      # x columns per task (their bit-planes: 512 x 2 x 7.7 kB for 351 entries)
TILE = 32        # y columns kept hot in cache while a chunk's x columns pass over them


@intrinsic
def popcount(typingctx, x):
    """LLVM's ctpop on a uint64 (vectorised to VPOPCNTQ where the CPU has it)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(nogil=True, cache=True)
def planes(R, P, N):
    """Fill P, N (m, words) with the sign bits of the pairs (i > j, j-major) of R's columns."""
    n, m = R.shape
    for c in range(m):
        col = R[:, c].copy()
        b = 0
        wp = np.uint64(0)
        wn = np.uint64(0)
        for j in range(n - 1):
            rj = col[j]
            for i in range(j + 1, n):
                d = col[i] - rj
                sh = np.uint64(b & 63)
                wp |= np.uint64(d > 0) << sh
                wn |= np.uint64(d < 0) << sh
                if (b & 63) == 63:
                    P[c, b >> 6] = wp
                    N[c, b >> 6] = wn
                    wp = np.uint64(0)
                    wn = np.uint64(0)
                b += 1
        if b & 63:
            P[c, b >> 6] = wp
            N[c, b >> 6] = wn


@njit(nogil=True, cache=True)
def counts(XP, XN, xfull, YP, YN, ybias, tile, S):
    """S[r, k] = concordant minus discordant pairs of x column r and y column k; ``xfull``: x
    columns without ties (two popcounts per word, four x columns per pass over a y column:
    1.5x fewer loads than one), ``ybias`` = pc(yn) - pc(yp) per y column."""
    m, W = XP.shape
    c = YP.shape[0]
    fast = np.nonzero(xfull)[0]
    slow = np.nonzero(~xfull)[0]
    n4 = len(fast) // 4 * 4
    for t0 in range(0, c, tile):
        t1 = min(t0 + tile, c)
        for g in range(0, n4, 4):
            r0, r1, r2, r3 = fast[g], fast[g + 1], fast[g + 2], fast[g + 3]
            for k in range(t0, t1):
                a0 = np.int64(0)
                a1 = np.int64(0)
                a2 = np.int64(0)
                a3 = np.int64(0)
                for w in range(W):
                    yp = YP[k, w]
                    yn = YN[k, w]
                    x0 = XP[r0, w]
                    x1 = XP[r1, w]
                    x2 = XP[r2, w]
                    x3 = XP[r3, w]
                    a0 += np.int64(popcount(x0 & yp)) - np.int64(popcount(x0 & yn))
                    a1 += np.int64(popcount(x1 & yp)) - np.int64(popcount(x1 & yn))
                    a2 += np.int64(popcount(x2 & yp)) - np.int64(popcount(x2 & yn))
                    a3 += np.int64(popcount(x3 & yp)) - np.int64(popcount(x3 & yn))
                S[r0, k] = 2 * a0 + ybias[k]
                S[r1, k] = 2 * a1 + ybias[k]
                S[r2, k] = 2 * a2 + ybias[k]
                S[r3, k] = 2 * a3 + ybias[k]
        for g in range(n4, len(fast)):
            r = fast[g]
            for k in range(t0, t1):
                a = np.int64(0)
                for w in range(W):
                    x = XP[r, w]
                    a += np.int64(popcount(x & YP[k, w])) - np.int64(popcount(x & YN[k, w]))
                S[r, k] = 2 * a + ybias[k]
        for r in slow:
            for k in range(t0, t1):
                a = np.int64(0)
                for w in range(W):
                    xp = XP[r, w]
                    xn = XN[r, w]
                    yp = YP[k, w]
                    yn = YN[k, w]
                    a += (np.int64(popcount(xp & yp)) + np.int64(popcount(xn & yn))
                          - np.int64(popcount(xp & yn)) - np.int64(popcount(xn & yp)))
                S[r, k] = a


def sign_planes(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pos, neg) bit-planes (m, words) uint64 of the pair-of-entries signs of each column of
    ``R`` (n, m) (dense ranks or any values)."""
    R = np.ascontiguousarray(R, dtype=np.float64)
    n, m = R.shape
    words = (n * (n - 1) // 2 + 63) // 64
    P = np.zeros((m, words), np.uint64)
    N = np.zeros((m, words), np.uint64)
    if n > 1:
        planes(R, P, N)
    return P, N


def concordance(RX: np.ndarray, RY: np.ndarray, *, n_jobs: int = 1) -> np.ndarray:
    """Concordant minus discordant pairs of every column of RX with every column of RY.

    Parameters
    ----------
    RX, RY : ndarray (n, m) and (n, c)
        Values (dense ranks: :func:`emostat.analysis.engines.kendall.dense_ranks`) of n entries.
    n_jobs : int
        Threads over chunks of RX columns (the kernels release the GIL).

    Returns
    -------
    ndarray (m, c) int64, exact.
    """
    RX = np.asarray(RX, dtype=np.float64)
    RY = np.asarray(RY, dtype=np.float64)
    if RX.ndim != 2 or RY.ndim != 2 or RX.shape[0] != RY.shape[0]:
        raise InputError(f"concordance: RX {RX.shape} and RY {RY.shape} need the same rows")
    n, m = RX.shape
    if n * (n - 1) // 2 >= 2 ** 31:
        raise InputError(f"concordance: {n} entries give more pairs than int32 counts hold")
    YP, YN = sign_planes(RY)
    ybias = (np.bitwise_count(YN).sum(axis=1, dtype=np.int64)
             - np.bitwise_count(YP).sum(axis=1, dtype=np.int64))
    S = np.empty((m, RY.shape[1]), np.int64)

    def work(span):
        c0, c1 = span
        XP, XN = sign_planes(np.ascontiguousarray(RX[:, c0:c1]))
        # columns without ties (every sign nonzero) take the two-popcount path
        full = (np.bitwise_count(XP).sum(axis=1, dtype=np.int64)
                + np.bitwise_count(XN).sum(axis=1, dtype=np.int64)) == n * (n - 1) // 2
        out = np.empty((c1 - c0, RY.shape[1]), np.int64)
        counts(XP, XN, full, YP, YN, ybias, TILE, out)
        S[c0:c1] = out

    over_spans(work, [(s, min(s + CHUNK, m)) for s in range(0, m, CHUNK)], n_jobs)
    return S
