"""Kendall's tau-b between every column of X and every column of Y, as matrix algebra.

For n items there are n(n-1)/2 pairs. With ``S_x`` the (pairs x m) matrix of
``sign(x_i - x_j)`` and ``S_y`` the same for Y, the numerator of tau-b for all column pairs at
once is ``S_x^T @ S_y`` (concordant minus discordant pairs). The sign matrices are built in blocks
of pairs and columns (bounded memory) from *dense ranks* stored as float32: ranks are small
integers, so ``clip(r_i - r_j, -1, 1)`` is the exact sign, and float32 BLAS sums of +-1 are exact
(each block holds < 2**24 pairs; blocks are accumulated in float64).

p-values use the normal approximation with the tie-corrected variance of Kendall (1970), the same
as R ``cor.test(x, y, method = "kendall", exact = FALSE)`` and
``scipy.stats.kendalltau(x, y, method="asymptotic")``; tau is clipped to [-1, 1] like scipy.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import ndtr

from emostat.errors import InputError

ALTERNATIVES = ("two-sided", "greater", "less")

# Pairs per block of the sign matrices: big enough for efficient BLAS, small enough for cache.
_PAIR_BLOCK = 8192
# Columns of the wide side processed at a time.
_COL_CHUNK = 256
# Cache the narrow side's sign matrix when it takes at most this many bytes.
_CACHE_BYTES = 256 * 2**20


_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None


@contextlib.contextmanager
def single_threaded_blas():
    """Run BLAS on one thread inside this block (re-entrant, safe to nest from worker threads).

    The products here are thin (q of about 14 columns): measured on 2 cores, OpenBLAS with 2
    threads was 4-10x slower than with 1 for these shapes, so parallelism is over column
    chunks instead (``n_jobs``). Uses threadpoolctl when installed; a no-op otherwise.
    """
    global _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_depth == 0:
            try:
                from threadpoolctl import threadpool_limits

                _blas_limiter = threadpool_limits(1, user_api="blas")
            except ImportError:  # pragma: no cover - threadpoolctl is a dependency
                _blas_limiter = None
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def dense_ranks(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ranks (0, 1, 2, ... ties share a rank) of each column, plus tie statistics.

    Parameters
    ----------
    X : ndarray (n, m)

    Returns
    -------
    ranks : ndarray (n, m) float32
        Exact small integers (valid for n < 2**24).
    ties : ndarray (3, m) float64
        Per column, over groups of t tied values: sum t(t-1)/2 (tied pairs), sum t(t-1)(t-2),
        sum t(t-1)(2t+5) - the three terms of the tie-corrected variance.
    """
    n, m = X.shape
    XT = np.ascontiguousarray(X.T)                      # sort along contiguous rows
    order = np.argsort(XT, axis=1, kind="stable")
    srt = np.take_along_axis(XT, order, axis=1)
    new = srt[:, 1:] != srt[:, :-1]                     # True where a new value starts
    dense = np.zeros((m, n), dtype=np.float32)
    np.cumsum(new, axis=1, out=dense[:, 1:])
    ranks = np.empty((m, n), dtype=np.float32)
    np.put_along_axis(ranks, order, dense, axis=1)
    ties = np.zeros((3, m))
    tied_cols = np.flatnonzero(~new.all(axis=1)) if n > 1 else np.array([], dtype=np.intp)
    if tied_cols.size:
        # run lengths of equal values, all tied columns at once on a flattened view
        sub = new[tied_cols]
        starts = np.ones((len(tied_cols), n), dtype=bool)
        starts[:, 1:] = sub
        flat = np.flatnonzero(starts.ravel())
        lengths = np.diff(np.append(flat, starts.size)).astype(np.float64)
        col = flat // n
        t = lengths
        ties[0, tied_cols] = np.bincount(col, t * (t - 1) / 2, minlength=len(tied_cols))
        ties[1, tied_cols] = np.bincount(col, t * (t - 1) * (t - 2), minlength=len(tied_cols))
        ties[2, tied_cols] = np.bincount(col, t * (t - 1) * (2 * t + 5), minlength=len(tied_cols))
    return np.ascontiguousarray(ranks.T), ties


