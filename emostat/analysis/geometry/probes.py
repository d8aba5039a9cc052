"""Layer-wise linear probes decoding the concept from single-stimulus activations.

The **record** probe is a ridge classifier (scikit-learn's ``RidgeClassifier`` targets on
features standardised inside each training fold, deciding with equal class priors: see
:mod:`emostat.analysis.engines.ridge`). Its penalty is chosen by nested cross-validation over a
grid fixed before the data are seen (:data:`ALPHA_GRID` x the number of features): inside every
outer training fold, inner folds of the same kind pick the penalty with the most correct
predictions (ties: the larger penalty). One eigendecomposition per fold serves every penalty and
every label vector (:mod:`emostat.analysis.engines.ridge`), so the whole nested procedure is
repeated inside every label shuffle of the null, on every layer.

The scheme follows the unit of the claim (:func:`probe_scheme`):

- **grouped**: where the stimuli have a group (source, template, topic) with two or more values
  and not every group is a singleton, folds are ``GroupKFold`` by group and the labels are
  shuffled within groups;
- **plain**: groups that are all singletons (or none) fall back to folds dealt round-robin over
  the stimuli in file order, and the labels are shuffled within those folds;
- a shuffle that can produce no other label vector (every group holds one concept) leaves the
  probe **not tested**, with the reason; with few distinct orderings (no more than the draws
  asked for) all of them are enumerated and p is exact (floor 1/D).

Inner folds are the other outer folds (leave one outer fold out of the training fold). Every
shuffle then keeps the class counts of every outer and inner fold, so that a shuffled labelling
meets the same fold structure as the observed one: with rows of X exchangeable and independent
of the labels, the observed accuracy and the shuffled ones are exchangeable and p is valid
(finite-sample). Shuffling over all stimuli with fixed folds is not: a file sorted by concept
deals every concept evenly over the folds, a random shuffle does not, and with 3 stimuli per
concept the shuffles' accuracy sits far below the observed labels' under the null (measured:
5-fold false-positive rate .07-.10 with 6 concepts x 3 stimuli).

Accuracy is the share of stimuli predicted right out of fold, with a Clopper-Pearson interval
over stimuli on each layer's row. The best layer's row (the record) carries an interval
simultaneous over the probed layers from the same shuffles as its max-over-layers p: the
accuracy +/- the 95% quantile over shuffles of the largest |shuffled accuracy - its mean| over
layers (the spread of the null, which keeps the design's dependence between stimuli that share
a fold or a group; a Clopper-Pearson interval treats them as independent). Chance is the
permutation null's mean accuracy (not 1 / C, which it is not when concepts are unbalanced over
groups). The control task (Hewitt & Liang 2019) gives each stimulus *type* (its template,
setting or source) a consistent random label that a probe could memorise, and is
cross-validated on plain folds, where the types recur on both sides; selectivity = the
concept probe's accuracy on the same plain folds - the control's. Scikit-learn's multinomial
``LogisticRegression`` is fitted on the scheme's folds as a supporting estimate (no null).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emostat.analysis.engines.relabel import n_orderings, orderings
from emostat.analysis.engines.ridge import NestedRidge
from emostat.analysis.geometry.layers import clopper_pearson, perm_columns, simultaneous_halfwidth
from emostat.errors import InputError

ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)   # x the number of features (fixed before the data)


def make_ridge(alpha: float = 1.0):
    """The record probe at one penalty: StandardScaler then RidgeClassifier(alpha)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha))


def make_probe(C: float = 1.0, max_iter: int = 300):
    """The supporting probe: StandardScaler then LogisticRegression (lbfgs, multinomial, L2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


# ---------------------------------------------------------------- folds and the scheme

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


def position_folds(n: int, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds dealt round-robin over positions (stimulus i in fold i mod k): label-free."""
    k = min(n_splits, n)
    if k < 2:
        raise InputError(f"folds: cross-validation needs at least 2 stimuli, got {n}")
    fold = np.arange(n) % k
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


@dataclass
class Scheme:
    """Folds, inner folds and shuffle groups of one probe design."""

    kind: str                 # "grouped" | "plain"
    folds: list
    inner: list               # per outer fold: [(tr, te)] as positions inside the training fold
    groups: np.ndarray        # shuffle groups (the stimulus groups, or the plain folds)
    n_orderings: int          # distinct label vectors the shuffles can produce
    unit: str
    untestable: str | None = None


