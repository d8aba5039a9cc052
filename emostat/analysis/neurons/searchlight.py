"""Neuron searchlight RSA: each neuron's RDM over concepts against each attribute RDM.

For every neuron, the RDM over the C concepts is the mean over templates of ``|a_i - a_j|``
(pairs in R ``dist()`` order, ``emostat.constants.pair_indices``). Each neuron RDM is scored
against each attribute RDM with Kendall tau-b and its one-sided asymptotic p-value
(:func:`emostat.analysis.engines.kendall.kendall_tau_b`, equal to R ``cor.test``). Work is done in
blocks of neurons, so memory is bounded by the block size (plus the results).

``p_asymptotic`` is the study's p: it treats the 351 pair distances as independent, but pairs
share emotions, so it is anti-conservative (a Mantel p for the same neurons is 10 to 10^6 times
larger). Permutation-calibrated options, permuting the concept labels (the exchangeable units):
:func:`neuron_mantel` (a p per chosen neuron x attribute, uncorrected for choosing the
neurons on the same data) here, and the selection-safe max-T and count nulls over all neurons
in :mod:`emostat.analysis.neurons.neuronnull`. numpy only (``analysis`` never imports torch).

Multiple testing, over ALL neuron x attribute tests together (516,096 for the release):
``q_value`` is the study's rule ``p * N / rank(p)`` (:func:`emostat.analysis.engines.multitest.fdr_study`,
capped at 1; not monotone in p - the study thresholds it at .01), ``q_value_bh`` the proper
Benjamini-Hochberg step-up. ``rank`` is per attribute, the rank of ``-tau`` with ties averaged
(R ``rank(-tau)``; 1 = most attribute-like neuron), as in the released
``RoBERTa_neurons_rank.csv``.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from emostat.analysis.engines.kendall import kendall_tau_b, single_threaded_blas
from emostat.analysis.engines.crossnobis import crossval_neuron_rdms
from emostat.analysis.engines.multitest import fdr_bh, fdr_study
from emostat.errors import InputError
from emostat.schemas import schema

CHUNK_NEURONS = 2048
COLUMNS = ["neuron", "layer", "unit", "attribute", "tau", "p_asymptotic", "q_value",
           "q_value_bh", "rank"]


# ---------------------------------------------------------------------------------------------
# kernels


def _rdm_block(A: np.ndarray) -> np.ndarray:
    """(pairs, units) neuron RDMs of a block A (templates, concepts, units)."""
    T, C, b = A.shape
    out = np.empty((C * (C - 1) // 2, b))
    off = 0
    for j in range(C - 1):
        k = C - 1 - j
        d = A[:, j + 1:] - A[:, j:j + 1]          # (T, k, b)
        np.abs(d, out=d)
        np.add.reduce(d, axis=0, out=out[off:off + k])  # templates summed in order, as np.mean
        off += k
    out /= T
    return out


def neuron_rdms(A, distance: str = "abs") -> np.ndarray:
    """Neuron RDMs: mean over templates of |a_i - a_j| for every concept pair (the study's), or
    with ``distance="crossval"`` the cross-validated squared difference over template folds
    (:func:`emostat.analysis.engines.crossnobis.crossval_neuron_rdms`: unbiased, zero = none).

    Parameters
    ----------
    A : ndarray (templates, concepts, neurons)
    distance : {"abs", "crossval"}

    Returns
    -------
    ndarray (n_pairs, neurons)
        Pairs in R ``dist()`` order (``emostat.constants.pair_indices``), float64.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 3:
        raise InputError(f"neuron_rdms: A must be (templates, concepts, neurons), got {A.shape}")
    if distance == "crossval":
        return crossval_neuron_rdms(A)
    if distance != "abs":
        raise InputError(f"neuron_rdms: distance must be 'abs' or 'crossval', got {distance!r}")
    return np.concatenate([_rdm_block(A[:, :, c:c + CHUNK_NEURONS])
                           for c in range(0, A.shape[2], CHUNK_NEURONS)], axis=1)


def _score(block: np.ndarray, Y: np.ndarray, alternative: str):
    """tau, p (units, q) of a block: activations (3-D) or neuron RDMs (2-D, pairs x units)."""
    rdm = _rdm_block(block) if block.ndim == 3 else block
    return kendall_tau_b(rdm, Y, alternative)


def attr_matrix(attr_rdms, n_pairs: int) -> tuple[np.ndarray, list[str]]:
    if not isinstance(attr_rdms, pd.DataFrame):
        raise InputError("searchlight: attr_rdms must be a DataFrame (pairs x attributes)")
    if len(attr_rdms) != n_pairs:
        raise InputError(f"searchlight: attr_rdms has {len(attr_rdms)} rows, the activations "
                         f"give {n_pairs} concept pairs")
    Y = attr_rdms.to_numpy(dtype=np.float64)
    if np.isnan(Y).any():
        raise InputError("searchlight: attr_rdms contains NaN")
    return Y, [str(c) for c in attr_rdms.columns]


def layer_units(layer_sizes, n: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = [n] if layer_sizes is None else [int(s) for s in layer_sizes]
    if sum(sizes) != n:
        raise InputError(f"searchlight: layer_sizes sum to {sum(sizes)}, but there are {n} "
                         "neurons")
    layer = np.repeat(np.arange(len(sizes)), sizes)
    unit = np.arange(n) - np.repeat(np.cumsum([0] + sizes[:-1]), sizes)
    return layer, unit


# ---------------------------------------------------------------------------------------------
# the table


def _global_columns(tau: np.ndarray, p: np.ndarray):
    """q (study), q (BH) over all tests and per-attribute rank of -tau, each (neurons, q)."""
    flat = p.ravel()
    q_study = fdr_study(flat).reshape(p.shape)
    q_bh = fdr_bh(flat).reshape(p.shape)
    rank = np.full(tau.shape, np.nan)
    for k in range(tau.shape[1]):
        ok = np.isfinite(tau[:, k])
        rank[ok, k] = rankdata(-tau[ok, k], method="average")
    return q_study, q_bh, rank


def _frame(neuron0, layer, unit, attributes, tau, p, q, qbh, rank) -> pd.DataFrame:
    """Long rows (neuron-major, attributes in order) of a block."""
    b, nq = tau.shape
    return pd.DataFrame({
        "neuron": np.repeat(np.arange(neuron0, neuron0 + b, dtype=np.int64), nq),
        "layer": np.repeat(np.asarray(layer, dtype=np.int64), nq),
        "unit": np.repeat(np.asarray(unit, dtype=np.int64), nq),
        "attribute": np.tile(np.asarray(attributes, dtype=object), b),
        "tau": tau.ravel(), "p_asymptotic": p.ravel(), "q_value": q.ravel(),
        "q_value_bh": qbh.ravel(), "rank": rank.ravel(),
    })


def searchlight(A_or_rdms, attr_rdms: pd.DataFrame, layer_sizes=None,
                alternative: str = "greater", *, n_jobs: int = 1,
                chunk_neurons: int = CHUNK_NEURONS, distance: str = "abs") -> pd.DataFrame:
    """Score every neuron against every attribute RDM (Kendall tau-b), with FDR and ranks.

    Parameters
    ----------
    A_or_rdms : ndarray
        Activations (templates, concepts, neurons), concepts in the RDM pair order's concept
        order (the study space's concept order for the study), or neuron RDMs (pairs, neurons).
    attr_rdms : DataFrame (pairs, attributes)
        Attribute RDMs in the same pair order; the column names become ``attribute``.
    layer_sizes : list of int, optional
        Units per layer (neurons numbered layer-major); default one layer.
    alternative : {"greater", "less", "two-sided"}
        Of the Kendall test; the study uses "greater".
    n_jobs : int
        Threads over neuron blocks (numpy and BLAS release the GIL).
    chunk_neurons : int
        Neurons per block (memory ~ 0.5 MB per neuron for 351 pairs).
    distance : {"abs", "crossval"}
        The neuron RDMs made from activations (:func:`neuron_rdms`).

    Returns
    -------
    DataFrame (schema ``neuron_rsa``), one row per neuron x attribute, neuron-major
        ``neuron``, ``layer``, ``unit`` (0-based), ``attribute``, ``tau`` (Kendall tau-b),
        ``p_asymptotic`` (one-sided normal approximation, pairs as independent: the study's),
        ``q_value`` (study rule p*N/rank(p) over all
        tests, capped at 1), ``q_value_bh`` (Benjamini-Hochberg, all tests), ``rank`` (per
        attribute, rank of -tau, ties averaged, 1 = best). NaN tau/p/rank for constant neurons.
    """
    X = np.asarray(A_or_rdms, dtype=np.float64)
    if X.ndim == 3 and distance != "abs":
        X = neuron_rdms(X, distance)
    if X.ndim == 3:
        C = X.shape[1]
        n_pairs, n = C * (C - 1) // 2, X.shape[2]
    elif X.ndim == 2:
        n_pairs, n = X.shape
    else:
        raise InputError(f"searchlight: expected activations (templates, concepts, neurons) or "
                         f"RDMs (pairs, neurons), got shape {X.shape}")
    Y, attributes = attr_matrix(attr_rdms, n_pairs)
    layer, unit = layer_units(layer_sizes, n)
    spans = [(c, min(c + chunk_neurons, n)) for c in range(0, n, chunk_neurons)]

    def work(span):
        c0, c1 = span
        return _score(X[..., c0:c1], Y, alternative)

    with single_threaded_blas():
        if n_jobs > 1 and len(spans) > 1:
            with ThreadPoolExecutor(n_jobs) as pool:
                parts = list(pool.map(work, spans))
        else:
            parts = [work(s) for s in spans]
    tau = np.concatenate([t for t, _ in parts])
    p = np.concatenate([q for _, q in parts])
    q, qbh, rank = _global_columns(tau, p)
    return _frame(0, layer, unit, attributes, tau, p, q, qbh, rank)


# ---------------------------------------------------------------------------------------------
# summaries


def _wide(neuron_rsa: pd.DataFrame, column: str) -> pd.DataFrame:
    """neurons x attributes table of ``column`` (attributes in order of appearance)."""
    attrs = list(pd.unique(neuron_rsa["attribute"]))     # dict.fromkeys: 0.4 s on 645k rows
    return neuron_rsa.pivot(index="neuron", columns="attribute", values=column)[attrs]


def top_k(neuron_rsa: pd.DataFrame, k) -> dict[str, np.ndarray]:
    """The k best-ranked neurons per attribute.

    Parameters
    ----------
    k : int or float
        A count, or a fraction (0 < k < 1) of the neurons (rounded).

    Returns
    -------
    dict attribute -> ndarray of neuron ids, best first (ties by neuron id).
    """
    rank = _wide(neuron_rsa, "rank")
    n = len(rank)
    kk = int(round(k * n)) if isinstance(k, float) and 0 < k < 1 else int(k)
    if not 0 < kk <= n:
        raise InputError(f"top_k: k={k} must select between 1 and {n} neurons")
    ids = rank.index.to_numpy()
    out = {}
    for a in rank.columns:
        r = rank[a].to_numpy()
        order = np.lexsort((ids, np.where(np.isnan(r), np.inf, r)))
        out[a] = ids[order[:kk]]
    return out


def layer_distribution(neuron_rsa: pd.DataFrame, ks) -> pd.DataFrame:
    """How many of each attribute's top-k neurons sit in each layer.

    Returns
    -------
    DataFrame with columns ``attribute``, ``k``, ``layer``, ``n_neurons`` (every layer listed,
    zeros included).
    """
    layers = neuron_rsa.drop_duplicates("neuron").set_index("neuron")["layer"]
    all_layers = np.sort(layers.unique())
    rows = []
    for k in ks:
        for a, ids in top_k(neuron_rsa, k).items():
            counts = layers.loc[ids].value_counts()
            rows += [(a, int(k), int(L), int(counts.get(L, 0))) for L in all_layers]
    return pd.DataFrame(rows, columns=["attribute", "k", "layer", "n_neurons"])


def significance_counts(neuron_rsa: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """Significant neurons per attribute.

    Returns
    -------
    DataFrame with columns ``attribute``, ``n_significant`` (study q < alpha),
    ``n_significant_bh`` (BH q < alpha), ``n_selective`` (study q < alpha for this attribute
    and no other).
    """
    sig = _wide(neuron_rsa, "q_value") < alpha
    sig_bh = _wide(neuron_rsa, "q_value_bh") < alpha
    only = sig & (sig.sum(axis=1) == 1).to_numpy()[:, None]
    return pd.DataFrame({"attribute": list(sig.columns),
                         "n_significant": sig.sum().to_numpy().astype(np.int64),
                         "n_significant_bh": sig_bh.sum().to_numpy().astype(np.int64),
                         "n_selective": only.sum().to_numpy().astype(np.int64)})


# ---------------------------------------------------------------------------------------------
# streaming from Parquet


class RayExecutor:
    """A minimal ``submit`` executor running tasks as Ray remote functions.

    ``RayExecutor(address=None, **ray_init_kwargs)`` connects to (or starts) Ray; ``submit``
    returns a ``concurrent.futures.Future``. Ray is imported only here, lazily.
    """

    def __init__(self, address: str | None = None, **init_kwargs):
        import ray

        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            init_kwargs.setdefault("include_dashboard", False)
            init_kwargs.setdefault("log_to_driver", False)
            ray.init(address=address, **init_kwargs)
        self._remote = {}

    def submit(self, fn, *args):
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn)
        return self._remote[fn].remote(*args).future()

    def shutdown(self):
        if self._started:
            self._ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False


def searchlight_stream(activations_parquet, attr_rdms: pd.DataFrame, *,
                       chunk_neurons: int = 4096, out_path=None, executor=None,
                       max_in_flight: int = 4, alternative: str = "greater",
                       model: str | None = None, prov: dict | None = None):
    """The searchlight of :func:`searchlight`, streamed from an ``activations`` Parquet file.

    Two passes. (1) Neuron blocks are read layer by layer (Parquet row groups; a layer is split
    into blocks of ``chunk_neurons``), scored, and only ``tau`` and ``p_asymptotic`` are kept.
    Blocks run inline, or on ``executor`` (any object with ``submit(fn, *args) -> Future``:
    a ``concurrent.futures`` pool or :class:`RayExecutor`) with at most ``max_in_flight``
    blocks pending, so activation memory stays bounded. (2) The global corrections (study q,
    BH q over all tests) and per-attribute ranks are computed, and the table is written to
    ``out_path`` in blocks.

    Memory: about ``max_in_flight + 1`` activation blocks (templates x concepts x chunk x 8
    bytes, plus 351 x chunk x 8 for their RDMs and sign matrices) in pass 1, then five float64
    arrays of neurons x attributes (tau, p, two q's, rank: 40 bytes per test) plus the sorting
    temporaries of the two FDR rules in pass 2: about 100 bytes per test at the peak. Measured
    (benchmarks/bench_streaming.py): peak RSS 0.33 GB for 36,864 neurons, 0.99 GB for 589,824,
    3.3 GB for 2,359,296 neurons x 14 attributes (33 million tests).

    Returns
    -------
    Path of the written ``neuron_rsa`` Parquet when ``out_path`` is given, else the DataFrame
    (same rows as :func:`searchlight`).
    """
    from emostat.analysis.neurons.activations import iter_activation_blocks
    from emostat.io import TableWriter, provenance

    Y, attributes, parts, meta = None, None, [], []
    pending: deque = deque()

    def collect(item):
        (layer, unit0, b), fut = item
        tau, p = fut.result() if executor is not None else fut
        parts.append((tau, p))
        meta.append((layer, unit0, b))

    with single_threaded_blas():
        for block in iter_activation_blocks(activations_parquet, chunk_neurons=chunk_neurons,
                                            model=model):
            if Y is None:
                C = len(block.concepts)
                Y, attributes = attr_matrix(attr_rdms, C * (C - 1) // 2)
            values = np.ascontiguousarray(block.values)
            key = (block.layer, block.unit_start, values.shape[2])
            if executor is None:
                collect((key, _score(values, Y, alternative)))
                continue
            pending.append((key, executor.submit(_score, values, Y, alternative)))
            while len(pending) >= max_in_flight:
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    if Y is None:
        raise InputError(f"{activations_parquet}: no activations")
    tau = np.concatenate([t for t, _ in parts])
    p = np.concatenate([q for _, q in parts])
    parts.clear()   # free the blocks (the list stays bound in collect)
    layer = np.concatenate([np.full(b, L) for L, _, b in meta])
    unit = np.concatenate([np.arange(u0, u0 + b) for _, u0, b in meta])
    q, qbh, rank = _global_columns(tau, p)
    if out_path is None:
        return _frame(0, layer, unit, attributes, tau, p, q, qbh, rank)
    prov = prov if prov is not None else provenance(
        dataset="neuron_rsa", source=str(activations_parquet), alternative=alternative,
        attributes=attributes)
    step = max(1, 1_000_000 // len(attributes))   # ~1M rows per row group
    with TableWriter(out_path, schema("neuron_rsa"), prov=prov) as w:
        for s in range(0, len(tau), step):
            e = min(s + step, len(tau))
            w.write(_frame(s, layer[s:e], unit[s:e], attributes, tau[s:e], p[s:e], q[s:e],
                           qbh[s:e], rank[s:e]))
    return Path(out_path)


# ---------------------------------------------------------------------------------------------
# permutation-calibrated searchlight (concept labels as the exchangeable units)

MANTEL_P_METHOD = ("Mantel: concept-label permutation, Kendall tau-b of the neuron RDM with the "
                   "attribute RDM, one-sided (greater), (1 + #{tau* >= tau}) / (1 + n_perm)")


UNCORRECTED = "; uncorrected: neurons selected on the same data"


def as_rdms(A_or_rdms) -> np.ndarray:
    X = np.asarray(A_or_rdms, dtype=np.float64)
    if X.ndim == 3:
        return neuron_rdms(X)
    if X.ndim != 2:
        raise InputError(f"searchlight: expected activations (templates, concepts, neurons) or "
                         f"RDMs (pairs, neurons), got shape {X.shape}")
    return X


def neuron_mantel(A_or_rdms, attr_rdms: pd.DataFrame, neurons: dict, *, n_perm: int = 10_000,
                  seed: int = 0, layer_sizes=None, neuron_rsa: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """Emotion-label permutation (Mantel) p for chosen neurons × attributes.

    Relabelling the concepts of the attribute RDM is the same null as relabelling every neuron
    RDM (tau(x o pi, y) = tau(x, y o pi^-1)), so one set of ``n_perm`` permutations of the
    attribute RDM tests all chosen neurons of that attribute at once
    (:func:`emostat.analysis.engines.mantel.mantel`, exact integer comparisons).

    Parameters
    ----------
    A_or_rdms : ndarray
        Activations (templates, concepts, neurons) or neuron RDMs (pairs, neurons).
    attr_rdms : DataFrame (pairs, attributes)
    neurons : dict attribute -> neuron ids
        E.g. ``top_k(neuron_rsa, 4000)``, or a few ids per attribute.
    n_perm : int or "exact"
        Permutations (seeded; the same draws for every attribute). Smallest p: 1/(n_perm + 1).
        "exact" enumerates all n! (n <= 8 concepts), as does an n_perm >= n!.
    seed : int
    layer_sizes : list of int, optional
        To report each neuron's layer.
    neuron_rsa : DataFrame, optional
        The searchlight table, to copy ``tau`` and ``p_asymptotic`` beside the permutation p.

    Returns
    -------
    DataFrame (schema ``neuron_mantel``): ``neuron, layer, attribute, tau, p_asymptotic,
    p_value, p_method, unit, role, n_perm``; in the order of ``neurons``.
    """
    from emostat.analysis.engines.mantel import exact_if_fewer, mantel

    X = as_rdms(A_or_rdms)
    n_pairs, n = X.shape
    Y, attributes = attr_matrix(attr_rdms, n_pairs)
    layer, _ = layer_units(layer_sizes, n)
    C = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    n_perm = exact_if_fewer(n_perm, C)              # n! <= n_perm: enumerate them all
    rsa = (neuron_rsa.set_index(["neuron", "attribute"])[["tau", "p_asymptotic"]]
           if neuron_rsa is not None else None)
    parts = []
    for a, ids in neurons.items():
        if a not in attributes:
            raise InputError(f"neuron_mantel: unknown attribute {a!r} (have {attributes})")
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            continue
        if ids.min() < 0 or ids.max() >= n:
            raise InputError(f"neuron_mantel: neuron ids for {a!r} must lie in [0, {n})")
        R = X[:, ids]
        y = Y[:, attributes.index(a)]
        p = np.atleast_1d(mantel(y, R, n_perm=n_perm, seed=seed, n_items=C))
        if rsa is not None:
            got = rsa.reindex(pd.MultiIndex.from_arrays([ids, [a] * ids.size]))
            tau, pa = got["tau"].to_numpy(float), got["p_asymptotic"].to_numpy(float)
        else:
            tau, pa = kendall_tau_b(R, y)
        parts.append(pd.DataFrame({"neuron": ids, "layer": layer[ids].astype(np.int64),
                                   "attribute": a, "tau": tau, "p_asymptotic": pa,
                                   "p_value": p}))
    cols = ["neuron", "layer", "attribute", "tau", "p_asymptotic", "p_value"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    if n_perm == "exact":
        import math

        method = MANTEL_P_METHOD.replace("(1 + #{tau* >= tau}) / (1 + n_perm)",
                                         "exact, #{tau* >= tau} / n!")
        n_perm = math.factorial(C)
    else:
        method = MANTEL_P_METHOD
    # The neurons are chosen by tau on the same data: these p ignore that selection (the
    # selection-safe test is neuronnull.neuron_max_t), so the rows are labelled extra.
    return out.assign(p_method=method + UNCORRECTED, unit=f"concept label ({C})", role="extra",
                      n_perm=np.int64(n_perm))
