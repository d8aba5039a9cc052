"""Attribute regression probes: a stimulus's activations -> the human attribute value of its
concept, per layer, out of fold.

The same design as the concept probe (:mod:`emostat.analysis.geometry.probes`): the scheme's
folds (grouped, or plain; inner folds the other outer folds), ridge regression on standardised features with the penalty chosen
per attribute by nested cross-validation over the same grid (least squared error; ties: the
larger penalty), and the same null: the concept labels shuffled (within groups, or within the
plain folds), each shuffle's attribute values the shuffled concepts' values, the whole nested
procedure rerun per shuffle and layer. The statistic is the out-of-fold R^2 = 1 - SSE / SST
(SST around the mean over all stimuli; negative when the probe predicts worse than that mean).
The best layer per attribute is tested against the maximum over layers; its row carries no
interval (a permutation p only). ``p_fwer_joint`` on those rows is the Westfall-Young
single-step max-T p over all layers x attributes (the share of shuffles whose largest R^2 over
every layer and attribute reaches the attribute's best): it controls the family-wise error over
the attributes with the floor of one test, 1/(B + 1), where Holm over q attributes has q/(B + 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.engines.relabel import orderings
from emostat.analysis.engines.ridge import NestedRidge
from emostat.analysis.geometry.layers import perm_columns
from emostat.analysis.geometry.probes import grid, probe_scheme
from emostat.errors import InputError


def r2_columns(X, Y, folds, inner, alphas, chunk: int = 2048) -> np.ndarray:
    """Out-of-fold R^2 of the nested ridge regression for every column of ``Y`` [n, m]."""
    nr = NestedRidge.build(X, folds, inner, alphas)
    out = np.empty(Y.shape[1])
    for lo in range(0, Y.shape[1], chunk):
        y = Y[:, lo:lo + chunk]
        pred, _ = nr.predict(y)
        sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        out[lo:lo + chunk] = 1.0 - ((pred - y) ** 2).sum(axis=0) / np.maximum(sst, 1e-300)
    return out


def attribute_probes(X, labels, means: pd.DataFrame, groups=None, n_splits: int = 5,
                     n_perm: int = 999, seed: int = 0, layers=None, alphas=None) -> pd.DataFrame:
    """Out-of-fold R^2 of ridge probes for each attribute of ``means`` (concepts x attributes,
    index = the concepts), per layer, with a max-over-layers permutation null per attribute.

    Returns ``test = "ridge_r2"`` rows (layer x attribute, role ``supporting``, the layer's own
    p) and ``test = "max_over_layers"`` rows (one per attribute, role ``record``).
    ``seed`` gives the same shuffles as :func:`~emostat.analysis.geometry.probes.probe_layers`
    with that seed.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InputError(f"activations: expected [n_layers, n_stimuli, d], got {X.shape}")
    y = np.asarray(labels).astype(str)
    index = [str(c) for c in means.index]
    unknown = sorted(set(y) - set(index))
    if unknown:
        raise InputError(f"attribute_probes: concept(s) {unknown[:5]} have no attribute means")
    A = means.to_numpy(float)
    if np.isnan(A).any():
        raise InputError("attribute_probes: missing attribute means")
    L, n = X.shape[0], X.shape[1]
    layers = list(range(L)) if layers is None else list(layers)
    classes, code = np.unique(y, return_inverse=True)
    Ac = A[[index.index(c) for c in classes]]                 # [classes, q]
    q = Ac.shape[1]
    sch = probe_scheme(code, groups, n_splits)
    alphas = grid(X.shape[2], alphas)
    null, exact = ((np.empty((n, 0), dtype=code.dtype), True) if sch.untestable
                   else orderings(code, sch.groups, n_perm, seed))
    shuffles = np.column_stack([code, null])
    K = shuffles.shape[1]
    Y = Ac[shuffles].reshape(n, K * q)                        # column b * q + attribute
    r2 = np.stack([r2_columns(X[li], Y, sch.folds, sch.inner, alphas).reshape(K, q)
                   for li in range(L)])                         # [L, K, q]
    obs, nul = r2[:, 0], r2[:, 1:]                              # [L, q], [L, B, q]
    B = nul.shape[1]
    joint = nul.max(axis=(0, 2)) if B else np.empty(0)          # [B] max over layers x attrs
    rows = []
    names = [str(c) for c in means.columns]
    top = max(max(layers), 1)
    for a, name in enumerate(names):
        if B:
            pc = perm_columns((nul[:, :, a] >= obs[:, None, a] - 1e-12).sum(axis=1), B, exact)
            best = int(np.argmax(obs[:, a]))
            pm = perm_columns(int((nul[:, :, a].max(axis=0) >= obs[best, a] - 1e-12).sum()),
                              B, exact)
            pj = perm_columns(int((joint >= obs[best, a] - 1e-12).sum()), B, exact)["p_value"]
            null_mean = nul[:, :, a].mean(axis=1)
        else:
            best = int(np.argmax(obs[:, a]))
            pc = dict(p_value=np.full(L, np.nan), n_perm=0, p_floor=np.nan,
                      p_mc_low=np.full(L, np.nan), p_mc_high=np.full(L, np.nan))
            pm = dict(p_value=np.nan, n_perm=0, p_floor=np.nan, p_mc_low=np.nan,
                      p_mc_high=np.nan)
            pj = np.nan
            null_mean = np.full(L, np.nan)
        for li, layer in enumerate(layers):
            rows.append(dict(layer=layer, depth=layer / top, attribute=name, test="ridge_r2",
                             role="supporting", estimate=obs[li, a], statistic=obs[li, a],
                             null_mean=null_mean[li],
                             **{c: (v[li] if np.ndim(v) else v) for c, v in pc.items()}))
        rows.append(dict(layer=layers[best], depth=layers[best] / top, attribute=name,
                         test="max_over_layers", role="record", estimate=obs[best, a],
                         statistic=obs[best, a], null_mean=null_mean[best],
                         p_fwer_joint=float(pj), **{c: float(v) for c, v in pm.items()}))
    out = pd.DataFrame(rows)
    how = (f"all {B} distinct label orderings (exact)" if exact else f"{B} concept-label "
           "shuffles") + (" within groups" if sch.kind == "grouped" else " within folds")
    draws = (f"not tested: {sch.untestable}" if sch.untestable else
             f"{how}, each cross-validated anew with its own nested penalty choice")
    out["p_method"] = np.where(out["test"] == "ridge_r2",
                               f"ridge regression out-of-fold R^2, one-sided, {draws}",
                               f"max over {L} layers of the out-of-fold R^2, one-sided, {draws}")
    out["conf_low"] = out["conf_high"] = out["df"] = np.nan
    out["conf_method"] = "none (a permutation p only)"
    out["unit"] = sch.unit
    out["scheme"] = sch.kind
    out["note"] = sch.untestable
    out["scale"] = "R2"
    return out
