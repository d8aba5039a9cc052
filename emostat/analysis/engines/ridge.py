"""Ridge regression for many target columns and many penalties from one eigendecomposition per
fold, and its nested cross-validation (the penalty chosen inside every outer training fold).

Features are standardised with the training fold's means and standard deviations, targets
centred on the training mean (an unpenalised intercept), as scikit-learn's
``make_pipeline(StandardScaler(), Ridge(alpha))`` does. With the training matrix ``A`` (n x d)
and ``G`` the smaller of ``A A'`` (n <= d) and ``A'A`` (n > d), one ``eigh(G) = U diag(s) U'``
gives every penalty's predictions on held-out rows ``T``:

    dual    T A' U diag(1/(s + a)) U' Yc        primal    T U diag(1/(s + a)) U' A' Yc

so a fold costs one eigendecomposition whatever the number of penalties and target columns (label
shuffles, attributes). The two factors are multiplied once per penalty into the hat matrix
``H_a = T A' U diag(1/(s + a)) U'`` (n_te x n_tr; dual and primal alike), and predictions are
``H_a Yc``: one product per target column instead of two, and on the outer folds only the
penalty that each unit chose is computed.

For class codes the product needs no matrix multiply: the centred {-1, 1} one-hot targets are
``2 (onehot - share)``, so a class's score is twice (the sum of the hat matrix's columns over
that class's training rows less the class's training share times the row sums, which are 0 up
to rounding: the features are centred on the training rows). :meth:`NestedRidge.predict_classes`
adds those columns in a numba kernel where a dense product would multiply by every class
(tests/test_probes.py checks its decisions against scikit-learn's ridge on one-hot codes).

Classification regresses {-1, 1} one-hot codes, as scikit-learn's ``RidgeClassifier`` does,
and predicts the class with the largest score *without the intercept*, i.e. with equal class
priors (ties: the lowest code). With balanced training classes that is ``RidgeClassifier``'s
prediction; with a few stimuli per concept, holding one out leaves its class short in
training, and the intercept (the class's share) alone would steer every prediction away from
it (measured on ``de-example``, 3 stimuli per concept: accuracy 0 on every layer of SmolLM2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit


@dataclass
class FoldSolver:
    """One training fold's decomposition: predictions on its held-out rows for any targets."""

    left: np.ndarray      # [n_te, r]
    right: np.ndarray     # [r, n_tr]
    s: np.ndarray         # [r] eigenvalues
    _hat: tuple | None = field(default=None, repr=False)   # (penalties, hat matrices)

    def hat(self, alphas) -> np.ndarray:
        """The hat matrices ``[n_alpha, n_te, n_tr]`` of the penalties (kept for the next call
        with the same penalties)."""
        alphas = np.asarray(alphas, dtype=float)
        if self._hat is None or not np.array_equal(self._hat[0], alphas):
            scaled = self.left[None] / (self.s[None, None, :] + alphas[:, None, None])
            self._hat = (alphas, scaled @ self.right)
        return self._hat[1]

    def class_predictions(self, codes: np.ndarray, alphas, n_classes: int) -> np.ndarray:
        """Predicted codes ``[B, n_alpha, n_te]`` for training label vectors ``codes``
        [n_tr, B]: the argmax of ``predict(2 onehot(codes) - 1, alphas, intercept=False)``
        (ties: the lowest code), from class sums of the hat matrix's columns."""
        H = self.hat(alphas)
        a, n_te, n_tr = H.shape
        Ht = np.ascontiguousarray(H.reshape(a * n_te, n_tr).T)       # [n_tr, a * n_te]
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        share = np.stack([np.bincount(c, minlength=n_classes) for c in codes.T]) / n_tr
        pred = np.empty((codes.shape[1], a * n_te), np.int64)
        _class_argmax(Ht, codes, share, Ht.sum(axis=0), n_classes, pred)
        return pred.reshape(codes.shape[1], a, n_te)

    def predict(self, Ytr: np.ndarray, alphas, intercept: bool = True) -> np.ndarray:
        """Predictions ``[n_alpha, n_te, m]`` of the targets ``Ytr`` [n_tr, m] per penalty
        (``intercept=False``: without the training mean of each target)."""
        ybar = Ytr.mean(axis=0)
        H = self.hat(alphas)
        a, n_te, n_tr = H.shape
        P = (H.reshape(a * n_te, n_tr) @ (Ytr - ybar)).reshape(a, n_te, -1)
        return P + ybar if intercept else P

    def predict_chosen(self, Ytr: np.ndarray, alphas, chosen: np.ndarray,
                       intercept: bool = True) -> np.ndarray:
        """Predictions ``[n_te, m]`` of each column of ``Ytr`` at its own penalty (index
        ``chosen`` [m] into ``alphas``)."""
        ybar = Ytr.mean(axis=0)
        H = self.hat(alphas)
        out = np.empty((H.shape[1], Ytr.shape[1]))
        for a in np.unique(chosen):
            cols = np.flatnonzero(chosen == a)
            out[:, cols] = H[a] @ (Ytr[:, cols] - ybar[cols])
        return out + ybar if intercept else out


