"""Cross-validated distances: RDMs whose noise does not inflate them (crossnobis-style).

The squared distance of two mean patterns is biased upward by their noise: with templates (or
stimuli, or raters) as independent measurements, E|m_i - m_j|^2 = |mu_i - mu_j|^2 + noise. An
inner product of the difference measured in one fold with the difference measured in the
others has no noise term: it estimates |mu_i - mu_j|^2 without bias, and its zero means "no
difference" (it can go below zero). Here, as rsatoolbox's ``calc_rdm_crossnobis``: for each
fold f, the concept means of fold f (test) and of every other observation (train),

    d_ij = mean over folds f of (test_i - test_j)' Lambda (train_i - train_j) / n_features,

Lambda a noise precision (identity: cross-validated Euclidean; ``"diag"``: each feature scaled
by its residual variance; ``"shrinkage"``: the inverse of the Ledoit-Wolf shrunk residual
covariance - the crossnobis distance of Walther et al. 2016). Folds: templates or stimuli for
language-model concept vectors, raters for human attribute distances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.constants import pair_indices
from emostat.errors import InputError

__all__ = ["crossval_rdms", "stratified_folds", "crossval_neuron_rdms", "rater_folds",
           "crossval_attribute_rdms"]


def stratified_folds(labels, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold id of each observation: every concept's observations shuffled (seeded) and dealt
    round-robin into ``n_folds`` folds, so each concept is in every fold it has enough
    observations for."""
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), np.int64)
    for c in pd.unique(labels):
        rows = np.flatnonzero(labels == c)
        folds[rng.permutation(rows)] = np.arange(len(rows)) % n_folds
    return folds


def _means(X, W):
    """(..., K, n, d) means of X (..., obs, d) with averaging weights W (K, n, obs)."""
    return np.einsum("kno,...od->...knd", W, X)


def _precision(X, labels, concepts, folds, kind):
    """(..., d, d) or (..., d) noise precision from the residuals about each concept x fold
    mean (independent of every fold mean for normal noise, so the distances stay unbiased;
    residuals about the concepts' overall means would not be), or None (identity)."""
    if isinstance(kind, np.ndarray):
        return kind
    if kind is None or kind == "none":
        return None
    R = np.array(X, dtype=np.float64, copy=True)
    cells = 0
    for c in concepts:
        for f in np.unique(folds):
            rows = (labels == c) & (folds == f)
            R[..., rows, :] -= R[..., rows, :].mean(axis=-2, keepdims=True)
            cells += 1
    dof = R.shape[-2] - cells
    if dof < 1:
        raise InputError(f"noise precision {kind!r}: needs two observations of a concept in some "
                         "fold (residuals within concept x fold); use fewer folds")
    if kind == "diag":
        var = (R ** 2).sum(axis=-2) / dof
        return 1.0 / np.maximum(var, 1e-12 * max(var.max(), 1e-300))
    if kind == "shrinkage":
        from sklearn.covariance import ledoit_wolf

        flat = R.reshape(-1, R.shape[-2], R.shape[-1])
        scale = R.shape[-2] / dof              # ledoit_wolf divides by the rows, not the dof
        out = np.stack([np.linalg.inv(ledoit_wolf(r, assume_centered=True)[0] * scale)
                        for r in flat])
        return out.reshape(R.shape[:-2] + (R.shape[-1], R.shape[-1]))
    raise InputError(f"noise precision {kind!r}: use None, 'diag', 'shrinkage' or an array")


