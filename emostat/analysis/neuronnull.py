"""Emotion-label permutation nulls of the whole neuron searchlight, batched.

Relabelling the concepts of the attribute RDMs is the same null as relabelling every neuron RDM
(tau(x o pi, y) = tau(x, y o pi^-1)). For every permutation the searchlight's Kendall numerators
(concordant minus discordant pairs of RDM entries) are ``S_x^T S_y(pi)``: the neuron sign matrix
is fixed, only the attribute side changes. So all permutations go into ONE matrix product per
block of neurons, with the permuted attribute sign columns side by side.

Exact in float32, two columns per multiply: signs are -1, 0, 1; over a block of at most 2047
pairs of RDM entries a partial sum lies in [-2047, 2047], so ``S1 + 4096 * S2`` (two attribute
columns packed into one) is an integer below 2**23, exact in float32, and is split back exactly
(``S2 = rint(v / 4096)``). Half the multiplies of the plain product, no rounding anywhere.

Cost: neurons x pair-pairs x attributes / 2 multiply-adds per permutation (3.2e10 for the
release). No exact shortcut through the pair permutation lowers it: a relabelling maps the
attribute's sign vector over pair-pairs to a permuted copy, S(pi) = <s_n, P_pi t_a>, so each
draw is a fresh inner product over all pair-pairs. Kendall's merge-sort count per neuron x
column (about P log2 P = 3,000 steps for P = 351 entries, against 61,425 pair-pairs) is exact
and has fewer operations, but it is not a dense product; without compiled kernels (numpy only)
it is not the faster route. Packing 3 columns per float32 needs blocks of <= 160 pairs, where
the numpy unpacking per block costs more than the multiplies saved.

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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from emostat.analysis.kendall import (ALTERNATIVES, dense_ranks, single_threaded_blas,
                                      tau_p_from_counts)
from emostat.analysis.mantel import check_n_perm, mc_columns, perm_blocks, permuted_pairs
from emostat.analysis.searchlight import as_rdms, attr_matrix, layer_units
from emostat.errors import InputError

PACK_BLOCK = 2047          # pairs of RDM entries per packed product (|partial sum| <= 2047)
PACK_BASE = 4096.0         # second column's weight: 2 * 2047 + 1 < 4096
NEURON_CHUNK = 1024
EXACT_MAX = 8


def pair_blocks(n: int, limit: int = PACK_BLOCK) -> list[tuple[int, int, int]]:
    """(j0, j1, count) blocks of the pairs (i > j) of n items, at most ``limit`` pairs each."""
    if n - 1 > limit:
        raise InputError(f"pair_blocks: {n} items give {n - 1} pairs for one j, above {limit}")
    blocks, j0 = [], 0
    while j0 < n - 1:
        j, count = j0, 0
        while j < n - 1 and count + (n - 1 - j) <= limit:
            count += n - 1 - j
            j += 1
        blocks.append((j0, j, count))
        j0 = j
    return blocks


def sign_block(R: np.ndarray, j0: int, j1: int, out: np.ndarray | None = None) -> np.ndarray:
    """sign(r_i - r_j) (float32) for the pairs i > j, j0 <= j < j1, of dense ranks R (n, m),
    written into ``out`` (a reused buffer of at least that many rows) when given."""
    n = R.shape[0]
    count = sum(n - 1 - j for j in range(j0, j1))
    out = np.empty((count, R.shape[1]), np.float32) if out is None else out[:count]
    off = 0
    for j in range(j0, j1):
        k = n - 1 - j
        np.subtract(R[j + 1:], R[j], out=out[off:off + k])
        off += k
    np.clip(out, -1, 1, out=out)
    return out


def concordance(RX: np.ndarray, RY: np.ndarray, *, n_jobs: int = 1,
                chunk: int = NEURON_CHUNK) -> np.ndarray:
    """Concordant minus discordant pairs of every column of RX with every column of RY.

    Parameters
    ----------
    RX, RY : ndarray (n, m) and (n, c)
        Dense ranks (float32, :func:`emostat.analysis.kendall.dense_ranks`).
    n_jobs : int
        Threads over blocks of RX columns (BLAS single-threaded inside each).

    Returns
    -------
    ndarray (m, c) float32, exact integers (|S| <= n(n-1)/2 < 2**24 for n < 5793).
    """
    n, m = RX.shape
    c = RY.shape[1]
    if n * (n - 1) // 2 >= 2 ** 24:
        raise InputError(f"concordance: {n} items overflow float32 counts")
    h = (c + 1) // 2
    blocks = pair_blocks(n)
    packed = []
    for j0, j1, _ in blocks:
        sy = sign_block(RY, j0, j1)
        pk = sy[:, :h].copy()
        pk[:, :c - h] += PACK_BASE * sy[:, h:]
        packed.append(pk)
    S = np.empty((m, 2 * h), dtype=np.float32)

    def work(span):
        c0, c1 = span
        R = np.ascontiguousarray(RX[:, c0:c1])
        lo = np.zeros((c1 - c0, h), np.float32)
        hi = np.zeros((c1 - c0, h), np.float32)
        buf = np.empty((PACK_BLOCK, c1 - c0), np.float32)
        g = np.empty((c1 - c0, h), np.float32)
        for (j0, j1, _), pk in zip(blocks, packed):
            np.matmul(sign_block(R, j0, j1, buf).T, pk, out=g)
            top = np.rint(g * np.float32(1 / PACK_BASE))
            hi += top
            g -= PACK_BASE * top
            lo += g
        S[c0:c1, :h] = lo
        S[c0:c1, h:] = hi

    spans = [(s, min(s + chunk, m)) for s in range(0, m, chunk)]
    with single_threaded_blas():
        if n_jobs > 1 and len(spans) > 1:
            with ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(work, spans))
        else:
            for span in spans:
                work(span)
    return S[:, :c]


def study_counts(p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Per attribute (columns of p, neurons x attributes): tests with the study's q < alpha
    (q = p N / rank(p) over all finite tests, ties averaged) and neurons with q < alpha for that
    attribute alone. Only p < alpha can reach q < alpha (rank <= N), so only those are ranked."""
    m, nq = p.shape
    flat = p.ravel()
    N = int(np.isfinite(flat).sum())
    idx = np.flatnonzero(flat < alpha)
    if idx.size == 0:
        return np.zeros(nq, np.int64), np.zeros(nq, np.int64)
    vals = flat[idx]
    hit = idx[vals * N / rankdata(vals, method="average") < alpha]
    neuron, attr = np.divmod(hit, nq)
    sig = np.bincount(attr, minlength=nq)
    only = np.bincount(neuron, minlength=m)[neuron] == 1
    return sig, np.bincount(attr[only], minlength=nq)


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


