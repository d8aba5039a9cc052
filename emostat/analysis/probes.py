"""Layer-wise linear probes decoding the concept from single-stimulus activations.

The probe is scikit-learn's multinomial ``LogisticRegression`` on standardised features (the
scaler is fitted inside each training fold). Validation follows the unit of the claim:

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

from emostat.analysis.geometry import clopper_pearson, perm_columns
from emostat.errors import InputError


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


def probe_layers(X, labels, groups, n_splits: int = 5, n_perm: int = 199, seed: int = 0,
                 layers=None, C: float = 1.0) -> pd.DataFrame:
    """Cross-validated concept probes per layer with a within-group permutation null.

    Parameters
    ----------
    X : array [n_layers, n_stimuli, d]
    labels : concept of each stimulus
    groups : group of each stimulus for the folds and the shuffles (stimulus id, source,
        template or topic)
    n_perm : int
        Within-group label shuffles; each reruns the cross-validation on every layer.
    layers : layer numbers of the rows of X (default 0..n_layers-1)

    Returns
    -------
    DataFrame
        ``test = "cv_accuracy"`` (one row per layer, role ``supporting``): ``estimate`` =
        out-of-fold accuracy, Clopper-Pearson interval over stimuli, ``control_accuracy`` and
        its interval, ``selectivity``, ``null_mean`` (mean shuffled accuracy), ``p_value`` of the
        layer alone. ``test = "max_over_layers"`` (one row, role ``record``): the best layer,
        ``p_value`` = share of shuffles whose best layer reaches the observed best accuracy.
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

    def accuracies(yy):
        return np.array([(cv_predict(X[li], yy, folds, C) == yy).mean() for li in range(L)])

    acc = accuracies(y)
    y_control = y[rng.permutation(n)]                     # same class sizes, structure lost
    acc_control = accuracies(y_control)
    null = np.array([accuracies(shuffle_within(y, groups, rng)) for _ in range(n_perm)])
    null = null.reshape(n_perm, L)
    count = (null >= acc - 1e-12).sum(axis=0)
    best = int(np.argmax(acc))
    count_max = int((null.max(axis=1) >= acc[best] - 1e-12).sum())
    lo, hi = clopper_pearson(np.round(acc * n), n)
    clo, chi = clopper_pearson(np.round(acc_control * n), n)
    n_classes = len(np.unique(y))
    n_groups = len(np.unique(groups))
    pc = perm_columns(count, n_perm)
    top = max(max(layers), 1)
    rows = []
    for li, layer in enumerate(layers):
        rows.append(dict(layer=layer, depth=layer / top, test="cv_accuracy", role="supporting",
                         estimate=acc[li], conf_low=lo[li], conf_high=hi[li],
                         control_accuracy=acc_control[li], control_low=clo[li],
                         control_high=chi[li], selectivity=acc[li] - acc_control[li],
                         null_mean=null[:, li].mean() if n_perm else np.nan,
                         statistic=acc[li], **{c: (v[li] if np.ndim(v) else v)
                                               for c, v in pc.items()}))
    pm = perm_columns(count_max, n_perm)
    rows.append(dict(layer=layers[best], depth=layers[best] / top, test="max_over_layers",
                     role="record", estimate=acc[best], conf_low=lo[best], conf_high=hi[best],
                     control_accuracy=acc_control[best], control_low=clo[best],
                     control_high=chi[best], selectivity=acc[best] - acc_control[best],
                     null_mean=null.max(axis=1).mean() if n_perm else np.nan,
                     statistic=acc[best], **{c: float(v) for c, v in pm.items()}))
    out = pd.DataFrame(rows)
    draws = f"{n_perm} within-group label shuffles, each cross-validated anew"
    out["p_method"] = np.where(out["test"] == "cv_accuracy",
                               f"out-of-fold accuracy, one-sided, {draws}",
                               f"max over {L} layers of the out-of-fold accuracy, {draws}")
    out["conf_method"] = f"Clopper-Pearson over stimuli ({n})"
    out["unit"] = f"stimulus ({n}) in {n_groups} groups"
    out["scale"] = "proportion"
    out["n_classes"] = n_classes
    out["n_folds"] = len(folds)
    out["chance"] = 1.0 / n_classes
    return out