def probe_scheme(codes, groups=None, n_splits: int = 5) -> Scheme:
    """The folds and shuffles of a probe over stimuli with concept codes ``codes`` and
    ``groups`` (None, or all singletons: the plain scheme)."""
    codes = np.asarray(codes)
    n = len(codes)
    g = None if groups is None else np.asarray(groups).astype(str)
    if g is not None and len(g) != n:
        raise InputError(f"probe: {n} stimuli, {len(g)} groups")
    n_groups = 0 if g is None else len(np.unique(g))
    if g is None or n_groups == n:
        folds = position_folds(n, n_splits)
        fold_of = np.empty(n, dtype=np.intp)
        for f, (_, te) in enumerate(folds):
            fold_of[te] = f
        D = n_orderings(codes, fold_of)
        return Scheme("plain", folds, inner_folds(folds, fold_of, n_splits), fold_of, D,
                      f"stimulus ({n}) in {len(folds)} folds")
    folds = group_folds(g, n_splits)
    D = n_orderings(codes, g)
    why = None if D > 1 else ("every group holds a single concept, so a shuffle within groups "
                              "cannot reorder the labels")
    return Scheme("grouped", folds, inner_folds(folds, g, n_splits), g, D,
                  f"stimulus ({n}) in {n_groups} groups", why)


def inner_folds(folds, groups, n_splits: int) -> list:
    """Per outer fold, its inner folds (positions inside the training fold): the other outer
    folds, one left out at a time; with only one other fold, ``GroupKFold`` over the training
    fold's groups (a shuffle within groups keeps either)."""
    out = []
    for j, (tr, _) in enumerate(folds):
        others = [te for m, (_, te) in enumerate(folds) if m != j]
        if len(others) >= 2:
            out.append([(np.flatnonzero(~np.isin(tr, te)), np.flatnonzero(np.isin(tr, te)))
                        for te in others])
        elif len(np.unique(groups[tr])) >= 2:
            out.append(group_folds(groups[tr], n_splits))
        else:
            raise InputError("probe: nested cross-validation needs at least 3 folds or 2 "
                             "groups in a training fold")
    return out


def type_control(types, n_classes: int, seed) -> tuple[np.ndarray | None, str]:
    """Hewitt & Liang control labels: each type one random class (balanced over types, as many
    classes as the task, at most one per type); (None, why) when the types cannot serve."""
    if types is None:
        return None, "none: the stimuli have no template, setting or source to label"
    t = np.asarray(types).astype(str)
    kinds, inv = np.unique(t, return_inverse=True)
    if len(kinds) < 2 or len(kinds) == len(t):
        return None, ("none: the stimulus types do not recur" if len(kinds) == len(t) else
                      "none: one stimulus type only")
    rng = np.random.default_rng(seed)
    K = min(n_classes, len(kinds))
    per_type = rng.permutation(np.arange(len(kinds)) % K)
    return per_type[inv], f"a random label per stimulus type ({len(kinds)} types, {K} classes)"


# ---------------------------------------------------------------- the probes

