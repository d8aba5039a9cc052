"""Emotion-label permutation nulls of the whole neuron searchlight, batched.

Relabelling the concepts of the attribute RDMs is the same null as relabelling every neuron RDM
(tau(x o pi, y) = tau(x, y o pi^-1)). For every permutation the searchlight's Kendall numerators
(concordant minus discordant pairs of RDM entries) are ``S_x^T S_y(pi)``: the neuron sign matrix
is fixed, only the attribute side changes. So all permutations go into ONE product, with the
permuted attribute sign columns side by side.

The products are counted exactly as bit operations (:mod:`emostat.analysis.engines.signbits`: sign
bit-planes and popcounts, two AND + popcount per 64 pairs of RDM entries). Cost per permutation:
neurons x attributes x pair-pairs / 64 word operations; the neuron bit-planes are built once.
No exact shortcut through the pair permutation lowers it: a relabelling maps the attribute's
sign vector over pair-pairs to a permuted copy, S(pi) = <s_n, P_pi t_a>, so each draw is a
fresh inner product over all pair-pairs.

From the same permutations (count null and max-T share them):

* :func:`count_null` - the study's count of significant / selective neurons (study q < alpha over
  all neuron x attribute tests), recounted under each permutation.
* :func:`neuron_max_t` - Westfall-Young single-step max-T over ALL neurons: each neuron's
  family-wise p is the share of permutations whose best neuron beats it, so the selection of
  the best neurons on the same data is inside the null. Per attribute (``p_value``, Holm over
  attributes in ``p_adjusted``) and over the joint family of every neuron x attribute test
  (``p_fwer_joint``: the permutation maximum over neurons AND attributes, all attribute RDMs
  relabelled by the same permutation). The joint p controls the family-wise error over all
  tests with floor 1/(B+1) (.005 at B = 199), where Holm over q per-attribute p's needs
  q/(B+1) <= alpha (559 draws for 14 attributes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from emostat.analysis.engines.kendall import ALTERNATIVES, TauScale, dense_ranks, p_from_z
from emostat.analysis.engines.mantel import (MAX_PERM_FACTOR, check_n_perm, exact_if_fewer,
                                             mc_columns, perm_blocks, permuted_pairs, undecided)
from emostat.analysis.neurons.searchlight import as_rdms, attr_matrix, layer_units
from emostat.errors import InputError

EXACT_MAX = 8


def study_counts(p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per attribute (columns of p, neurons x attributes): tests with the study's q < alpha
    (q = p N / rank(p) over all finite tests, ties averaged) and neurons with q < alpha for that
    attribute alone. Only p < alpha can reach q < alpha (rank <= N), so only those are ranked."""
    flat = p.ravel()
    idx = np.flatnonzero(flat < alpha)
    return sparse_counts(idx, flat[idx], int(np.isfinite(flat).sum()), p.shape, alpha)


