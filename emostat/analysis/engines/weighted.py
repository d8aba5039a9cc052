"""Ranks and Kendall counts of RDM vectors whose entries carry integer weights (numba kernels).

A concept bootstrap repeats concepts; the resampled RDM holds each pair of distinct drawn
concepts once per draw (pairs of a concept with its own copy are dropped, as rsatoolbox does).
Written as the original pairs with weights ``w_k`` (how often pair k occurs), the ranks and the
Kendall counts of the expanded vectors follow without expanding them:

- average rank of entry k = weight of the smaller entries + (weight of its tie group + 1) / 2;
- Kendall numerator S = sum over entries k, l with x_k < x_l of w_k w_l sign(y_l - y_k),
  counted in O(P log P) per pair of vectors: entries in order of x (tied x as a group), a
  Fenwick tree of the weights already seen, indexed by the dense rank of y;
- tied pairs (tau-b) = sum over groups g of equal values of (W_g^2 - W_g) / 2, W_g the group's
  weight: copies of one entry tie with each other.
Integer weights in float64: exact below 2**53. Kernels are compiled by numba on first use and
cached (as :mod:`emostat.analysis.engines.signbits`): sorting and a tree walk per vector are
loops numpy cannot vectorise across a block of resamples without sorting every expanded vector.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["weighted_ranks", "weighted_concordance", "tied_weight", "dense_rank_int",
           "group_bounds", "sort_near"]


@njit(nogil=True, cache=True)
def _sort_near(V, hint, out):
    """out[b, k] = argsort of V[b, k] by insertion sort from the order hint[b] (fast when
    V[b, k] is nearly in that order, e.g. a leave-one-out pool beside the full pool)."""
    B, K, P = V.shape
    for b in range(B):
        for k in range(K):
            v = V[b, k]
            o = out[b, k]
            for s in range(P):
                o[s] = hint[b, s]
            for s in range(1, P):
                e = o[s]
                x = v[e]
                t = s - 1
                while t >= 0 and v[o[t]] > x:
                    o[t + 1] = o[t]
                    t -= 1
                o[t + 1] = e


def sort_near(V, hint) -> np.ndarray:
    """argsort (B, k, P) of V (B, k, P) starting from the order hint (B, P) of a close vector."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    out = np.empty(V.shape, np.int64)
    _sort_near(V, np.ascontiguousarray(hint, dtype=np.int64), out)
    return out


@njit(nogil=True, cache=True, inline="always")
def _group_end(v, o, k):
    """The end (exclusive) of the run of values equal to v[o[k]] in sorted order o."""
    g = k + 1
    while g < o.shape[0] and v[o[g]] == v[o[k]]:
        g += 1
    return g


@njit(nogil=True, cache=True)
def _ranks(V, order, W, iv, iw, centred, out):
    """out[t] = average ranks of V[iv[t]] under weights W[iw[t]]; ``order`` rows sort V's rows
    (an empty array: sort here). ``centred``: (rank - (T + 1) / 2) sqrt(w 12 / (T^3 - T)),
    T the total weight (rho-a's prepared vector)."""
    P = V.shape[1]
    own = order.shape[0] == 0
    for t in range(iv.shape[0]):
        v = V[iv[t]]
        w = W[iw[t]]
        o = np.argsort(v) if own else order[iv[t]]
        if centred:
            T = 0.0
            for e in range(P):
                T += w[e]
            mid = (T + 1.0) / 2.0
            scale = np.sqrt(12.0 / (T * T * T - T)) if T > 1.0 else np.nan
        cum = 0.0
        k = 0
        while k < P:
            g = _group_end(v, o, k)
            gw = 0.0
            for s in range(k, g):
                gw += w[o[s]]
            r = cum + (gw + 1.0) / 2.0
            for s in range(k, g):
                if centred:
                    out[t, o[s]] = (r - mid) * np.sqrt(w[o[s]]) * scale
                else:
                    out[t, o[s]] = r
            cum += gw
            k = g


def weighted_ranks(V, W, order=None, centred: bool = False) -> np.ndarray:
    """Average ranks of RDM vectors expanded by integer weights, on every resample.

    Parameters
    ----------
    V : ndarray (k, P) fixed, or (B, k, P) one set per resample
    W : ndarray (B, P)
        Entry weights of each resample.
    order : ndarray (k, P) or (B, k, P), optional
        ``argsort`` of V's rows, when known.
    centred : bool
        Return (rank - (T + 1)/2) sqrt(w) sqrt(12 / (T^3 - T)) instead (T = the weights' sum):
        rho-a is the inner product of two such vectors.

    Returns
    -------
    ndarray (B, k, P)
    """
    V = np.asarray(V, dtype=np.float64)
    W = np.ascontiguousarray(W, dtype=np.float64)
    B = W.shape[0]
    k, P = V.shape[-2:]
    if V.ndim == 2:
        iv = np.tile(np.arange(k), B)
        rows = np.ascontiguousarray(V)
        order = (np.argsort(rows, axis=1) if order is None else np.asarray(order))
    else:
        iv = np.arange(B * k)
        rows = np.ascontiguousarray(V.reshape(B * k, P))
        order = np.zeros((0, P), np.int64) if order is None else np.reshape(order, (B * k, P))
    iw = np.repeat(np.arange(B), k)
    out = np.empty((B * k, P))
    _ranks(rows, np.ascontiguousarray(order, dtype=np.int64), W, iv, iw, centred, out)
    return out.reshape(B, k, P)


