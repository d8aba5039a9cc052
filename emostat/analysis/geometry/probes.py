"""Layer-wise linear probes decoding the concept from single-stimulus activations.

Two probes, both on features standardised inside each training fold:

- the **record** probe is scikit-learn's ``RidgeClassifier`` (one-vs-rest least squares). Its
  fit is linear in the labels, so the cross-validated predictions of every label shuffle on every
  layer come from one solve per fold and layer (:func:`ridge_cv_scores`), which makes a real
  permutation null with the maximum over all layers affordable;
- scikit-learn's multinomial ``LogisticRegression`` is fitted on the same folds as a supporting
  estimate (no permutation null: one cross-validation per shuffle would cost minutes per layer).

Validation follows the unit of the claim:

- folds are grouped (``GroupKFold``) by the stimulus group given: the stimulus itself, or its
  source / template / topic where the stimuli have one, so that no group is on both sides;
- accuracy is the share of stimuli predicted right out of fold, with a Clopper-Pearson interval
  over stimuli (never a spread over folds);
- the p shuffles the concept labels *within* groups and reruns the whole cross-validation; the
  best layer is tested against the maximum over layers of the shuffled accuracies;
- a control task (Hewitt & Liang 2019) trains the same probe on random labels with the same class
  sizes; selectivity = accuracy - control accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from emostat.analysis.geometry.layers import clopper_pearson, perm_columns
from emostat.errors import InputError


def make_ridge(alpha: float = 1.0):
    """The record probe: StandardScaler then RidgeClassifier(alpha)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha))