def sparse_counts(idx, vals, N: int, shape, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`study_counts` from the flat indices ``idx`` and values ``vals`` of the p < alpha
    of an (m, q) p matrix holding ``N`` finite tests."""
    m, nq = shape
    if idx.size == 0:
        return np.zeros(nq, np.int64), np.zeros(nq, np.int64)
    hit = idx[vals * N / rankdata(vals, method="average") < alpha]
    neuron, attr = np.divmod(hit, nq)
    sig = np.bincount(attr, minlength=nq)
    only = np.bincount(neuron, minlength=m)[neuron] == 1
    return sig, np.bincount(attr[only], minlength=nq)


def null_counts(z: np.ndarray, N: int, alpha: float, alternative: str):
    """:func:`study_counts` of the asymptotic p of Kendall z scores, computing p only where it
    can be below alpha (z beyond the one-sided critical value less a margin; p is exact there)."""
    factor = 2.0 if alternative == "two-sided" else 1.0
    crit = -ndtri(alpha / factor) - 1e-3
    flat = directed(z, alternative).ravel()
    idx = np.flatnonzero(flat > crit)
    p = p_from_z(z.ravel()[idx], alternative)
    keep = p < alpha
    return sparse_counts(idx[keep], p[keep], N, z.shape, alpha)


def directed(tau: np.ndarray, alternative: str) -> np.ndarray:
    """tau oriented so that larger is more extreme (NaN stays NaN)."""
    return {"greater": tau, "less": -tau, "two-sided": np.abs(tau)}[alternative]


@dataclass
class SearchlightNull:
    """Observed searchlight and its permutation distributions (arrays attribute-last)."""

    attributes: list
    tau: np.ndarray          # (neurons, q) observed tau-b
    p: np.ndarray            # (neurons, q) observed asymptotic p
    obs_counts: np.ndarray   # (2, q) significant, selective
    null_counts: np.ndarray  # (2, B, q)
    null_max: np.ndarray     # (B, q) largest directed tau over all neurons, per permutation
    n_perm: int
    exact: bool
    n_concepts: int
    alpha_q: float
    alternative: str
    requested: int | None = None   # draws asked for (at least), in :func:`decided_null`
    base: int | None = None        # the first batch of :func:`decided_null` (then doubled)


def searchlight_null(A_or_rdms, attr_rdms: pd.DataFrame, *, n_perm=199, seed: int = 0,
                     alpha: float = 0.01, alternative: str = "greater",
                     n_jobs: int = 1) -> SearchlightNull:
    """Rerun the searchlight under ``n_perm`` concept-label permutations in one batched product.

    ``n_perm``: seeded draws (:func:`emostat.analysis.engines.mantel.perm_blocks`, the identity not
    among them) or "exact" (all n! relabellings, n <= 8 concepts). Memory: neurons x attributes
    x (n_perm + 1) x 4 bytes (0.41 GB for the release at 199).
    """
    if alternative not in ALTERNATIVES:
        raise InputError(f"searchlight_null: alternative must be one of {ALTERNATIVES}")
    X = as_rdms(A_or_rdms)
    n_pairs, m = X.shape
    Y, attributes = attr_matrix(attr_rdms, n_pairs)
    C = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    n_perm = exact_if_fewer(check_n_perm(n_perm, C, EXACT_MAX, "searchlight_null"), C, EXACT_MAX)
    exact = n_perm == "exact"
    perms = np.concatenate([np.arange(C)[None, :]] + list(perm_blocks(C, n_perm, seed)))
    idx = permuted_pairs(perms, C)                         # (1 + B, pairs)
    q = Y.shape[1]
    RX, tx = dense_ranks(X)
    RY, ty = dense_ranks(Y)
    RYp = np.concatenate([RY[i] for i in idx], axis=1)     # (pairs, (1 + B) q)
    from emostat.analysis.engines.signbits import concordance     # numba: imported when used

    S = concordance(RX, RYp, n_jobs=n_jobs)
    scale = TauScale(n_pairs, tx, ty)
    counts = np.zeros((2, len(perms), q), np.int64)
    top = np.full((len(perms), q), np.nan)
    tau0 = p0 = None
    N = None
    for b in range(len(perms)):
        Sb = S[:, b * q:(b + 1) * q].astype(np.float64)
        tau, z = scale.tau(Sb), scale.z(Sb)
        if b == 0:
            tau0, p0 = tau, p_from_z(z, alternative)
            N = int(np.isfinite(p0).sum())     # the same tests are finite under every labelling
        counts[:, b] = null_counts(z, N, alpha, alternative)
        d = directed(tau, alternative)
        ok = np.isfinite(d).any(axis=0)
        top[b, ok] = np.nanmax(d[:, ok], axis=0)
    # row 0 is the observed labelling; an exact enumeration holds the identity again
    return SearchlightNull(attributes, tau0, p0, counts[:, 0], counts[:, 1:], top[1:],
                           len(perms) - 1, exact, C, alpha, alternative)


def merged(null: SearchlightNull, more: SearchlightNull) -> SearchlightNull:
    """``null`` with the draws of ``more`` (same data, other seed) appended."""
    return replace(null, null_counts=np.concatenate([null.null_counts, more.null_counts], axis=1),
                   null_max=np.concatenate([null.null_max, more.null_max]),
                   n_perm=null.n_perm + more.n_perm)


def best_directed(null: SearchlightNull) -> np.ndarray:
    """(q,) each attribute's largest directed observed tau (-inf: no finite tau)."""
    d = directed(null.tau, null.alternative)
    return np.where(np.isfinite(d), d, -np.inf).max(axis=0)


def record_exceed(null: SearchlightNull) -> np.ndarray:
    """(q,) the joint max-T exceed count of each attribute's best neuron (the record's p)."""
    best = best_directed(null)
    return exceed_counts(np.where(np.isfinite(best), best, np.nan), joint_max(null))


def decided_null(A_or_rdms, attr_rdms: pd.DataFrame, *, n_perm=199, seed: int = 0,
                 alpha: float = 0.05, factor: int = MAX_PERM_FACTOR, minimum: int | None = None,
                 **kw) -> SearchlightNull:
    """:func:`searchlight_null`, with the draws doubled (new draws from child seeds of
    ``seed`` appended) while the Clopper-Pearson interval of any attribute's record p (the
    joint max-T p of its best neuron) holds ``alpha``. An exact enumeration is never extended.

    ``minimum`` (a count the user asked for; default ``n_perm``): the draws never stop below it.
    They still grow by doubling from ``n_perm`` (the same draws, in the same order, as a run
    without ``minimum``), and stop at the first doubling that is at least ``minimum`` and
    decides, or at ``factor`` x that first count. So asking for more never gives fewer draws
    than the default would have drawn, nor other draws than its first ones.
    """
    from emostat.checks import child_seeds

    base = int(n_perm)
    want = max(base, int(minimum or base))
    first = base
    while first < want:
        first *= 2
    cap = factor * first
    null = searchlight_null(A_or_rdms, attr_rdms, n_perm=base, seed=seed, **kw)
    if null.exact:
        return null
    null = replace(null, requested=want, base=base)
    seeds = child_seeds(seed, int(np.log2(cap // base)) + 1)
    for extra in seeds:
        if null.n_perm >= first:
            ex = record_exceed(null)
            ok = np.isfinite(ex)
            if not undecided(ex[ok], null.n_perm, alpha).any() or 2 * null.n_perm > cap:
                break
        if exact_if_fewer(2 * null.n_perm, null.n_concepts, EXACT_MAX) == "exact":
            # the doubled draws would reach n!: enumerate the n! relabellings instead
            return searchlight_null(A_or_rdms, attr_rdms, n_perm="exact", seed=seed, **kw)
        null = merged(null, searchlight_null(A_or_rdms, attr_rdms, n_perm=null.n_perm,
                                             seed=extra, **kw))
    return null


def _perm_p(exceed: np.ndarray, B: int, exact: bool) -> np.ndarray:
    return exceed / B if exact else (1 + exceed) / (1 + B)


def holm(p) -> np.ndarray:
    """Holm-adjusted p (statsmodels multipletests), NaN kept out of the family."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def _how(exact: bool, stat: str, null: SearchlightNull | None = None) -> str:
    if exact:
        return f"exact, #{{{stat}* >= {stat}}} / n!"
    how = f"(1 + #{{{stat}* >= {stat}}}) / (1 + n_perm)"
    if null is not None and null.base and null.base != null.n_perm:
        asked = (f"at least {null.requested} draws asked for; "
                 if null.requested and null.requested != null.base else "")
        how += (f"; {asked}{null.base} draws doubled to {null.n_perm} while the Monte-Carlo "
                "interval of an attribute's joint max-T p held alpha"
                + (" or the count was below the request" if asked else ""))
    return how


def count_table(null: SearchlightNull, alpha: float = 0.05) -> pd.DataFrame:
    """The ``neuron_count_null`` table of a :class:`SearchlightNull` (two rows per attribute)."""
    rows = []
    for kind, name in enumerate(("significant", "selective")):
        obs = null.obs_counts[kind]
        dist = null.null_counts[kind]
        exceed = (dist >= obs).sum(axis=0)
        p = _perm_p(exceed, null.n_perm, null.exact)
        frame = pd.DataFrame({
            "attribute": null.attributes, "count": name, "statistic": obs.astype(float),
            "null_mean": dist.mean(axis=0),
            "null_sd": dist.std(axis=0, ddof=1) if len(dist) > 1 else np.nan,
            "null_q95": np.quantile(dist, 0.95, axis=0), "p_value": p,
            "p_adjusted": holm(p), **mc_columns(exceed, null.n_perm, null.exact, alpha)})
        rows.append(frame)
    order = np.argsort(np.tile(np.arange(len(null.attributes)), 2), kind="stable")
    out = pd.concat(rows, ignore_index=True).iloc[order].reset_index(drop=True)
    method = ("concept-label permutation of all attribute RDMs together, the count of study "
              f"q < {null.alpha_q} neurons recounted, one-sided, {_how(null.exact, 'count', null)}")
    return out.assign(p_method=method, p_adjusted_method=f"Holm over {len(null.attributes)} "
                      "attributes (per count)", unit=f"concept label ({null.n_concepts})",
                      role="record", n_perm=np.int64(null.n_perm))


def joint_max(null: SearchlightNull) -> np.ndarray:
    """(B,) the permutation maximum over all neurons AND all attributes: every attribute RDM
    is relabelled by the same permutation, so the row maximum of ``null_max`` is the single-step
    max-T null of the whole neuron x attribute family (NaN: no finite tau in that draw)."""
    ok = np.isfinite(null.null_max)
    return np.where(ok.any(axis=1), np.max(np.where(ok, null.null_max, -np.inf), axis=1), np.nan)


def exceed_counts(d: np.ndarray, maxima: np.ndarray) -> np.ndarray:
    """For each value of d, the number of finite ``maxima`` at least as large (NaN stays NaN)."""
    col = np.sort(maxima[np.isfinite(maxima)])
    out = (len(col) - np.searchsorted(col, d, side="left")).astype(float)
    return np.where(np.isfinite(d), out, np.nan)


def fwer_p(null: SearchlightNull, joint: bool = True) -> np.ndarray:
    """(neurons, q) Westfall-Young single-step max-T family-wise p: over all neurons and
    attributes together (``joint``, the family of every neuron x attribute test), or over the
    neurons of each attribute alone."""
    d = directed(null.tau, null.alternative)
    if joint:
        exceed = exceed_counts(d, joint_max(null))
    else:
        exceed = np.column_stack([exceed_counts(d[:, k], null.null_max[:, k])
                                  for k in range(d.shape[1])])
    return _perm_p(exceed, null.n_perm, null.exact)


def min_p_joint(null: SearchlightNull) -> np.ndarray:
    """(q,) single-step min-P over the attributes (Westfall-Young): each attribute's max-T
    statistic is turned into its own permutation p, so an attribute with a heavy-tailed null
    does not take the joint maximum. D is the set of relabellings (the observed one and the B
    draws; all n! when exact), M_dk the best directed tau of attribute k under d, p_dk =
    #{d' in D: M_d'k >= M_dk} / |D|; the adjusted p of attribute k is #{d in D: min_k' p_dk' <=
    p_k} / |D|, p_k the observed labelling's: exact under the relabelling null (floor 1/|D|).
    NaN for an attribute without a finite tau."""
    best = best_directed(null)
    ok = np.isfinite(best)
    out = np.full(best.shape, np.nan)
    if not ok.any():
        return out
    M = np.where(np.isfinite(null.null_max), null.null_max, -np.inf)[:, ok]
    if not null.exact:
        M = np.vstack([best[None, ok], M])
    D = len(M)
    srt = np.sort(M, axis=0)

    def share(vals):   # (rows, ok) share of D at least as large, per attribute column
        return np.column_stack([D - np.searchsorted(srt[:, j], vals[:, j], side="left")
                                for j in range(M.shape[1])]) / D

    minp = share(M).min(axis=1)
    p_obs = share(best[None, ok])[0]
    out[ok] = (minp[None, :] <= p_obs[:, None] * (1 + 1e-12)).sum(axis=1) / D
    return out


def min_p_floor(null: SearchlightNull) -> np.ndarray:
    """(q,) the smallest p the min-P test can give each attribute with these draws: its
    observed maximum beating every draw gives it p = 1/|D|, but every draw that holds the
    largest maximum of another attribute (one the observed labelling does not beat) has a
    min-P as small, so the floor is (1 + those draws) / |D| - about q/(B + 1) for q
    attributes (.07 at 14 and 199 draws), not 1/(B + 1). NaN without a finite tau."""
    ok = np.isfinite(null.null_max).any(axis=0)
    out = np.full(ok.shape, np.nan)
    if not ok.any():
        return out
    M = np.where(np.isfinite(null.null_max), null.null_max, -np.inf)[:, ok]
    best = best_directed(null)[ok]
    top = M.max(axis=0)
    T = (M == top) & (best < top)                 # draws holding an attribute's maximum
    n_top = T.sum(axis=1)
    D = len(M) if null.exact else len(M) + 1
    others = ((n_top[:, None] - T) > 0).sum(axis=0)   # per attribute: tops of the others
    out[ok] = np.minimum(D, 1 + others) / D
    return out


def max_t_table(null: SearchlightNull, layer: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """The ``neuron_max_t`` table: per attribute the best neuron, its max-T p over that
    attribute's neurons (``p_value``; Holm over attributes in ``p_adjusted``) and over the joint
    family of all neurons x attributes (``p_fwer_joint``, with its own Monte-Carlo interval)."""
    d = directed(null.tau, null.alternative)
    jmax = joint_max(null)
    pf = fwer_p(null, joint=False)
    pj = fwer_p(null, joint=True)
    rows = []
    for k, a in enumerate(null.attributes):
        col = np.where(np.isfinite(d[:, k]), d[:, k], -np.inf)
        best = int(np.argmax(col))
        exceed = int((null.null_max[:, k] >= d[best, k]).sum())
        rows.append((a, best, int(layer[best]), float(null.tau[best, k]),
                     float(np.nanquantile(null.null_max[:, k], 1 - alpha)),
                     float(np.median(null.null_max[:, k])), exceed,
                     int((pf[:, k] <= alpha).sum()), float(exceed_counts(d[best, k], jmax)),
                     int((pj[:, k] <= alpha).sum())))
    out = pd.DataFrame(rows, columns=["attribute", "neuron", "layer", "estimate", "null_q95",
                                      "null_median", "exceed", "n_above", "exceed_joint",
                                      "n_above_joint"])
    B, ex = null.n_perm, null.exact
    p = _perm_p(out["exceed"].to_numpy(float), B, ex)
    ej = out["exceed_joint"].to_numpy(float)
    mcj = mc_columns(np.nan_to_num(ej, nan=B), B, ex, alpha)     # NaN rows masked below
    mcj = {c: np.where(np.isfinite(ej), v, np.nan) for c, v in mcj.items() if c != "mc_warning"}
    out = out.assign(p_value=p, p_adjusted=holm(p),
                     **mc_columns(out["exceed"].to_numpy(), B, ex, alpha),
                     joint_null_q95=float(np.nanquantile(jmax, 1 - alpha)),
                     p_fwer_joint=_perm_p(ej, B, ex), p_fwer_joint_mc_low=mcj["p_mc_low"],
                     p_fwer_joint_mc_high=mcj["p_mc_high"],
                     p_minp_joint=min_p_joint(null), p_minp_floor=min_p_floor(null))
    side = {"greater": "largest tau", "less": "smallest tau", "two-sided": "largest |tau|"}
    method = (f"Westfall-Young max-T: concept-label permutation, the {side[null.alternative]} "
              f"over all {len(d)} neurons recomputed per permutation, {_how(ex, 'max', null)}")
    joint = (f"Westfall-Young single-step max-T over all {len(d)} neurons x "
             f"{len(null.attributes)} attributes jointly (every attribute RDM relabelled by the "
             f"same permutation; the {side[null.alternative]} over the whole family), "
             f"{_how(ex, 'max', null)}")
    return out.drop(columns=["exceed", "exceed_joint"]).assign(
        p_method=method, p_adjusted_method=f"Holm over {len(null.attributes)} attributes",
        p_fwer_joint_method=joint,
        p_minp_joint_method=("Westfall-Young single-step min-P over the attributes: each "
                             "attribute's max-T maximum turned into its own permutation p per "
                             "relabelling, the smallest over attributes as the joint statistic "
                             "(supporting: no attribute's null scale dominates)"),
        n_above_rule=f"neurons with family-wise p <= {alpha:g} (n_above: per attribute; "
                     "n_above_joint: joint family)",
        unit=f"concept label ({null.n_concepts})", role="record", n_perm=np.int64(B))


def count_null(A_or_rdms, attr_rdms: pd.DataFrame, *, n_perm=199, seed: int = 0,
               alpha: float = 0.01, alternative: str = "greater", n_jobs: int = 1
               ) -> pd.DataFrame:
    """Permutation null of the number of significant and selective neurons per attribute.

    The statistic is the study's: the searchlight's asymptotic p over all neuron x attribute
    tests, the study's q = p N / rank(p), counts at q < ``alpha`` ("significant": for this
    attribute; "selective": for this attribute and no other). Each permutation relabels the
    concepts of ALL attribute RDMs together and recounts; one-sided p with its floor, the
    Clopper-Pearson Monte-Carlo interval and Holm over attributes.

    Returns
    -------
    DataFrame (schema ``neuron_count_null``): ``attribute, count, statistic, null_mean,
    null_sd, null_q95, p_value, p_adjusted, p_floor, p_mc_low, p_mc_high, mc_warning,
    p_method, p_adjusted_method, unit, role, n_perm``.
    """
    null = searchlight_null(A_or_rdms, attr_rdms, n_perm=n_perm, seed=seed, alpha=alpha,
                            alternative=alternative, n_jobs=n_jobs)
    return count_table(null)


def neuron_max_t(A_or_rdms, attr_rdms: pd.DataFrame, *, n_perm=199, seed: int = 0,
                 alpha: float = 0.05, layer_sizes=None, alternative: str = "greater",
                 n_jobs: int = 1) -> pd.DataFrame:
    """Selection-safe neuron test per attribute (Westfall-Young max-T over all neurons).

    Returns
    -------
    DataFrame (``neuron_max_t``): ``attribute, neuron, layer, estimate`` (the best tau),
    ``null_q95, null_median`` (of the permutation maximum), ``n_above`` (neurons with
    family-wise p <= alpha), ``p_value, p_adjusted`` (Holm over attributes), ``p_floor,
    p_mc_low, p_mc_high, mc_warning, p_method, p_adjusted_method``; the joint family:
    ``n_above_joint, joint_null_q95, p_fwer_joint, p_fwer_joint_mc_low, p_fwer_joint_mc_high,
    p_fwer_joint_method``; ``n_above_rule, unit, role, n_perm``.
    """
    null = searchlight_null(A_or_rdms, attr_rdms, n_perm=n_perm, seed=seed,
                            alternative=alternative, n_jobs=n_jobs)
    layer, _ = layer_units(layer_sizes, null.tau.shape[0])
    return max_t_table(null, layer, alpha)
