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
        """(templates, concepts, units) array of one layer's rows of ``t`` (or a
        :class:`_Rows` of it)."""
        rows = t if isinstance(t, _Rows) else _Rows(t)
        idx = np.flatnonzero((rows.model == self.model) & (rows.layer == layer))
        start, stop = rows.offsets[idx], rows.offsets[idx + 1]
        lengths = stop - start
        if len(idx) != len(self.concepts) * len(self.templates) or len(set(lengths)) != 1:
            raise InputError(f"{self.where}: layer {layer} has {len(idx)} rows or unequal "
                             f"value lengths {sorted(set(lengths.tolist()))[:3]}; expected one "
                             f"list of the same length per concept x template")
        units = int(lengths[0])
        ci = {c: i for i, c in enumerate(self.concepts)}
        ti = {s: i for i, s in enumerate(self.templates)}
        names_c, names_t = rows.concept[idx], rows.template[idx]
        c = np.array([ci[v] for v in names_c])
        s = np.array([ti[v] for v in names_t])
        if len(set(zip(c.tolist(), s.tolist()))) != len(idx):
            raise InputError(f"{self.where}: layer {layer} repeats a concept x template row")
        values = rows.flat[start[:, None] + np.arange(units)]     # (rows, units), float32
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        if len(bad):                                  # e.g. a damaged file that still decodes
            r = int(bad[0])
            raise InputError(f"{_file_of(self.where, names_t[r])}: layer {layer}, concept "
                             f"{names_c[r]!r}, template {names_t[r]!r}: "
                             f"non-finite activation values")
        out = np.empty((len(self.templates), len(self.concepts), units), dtype=dtype)
        out[s, c] = values
        return out


class _Rows:
    """The columns of an activations table as numpy arrays: keys per row, and every row's
    values as one flat float array with list offsets (no per-layer copies of the table)."""

    def __init__(self, t: pa.Table):
        self.model = np.asarray(t.column("model").to_pylist(), dtype=object)
        self.concept = np.asarray(t.column("concept").to_pylist(), dtype=object)
        self.template = np.asarray(t.column("template").to_pylist(), dtype=object)
        self.layer = t.column("layer").to_numpy()
        vals = t.column("values").combine_chunks()
        if vals.null_count:
            raise InputError("activations: a row has no values (null list)")
        self.offsets = vals.offsets.to_numpy().astype(np.int64)
        self.flat = vals.values.to_numpy(zero_copy_only=False)


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
    src, where = _source(path_or_table)
    if not isinstance(src, pa.Table):           # one pass over the files, then layer by layer
        _file_schema(src, where)                # in memory (the array is held whole anyway)
        src = _read(src, where, _KEYS + ["values"])
    if isinstance(src, pa.Table):
        validate(src, "activations", where=where)
    lay = _Layout(src.select(_KEYS), where, model, concepts)
    rows = _Rows(src)
    del src
    parts = [lay.fill(rows, layer, dtype) for layer in lay.layers]
    if not parts:
        raise InputError("activations: no rows")
    sizes = [p.shape[2] for p in parts]
    A = np.empty(parts[0].shape[:2] + (int(sum(sizes)),), dtype=dtype)
    lo = 0
    for p in parts:
        A[:, :, lo:lo + p.shape[2]] = p
        lo += p.shape[2]
    return A, lay.concepts, lay.templates, sizes


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
    cheap when each layer is a row group (as ``emostat collect`` writes them); files written
    otherwise (by earlier versions) are read whole once per layer. To hold everything in
    memory, :func:`load_activation_array` reads the files once.

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
    if not isinstance(src, pa.Table):
        _file_schema(src, where)
    return _blocks(src, where, chunk_neurons, dtype, model, concepts)


def _file_schema(src: Path, where: str) -> None:
    """Check the schema of a file or a folder of part files (emostat collect writes
    ``activations/``) before reading any values."""
    try:
        file_schema = pq.ParquetDataset(src).schema if src.is_dir() else pq.read_schema(src)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{where}: not a readable Parquet file ({exc})") from exc
    validate(file_schema.empty_table(), "activations", where=where)


def _read(src: Path, where: str, columns, filters=None) -> pa.Table:
    try:
        return pq.read_table(src, columns=columns, filters=filters)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{where}: not a readable Parquet file ({exc})") from exc


def _blocks(src, where: str, chunk_neurons, dtype, model, concepts) -> Iterator[Block]:
    """Blocks of ``src``: a table in memory, or files read one layer at a time (a layer is one
    row group in files emostat writes, so a layer's read skips the other layers' bytes)."""
    if isinstance(src, pa.Table):
        validate(src, "activations", where=where)
        keys = src.select(_KEYS)
    else:
        keys = _read(src, where, _KEYS)
    lay = _Layout(keys, where, model, concepts)
    neuron = 0
    for layer in lay.layers:
        if isinstance(src, pa.Table):
            t = src.filter(pc.equal(src.column("layer"), layer))
        else:
            t = _read(src, where, _KEYS + ["values"], filters=[("layer", "=", layer)])
        block = lay.fill(t, layer, dtype)
        del t
        units = block.shape[2]
        step = units if not chunk_neurons else int(chunk_neurons)
        for u0 in range(0, units, step):
            yield Block(layer, u0, neuron + u0, block[:, :, u0:u0 + step],
                        lay.concepts, lay.templates)
        neuron += units
