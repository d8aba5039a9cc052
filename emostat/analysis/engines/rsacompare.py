"""RDM comparators as rsatoolbox 0.3.2 defines them, on full and on concept-resampled RDMs.

An RDM is a vector over the P = n(n-1)/2 pairs of n concepts (R ``dist()`` order, which is
also scipy's ``squareform`` order). A concept bootstrap draws n concepts with replacement;
rsatoolbox's resampled RDM holds every pair of drawn positions whose concepts differ (a
concept's pairs with its own copies are NaN and dropped). Here a block of resamples is its
concept counts ``c`` (B, n): pair (a, b) occurs ``c_a c_b`` times, and every comparator is
computed on those weights, which gives the expanded vectors' values without building them
(except the whitened cosine, whose double centring is done on the drawn positions).

Comparators (rsatoolbox's name in brackets):
- ``tau_b`` ('tau-b'): scipy's Kendall tau-b; ``tau_a`` ('tau-a'): (con - dis) / (T(T-1)/2);
- ``rho_a`` ('rho-a'): average ranks, centred, sum of products x 12 / (T^3 - T);
- ``spearman`` ('spearman'): average ranks, centred, cosine (tie-corrected Spearman rho);
- ``pearson`` ('corr'); ``cosine`` ('cosine');
- ``whitened_cosine`` ('cosine_cov' without a pattern covariance): the cosine of the
  double-centred second-moment matrices G = -H D H / 2, i.e. linear CKA of the RDMs.
T is the number of entries of the (expanded) vector.
"""

from __future__ import annotations

import numpy as np

from emostat.analysis.engines.weighted import weighted_concordance, weighted_ranks
from emostat.constants import pair_indices
from emostat.errors import InputError

__all__ = ["COMPARATORS", "comparator_name", "Resample", "n_items", "compare", "checked_rdms"]

COMPARATORS = ("tau_b", "tau_a", "rho_a", "spearman", "pearson", "cosine", "whitened_cosine")
RANKED = ("tau_b", "tau_a", "rho_a", "spearman")
ALIASES = {"tau-b": "tau_b", "kendall": "tau_b", "tau-a": "tau_a", "rho-a": "rho_a",
           "corr": "pearson", "correlation": "pearson", "cosine_cov": "whitened_cosine",
           "whitened-cosine": "whitened_cosine", "cka": "whitened_cosine",
           "linear_cka": "whitened_cosine"}


def comparator_name(name: str) -> str:
    """The canonical comparator name for ``name`` (rsatoolbox's names are accepted)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in COMPARATORS:
        raise InputError(f"comparator {name!r} is not one of {COMPARATORS} (or rsatoolbox's "
                         f"names {sorted(ALIASES)})")
    return key


def n_items(n_pairs: int) -> int:
    """The n with n(n-1)/2 = n_pairs."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs or n < 3:
        raise InputError(f"an RDM of {n_pairs} entries is not the n(n-1)/2 pairs of n >= 3 "
                         "concepts")
    return n