def searchlight_null(A_or_rdms, attr_rdms: pd.DataFrame, *, n_perm=199, seed: int = 0,
                     alpha: float = 0.01, alternative: str = "greater",
                     n_jobs: int = 1) -> SearchlightNull:
    """Rerun the searchlight under ``n_perm`` emotion-label permutations in one batched product.

    ``n_perm``: seeded draws (:func:`emostat.analysis.mantel.perm_blocks`, the identity not
    among them) or "exact" (all n! relabellings, n <= 8 concepts). Memory: neurons x attributes
    x (n_perm + 1) x 4 bytes (0.41 GB for the release at 199).
    """
    if alternative not in ALTERNATIVES:
        raise InputError(f"searchlight_null: alternative must be one of {ALTERNATIVES}")
    X = as_rdms(A_or_rdms)
    n_pairs, m = X.shape
    Y, attributes = attr_matrix(attr_rdms, n_pairs)
    C = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    n_perm = check_n_perm(n_perm, C, EXACT_MAX, "searchlight_null")
    exact = n_perm == "exact"
    perms = np.concatenate([np.arange(C)[None, :]] + list(perm_blocks(C, n_perm, seed)))
    idx = permuted_pairs(perms, C)                         # (1 + B, pairs)
    q = Y.shape[1]
    RX, tx = dense_ranks(X)
    RY, ty = dense_ranks(Y)
    RYp = np.concatenate([RY[i] for i in idx], axis=1)     # (pairs, (1 + B) q)
    S = concordance(RX, RYp, n_jobs=n_jobs)
    counts = np.zeros((2, len(perms), q), np.int64)
    top = np.full((len(perms), q), np.nan)
    tau0 = p0 = None
    for b in range(len(perms)):
        tau, p = tau_p_from_counts(S[:, b * q:(b + 1) * q].astype(np.float64), n_pairs, tx, ty,
                                   alternative)
        counts[:, b] = study_counts(p, alpha)
        d = directed(tau, alternative)
        ok = np.isfinite(d).any(axis=0)
        top[b, ok] = np.nanmax(d[:, ok], axis=0)
        if b == 0:
            tau0, p0 = tau, p
    # row 0 is the observed labelling; an exact enumeration holds the identity again
    return SearchlightNull(attributes, tau0, p0, counts[:, 0], counts[:, 1:], top[1:],
                           len(perms) - 1, exact, C, alpha, alternative)


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


def _how(exact: bool, stat: str) -> str:
    return (f"exact, #{{{stat}* >= {stat}}} / n!" if exact
            else f"(1 + #{{{stat}* >= {stat}}}) / (1 + n_perm)")


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
    method = ("emotion-label permutation of all attribute RDMs together, the count of study "
              f"q < {null.alpha_q} neurons recounted, one-sided, {_how(null.exact, 'count')}")
    return out.assign(p_method=method, p_adjusted_method=f"Holm over {len(null.attributes)} "
                      "attributes (per count)", unit=f"emotion label ({null.n_concepts})",
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
                     p_fwer_joint_mc_high=mcj["p_mc_high"])
    side = {"greater": "largest tau", "less": "smallest tau", "two-sided": "largest |tau|"}
    method = (f"Westfall-Young max-T: emotion-label permutation, the {side[null.alternative]} "
              f"over all {len(d)} neurons recomputed per permutation, {_how(ex, 'max')}")
    joint = (f"Westfall-Young single-step max-T over all {len(d)} neurons x "
             f"{len(null.attributes)} attributes jointly (every attribute RDM relabelled by the "
             f"same permutation; the {side[null.alternative]} over the whole family), "
             f"{_how(ex, 'max')}")
    return out.drop(columns=["exceed", "exceed_joint"]).assign(
        p_method=method, p_adjusted_method=f"Holm over {len(null.attributes)} attributes",
        p_fwer_joint_method=joint,
        n_above_rule=f"neurons with family-wise p <= {alpha:g} (n_above: per attribute; "
                     "n_above_joint: joint family)",
        unit=f"emotion label ({null.n_concepts})", role="record", n_perm=np.int64(B))


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