@njit(nogil=True, cache=True, inline="always")
def _prefix(tree, i):
    s = 0.0
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s


@njit(nogil=True, cache=True)
def _concordance(X, order, Yr, W, ia, ib, iw, n_y, num, tx, ty):
    """num[t] = S of X[ia[t]] (rows sorted by ``order``) with Y[ib[t]] (dense ranks Yr,
    1..n_y) under W[iw[t]]; tx, ty: tied pairs of the two vectors under those weights."""
    P = X.shape[1]
    tree = np.zeros(n_y + 1)
    wy = np.zeros(n_y + 1)
    for t in range(ia.shape[0]):
        x = X[ia[t]]
        yr = Yr[ib[t]]
        w = W[iw[t]]
        o = order[ia[t]]
        tree[:] = 0.0
        wy[:] = 0.0
        total = 0.0
        s_num = 0.0
        s_tx = 0.0
        k = 0
        while k < P:
            g = _group_end(x, o, k)
            gw = 0.0
            for s in range(k, g):          # pairs with every entry of smaller x
                e = o[s]
                we = w[e]
                if we != 0.0:
                    y = yr[e]
                    s_num += we * (_prefix(tree, y - 1) - (total - _prefix(tree, y)))
                    gw += we
            for s in range(k, g):          # then the group joins the tree
                e = o[s]
                we = w[e]
                if we != 0.0:
                    i = yr[e]
                    wy[i] += we
                    while i <= n_y:
                        tree[i] += we
                        i += i & -i
            total += gw
            s_tx += (gw * gw - gw) / 2.0
            k = g
        s_ty = 0.0
        for i in range(1, n_y + 1):
            s_ty += (wy[i] * wy[i] - wy[i]) / 2.0
        num[t] = s_num
        tx[t] = s_tx
        ty[t] = s_ty


def dense_rank_int(Y: np.ndarray) -> np.ndarray:
    """Dense ranks 1..(distinct values) of each row of Y (..., P), int64."""
    Y = np.asarray(Y, dtype=np.float64)
    order = np.argsort(Y, axis=-1, kind="stable")
    ys = np.take_along_axis(Y, order, -1)
    new = np.ones(ys.shape, np.int64)
    new[..., 1:] = ys[..., 1:] != ys[..., :-1]
    out = np.empty(Y.shape, np.int64)
    np.put_along_axis(out, order, np.cumsum(new, axis=-1), -1)
    return out


def weighted_concordance(X, Y, W, ia, ib, iw, order=None):
    """Weighted Kendall counts for a list of (x row, y row, weight row) triples.

    Parameters
    ----------
    X : ndarray (nx, P)
    Y : ndarray (ny, P)
    W : ndarray (nw, P)
        Non-negative integer weights of the entries (how often each occurs).
    ia, ib, iw : int arrays (T,)
        Rows of X, Y and W of each task.
    order : ndarray (nx, P), optional
        argsort of X's rows, when known.

    Returns
    -------
    num, tx, ty : ndarray (T,) float64
        Concordant minus discordant pairs of the expanded vectors, and the tied pairs of x and
        of y (copies of an entry count as tied).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    order = np.ascontiguousarray(np.argsort(X, axis=1) if order is None else order,
                                 dtype=np.int64)
    yr = np.ascontiguousarray(dense_rank_int(Y))
    W = np.ascontiguousarray(W, dtype=np.float64)
    ia, ib, iw = (np.ascontiguousarray(np.asarray(v, dtype=np.int64).ravel())
                  for v in (ia, ib, iw))
    num, tx, ty = (np.empty(ia.shape[0]) for _ in range(3))
    _concordance(X, order, yr, W, ia, ib, iw, int(yr.max()) if yr.size else 1, num, tx, ty)
    return num, tx, ty


def tied_weight(V, W) -> np.ndarray:
    """Tied pairs of expanded vectors (numpy): sum over groups g of equal values of
    (W_g^2 - W_g) / 2. V (..., P) values, W broadcastable to V. Returns (...,)."""
    V, W = np.broadcast_arrays(np.asarray(V, dtype=np.float64), np.asarray(W, dtype=np.float64))
    order = np.argsort(V, axis=-1, kind="stable")
    vs = np.take_along_axis(V, order, -1)
    ws = np.take_along_axis(W, order, -1)
    before, after = group_bounds(vs, ws)
    return (ws * (after - before - 1)).sum(axis=-1) / 2


def group_bounds(vs: np.ndarray, ws: np.ndarray):
    """For sorted values ``vs`` with weights ``ws``: per position, the total weight before its
    group of equal values and the total weight up to the group's end."""
    cum = np.cumsum(ws, axis=-1)
    new = np.ones(vs.shape, bool)
    new[..., 1:] = vs[..., 1:] != vs[..., :-1]
    last = np.ones(vs.shape, bool)
    last[..., :-1] = new[..., 1:]
    before = np.maximum.accumulate(np.where(new, cum - ws, 0.0), axis=-1)
    after = np.flip(np.minimum.accumulate(np.flip(np.where(last, cum, np.inf), -1), -1), -1)
    return before, after
