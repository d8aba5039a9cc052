"""Read ``activations`` datasets (Parquet) into arrays: whole, or layer by layer.

The dataset has one row per model x concept x template x layer, with the layer's unit values
in a list column. Neurons are numbered ``offset(layer) + unit`` with layers in increasing order.
Concepts come in the order given (``concepts=``: a space's analysis order, the RDM pair
order); without it, the study space's order when they are its concepts, else their order of
first appearance. Templates that are all integers (the
release's seeds) are sorted numerically, others keep their order of first appearance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emostat.errors import InputError
from emostat.schemas import validate

_KEYS = ["model", "concept", "template", "layer"]


def _order(values: list[str], kind: str, concepts=None) -> list[str]:
    seen = list(dict.fromkeys(values))
    if kind == "concept" and concepts is not None:
        if set(seen) != set(concepts):
            extra, missing = sorted(set(seen) - set(concepts)), sorted(set(concepts) - set(seen))
            raise InputError(f"activations: concepts differ from the space's (not in the space: "
                             f"{extra[:5]}; missing: {missing[:5]})")
        return list(concepts)
    if kind == "concept":
        from emostat.space import load_space

        study = load_space().concepts
        if set(seen) == set(study):
            return list(study)
    if kind == "template" and all(v.lstrip("-").isdigit() for v in seen):
        return sorted(seen, key=int)
    return seen


class _Layout:
    """Concepts, templates and layers of a dataset, read from its key columns only."""

    def __init__(self, keys: pa.Table, where: str, model: str | None, concepts=None):
        models = keys.column("model").unique().to_pylist()
        if model is None and len(models) > 1:
            raise InputError(f"{where}: activations of several models {models}; pass model=")
        self.model = model if model is not None else models[0]
        if self.model not in models:
            raise InputError(f"{where}: no activations of model {self.model!r} (has {models})")
        mask = pc.equal(keys.column("model"), self.model)
        k = keys.filter(mask)
        self.concepts = _order(k.column("concept").to_pylist(), "concept", concepts)
        self.templates = _order(k.column("template").to_pylist(), "template")
        self.layers = sorted(set(k.column("layer").to_pylist()))
        want = len(self.concepts) * len(self.templates) * len(self.layers)
        if k.num_rows != want:
            raise InputError(f"{where}: {k.num_rows} rows for model {self.model!r}, expected "
                             f"{want} = {len(self.concepts)} concepts x {len(self.templates)} "
                             f"templates x {len(self.layers)} layers (each exactly once)")
        self.where = where

    def fill(self, t: pa.Table, layer: int, dtype) -> np.ndarray:
        """(templates, concepts, units) array of one layer's rows."""
        t = t.filter(pc.and_(pc.equal(t.column("model"), self.model),
                             pc.equal(t.column("layer"), layer)))
        vals = t.column("values").combine_chunks()
        lengths = pc.list_value_length(vals).to_numpy(zero_copy_only=False)
        if t.num_rows != len(self.concepts) * len(self.templates) or len(set(lengths)) != 1:
            raise InputError(f"{self.where}: layer {layer} has {t.num_rows} rows or unequal "
                             f"value lengths {sorted(set(lengths))[:3]}; expected one list of "
                             f"the same length per concept x template")
        units = int(lengths[0])
        flat = vals.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        ci = {c: i for i, c in enumerate(self.concepts)}
        ti = {s: i for i, s in enumerate(self.templates)}
        c = np.array([ci[v] for v in t.column("concept").to_pylist()])
        s = np.array([ti[v] for v in t.column("template").to_pylist()])
        if len(set(zip(c.tolist(), s.tolist()))) != t.num_rows:
            raise InputError(f"{self.where}: layer {layer} repeats a concept x template row")
        rows = flat.reshape(t.num_rows, units)
        bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
        if len(bad):                                  # e.g. a damaged file that still decodes
            r = int(bad[0])
            tmpl = t.column("template")[r].as_py()
            raise InputError(f"{_file_of(self.where, tmpl)}: layer {layer}, concept "
                             f"{t.column('concept')[r].as_py()!r}, template {tmpl!r}: "
                             f"non-finite activation values")
        out = np.empty((len(self.templates), len(self.concepts), units), dtype=dtype)
        out[s, c] = rows
        return out