def cv_predict(X, y, folds, C: float = 1.0) -> np.ndarray:
    """Out-of-fold predictions of the logistic probe for every stimulus."""
    from sklearn.exceptions import ConvergenceWarning

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    pred = np.empty(len(y), dtype=y.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for tr, te in folds:
            pred[te] = make_probe(C).fit(X[tr], y[tr]).predict(X[te])
    return pred


def nested_accuracy(X, codes, scheme_folds, inner, alphas, n_classes, chunk: int = 128):
    """Out-of-fold accuracy of the nested ridge probe for each label vector (columns of
    ``codes`` [n, B]); returns (accuracy [B], chosen penalty index [n_folds, B]). ``X`` may
    be a :class:`NestedRidge` already built on those folds."""
    nr = X if isinstance(X, NestedRidge) else NestedRidge.build(X, scheme_folds, inner, alphas)
    B = codes.shape[1]
    acc = np.empty(B)
    chosen = np.empty((len(scheme_folds), B), dtype=np.intp)
    for lo in range(0, B, chunk):
        c = codes[:, lo:lo + chunk]
        pred, pick = nr.predict_classes(c, n_classes)
        acc[lo:lo + chunk] = (pred == c).mean(axis=0)
        chosen[:, lo:lo + chunk] = pick
    return acc, chosen


def grid(d: int, alphas=None) -> np.ndarray:
    """The penalty grid: ``alphas`` as given, else :data:`ALPHA_GRID` x ``d``."""
    return np.asarray(alphas if alphas is not None else [a * d for a in ALPHA_GRID], float)


def probe_layers(X, labels, groups=None, n_splits: int = 5, n_perm: int = 999, seed: int = 0,
                 layers=None, alphas=None, logistic_layers=None, C: float = 1.0,
                 types=None) -> pd.DataFrame:
    """Cross-validated concept probes per layer with a permutation null over the best layer.

    Parameters
    ----------
    X : array [n_layers, n_stimuli, d]
    labels : concept of each stimulus
    groups : group of each stimulus (source, template or topic), or None; all singletons
        (e.g. the stimulus ids) means none (:func:`probe_scheme`)
    n_perm : int
        Label shuffles, each cross-validated anew (nested penalty choice included) on every
        layer; all distinct orderings instead when they are no more than ``n_perm``.
    layers : layer numbers of the rows of X (default 0..n_layers-1)
    alphas : the penalty grid (default :data:`ALPHA_GRID` x the number of features)
    logistic_layers : rows of X (positions) that also get the logistic probe (default all)
    types : stimulus type (template, setting, source) for the control task, or None

    Returns
    -------
    DataFrame
        ``test = "ridge_cv"`` (role ``supporting``, one row per layer): ``estimate`` =
        out-of-fold accuracy with its Clopper-Pearson interval over stimuli, ``chance`` =
        ``null_mean`` (the null's mean accuracy at that layer), the layer's own ``p_value``,
        ``control_accuracy`` and ``accuracy_plain`` (the control task and the probe on plain
        folds), ``selectivity``, ``alpha_chosen`` (median penalty chosen for the observed
        labels). ``test = "max_over_layers"`` (role ``record``): the best layer, ``p_value`` =
        share of shuffles whose best layer reaches the observed best accuracy, a simultaneous
        interval. ``test = "logistic_cv"`` (supporting, no p). ``note`` says why a probe was
        not tested.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InputError(f"activations: expected [n_layers, n_stimuli, d], got {X.shape}")
    y = np.asarray(labels).astype(str)
    if len(y) != X.shape[1]:
        raise InputError(f"probe_layers: {X.shape[1]} stimuli, {len(y)} labels")
    L, n = X.shape[0], X.shape[1]
    layers = list(range(L)) if layers is None else list(layers)
    classes, code = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InputError("probe_layers: the stimuli carry fewer than 2 concepts")
    sch = probe_scheme(code, groups, n_splits)
    alphas = grid(X.shape[2], alphas)
    control, control_how = type_control(types, len(classes), seed + 1)
    psch = sch if sch.kind == "plain" else probe_scheme(code, None, n_splits)
    if sch.untestable:
        null, exact = np.empty((n, 0), dtype=code.dtype), True
    else:
        null, exact = orderings(code, sch.groups, n_perm, seed)
    shuffles = np.column_stack([code, null])
    K = len(classes)
    correct = np.empty((L, shuffles.shape[1]))
    acc_plain = np.full(L, np.nan)
    acc_control = np.full(L, np.nan)
    alpha_obs = np.empty(L)
    for li in range(L):
        nr = NestedRidge.build(X[li], sch.folds, sch.inner, alphas)
        correct[li], chosen = nested_accuracy(nr, shuffles, sch.folds, sch.inner, alphas, K)
        alpha_obs[li] = float(np.median(alphas[chosen[:, 0]]))
        if psch is not sch:
            nr = NestedRidge.build(X[li], psch.folds, psch.inner, alphas)
        acc_plain[li] = correct[li, 0] if psch is sch else nested_accuracy(
            nr, code[:, None], psch.folds, psch.inner, alphas, K)[0][0]
        if control is not None:
            acc_control[li] = nested_accuracy(nr, control[:, None], psch.folds, psch.inner,
                                              alphas, int(control.max()) + 1)[0][0]
    acc, nullacc = correct[:, 0], correct[:, 1:].T            # null [B, L]
    B = nullacc.shape[0]
    best = int(np.argmax(acc))
    lo, hi = clopper_pearson(np.round(acc * n), n)
    slo = shi = np.nan
    if B:
        h = float(simultaneous_halfwidth(nullacc, two_sided=True))
        slo, shi = max(0.0, acc[best] - h), min(1.0, acc[best] + h)
        count = (nullacc >= acc - 1e-12).sum(axis=0)
        count_max = int((nullacc.max(axis=1) >= acc[best] - 1e-12).sum())
        pc, pm = perm_columns(count, B, exact), perm_columns(count_max, B, exact)
        chance = nullacc.mean(axis=0)
        null_max = float(nullacc.max(axis=1).mean())
    else:
        nan = np.full(L, np.nan)
        pc = dict(p_value=nan, n_perm=0, p_floor=np.nan, p_mc_low=nan, p_mc_high=nan)
        pm = {k: (np.nan if np.ndim(v) else v) for k, v in pc.items()}
        chance, null_max = np.full(L, 1.0 / K), np.nan
    common = dict(control=control_how, note=sch.untestable)
    rows = []
    for li, layer in enumerate(layers):
        rows.append(dict(layer=layer, test="ridge_cv", role="supporting", estimate=acc[li],
                         conf_low=lo[li], conf_high=hi[li], chance=chance[li],
                         null_mean=chance[li], control_accuracy=acc_control[li],
                         accuracy_plain=acc_plain[li],
                         selectivity=acc_plain[li] - acc_control[li], statistic=acc[li],
                         alpha_chosen=alpha_obs[li], **common,
                         **{c: (v[li] if np.ndim(v) else v) for c, v in pc.items()}))
    rows.append(dict(layer=layers[best], test="max_over_layers", role="record",
                     estimate=acc[best], conf_low=float(slo), conf_high=float(shi),
                     chance=chance[best], null_mean=null_max,
                     control_accuracy=acc_control[best], accuracy_plain=acc_plain[best],
                     selectivity=acc_plain[best] - acc_control[best], statistic=acc[best],
                     alpha_chosen=alpha_obs[best], **common,
                     **{c: float(v) for c, v in pm.items()}))
    for li in (range(L) if logistic_layers is None else logistic_layers):
        a = (cv_predict(X[li], y, sch.folds, C) == y).mean()
        (l1, h1) = clopper_pearson(round(a * n), n)
        rows.append(dict(layer=layers[li], test="logistic_cv", role="supporting", estimate=a,
                         conf_low=float(l1), conf_high=float(h1), chance=chance[li],
                         null_mean=np.nan, control_accuracy=np.nan, accuracy_plain=np.nan,
                         selectivity=np.nan, statistic=a, alpha_chosen=np.nan, **common,
                         n_perm=0, p_floor=np.nan, p_mc_low=np.nan, p_mc_high=np.nan,
                         p_value=np.nan))
    out = pd.DataFrame(rows)
    out.insert(1, "depth", out["layer"] / max(max(layers), 1))
    how = (f"all {B} distinct label orderings (exact)" if exact else f"{B} label shuffles")
    how += (" within groups" if sch.kind == "grouped" else " within folds")
    draws = f"{how}, each cross-validated anew with its own nested penalty choice"
    if sch.untestable:
        draws = f"not tested: {sch.untestable}"
    out["p_method"] = out["test"].map({
        "ridge_cv": f"ridge probe out-of-fold accuracy, one-sided, {draws}",
        "max_over_layers": f"max over {L} layers of the ridge probe accuracy, one-sided, {draws}",
        "logistic_cv": "no test (estimate only)"})
    out["conf_method"] = np.where(
        out["test"] == "max_over_layers",
        f"simultaneous over {L} layers: accuracy +/- the 95% quantile of the max over layers "
        f"of |shuffled accuracy - its mean| ({how})",
        f"Clopper-Pearson over stimuli ({n}), this layer alone")
    out["unit"] = sch.unit
    out["scheme"] = sch.kind
    out["n_orderings"] = float(sch.n_orderings) if sch.n_orderings < 10 ** 300 else np.inf
    out["scale"] = "proportion"
    grid_txt = ", ".join(f"{a:g}" for a in alphas)
    out["probe"] = np.where(out["test"] == "logistic_cv", f"logistic (C={C})",
                            f"ridge, penalty by nested CV over [{grid_txt}]")
    out["n_classes"] = K
    out["n_folds"] = len(sch.folds)
    return out