def ridge_cv_predict(X, Y, folds, alpha: float = 1.0) -> np.ndarray:
    """Out-of-fold RidgeClassifier predictions for many label vectors at once.

    Parameters
    ----------
    X : array [n, d]
    Y : int array [n] or [n, B]: class codes 0..C-1 (B label vectors, e.g. shuffles); every
        training fold must hold every class (true of within-group shuffles of the same labels)
    Returns int array [n, B] of predicted codes (the same as ``make_ridge(alpha)`` fitted per
    fold and label vector; ties go to the lowest code, as in scikit-learn).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y)
    one = Y.ndim == 1
    Y = Y[:, None] if one else Y
    C = int(Y.max()) + 1
    pred = np.empty(Y.shape, dtype=np.intp)
    for tr, te in folds:
        mu = X[tr].mean(0)
        sd = X[tr].std(0)
        sd[sd == 0] = 1.0
        A, T = (X[tr] - mu) / sd, (X[te] - mu) / sd
        K = A @ A.T
        K[np.diag_indices_from(K)] += alpha
        M = T @ A.T @ np.linalg.inv(K)               # dual ridge: T A' (AA' + aI)^-1
        for lo in range(0, Y.shape[1], 256):
            Yb = Y[tr, lo:lo + 256]                                  # [n_tr, b]
            onehot = 2.0 * (Yb[:, :, None] == np.arange(C)) - 1.0   # {-1, 1}, [n_tr, b, C]
            ybar = onehot.mean(0)
            S = np.einsum("tn,nbc->tbc", M, onehot - ybar) + ybar
            pred[te, lo:lo + 256] = S.argmax(-1)
    return pred[:, 0] if one else pred


def make_probe(C: float = 1.0, max_iter: int = 300):
    """The probe: StandardScaler then LogisticRegression (lbfgs, multinomial, L2 with ``C``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def group_folds(groups, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic ``GroupKFold`` splits (train, test) of the stimuli by group."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InputError(f"groups: cross-validation needs at least 2 groups, got {n_groups}")
    k = min(n_splits, n_groups)
    dummy = np.zeros((len(groups), 1))
    return [(tr, te) for tr, te in GroupKFold(n_splits=k).split(dummy, groups=groups)]


def cv_predict(X, y, folds, C: float = 1.0) -> np.ndarray:
    """Out-of-fold predictions of the probe for every stimulus."""
    from sklearn.exceptions import ConvergenceWarning

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    pred = np.empty(len(y), dtype=y.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for tr, te in folds:
            pred[te] = make_probe(C).fit(X[tr], y[tr]).predict(X[te])
    return pred


def shuffle_within(y, groups, rng) -> np.ndarray:
    """Labels permuted within each group (group sizes and label counts per group kept)."""
    y = np.asarray(y).copy()
    groups = np.asarray(groups)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        y[idx] = y[rng.permutation(idx)]
    return y


def probe_layers(X, labels, groups, n_splits: int = 5, n_perm: int = 999, seed: int = 0,
                 layers=None, alpha: float | None = None, logistic_layers=None,
                 C: float = 1.0) -> pd.DataFrame:
    """Cross-validated concept probes per layer with a within-group permutation null.

    Parameters
    ----------
    X : array [n_layers, n_stimuli, d]
    labels : concept of each stimulus
    groups : group of each stimulus for the folds and the shuffles (stimulus id, source,
        template or topic)
    n_perm : int
        Within-group label shuffles, each cross-validated anew on every layer (ridge probe).
    layers : layer numbers of the rows of X (default 0..n_layers-1)
    alpha : ridge penalty of the record probe; default the number of features (fixed by rule,
        not tuned per run: alpha = 1 interpolates when d > n)
    logistic_layers : rows of X (positions) that also get the logistic probe (default all;
        ``[]`` none)

    Returns
    -------
    DataFrame
        ``test = "ridge_cv"`` (one row per layer, role ``supporting``): ``estimate`` =
        out-of-fold accuracy, Clopper-Pearson interval over stimuli, ``control_accuracy`` (the
        same probe on random labels with the same class sizes) and its interval,
        ``selectivity``, ``null_mean`` and the layer's own ``p_value``. ``test =
        "max_over_layers"`` (one row, role ``record``): the best layer, ``p_value`` = share of
        shuffles whose best layer reaches the observed best accuracy. ``test = "logistic_cv"``
        (role ``supporting``, no p): the logistic probe's accuracy and control.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InputError(f"activations: expected [n_layers, n_stimuli, d], got {X.shape}")
    y = np.asarray(labels).astype(str)
    groups = np.asarray(groups).astype(str)
    if len(y) != X.shape[1] or len(groups) != X.shape[1]:
        raise InputError(f"probe_layers: {X.shape[1]} stimuli, {len(y)} labels, "
                         f"{len(groups)} groups")
    L, n = X.shape[0], X.shape[1]
    layers = list(range(L)) if layers is None else list(layers)
    folds = group_folds(groups, n_splits)
    rng = np.random.default_rng(seed)
    alpha = float(X.shape[2]) if alpha is None else float(alpha)
    classes, code = np.unique(y, return_inverse=True)
    control = code[rng.permutation(n)]                 # same class sizes, structure lost
    shuffles = np.column_stack([code, control] + [shuffle_within(code, groups, rng)
                                                  for _ in range(n_perm)])
    correct = np.empty((L, shuffles.shape[1]))
    for li in range(L):
        correct[li] = (ridge_cv_predict(X[li], shuffles, folds, alpha)
                       == shuffles).mean(0)
    acc, acc_control, null = correct[:, 0], correct[:, 1], correct[:, 2:].T   # null [B, L]
    count = (null >= acc - 1e-12).sum(axis=0)
    best = int(np.argmax(acc))
    count_max = int((null.max(axis=1) >= acc[best] - 1e-12).sum())
    lo, hi = clopper_pearson(np.round(acc * n), n)
    clo, chi = clopper_pearson(np.round(acc_control * n), n)
    pc = perm_columns(count, n_perm)
    base = dict(n_perm=0, p_floor=np.nan, p_mc_low=np.nan, p_mc_high=np.nan, p_value=np.nan)
    rows = []
    for li, layer in enumerate(layers):
        rows.append(dict(layer=layer, test="ridge_cv", role="supporting", estimate=acc[li],
                         conf_low=lo[li], conf_high=hi[li], control_accuracy=acc_control[li],
                         control_low=clo[li], control_high=chi[li],
                         selectivity=acc[li] - acc_control[li], null_mean=null[:, li].mean(),
                         statistic=acc[li], **{c: (v[li] if np.ndim(v) else v)
                                               for c, v in pc.items()}))
    pm = perm_columns(count_max, n_perm)
    rows.append(dict(layer=layers[best], test="max_over_layers", role="record",
                     estimate=acc[best], conf_low=lo[best], conf_high=hi[best],
                     control_accuracy=acc_control[best], control_low=clo[best],
                     control_high=chi[best], selectivity=acc[best] - acc_control[best],
                     null_mean=null.max(axis=1).mean(), statistic=acc[best],
                     **{c: float(v) for c, v in pm.items()}))
    for li in (range(L) if logistic_layers is None else logistic_layers):
        a = (cv_predict(X[li], y, folds, C) == y).mean()
        ac = (cv_predict(X[li], classes[control], folds, C) == classes[control]).mean()
        (l1, h1), (l2, h2) = clopper_pearson(round(a * n), n), clopper_pearson(round(ac * n), n)
        rows.append(dict(layer=layers[li], test="logistic_cv", role="supporting", estimate=a,
                         conf_low=float(l1), conf_high=float(h1), control_accuracy=ac,
                         control_low=float(l2), control_high=float(h2), selectivity=a - ac,
                         null_mean=np.nan, statistic=a, **base))
    out = pd.DataFrame(rows)
    top = max(max(layers), 1)
    out.insert(1, "depth", out["layer"] / top)
    draws = f"{n_perm} within-group label shuffles, each cross-validated anew"
    out["p_method"] = out["test"].map({
        "ridge_cv": f"ridge probe out-of-fold accuracy, one-sided, {draws}",
        "max_over_layers": f"max over {L} layers of the ridge probe accuracy, {draws}",
        "logistic_cv": "no test (estimate and control only)"})
    out["conf_method"] = f"Clopper-Pearson over stimuli ({n})"
    out["unit"] = f"stimulus ({n}) in {len(np.unique(groups))} groups"
    out["scale"] = "proportion"
    out["probe"] = np.where(out["test"] == "logistic_cv", f"logistic (C={C})",
                            f"ridge (alpha={alpha})")
    out["n_classes"] = len(classes)
    out["n_folds"] = len(folds)
    out["chance"] = 1.0 / len(classes)
    return out
