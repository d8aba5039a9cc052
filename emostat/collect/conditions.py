"""Ablation conditions: which neurons each condition silences, with deterministic ids.

Conditions of a run, in a fixed order:

- ``none`` — nothing silenced (the baseline);
- ``attr:<attribute>:k=<k>`` — the attribute's top-k neurons of the searchlight RSA;
- ``rand:<attribute>:k=<k>:d=<draw>`` — a seeded random set of k neurons paired with that
  attribute set: uniform over all neurons, or layer-matched (as many neurons in each layer as the
  attribute's set);
- ``rand:k=<k>:d=<draw>`` — with the uniform scheme and ``shared_random``, one pool of draws per k
  serves every attribute (its null distribution does not depend on the attribute).

Every random set depends only on (seed, attribute, k, draw), never on the order of generation, so
adding draws or attributes leaves existing sets unchanged. :meth:`ConditionSet.masks` turns the
condition ids of a batch's rows into a bool mask [rows, n_neurons] for per-row ablation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emostat.errors import InputError

NONE = "none"


@dataclass(frozen=True)
class Condition:
    """One ablation condition.

    ``condition`` is none | attribute | random; ``attribute`` is None for none and for shared
    random draws; ``k`` is None for none; ``draw`` is None unless random.
    """

    id: str
    condition: str
    attribute: str | None
    k: int | None
    draw: int | None
    neurons: np.ndarray  # sorted int64 neuron indices

    def key(self) -> tuple:
        return (self.id, self.condition, self.attribute, self.k, self.draw)


def attr_id(attribute: str, k: int) -> str:
    return f"attr:{attribute}:k={k}"


def rand_id(attribute: str | None, k: int, draw: int) -> str:
    return f"rand:k={k}:d={draw:02d}" if attribute is None else f"rand:{attribute}:k={k}:d={draw:02d}"


def _rng(seed: int, attribute: str | None, k: int, draw: int) -> np.random.Generator:
    tag = zlib.crc32((attribute or "*").encode())
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, tag, k, draw]))


def layer_of(neurons: np.ndarray, layer_sizes) -> np.ndarray:
    """Layer index of each (layer-major) neuron index."""
    bounds = np.cumsum(layer_sizes)
    return np.searchsorted(bounds, neurons, side="right")


def random_set(n_neurons: int, k: int, *, seed: int, attribute: str | None, draw: int,
               layer_sizes=None, match: np.ndarray | None = None) -> np.ndarray:
    """A seeded random neuron set.

    Uniform (``match`` None): k distinct neurons out of ``n_neurons``. Layer-matched: for each
    layer, as many distinct neurons of that layer as ``match`` (the attribute's set) holds there.
    Returns sorted int64 indices.
    """
    rng = _rng(seed, attribute, k, draw)
    if match is None:
        return np.sort(rng.choice(n_neurons, size=k, replace=False)).astype(np.int64)
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    counts = np.bincount(layer_of(np.asarray(match), sizes), minlength=len(sizes))
    parts = [start + rng.choice(size, size=c, replace=False)
             for start, size, c in zip(starts, sizes, counts) if c]
    return np.sort(np.concatenate(parts)).astype(np.int64)


def build_conditions(rankings: dict[str, np.ndarray], ks, layer_sizes, *, n_draws: int,
                     scheme: str = "uniform", shared_random: bool = True,
                     seed: int = 0) -> list[Condition]:
    """All conditions of a run, in their fixed order.

    Parameters
    ----------
    rankings : dict attribute -> int array
        Neuron indices ordered from most to least attribute-related (the searchlight rank);
        the top-k set is the first k.
    ks : list of int
        Set sizes (counts).
    layer_sizes : list of int
        Neurons per layer (layer-major numbering).
    n_draws : int
        Random draws per (attribute, k), or per k when shared.
    scheme : {"uniform", "layer_matched"}
    shared_random : bool
        With ``scheme="uniform"``, one pool of draws per k for all attributes.
    seed : int

    Returns
    -------
    list of Condition
        none; then per k: the attribute sets (attribute order of ``rankings``), then the random
        sets (per attribute and draw, or per draw when shared).
    """
    n = int(np.sum(layer_sizes))
    for a, r in rankings.items():
        if len(r) < max(ks):
            raise InputError(f"k = {max(ks)} is larger than the {len(r)} ranked neurons of "
                             f"attribute {a!r} (model has {n} neurons)")
    shared = shared_random and scheme == "uniform"
    out = [Condition(NONE, NONE, None, None, None, np.zeros(0, np.int64))]
    for k in ks:
        top = {a: np.sort(np.asarray(r[:k], dtype=np.int64)) for a, r in rankings.items()}
        out += [Condition(attr_id(a, k), "attribute", a, k, None, s) for a, s in top.items()]
        if shared:
            out += [Condition(rand_id(None, k, d), "random", None, k, d,
                              random_set(n, k, seed=seed, attribute=None, draw=d))
                    for d in range(n_draws)]
            continue
        for a, s in top.items():
            match = s if scheme == "layer_matched" else None
            out += [Condition(rand_id(a, k, d), "random", a, k, d,
                              random_set(n, k, seed=seed, attribute=a, draw=d,
                                         layer_sizes=layer_sizes, match=match))
                    for d in range(n_draws)]
    return out


class ConditionSet:
    """The conditions of a run, with per-row masks and a table form (``conditions.parquet``)."""

    def __init__(self, conditions: list[Condition], n_neurons: int, mode: str = "zero"):
        self.conditions = list(conditions)
        self.n_neurons = int(n_neurons)
        self.mode = mode
        self.by_id = {c.id: c for c in self.conditions}
        if len(self.by_id) != len(self.conditions):
            raise InputError("duplicate condition ids")

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.conditions]

    def masks(self, ids) -> np.ndarray:
        """Bool masks [len(ids), n_neurons]: row r silences the neurons of condition ids[r]."""
        m = np.zeros((len(ids), self.n_neurons), dtype=bool)
        for r, cid in enumerate(ids):
            try:
                m[r, self.by_id[cid].neurons] = True
            except KeyError:
                raise InputError(f"unknown condition id {cid!r}") from None
        return m

    def table(self) -> pd.DataFrame:
        """One row per condition.

        Columns: ``condition_id``, ``condition`` (none | attribute | random), ``attribute``,
        ``k``, ``draw`` (nullable ints), ``ablation`` (zero | mean), ``n_neurons`` (set size),
        ``neurons`` (list of int64 indices).
        """
        df = pd.DataFrame({
            "condition_id": [c.id for c in self.conditions],
            "condition": [c.condition for c in self.conditions],
            "attribute": [c.attribute for c in self.conditions],
            "k": pd.array([c.k for c in self.conditions], dtype="Int64"),
            "draw": pd.array([c.draw for c in self.conditions], dtype="Int64"),
            "ablation": self.mode,
            "n_neurons": [len(c.neurons) for c in self.conditions],
            "neurons": [c.neurons.tolist() for c in self.conditions],
        })
        return df

    @classmethod
    def from_table(cls, df: pd.DataFrame, n_neurons: int) -> "ConditionSet":
        def opt(v):
            return None if v is None or pd.isna(v) else v

        conds = [Condition(r.condition_id, r.condition, opt(r.attribute),
                           None if opt(r.k) is None else int(r.k),
                           None if opt(r.draw) is None else int(r.draw),
                           np.asarray(r.neurons, dtype=np.int64))
                 for r in df.itertuples(index=False)]
        mode = str(df["ablation"].iloc[0]) if len(df) else "zero"
        return cls(conds, n_neurons, mode)
