"""A cache of the searchlight tables in the run folder, filled during the collection.

The searchlight tables (:func:`~emostat.analysis.pipelines.steps.searchlight_tables`, most of
an analysis's time: the permutation null of the neuron searchlight) depend only on the run's
concept activations, the attribute RDMs, the ks, the seed and the searchlight options. So the
collection computes them in a background process once the activations are complete
(:mod:`emostat.collect.slprecompute`) and ``analyse`` reads them back.

An entry is ``<run>/cache/searchlight/<key>/``: one Parquet file per table and ``entry.json``
(the key, the table names in order, each file's SHA-256 and which command computed it). The key (:func:`cache_key`) is
the SHA-256 of everything that decides the tables, so an entry of other inputs is never
read. An entry is written into a temporary folder beside it and renamed into place when
whole; one that is incomplete or does not match its ``entry.json`` is ignored (and replaced).
``EMOSTAT_SEARCHLIGHT_CACHE=0`` switches the cache off: no precompute, ``analyse`` neither
reads nor writes it. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io

CACHE_VERSION = 1
FOLDER = Path("cache") / "searchlight"
SWITCH = "EMOSTAT_SEARCHLIGHT_CACHE"
ENTRY = "entry.json"
# the options that decide the tables (n_jobs does not: the null's products are exact counts)
KEY_OPTIONS = ("mantel_top", "n_perm_mantel", "n_perm_count", "alpha", "headline_k")


def enabled() -> bool:
    """False when ``EMOSTAT_SEARCHLIGHT_CACHE`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(SWITCH, "").strip().lower() not in ("0", "false", "no", "off")


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.view(np.uint8).ravel())
    return h.hexdigest()


def cache_key(A, layer_sizes, attr_rdms: pd.DataFrame, ks, *, seed: int,
              options: dict) -> str:
    """SHA-256 (hex) of the inputs of :func:`searchlight_tables`: the activations' bytes,
    shape and dtype, ``layer_sizes``, the attribute RDMs' values and column labels, ``ks``,
    ``seed``, the options in :data:`KEY_OPTIONS` (resolved: absent ones are None), the
    :data:`CACHE_VERSION` and emostat's version."""
    from emostat import __version__

    opts = {k: options.get(k) for k in KEY_OPTIONS}
    opts["alpha"] = None if opts["alpha"] is None else float(opts["alpha"])
    for k in ("n_perm_mantel", "n_perm_count", "headline_k"):
        opts[k] = None if opts[k] is None else int(opts[k])
    top = opts["mantel_top"]
    opts["mantel_top"] = top if top is None or top == "k" else int(top)
    record = {"cache_version": CACHE_VERSION, "emostat": __version__,
              "activations": _digest(np.asarray(A)),
              "layer_sizes": [int(s) for s in layer_sizes],
              "attribute_rdms": _digest(attr_rdms.to_numpy(np.float64)),
              "attributes": [str(c) for c in attr_rdms.columns],
              "ks": [int(k) for k in ks], "seed": int(seed), "options": opts}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def entry_folder(run_dir, key: str) -> Path:
    return Path(run_dir) / FOLDER / key


def load_entry(run_dir, key: str) -> tuple[dict[str, pd.DataFrame], dict] | None:
    """The tables of the entry ``key`` and its ``entry.json``, or None when it is absent,
    incomplete or does not match its ``entry.json`` (never an error: the caller computes
    them)."""
    folder = entry_folder(run_dir, key)
    try:
        entry = json.loads((folder / ENTRY).read_text())
        if entry.get("key") != key or not entry.get("tables"):
            return None
        tables = {}
        for name in entry["tables"]:
            path = folder / f"{name}.parquet"
            if io.file_sha256(path) != entry["sha256"][name]:
                return None
            tables[name] = io.read_table(path)
        return tables, entry
    except Exception:                     # noqa: BLE001 - unreadable in any way: not trusted
        return None


def store_entry(run_dir, key: str, tables: dict[str, pd.DataFrame], *,
                by: str = "analyse") -> Path:
    """Write ``tables`` as the entry ``key``, whole: into a temporary folder beside it, then
    renamed into place (an invalid entry there is replaced; a valid one, written meanwhile by
    another process, is kept). ``by``: the command that computed them (``collect`` or
    ``analyse``). Returns the entry's folder."""
    final = entry_folder(run_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=io.tmp_prefix(final), suffix=".tmp", dir=final.parent))
    try:
        os.chmod(tmp, 0o777 & ~io.user_umask())      # mkdtemp's 0700: the user's mode
        sums = {}
        for name, df in tables.items():
            path = io.write_table(df.reset_index(drop=True), tmp / f"{name}.parquet",
                                  prov=io.provenance(searchlight_cache=key, by=by))
            sums[name] = io.file_sha256(path)
        io.write_text(tmp / ENTRY, json.dumps({"key": key, "tables": list(tables),
                                               "sha256": sums, "by": by}, indent=2))
        if final.exists() and load_entry(run_dir, key) is None:
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if load_entry(run_dir, key) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def cached_searchlight(run_dir, A, layer_sizes, attr_rdms: pd.DataFrame, ks, *, seed: int,
                       options: dict, use: bool | None = None
                       ) -> tuple[dict[str, pd.DataFrame], dict]:
    """:func:`searchlight_tables` through the cache of ``run_dir``: the entry's tables when
    present and valid, else computed (and stored). ``use``: None = :func:`enabled`.

    Returns the tables and the provenance record ``{"enabled", "hit", "key", "by"}`` (``by``:
    the command that computed the tables read, ``collect`` or ``analyse``; None on a miss)."""
    from emostat.analysis.pipelines.steps import searchlight_tables

    use = enabled() if use is None else use
    if not use:
        return (searchlight_tables(A, layer_sizes, attr_rdms, ks, seed=seed, **options),
                {"enabled": False, "hit": False, "key": None, "by": None})
    key = cache_key(A, layer_sizes, attr_rdms, ks, seed=seed, options=options)
    found = load_entry(run_dir, key)
    if found is not None:
        return found[0], {"enabled": True, "hit": True, "key": key, "by": found[1].get("by")}
    tables = searchlight_tables(A, layer_sizes, attr_rdms, ks, seed=seed, **options)
    try:
        store_entry(run_dir, key, tables)
    except OSError:
        pass                              # a read-only run folder: the analysis goes on
    return tables, {"enabled": True, "hit": False, "key": key, "by": None}


def precompute(run_dir, config: dict, *, seed: int, given: dict | None = None) -> str:
    """Compute and store the entry ``analyse`` of a run collected with ``config`` (a collect
    config as its manifest records it) will look for, given the analysis ``seed`` and choices
    ``given`` (``alpha``, ``headline_k``, ...; default none: the config's): the activations of
    ``<run_dir>/activations``, the attribute RDMs of the config's space, the run's k
    (:func:`~emostat.analysis.pipelines.choices.run_ks`) and options
    (:func:`~emostat.analysis.pipelines.choices.analysis_choices`), as ``analyse`` derives
    them. A valid entry is left as it is. Returns the key."""
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.analysis.pipelines.choices import analysis_choices, run_ks, searchlight_seed
    from emostat.analysis.pipelines.steps import searchlight_tables
    from emostat.space import load_space

    sp = load_space(config.get("space"))
    A, _, _, layer_sizes = load_activation_array(Path(run_dir) / "activations",
                                                 concepts=sp.concepts)
    n = int(sum(layer_sizes))
    ks = run_ks(config, n)
    options = analysis_choices(given or {}, config, ks, config_where="collect config",
                               n_neurons=n)["searchlight"]
    rdms = sp.attribute_rdms()
    s = searchlight_seed(seed)
    key = cache_key(A, layer_sizes, rdms, ks, seed=s, options=options)
    if load_entry(run_dir, key) is None:
        store_entry(run_dir, key, searchlight_tables(A, layer_sizes, rdms, ks, seed=s,
                                                     **options), by="collect")
    return key