def _file_of(where: str, template: str) -> str:
    """The part file of a folder of activations that holds ``template`` (else ``where``)."""
    folder = Path(where)
    if folder.is_dir():
        for f in sorted(folder.glob("part-*.parquet")):
            if template in pq.read_table(f, columns=["template"]).column(0).to_pylist():
                return str(f)
    return where


def _source(path_or_table):
    if isinstance(path_or_table, pa.Table):
        return path_or_table, "<table>"
    path = Path(path_or_table)
    if not path.exists():
        raise InputError(f"{path}: activations file not found")
    return path, str(path)


def load_activation_array(path_or_table, dtype=np.float64, model: str | None = None,
                          concepts=None):
    """All activations of one model as a dense array.

    Parameters
    ----------
    path_or_table : path or pyarrow.Table
        An ``activations`` dataset.
    dtype : numpy dtype
        Of the returned array (float64 keeps the release's double reading).
    model : str, optional
        Needed when the dataset holds several models.

    Returns
    -------
    A : ndarray (templates, concepts, neurons)
    concepts, templates : list of str
        Axis labels (see the module notes for their order).
    layer_sizes : list of int
        Units per layer, layers in increasing order; neuron = sum(sizes[:layer]) + unit.
    """
    blocks = list(iter_activation_blocks(path_or_table, dtype=dtype, model=model,
                                         concepts=concepts))
    if not blocks:
        raise InputError("activations: no rows")
    A = np.concatenate([b.values for b in blocks], axis=2)
    first = blocks[0]
    return A, first.concepts, first.templates, [b.values.shape[2] for b in blocks]


class Block:
    """One block of neurons: ``values`` (templates, concepts, units) of ``layer``, whose first
    unit is ``unit_start`` and first neuron id ``neuron_start``."""

    __slots__ = ("layer", "unit_start", "neuron_start", "values", "concepts", "templates")

    def __init__(self, layer, unit_start, neuron_start, values, concepts, templates):
        self.layer, self.unit_start, self.neuron_start = layer, unit_start, neuron_start
        self.values, self.concepts, self.templates = values, concepts, templates


def iter_activation_blocks(path_or_table, chunk_neurons: int | None = None, dtype=np.float64,
                           model: str | None = None, concepts=None) -> Iterator[Block]:
    """Yield neuron blocks layer by layer, reading one layer at a time from Parquet.

    Memory is bounded by one layer (templates x concepts x units values) plus the key columns.
    Reading a layer uses the Parquet row-group statistics to skip other row groups, so it is
    cheap when rows are grouped by layer (as emostat writes them).

    Parameters
    ----------
    chunk_neurons : int, optional
        Split each layer into blocks of at most this many units.
    concepts : sequence of str, optional
        The concept axis order (a space's ``concepts``); the dataset must hold exactly these.

    Yields
    ------
    Block
        ``layer``, ``unit_start``, ``neuron_start``, ``values`` (templates, concepts, units),
        ``concepts``, ``templates``.
    """
    src, where = _source(path_or_table)
    if isinstance(src, pa.Table):
        validate(src, "activations", where=where)
        keys = src.select(_KEYS)
    else:
        try:
            # a single file, or a folder of part files (emostat collect writes activations/)
            file_schema = (pq.ParquetDataset(src).schema if src.is_dir()
                           else pq.read_schema(src))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"{where}: not a readable Parquet file ({exc})") from exc
        validate(file_schema.empty_table(), "activations", where=where)
        keys = pq.read_table(src, columns=_KEYS)
    lay = _Layout(keys, where, model, concepts)
    neuron = 0
    for layer in lay.layers:
        if isinstance(src, pa.Table):
            t = src.filter(pc.equal(src.column("layer"), layer))
        else:
            t = pq.read_table(src, columns=_KEYS + ["values"], filters=[("layer", "=", layer)])
        block = lay.fill(t, layer, dtype)
        del t
        units = block.shape[2]
        step = units if not chunk_neurons else int(chunk_neurons)
        for u0 in range(0, units, step):
            yield Block(layer, u0, neuron + u0, block[:, :, u0:u0 + step],
                        lay.concepts, lay.templates)
        neuron += units
