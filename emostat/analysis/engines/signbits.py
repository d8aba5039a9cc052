"""Exact Kendall concordance counts as bit operations (numba kernels, cached after first use).

The Kendall numerator of two RDMs is the sum, over pairs of RDM entries, of the product of the
two sign(difference) values. Each column's signs go into two bit-planes of 64-bit words (bit b
set in ``pos`` where the sign of pair-of-entries b is +1, in ``neg`` where it is -1; padding
bits are 0 in both). With V valid bits and pc = popcount:

    no ties in x or y    S = 4 pc(xp & yp) + V - 2 pc(xp) - 2 pc(yp)           (xn = ~xp, yn = ~yp)
    no ties in x         S = 2 (pc(xp & yp) - pc(xp & yn)) + pc(yn) - pc(yp)
    no ties in y         S = 2 (pc(xp & yp) - pc(xn & yp)) + pc(xn) - pc(xp)
    ties in both         S = pc(xp & yp | xn & yn) - pc(xp & yn | xn & yp)     (disjoint terms)

so a pair of columns costs one or two AND + popcount per 64 pairs of entries, which LLVM
vectorises (AVX-512 VPOPCNTQ where the CPU has it); four x columns of one kind share each pass
over a y column. Integer arithmetic throughout: exact, no rounding, no overflow below 2**31
pairs. Values are compared in float64 (dense ranks or raw values alike: no cast creates or
breaks a tie). Measured on the release null in ``benchmarks/bench_searchlight_perm.py`` against
the packed float32 matrix product it replaces. The per-kind paths and 64-column y tiles against
two popcounts for tie-free x and four for the rest (``benchmarks/bench_signbits.py``): 1.34x
less time on the release's neuron RDMs rounded to bfloat16 as a bfloat16 collection records
them (87% with ties), the same time on them as they are (0.05% with ties); 1.25-1.38x on the
null of a bfloat16 default run of the embedded model (40% of neuron RDMs and 8 of 14
attribute RDMs with ties).

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
TILE = 64        # y columns kept hot in cache while a chunk's x columns pass over them


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
def counts(XP, XN, pxp, pxn, YP, YN, pyp, pyn, V, tile, S):
    """S[r, k] = concordant minus discordant pairs of x column r and y column k (the formulas
    of the module docstring); ``pxp`` ... ``pyn``: each plane's popcount per column, ``V``:
    valid bits (a column without ties has pc(p) + pc(n) = V). Blocks of four x columns of one
    kind share each pass over a y column (order the x columns by kind first); other blocks
    take the general formula column by column."""
    m, W = XP.shape
    c = YP.shape[0]
    xfull = pxp + pxn == V
    yfull = pyp + pyn == V
    for t0 in range(0, c, tile):
        t1 = min(t0 + tile, c)
        for g in range(0, m, 4):
            kind = 0
            if g + 4 <= m:
                n_full = xfull[g] + xfull[g + 1] + xfull[g + 2] + xfull[g + 3]
                kind = 1 if n_full == 4 else (2 if n_full == 0 else 0)
            for k in range(t0, t1):
                a0 = np.int64(0)
                a1 = np.int64(0)
                a2 = np.int64(0)
                a3 = np.int64(0)
                if kind == 1 and yfull[k]:                     # no ties on either side
                    for w in range(W):
                        yp = YP[k, w]
                        a0 += np.int64(popcount(XP[g, w] & yp))
                        a1 += np.int64(popcount(XP[g + 1, w] & yp))
                        a2 += np.int64(popcount(XP[g + 2, w] & yp))
                        a3 += np.int64(popcount(XP[g + 3, w] & yp))
                    b = V - 2 * pyp[k]
                    S[g, k] = 4 * a0 + b - 2 * pxp[g]
                    S[g + 1, k] = 4 * a1 + b - 2 * pxp[g + 1]
                    S[g + 2, k] = 4 * a2 + b - 2 * pxp[g + 2]
                    S[g + 3, k] = 4 * a3 + b - 2 * pxp[g + 3]
                elif kind == 1:                                # no ties in x
                    for w in range(W):
                        yp = YP[k, w]
                        yn = YN[k, w]
                        x0 = XP[g, w]
                        x1 = XP[g + 1, w]
                        x2 = XP[g + 2, w]
                        x3 = XP[g + 3, w]
                        a0 += np.int64(popcount(x0 & yp)) - np.int64(popcount(x0 & yn))
                        a1 += np.int64(popcount(x1 & yp)) - np.int64(popcount(x1 & yn))
                        a2 += np.int64(popcount(x2 & yp)) - np.int64(popcount(x2 & yn))
                        a3 += np.int64(popcount(x3 & yp)) - np.int64(popcount(x3 & yn))
                    b = pyn[k] - pyp[k]
                    S[g, k] = 2 * a0 + b
                    S[g + 1, k] = 2 * a1 + b
                    S[g + 2, k] = 2 * a2 + b
                    S[g + 3, k] = 2 * a3 + b
                elif kind == 2 and yfull[k]:                   # no ties in y
                    for w in range(W):
                        yp = YP[k, w]
                        a0 += np.int64(popcount(XP[g, w] & yp)) - np.int64(popcount(XN[g, w] & yp))
                        a1 += (np.int64(popcount(XP[g + 1, w] & yp))
                               - np.int64(popcount(XN[g + 1, w] & yp)))
                        a2 += (np.int64(popcount(XP[g + 2, w] & yp))
                               - np.int64(popcount(XN[g + 2, w] & yp)))
                        a3 += (np.int64(popcount(XP[g + 3, w] & yp))
                               - np.int64(popcount(XN[g + 3, w] & yp)))
                    S[g, k] = 2 * a0 + pxn[g] - pxp[g]
                    S[g + 1, k] = 2 * a1 + pxn[g + 1] - pxp[g + 1]
                    S[g + 2, k] = 2 * a2 + pxn[g + 2] - pxp[g + 2]
                    S[g + 3, k] = 2 * a3 + pxn[g + 3] - pxp[g + 3]
                elif kind == 2:                                # ties on both sides
                    for w in range(W):
                        yp = YP[k, w]
                        yn = YN[k, w]
                        p0 = XP[g, w]
                        n0 = XN[g, w]
                        p1 = XP[g + 1, w]
                        n1 = XN[g + 1, w]
                        p2 = XP[g + 2, w]
                        n2 = XN[g + 2, w]
                        p3 = XP[g + 3, w]
                        n3 = XN[g + 3, w]
                        a0 += (np.int64(popcount((p0 & yp) | (n0 & yn)))
                               - np.int64(popcount((p0 & yn) | (n0 & yp))))
                        a1 += (np.int64(popcount((p1 & yp) | (n1 & yn)))
                               - np.int64(popcount((p1 & yn) | (n1 & yp))))
                        a2 += (np.int64(popcount((p2 & yp) | (n2 & yn)))
                               - np.int64(popcount((p2 & yn) | (n2 & yp))))
                        a3 += (np.int64(popcount((p3 & yp) | (n3 & yn)))
                               - np.int64(popcount((p3 & yn) | (n3 & yp))))
                    S[g, k] = a0
                    S[g + 1, k] = a1
                    S[g + 2, k] = a2
                    S[g + 3, k] = a3
                else:                                          # a mixed or short block
                    for r in range(g, min(g + 4, m)):
                        a = np.int64(0)
                        for w in range(W):
                            xp = XP[r, w]
                            xn = XN[r, w]
                            yp = YP[k, w]
                            yn = YN[k, w]
                            a += (np.int64(popcount((xp & yp) | (xn & yn)))
                                  - np.int64(popcount((xp & yn) | (xn & yp))))
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


def _totals(P) -> np.ndarray:
    """Popcount of each row of a bit-plane (m, words)."""
    return np.bitwise_count(P).sum(axis=1, dtype=np.int64)


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
    V = n * (n - 1) // 2
    YP, YN = sign_planes(RY)
    ytot = (_totals(YP), _totals(YN))
    S = np.empty((m, RY.shape[1]), np.int64)

    def work(span):
        c0, c1 = span
        XP, XN = sign_planes(np.ascontiguousarray(RX[:, c0:c1]))
        pxp, pxn = _totals(XP), _totals(XN)
        order = np.argsort(pxp + pxn != V, kind="stable")  # untied first: blocks of one kind
        out = np.empty((c1 - c0, RY.shape[1]), np.int64)
        counts(XP[order], XN[order], pxp[order], pxn[order], YP, YN, *ytot, V, TILE, out)
        S[c0 + order] = out

    over_spans(work, [(s, min(s + CHUNK, m)) for s in range(0, m, CHUNK)], n_jobs)
    return S