class Resample:
    """A block of B concept resamples given by their counts (B, n), for one comparator.

    ``Resample.full(n, comparator)`` is the data as observed (every count 1). Methods compare
    fixed RDMs (k, P) or per-resample RDMs (B, k, P) on every resample at once.
    """

    def __init__(self, counts, comparator: str):
        self.comparator = comparator_name(comparator)
        self.counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
        self.B, self.n = self.counts.shape
        self.i, self.j = pair_indices(self.n)
        self.W = self.counts[:, self.i] * self.counts[:, self.j]            # (B, P)
        self.T = self.W.sum(axis=1)                                         # (B,)
        self.ok = (self.counts > 0).sum(axis=1) >= 3       # rsatoolbox needs 3 distinct
        self._orders = {}
        if self.comparator == "whitened_cosine":
            self._expand()

    @classmethod
    def full(cls, n: int, comparator: str) -> "Resample":
        return cls(np.ones((1, n)), comparator)

    # ---- whitened cosine: the drawn positions -------------------------------------------------
    def _expand(self):
        n, c = self.n, self.counts.astype(np.int64)
        ends = np.cumsum(c, axis=1)                                         # (B, n)
        draws = (ends[:, None, :] <= np.arange(n)[None, :, None]).sum(axis=2)   # sorted draws
        lookup = np.full((n, n), -1, np.intp)
        lookup[self.i, self.j] = lookup[self.j, self.i] = np.arange(len(self.i))
        self.idx = lookup[draws[:, self.i], draws[:, self.j]]               # (B, P) position pairs
        self.valid = (self.idx >= 0).astype(np.float64)
        self.idx = np.where(self.idx >= 0, self.idx, 0)
        inc = np.zeros((len(self.i), n))
        inc[np.arange(len(self.i)), self.i] = 1.0
        inc[np.arange(len(self.j)), self.j] = 1.0
        self.inc = inc                                                      # (P, n)
        A = np.zeros((self.B, n, n))
        A[:, self.i, self.j] = self.valid
        A[:, self.j, self.i] = self.valid
        M = np.eye(n)[None] + 0.5 * (A + np.eye(n)[None] * A.sum(axis=2)[:, :, None])
        self.Minv = np.linalg.inv(M)

    def _whiten(self, V):
        """Double-centred second-moment vectors of V at the drawn positions, off-diagonal
        entries x sqrt(2) then the diagonal (rsatoolbox's _cov_weighting with NaN pairs)."""
        if V.ndim == 2:                                          # fixed (k, P)
            vals = np.moveaxis(V[:, self.idx], 1, 0)             # (B, k, P)
        else:
            vals = np.take_along_axis(V, np.broadcast_to(self.idx[:, None, :], V.shape), 2)
        v_off = -0.5 * vals * self.valid[:, None, :]
        gamma = (v_off @ self.inc) @ self.Minv                    # (B, k, n)
        res_off = v_off - 0.5 * self.valid[:, None, :] * (gamma @ self.inc.T)
        return np.concatenate([res_off * np.sqrt(2.0), -gamma], axis=2)

    # ---- prepared vectors of the linear comparators ------------------------------------------
    def _order(self, V, key):
        """argsort of a fixed V's rows, cached per (key, array) for this block's calls."""
        if key is None:
            return None
        k = (key, id(V))
        if k not in self._orders:                  # the array is kept: its id stays its own
            self._orders[k] = (V, np.argsort(V, axis=-1, kind="stable"))
        return self._orders[k][1]

    def prep(self, V, key=None, order=None) -> np.ndarray:
        """(B, k, L) vectors whose inner products are the comparator (linear comparators).
        V: fixed (k, P) or per resample (B, k, P); ``key`` caches a fixed V's sort order and
        prepared vectors for this block; ``order``: a per-resample V's sort order when known."""
        if key is not None and np.ndim(V) == 2:
            k = ("prep", key, id(V))
            if k not in self._orders:
                self._orders[k] = (V, self._prep(V, key, order))
            return self._orders[k][1]
        return self._prep(V, key, order)

    def _prep(self, V, key=None, order=None) -> np.ndarray:
        V = np.asarray(V, dtype=np.float64)
        fixed = V.ndim == 2
        W = self.W[:, None, :]
        T = self.T[:, None, None]
        comp = self.comparator
        if comp == "whitened_cosine":
            U = self._whiten(V)
            norm = np.sqrt((U ** 2).sum(axis=2, keepdims=True))
            return np.divide(U, norm, out=np.zeros_like(U), where=norm > 0)
        Vb = V[None] if fixed else V
        if comp in ("rho_a", "spearman"):
            U = weighted_ranks(V, self.W, self._order(V, key) if fixed else order, centred=True)
            if comp == "rho_a":
                return U
            norm = np.sqrt((U ** 2).sum(axis=2, keepdims=True))
            return np.divide(U, norm, out=np.zeros_like(U), where=norm > 0)
        if comp == "pearson":
            Vb = Vb - (W * Vb).sum(axis=2, keepdims=True) / T
        if comp in ("pearson", "cosine"):
            norm = np.sqrt((W * Vb ** 2).sum(axis=2, keepdims=True))
            U = Vb * np.sqrt(W)
            return np.divide(U, norm, out=np.zeros(np.broadcast_shapes(U.shape, norm.shape)),
                             where=norm > 0)
        raise InputError(f"prep: {comp} is not a linear comparator")

    # ---- comparisons --------------------------------------------------------------------------
    def cross(self, X, Y, xkey=None, ykey=None) -> np.ndarray:
        """(B, m, q): every row of X against every row of Y, on every resample."""
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.comparator in ("tau_a", "tau_b"):
                return self._tau(X, Y, pairs=False)
            return self.prep(X, xkey) @ np.swapaxes(self.prep(Y, ykey), 1, 2)

    def paired(self, A, Y, ykey=None, aorder=None) -> np.ndarray:
        """(B, k): A[.., k] against Y[.., k] (A, Y fixed (k, P) or per resample (B, k, P));
        ``aorder``: a per-resample A's sort order (B, k, P) when known."""
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.comparator in ("tau_a", "tau_b"):
                return self._tau(A, Y, pairs=True, order=aorder)
            return (self.prep(A, order=aorder) * self.prep(Y, ykey)).sum(axis=2)

    def _tau(self, X, Y, pairs: bool, order=None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        B = self.B
        xs = X.reshape(-1, X.shape[-1])
        ys = Y.reshape(-1, Y.shape[-1])
        kx = X.shape[-2]
        ky = Y.shape[-2]
        b = np.arange(B)
        if pairs:
            k = np.arange(kx)
            ia = (b[:, None] * kx + k) if X.ndim == 3 else np.broadcast_to(k, (B, kx))
            ib = (b[:, None] * ky + k) if Y.ndim == 3 else np.broadcast_to(k, (B, ky))
            iw = np.broadcast_to(b[:, None], (B, kx))
            shape = (B, kx)
        else:
            ia = np.broadcast_to((b[:, None] * kx if X.ndim == 3 else 0) + np.arange(kx),
                                 (B, kx))[:, :, None]
            ib = np.broadcast_to((b[:, None] * ky if Y.ndim == 3 else 0) + np.arange(ky),
                                 (B, ky))[:, None, :]
            ia, ib = np.broadcast_arrays(ia, ib)
            iw = np.broadcast_to(b[:, None, None], ia.shape)
            shape = (B, kx, ky)
        num, tx, ty = (v.reshape(shape) for v in weighted_concordance(
            xs, ys, self.W, ia, ib, iw, None if order is None else order.reshape(xs.shape)))
        T = self.T.reshape((B,) + (1,) * (len(shape) - 1))
        tot = T * (T - 1) / 2
        if self.comparator == "tau_a":
            return np.clip(num / tot, -1.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = num / np.sqrt(tot - tx) / np.sqrt(tot - ty)
        bad = (tot - tx <= 0) | (tot - ty <= 0)
        return np.where(bad, np.nan, np.clip(tau, -1.0, 1.0))

    # ---- rsatoolbox's pooling of rater RDMs (pool_rdm) ----------------------------------------
    def pool_input(self, Y) -> np.ndarray:
        k = ("pool_input", id(Y))
        if k not in self._orders:
            self._orders[k] = (Y, self._pool_input_of(Y))
        return self._orders[k][1]

    def _pool_input_of(self, Y) -> np.ndarray:
        """(B, R, P): each rater RDM transformed as rsatoolbox's ``pool_rdm`` does before
        averaging (ranks for the rank comparators, RMS-normalised for the cosines, z-scored for
        Pearson; its final shift by the minimum changes no correlation and is left out)."""
        Y = np.asarray(Y, dtype=np.float64)[None]
        W = self.W[:, None, :]
        T = self.T[:, None, None]
        comp = self.comparator
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._pool_input(Y, W, T, comp)

    def _pool_input(self, Y, W, T, comp):
        if comp in RANKED:
            return weighted_ranks(Y[0], self.W, self._order(Y[0], "pool"))
        if comp == "pearson":
            Yc = Y - (W * Y).sum(axis=2, keepdims=True) / T
            return Yc / np.sqrt((W * Yc ** 2).sum(axis=2, keepdims=True) / T)
        return Y / np.sqrt((W * Y ** 2).sum(axis=2, keepdims=True) / T)


def compare(X, Y, comparator: str = "tau_b") -> np.ndarray:
    """(m, q) comparisons of RDM vectors X (m, P) and Y (q, P), rsatoolbox's
    ``rsatoolbox.rdm.compare(X, Y, method)`` for the same comparator.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1., 2, 3, 4, 5, 6]]); y = np.array([[1., 3, 2, 4, 6, 5]])
    >>> compare(x, y, "tau_b").round(4).tolist()
    [[0.7333]]
    """
    X, Y = checked_rdms(X, Y, "compare")
    return Resample.full(n_items(X.shape[1]), comparator).cross(X, Y)[0]


def checked_rdms(X, Y, who: str):
    """X (m, P) and Y (q, P) as float arrays with the same pairs and no NaN (else InputError)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if X.shape[1] != Y.shape[1]:
        raise InputError(f"{who}: models have {X.shape[1]} pairs, raters {Y.shape[1]}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise InputError(f"{who}: RDMs contain NaN or inf")
    return X, Y