def _pair_blocks(n: int, target: int | None = None) -> list[tuple[int, int, int]]:
    """Group pairs by their smaller index j into blocks of about ``target`` pairs.

    Returns (j0, j1, n_pairs): the block holds the pairs (i, j) with j0 <= j < j1, i > j.
    """
    target = target or _PAIR_BLOCK
    blocks, j0 = [], 0
    while j0 < n - 1:
        j, count = j0, 0
        while j < n - 1 and count < target:
            count += n - 1 - j
            j += 1
        blocks.append((j0, j, count))
        j0 = j
    return blocks


def _signs(R: np.ndarray, j0: int, j1: int, out: np.ndarray) -> np.ndarray:
    """sign(r_i - r_j) for the pairs of block (j0, j1), written into ``out`` (float32)."""
    n, off = R.shape[0], 0
    for j in range(j0, j1):
        k = n - 1 - j
        np.subtract(R[j + 1:], R[j], out=out[off:off + k])
        off += k
    out = out[:off]
    np.clip(out, -1, 1, out=out)
    return out


def con_minus_dis(RW: np.ndarray, RN: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """Concordant minus discordant pairs, (m_w, m_n), from dense ranks of a wide and a narrow side."""
    n, mw = RW.shape
    mn = RN.shape[1]
    blocks = _pair_blocks(n)
    # The narrow side's signs are reused by every chunk: precompute when they fit.
    cache = None
    if n * (n - 1) // 2 * mn * 4 <= _CACHE_BYTES:
        cache = [_signs(RN, j0, j1, np.empty((c, mn), np.float32)).copy() for j0, j1, c in blocks]
    out = np.zeros((mw, mn))
    chunks = [(c0, min(c0 + _COL_CHUNK, mw)) for c0 in range(0, mw, _COL_CHUNK)]

    def work(span):
        c0, c1 = span
        R = np.ascontiguousarray(RW[:, c0:c1])
        buf = np.empty((max(c for *_, c in blocks), c1 - c0), np.float32)
        nbuf = None if cache is not None else np.empty((buf.shape[0], mn), np.float32)
        acc = np.zeros((c1 - c0, mn))
        for b, (j0, j1, _) in enumerate(blocks):
            sw = _signs(R, j0, j1, buf)
            sn = cache[b] if cache is not None else _signs(RN, j0, j1, nbuf)
            acc += sw.T @ sn
        out[c0:c1] = acc

    over_spans(work, chunks, n_jobs)
    return out


def over_spans(work, spans, n_jobs: int = 1) -> None:
    """Call ``work(span)`` for every span, on ``n_jobs`` threads when there are several."""
    if n_jobs > 1 and len(spans) > 1:
        with ThreadPoolExecutor(n_jobs) as pool:
            list(pool.map(work, spans))
    else:
        for span in spans:
            work(span)


def _as_2d(a, name: str) -> tuple[np.ndarray, bool]:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise InputError(f"kendall_tau_b: {name} must be 1-D or 2-D, got shape {a.shape}")
    if np.isnan(a).any():
        raise InputError(f"kendall_tau_b: {name} contains NaN; drop or impute them first")
    return (a[:, None], True) if a.ndim == 1 else (a, False)


def kendall_tau_b(X, Y, alternative: str = "greater", *, n_jobs: int = 1):
    """Kendall's tau-b and its asymptotic p-value for every column of X against every column of Y.

    Parameters
    ----------
    X : array_like (n,) or (n, m)
    Y : array_like (n,) or (n, q)
        Same number of rows n >= 3 (items). No NaN.
    alternative : {"greater", "less", "two-sided"}
        "greater" tests positive association (the study's choice).
    n_jobs : int
        Python threads over column chunks (numpy releases the GIL). BLAS itself is held to one
        thread (see :func:`single_threaded_blas`).

    Returns
    -------
    tau, p : ndarray (m, q)
        A 1-D input contributes no axis (both 1-D gives 0-d arrays). NaN where a column is
        constant (tau-b undefined).

    Notes
    -----
    Identical to ``scipy.stats.kendalltau(x, y, alternative=..., method="asymptotic")`` and R
    ``cor.test(x, y, method = "kendall", exact = FALSE, alternative = ...)`` for each pair of
    columns (tested to 1e-12). Cost: n(n-1)/2 x (m + q) sign evaluations plus one BLAS product of
    (m x pairs) by (pairs x q).

    Examples
    --------
    >>> tau, p = kendall_tau_b([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    >>> round(float(tau), 4), round(float(p), 4)
    (0.6, 0.0708)
    """
    if alternative not in ALTERNATIVES:
        raise InputError(f"kendall_tau_b: alternative must be one of {ALTERNATIVES}, "
                         f"got {alternative!r}")
    X, x1d = _as_2d(X, "X")
    Y, y1d = _as_2d(Y, "Y")
    n = X.shape[0]
    if Y.shape[0] != n:
        raise InputError(f"kendall_tau_b: X has {n} rows but Y has {Y.shape[0]}")
    if n < 3:
        raise InputError(f"kendall_tau_b: need at least 3 items, got {n}")
    RX, tx = dense_ranks(X)
    RY, ty = dense_ranks(Y)
    with single_threaded_blas():
        if X.shape[1] >= Y.shape[1]:
            S = con_minus_dis(RX, RY, n_jobs)
        else:
            S = con_minus_dis(RY, RX, n_jobs).T
    tau, p = tau_p_from_counts(S, n, tx, ty, alternative)
    if x1d:
        tau, p = tau[0], p[0]
    if y1d:
        tau, p = tau[..., 0], p[..., 0]
    return tau, p


class TauScale:
    """The tie-corrected denominators of tau-b and of its asymptotic z for fixed tie statistics
    (``tx`` (3, m), ``ty`` (3, q) from :func:`dense_ranks`), computed once: a relabelling of the
    entries keeps the ties, so every permutation of a null reuses them. Same operations, in
    scipy's order, as a direct computation: results agree to rounding."""

    def __init__(self, n: int, tx, ty):
        tot = n * (n - 1) // 2
        xtie, x0, x1 = (t[:, None] for t in tx)
        ytie, y0, y1 = (t[None, :] for t in ty)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.a = np.sqrt(tot - xtie)
            self.b = np.sqrt(tot - ytie)
            m = n * (n - 1.0)
            var = ((m * (2 * n + 5) - x1 - y1) / 18
                   + (2 * xtie * ytie) / m + x0 * y0 / (9 * m * (n - 2)))
            self.sd = np.sqrt(var)
        self.undefined = (xtie == tot) | (ytie == tot)

    def tau(self, S):
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.clip(S / self.a / self.b, -1.0, 1.0)
        return np.where(self.undefined, np.nan, tau)

    def z(self, S):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = S / self.sd
        return np.where(self.undefined, np.nan, z)


def p_from_z(z, alternative: str = "greater"):
    """Asymptotic p of Kendall's z for the alternative."""
    if alternative == "greater":
        return ndtr(-z)
    if alternative == "less":
        return ndtr(z)
    return 2 * ndtr(-np.abs(z))


def tau_p_from_counts(S, n: int, tx, ty, alternative: str = "greater"):
    """tau-b and asymptotic p from concordant-minus-discordant counts and tie statistics.

    ``S`` (m, q); ``tx`` (3, m) and ``ty`` (3, q) as returned by :func:`dense_ranks`.
    Follows scipy's order of operations so results agree to rounding.
    """
    scale = TauScale(n, tx, ty)
    return scale.tau(S), p_from_z(scale.z(S), alternative)