@njit(nogil=True, cache=True)
def _class_argmax(Ht, codes, share, rowsum, n_classes, pred):
    """pred[b, r] = argmax over c of (the sum of Ht[j, r] over the rows j of class c in
    codes[:, b]) - share[b, c] rowsum[r] (ties: the lowest c)."""
    n_tr, R = Ht.shape
    G = np.empty((n_classes, R))
    best = np.empty(R)
    for b in range(codes.shape[1]):
        G[:] = 0.0
        for j in range(n_tr):
            c = codes[j, b]
            for r in range(R):
                G[c, r] += Ht[j, r]
        for r in range(R):
            best[r] = G[0, r] - share[b, 0] * rowsum[r]
            pred[b, r] = 0
        for c in range(1, n_classes):
            for r in range(R):
                v = G[c, r] - share[b, c] * rowsum[r]
                if v > best[r]:
                    best[r] = v
                    pred[b, r] = c


def fold_solver(X: np.ndarray, tr, te) -> FoldSolver:
    """The decomposition of training rows ``tr`` of ``X``, to predict rows ``te``."""
    A, T = X[tr], X[te]
    mu = A.mean(axis=0)
    sd = A.std(axis=0)
    sd[sd == 0] = 1.0
    A, T = (A - mu) / sd, (T - mu) / sd
    if A.shape[0] <= A.shape[1]:
        s, U = np.linalg.eigh(A @ A.T)
        return FoldSolver(T @ A.T @ U, U.T, np.maximum(s, 0.0))
    s, U = np.linalg.eigh(A.T @ A)
    return FoldSolver(T @ U, U.T @ A.T, np.maximum(s, 0.0))


def _loss(P: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared error per penalty and column of predictions P [a, n, m] of Y [n, m]."""
    return ((P - Y[None]) ** 2).sum(axis=1)


@dataclass
class NestedRidge:
    """The folds of a nested cross-validation, decomposed once per layer."""

    outer: list            # [(tr, te)] of the rows
    solvers: list          # outer FoldSolver per outer fold
    inner: list            # per outer fold: [(tr_rows, te_rows, FoldSolver)] in that fold
    alphas: np.ndarray

    @classmethod
    def build(cls, X, outer, inner_folds, alphas) -> NestedRidge:
        X = np.asarray(X, dtype=np.float64)
        inner = []
        for (tr, _), folds in zip(outer, inner_folds):
            inner.append([(tr[a], tr[b], fold_solver(X, tr[a], tr[b])) for a, b in folds])
        return cls(outer, [fold_solver(X, tr, te) for tr, te in outer], inner,
                   np.sort(np.asarray(alphas, dtype=float)))

    def predict(self, Y: np.ndarray):
        """Out-of-fold predictions of regression targets ``Y`` [n, m], each column's penalty
        chosen by the inner folds of every outer training fold (the lowest inner squared error;
        ties: the larger penalty).

        Returns (out-of-fold predictions [n, m], chosen penalty index [n_outer, m]).
        """
        n, m = Y.shape
        out = np.empty((n, m))
        chosen = np.empty((len(self.outer), m), dtype=np.intp)
        A = len(self.alphas)
        for k, ((tr, te), solver) in enumerate(zip(self.outer, self.solvers)):
            loss = np.zeros((A, m))
            for itr, ite, sv in self.inner[k]:
                loss += _loss(sv.predict(Y[itr], self.alphas), Y[ite])
            pick = A - 1 - np.argmin(loss[::-1], axis=0)           # ties: the larger penalty
            chosen[k] = pick
            out[te] = solver.predict_chosen(Y[tr], self.alphas, pick)
        return out, chosen

    def predict_classes(self, codes: np.ndarray, n_classes: int):
        """Out-of-fold predicted codes of label vectors ``codes`` [n, B] (the classifier of the
        module docstring), each vector's penalty chosen by the inner folds of every outer
        training fold (the most correct inner predictions; ties: the larger penalty).

        Returns (predicted codes [n, B], chosen penalty index [n_outer, B])."""
        codes = np.asarray(codes, dtype=np.int64)
        n, B = codes.shape
        out = np.empty((n, B), np.int64)
        chosen = np.empty((len(self.outer), B), dtype=np.intp)
        A = len(self.alphas)
        for k, ((tr, te), solver) in enumerate(zip(self.outer, self.solvers)):
            loss = np.zeros((A, B))
            for itr, ite, sv in self.inner[k]:
                pred = sv.class_predictions(codes[itr], self.alphas, n_classes)
                loss -= (pred == codes[ite].T[:, None, :]).sum(axis=2).T
            pick = A - 1 - np.argmin(loss[::-1], axis=0)           # ties: the larger penalty
            chosen[k] = pick
            pred = solver.class_predictions(codes[tr], self.alphas, n_classes)
            out[te] = pred[np.arange(B), pick].T
        return out, chosen

