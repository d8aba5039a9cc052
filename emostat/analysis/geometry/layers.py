"""Emotion geometry layer by layer: concept vectors, RSA against the human space, PCA.

Pure numpy/scipy over arrays (no torch). Inputs are plain arrays plus the names they carry:

- ``X``: activations ``[n_layers, n_stimuli, d]`` (one vector per stimulus and layer);
- ``labels``: the concept of each stimulus; ``concepts``: concept names in analysis order;
- ``means``: DataFrame concepts x attributes (human attribute means), index = concepts.

Every p here permutes the *concept labels* (the unit of an RDM claim, method.md §7) and every
"best layer" is tested against the permutation distribution of the maximum over layers (§8);
with n! <= the draws asked for, all n! relabellings are enumerated (exact p, floor 1/n!). The
best layer's row carries a simultaneous interval over layers from the same permutations
(:func:`simultaneous_halfwidth`), so that its interval and its p cover the same selection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emostat.analysis.engines.mantel import exact_if_fewer, perm_blocks, permuted_pairs
from emostat.constants import pair_indices
from emostat.errors import InputError

METRICS = ("correlation", "cosine", "euclidean")


# ---------------------------------------------------------------- helpers shared by the tables

def clopper_pearson(k, n, level: float = 0.95):
    """Exact binomial interval of k successes out of n (arrays broadcast): used for a
    Monte-Carlo permutation p (k draws at least as extreme of n) and for an accuracy."""
    k = np.asarray(k, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(a, np.maximum(k, 1e-9), n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-9)), 1.0)
    return low, high


def perm_columns(count, n_perm, exact: bool = False) -> dict:
    """The permutation columns every geometry table carries: p_value, n_perm, p_floor and the
    Clopper-Pearson interval of the p. ``exact``: ``count`` is over all ``n_perm`` distinct
    orderings (identity included), p = count / n_perm, floor 1 / n_perm and no Monte-Carlo
    interval (NaN: the p is not an estimate)."""
    count = np.asarray(count, dtype=float)
    if exact:
        p = count / n_perm
        nan = np.full(p.shape, np.nan) if p.ndim else np.nan
        return dict(p_value=p, n_perm=n_perm, p_floor=1.0 / n_perm, p_mc_low=nan, p_mc_high=nan)
    low, high = clopper_pearson(count, n_perm)
    return dict(p_value=(1 + count) / (1 + n_perm), n_perm=n_perm, p_floor=1.0 / (n_perm + 1),
                p_mc_low=low, p_mc_high=high)


def simultaneous_halfwidth(z_null, two_sided: bool, level: float = 0.95) -> np.ndarray:
    """Half-width of simultaneous max-statistic intervals over layers, in Fisher z.

    ``z_null`` [..., B, L]: atanh of the statistic under B relabellings, per layer. Each
    layer's null is centred on its mean; the half-width is the ``level`` quantile over draws
    of the maximum over layers of the centred values (absolute values when ``two_sided``).
    Under a shift model in Fisher z (the spread the relabellings show), ``z_l +/- h`` covers
    every layer's value at once with probability ``level``, the selected layer's included.
    """
    e = z_null - z_null.mean(axis=-2, keepdims=True)
    m = (np.abs(e) if two_sided else e).max(axis=-1)
    return np.quantile(m, level, axis=-1, method="higher")


def _atanh(r):
    return np.arctanh(np.clip(r, -0.999999999, 0.999999999))


def _check_layers(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InputError(f"activations: expected [n_layers, n_stimuli, d], got shape {X.shape}")
    if not np.isfinite(X).all():
        raise InputError("activations: contain NaN or infinite values")
    return X


# ---------------------------------------------------------------- 1. concept vectors

def concept_vectors(X, labels, concepts, neutral=None, n_pcs: int = 0) -> np.ndarray:
    """Mean activation over each concept's stimuli minus the grand mean, per layer.

    Parameters
    ----------
    X : array [n_layers, n_stimuli, d]
    labels : sequence of concept names, one per stimulus
    concepts : concept names in analysis order (every one needs at least one stimulus)
    neutral : array [n_layers, n_neutral, d], optional
        Activations of neutral texts; their top ``n_pcs`` principal components (per layer) are
        projected out of the vectors.
    n_pcs : int

    Returns
    -------
    ndarray [n_layers, n_concepts, d]
        The grand mean is the mean over stimuli (so the vectors of equally sized concepts sum
        to zero).
    """
    X = _check_layers(X)
    labels = np.asarray(labels, dtype=object)
    if labels.shape[0] != X.shape[1]:
        raise InputError(f"labels: {labels.shape[0]} labels for {X.shape[1]} stimuli")
    unknown = sorted(set(labels) - set(concepts))
    if unknown:
        raise InputError(f"labels: concept(s) {unknown[:5]} not among the concepts")
    grand = X.mean(axis=1)
    V = np.empty((X.shape[0], len(concepts), X.shape[2]))
    for c, name in enumerate(concepts):
        rows = labels == name
        if not rows.any():
            raise InputError(f"concepts: {name!r} has no stimulus")
        V[:, c] = X[:, rows].mean(axis=1) - grand
    if neutral is not None and n_pcs > 0:
        N = _check_layers(neutral)
        if N.shape[0] != X.shape[0] or N.shape[2] != X.shape[2]:
            raise InputError(f"neutral: shape {N.shape} does not match activations {X.shape}")
        for layer in range(X.shape[0]):
            Nc = N[layer] - N[layer].mean(axis=0)
            _, _, Vt = np.linalg.svd(Nc, full_matrices=False)
            P = Vt[:n_pcs]
            V[layer] -= (V[layer] @ P.T) @ P
    return V


def vectors_table(V, concepts, counts=None) -> pd.DataFrame:
    """Long table of concept vectors: layer, depth (layer / (n_layers - 1)), concept,
    n_stimuli, norm and the vector itself (``values``, float64 list: ``analyse`` recomputes
    the RSA and PCA tests from them, :mod:`emostat.analysis.geometry.refine`)."""
    V = np.asarray(V)
    L = V.shape[0]
    rows = []
    for layer in range(L):
        for c, name in enumerate(concepts):
            rows.append(dict(layer=layer, depth=layer / max(L - 1, 1), concept=name,
                             n_stimuli=int(counts[name]) if counts is not None else -1,
                             norm=float(np.linalg.norm(V[layer, c])),
                             values=np.asarray(V[layer, c], dtype=np.float64).tolist()))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- 2. RDMs and RSA

def concept_rdms(V, metric: str = "correlation") -> np.ndarray:
    """RDM of the concept vectors per layer, ``[n_layers, n_pairs]`` in R ``dist()`` order."""
    if metric not in METRICS:
        raise InputError(f"metric: expected one of {METRICS}, got {metric!r}")
    V = np.asarray(V, dtype=np.float64)
    i, j = pair_indices(V.shape[1])
    if metric == "euclidean":
        return np.linalg.norm(V[:, i] - V[:, j], axis=2)
    W = V - V.mean(axis=2, keepdims=True) if metric == "correlation" else V
    W = W / np.maximum(np.linalg.norm(W, axis=2, keepdims=True), 1e-300)
    return 1.0 - np.einsum("lpd,lpd->lp", W[:, i], W[:, j])


def attribute_rdms(means: pd.DataFrame) -> pd.DataFrame:
    """|m_i - m_j| per attribute over the concepts in the row order of ``means`` (any concept
    set; R ``dist()`` pair order): DataFrame [n_pairs, attributes]."""
    A = np.asarray(means, dtype=np.float64)
    if np.isnan(A).any():
        raise InputError("means: missing attribute values")
    i, j = pair_indices(A.shape[0])
    return pd.DataFrame(np.abs(A[i] - A[j]), columns=[str(c) for c in means.columns])


def _ranked_unit(A):
    """Rows ranked, centred and scaled to unit norm (Spearman = dot product of such rows)."""
    R = stats.rankdata(A, axis=-1)
    R = R - R.mean(axis=-1, keepdims=True)
    return R / np.maximum(np.linalg.norm(R, axis=-1, keepdims=True), 1e-300)


def layer_rsa(model_rdms, human_rdms: pd.DataFrame, n_perm=999, seed=0,
              layers=None) -> pd.DataFrame:
    """Spearman RSA of each layer's concept RDM with each human RDM, with a max-over-layers null.

    Parameters
    ----------
    model_rdms : array [n_layers, n_pairs]
    human_rdms : DataFrame [n_pairs, q]; columns name the human RDMs (attributes, similarity)
    n_perm : int or "exact"
        Concept-label permutations (the same draws for every layer and human RDM).
    layers : layer numbers of the rows of ``model_rdms`` (default 0..n_layers-1)

    Returns
    -------
    DataFrame
        ``test = "layer_mantel"``: one row per layer x human RDM, ``estimate`` = Spearman rho,
        ``p_value`` = one-sided Mantel p of that layer alone (role ``supporting``).
        ``test = "max_over_layers"``: one row per human RDM at its best layer, ``p_value`` =
        share of relabellings whose best layer reaches the observed best (role ``record``).
    """
    M = np.asarray(model_rdms, dtype=np.float64)
    H = np.asarray(human_rdms, dtype=np.float64)
    if M.ndim != 2 or H.ndim != 2 or H.shape[0] != M.shape[1]:
        raise InputError(f"layer_rsa: model RDMs {M.shape} and human RDMs {H.shape} do not "
                         "share the pair axis")
    names = list(human_rdms.columns)
    L, P = M.shape
    n = int(round((1 + np.sqrt(1 + 8 * P)) / 2))
    layers = list(range(L)) if layers is None else list(layers)
    RM = _ranked_unit(M)                                  # [L, P]
    RH = _ranked_unit(H.T)                                # [q, P]
    obs = RH @ RM.T                                       # [q, L]
    best = obs.max(axis=1)
    count = np.zeros_like(obs)
    count_max = np.zeros(len(names))
    total = 0
    n_perm = exact_if_fewer(n_perm, n)
    znull = []
    for perms in perm_blocks(n, n_perm, seed):
        idx = permuted_pairs(perms, n)                    # [b, P]
        s = RH[:, idx] @ RM.T                             # [q, b, L]
        count += (s >= obs[:, None, :] - 1e-12).sum(axis=1)
        count_max += (s.max(axis=2) >= best[:, None] - 1e-12).sum(axis=1)
        znull.append(_atanh(s))
        total += perms.shape[0]
    exact = n_perm == "exact"
    half = simultaneous_halfwidth(np.concatenate(znull, axis=1), two_sided=False)   # [q]
    unit = f"concept label ({n})"
    rows = []
    for a, name in enumerate(names):
        pc = perm_columns(count[a], total, exact)
        for k, layer in enumerate(layers):
            rows.append(dict(layer=layer, depth=layer / max(max(layers), 1), attribute=name,
                             test="layer_mantel", role="supporting", estimate=obs[a, k],
                             statistic=obs[a, k],
                             **{c: (v[k] if np.ndim(v) else v) for c, v in pc.items()}))
        k = int(np.argmax(obs[a]))
        pm = perm_columns(count_max[a], total, exact)
        rows.append(dict(layer=layers[k], depth=layers[k] / max(max(layers), 1), attribute=name,
                         test="max_over_layers", role="record", estimate=best[a],
                         statistic=best[a], conf_low=float(np.tanh(_atanh(best[a]) - half[a])),
                         conf_high=1.0, **{c: float(v) for c, v in pm.items()}))
    out = pd.DataFrame(rows)
    draws = "all n! relabellings" if exact else f"{total} concept-label permutations"
    out["p_method"] = np.where(
        out["test"] == "layer_mantel",
        f"Mantel, Spearman rho, one-sided (greater), {draws}",
        f"max over {L} layers of the Mantel Spearman rho, one-sided, {draws}")
    out["unit"] = unit
    out["scale"] = "rho"
    out["df"] = np.nan
    out["conf_method"] = np.where(
        out["test"] == "max_over_layers",
        f"one-sided 95% lower bound, simultaneous over {L} layers: Fisher z of rho less the "
        f"95% quantile of the max over layers of the centred z under the concept-label "
        f"permutations ({draws})", "none (a permutation p only)")
    return out


# ---------------------------------------------------------------- PCA against attributes

def pca_scores(V, n_components: int = 2):
    """PCA of the concept vectors of each layer.

    Returns scores ``[n_layers, n_concepts, k]``, loadings ``[n_layers, k, d]`` (unit rows) and
    explained-variance ratios ``[n_layers, k]``. The sign of each component is fixed so that its
    largest absolute loading is positive (a convention: the sign carries no meaning).
    """
    V = np.asarray(V, dtype=np.float64)
    L, C, _ = V.shape
    k = min(n_components, C - 1)
    S = np.empty((L, C, k))
    W = np.empty((L, k, V.shape[2]))
    ev = np.empty((L, k))
    for layer in range(L):
        Z = V[layer] - V[layer].mean(axis=0)
        U, s, Vt = np.linalg.svd(Z, full_matrices=False)
        sign = np.sign(Vt[np.arange(k), np.abs(Vt[:k]).argmax(axis=1)])
        sign[sign == 0] = 1
        W[layer] = Vt[:k] * sign[:, None]
        S[layer] = Z @ W[layer].T
        ev[layer] = (s[:k] ** 2) / max((s ** 2).sum(), 1e-300)
    return S, W, ev


def pearson_ci(r, n, level: float = 0.95):
    """Fisher-z interval of a Pearson r over n units."""
    r = np.clip(np.asarray(r, dtype=float), -0.999999999, 0.999999999)
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(max(n - 3, 1))
    z = np.arctanh(r)
    return np.tanh(z - half), np.tanh(z + half)


def pca_attributes(V, means: pd.DataFrame, n_components: int = 2, n_perm=999, seed=0,
                   layers=None) -> pd.DataFrame:
    """PC scores of the concept vectors against each attribute, per layer.

    ``test = "pc_pearson"`` rows (layer x component x attribute; role ``supporting``): Pearson r
    over concepts, Fisher-z CI, two-sided t test with n - 2 df. ``test = "max_over_layers"``
    rows (component x attribute; role ``record``): the layer of largest |r| and the share of
    concept-label permutations whose largest |r| over layers reaches it. ``means`` rows must be
    in the order of the vectors' concepts.
    """
    S, _, ev = pca_scores(V, n_components)
    A = np.asarray(means, dtype=np.float64)               # [C, q]
    L, C, k = S.shape
    if A.shape[0] != C:
        raise InputError(f"pca_attributes: {A.shape[0]} attribute rows for {C} concepts")
    layers = list(range(L)) if layers is None else list(layers)
    Sz = (S - S.mean(1, keepdims=True)) / np.maximum(S.std(1, keepdims=True), 1e-300)
    Az = (A - A.mean(0)) / np.maximum(A.std(0), 1e-300)
    r = np.einsum("lck,cq->lkq", Sz, Az) / C               # [L, k, q]
    best = np.abs(r).max(axis=0)                            # [k, q]
    count = np.zeros_like(best)
    total = 0
    SzT = Sz.transpose(0, 2, 1).reshape(L * k, C)
    n_perm = exact_if_fewer(n_perm, C)
    znull = []
    for perms in perm_blocks(C, n_perm, seed):
        rp = (SzT @ Az[perms]).reshape(len(perms), L, k, -1) / C     # [b, L, k, q]
        count += (np.abs(rp).max(axis=1) >= best - 1e-12).sum(axis=0)
        znull.append(_atanh(rp).transpose(2, 3, 0, 1))              # [k, q, b, L]
        total += perms.shape[0]
    exact = n_perm == "exact"
    half = simultaneous_halfwidth(np.concatenate(znull, axis=2), two_sided=True)   # [k, q]
    t = r * np.sqrt((C - 2) / np.maximum(1 - r ** 2, 1e-300))
    p = 2 * stats.t.sf(np.abs(t), C - 2)
    lo, hi = pearson_ci(r, C)
    rows = []
    names = list(means.columns)
    top = max(max(layers), 1)
    for a, name in enumerate(names):
        for j in range(k):
            for li, layer in enumerate(layers):
                rows.append(dict(layer=layer, depth=layer / top, component=f"PC{j + 1}",
                                 attribute=name, test="pc_pearson", role="supporting",
                                 estimate=r[li, j, a], conf_low=lo[li, j, a],
                                 conf_high=hi[li, j, a], statistic=t[li, j, a], df=C - 2,
                                 p_value=p[li, j, a], explained=ev[li, j], n_perm=0,
                                 p_floor=0.0, p_mc_low=np.nan, p_mc_high=np.nan))
            li = int(np.argmax(np.abs(r[:, j, a])))
            pc = perm_columns(count[j, a], total, exact)
            z = _atanh(r[li, j, a])
            rows.append(dict(layer=layers[li], depth=layers[li] / top, component=f"PC{j + 1}",
                             attribute=name, test="max_over_layers", role="record",
                             estimate=r[li, j, a], conf_low=float(np.tanh(z - half[j, a])),
                             conf_high=float(np.tanh(z + half[j, a])),
                             statistic=abs(r[li, j, a]), df=np.nan,
                             explained=ev[li, j], **{c: float(v) for c, v in pc.items()}))
    out = pd.DataFrame(rows)
    draws = "all n! relabellings" if exact else f"{total} concept-label permutations"
    out["p_method"] = np.where(out["test"] == "pc_pearson",
                               f"Pearson r, t test on {C - 2} df, two-sided",
                               f"max over {L} layers of |r|, {draws}")
    out["conf_method"] = np.where(
        out["test"] == "max_over_layers",
        f"simultaneous over {L} layers: Fisher z of r +/- the 95% quantile of the max over layers "
        f"of |z| under the concept-label permutations ({draws})",
        f"Fisher z over concepts ({C}), this layer alone")
    out["unit"] = f"concept ({C})"
    out["scale"] = "r"
    return out