def crossval_rdms(X, labels, folds, concepts=None, precision=None) -> np.ndarray:
    """Cross-validated squared distances between concept means (see the module docstring).

    Parameters
    ----------
    X : array (..., observations, features)
        E.g. (layers, stimuli, d) residual states, or (observations, neurons).
    labels : sequence (observations,)
        The concept of each observation.
    folds : sequence (observations,)
        Fold of each observation (:func:`stratified_folds`); every concept needs an
        observation in every fold.
    concepts : list, optional
        Concept order (default: sorted labels).
    precision : None, "diag", "shrinkage" or array (features, features)

    Returns
    -------
    ndarray (..., n_pairs), R ``dist()`` pair order over ``concepts``.

    Examples
    --------
    Eight concepts with the same true pattern: the distances of the means are all positive
    (noise), the cross-validated ones scatter around zero.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(list("abcdefgh"), 4)
    >>> X = rng.normal(size=(32, 50))
    >>> folds = stratified_folds(labels, 4)
    >>> round(float(crossval_rdms(X, labels, folds).mean()), 3)
    -0.006
    >>> from scipy.spatial.distance import pdist
    >>> means = np.stack([X[labels == c].mean(axis=0) for c in "abcdefgh"])
    >>> round(float((pdist(means, "sqeuclidean") / 50).mean()), 3)
    0.487
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels, dtype=object)
    folds = np.asarray(folds)
    if X.shape[-2] != len(labels) or len(folds) != len(labels):
        raise InputError(f"crossval_rdms: {X.shape[-2]} observations, {len(labels)} labels, "
                         f"{len(folds)} folds")
    concepts = sorted(pd.unique(labels)) if concepts is None else list(concepts)
    fold_ids = np.unique(folds)
    if len(fold_ids) < 2:
        raise InputError("crossval_rdms: cross-validation needs at least 2 folds")
    n, K = len(concepts), len(fold_ids)
    test = np.zeros((K, n, len(labels)))
    train = np.zeros((K, n, len(labels)))
    for k, f in enumerate(fold_ids):
        for c, name in enumerate(concepts):
            t = (labels == name) & (folds == f)
            r = (labels == name) & (folds != f)
            if not t.any() or not r.any():
                raise InputError(f"crossval_rdms: concept {name!r} has no observation in fold "
                                 f"{f!r} (or only there); use fewer folds")
            test[k, c, t] = 1.0 / t.sum()
            train[k, c, r] = 1.0 / r.sum()
    Lam = _precision(X, labels, concepts, folds, precision)
    A, B = _means(X, test), _means(X, train)                  # (..., K, n, d)
    if Lam is not None:
        B = B * Lam[..., None, None, :] if Lam.ndim == X.ndim - 1 else np.einsum(
            "...knd,...de->...kne", B, Lam)
    G = np.einsum("...knd,...kmd->...knm", A, B)              # test . precision . train
    dg = np.einsum("...knn->...kn", G)
    i, j = pair_indices(n)
    d = dg[..., i] + dg[..., j] - G[..., i, j] - G[..., j, i]
    return d.mean(axis=-2) / X.shape[-1]


def crossval_neuron_rdms(A, chunk: int = 2048) -> np.ndarray:
    """Per-neuron cross-validated squared differences with each template a fold.

    A : (templates, concepts, neurons). For each neuron and pair, the mean over templates f of
    (a_i^f - a_j^f) x (mean over the other templates of a_i - a_j): an unbiased estimate of
    the squared difference of the concepts' mean activations (the study's RDM, the mean of
    |a_i - a_j| over templates, is biased up by template noise). Returns (n_pairs, neurons).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 3 or A.shape[0] < 2:
        raise InputError(f"crossval_neuron_rdms: need (templates >= 2, concepts, neurons), got "
                         f"{A.shape}")
    T, n, N = A.shape
    i, j = pair_indices(n)
    out = np.empty((len(i), N))
    for c0 in range(0, N, chunk):
        D = A[:, i, c0:c0 + chunk] - A[:, j, c0:c0 + chunk]          # (T, P, b)
        S = D.sum(axis=0)
        out[:, c0:c0 + chunk] = (S * S - (D * D).sum(axis=0)) / (T * (T - 1))
    return out


def rater_folds(ratings: pd.DataFrame, n_folds: int = 2, seed: int = 0) -> pd.Series:
    """Fold of each participant: participants in a seeded random order, each put in the fold
    that has the fewest ratings of its concepts so far (every concept spread over the folds;
    a participant's ratings stay in one fold)."""
    r = ratings.dropna(subset=["participant"])
    concepts_of = r.groupby(r["participant"].astype(str))["concept"].apply(lambda s: set(s))
    people = list(concepts_of.index)
    rng = np.random.default_rng(seed)
    load = {}
    out = {}
    for p in [people[k] for k in rng.permutation(len(people))]:
        cs = concepts_of[p]
        f = min(range(n_folds), key=lambda k: (sum(load.get((k, c), 0) for c in cs), k))
        for c in cs:
            load[(f, c)] = load.get((f, c), 0) + 1
        out[p] = f
    return pd.Series(out, name="fold")


def crossval_attribute_rdms(ratings: pd.DataFrame, concepts, attributes=None,
                            n_folds: int = 2, seed: int = 0) -> pd.DataFrame:
    """Cross-validated attribute distances over rater folds (pairs x attributes).

    ``ratings``: long ``participant, concept, attribute, value``. Per attribute the observations
    are the ratings and the folds the participants' folds (:func:`rater_folds`): the
    distance of concepts i and j estimates (mu_i - mu_j)^2 without the raters' noise.
    """
    need = {"participant", "concept", "attribute", "value"} - set(ratings.columns)
    if need:
        raise InputError(f"crossval_attribute_rdms: ratings lack column(s) {sorted(need)}")
    r = ratings.dropna(subset=["participant", "value"]).copy()
    r["participant"] = r["participant"].astype(str)
    attributes = list(pd.unique(r["attribute"])) if attributes is None else list(attributes)
    out = {}
    for a in attributes:
        g = r[(r["attribute"] == a) & r["concept"].isin(concepts)]
        fold = rater_folds(g, n_folds, seed)
        out[str(a)] = crossval_rdms(g["value"].to_numpy(float)[:, None], g["concept"].to_numpy(),
                                    g["participant"].map(fold).to_numpy(), concepts)
    return pd.DataFrame(out)
