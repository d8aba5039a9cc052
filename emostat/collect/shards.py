"""Shards: the unit of collection work, one Parquet file each.

A shard is a block of work with a deterministic id: for the activations dataset one block of
concept templates; for the inference dataset one task × item block × condition block. Its rows go
to ``<out>/<dataset>/part-<shard id>.parquet``, written atomically (temporary file + rename) by
whoever runs it. A shard is done exactly when its file exists, so an interrupted run resumes by
running the shards without a file: no row is lost or written twice, and a finished run has nothing
left to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from emostat.errors import InputError


@dataclass(frozen=True)
class Shard:
    """One unit of work.

    Attributes
    ----------
    dataset : str
        "activations" or "inference".
    id : str
        Deterministic id, unique within the dataset (the file name is ``part-<id>.parquet``).
    templates : tuple of str
        Concept templates (activations shards).
    task : str
        Task name (inference shards).
    items : tuple of str
        Item ids (inference shards).
    conditions : tuple of str
        Condition ids (inference shards).
    """

    dataset: str
    id: str
    templates: tuple[str, ...] = ()
    task: str = ""
    items: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def path(self, out) -> Path:
        return shard_path(out, self.dataset, self.id)

    @property
    def n_units(self) -> int:
        """Work size: prompts-per-template blocks or item × condition rows."""
        return len(self.templates) if self.dataset == "activations" else (
            len(self.items) * len(self.conditions))


def shard_path(out, dataset: str, shard_id: str) -> Path:
    return Path(out) / dataset / f"part-{shard_id}.parquet"


def blocks(seq, size: int) -> list[tuple]:
    """``seq`` cut into consecutive tuples of at most ``size`` elements."""
    seq = list(seq)
    return [tuple(seq[i:i + size]) for i in range(0, len(seq), size)]


def activation_shards(templates, per_shard: int = 1) -> list[Shard]:
    """One shard per block of ``per_shard`` templates (ids ``t000``, ``t001``, ...)."""
    return [Shard("activations", f"t{i:03d}", templates=b)
            for i, b in enumerate(blocks(templates, per_shard))]


def inference_shards(task: str, item_ids, condition_ids, *, items_per_shard: int,
                     conditions_per_shard: int) -> list[Shard]:
    """Shards of one task: item blocks × condition blocks (ids ``<task>-i0000-c0000``)."""
    out = []
    for i, ib in enumerate(blocks(item_ids, items_per_shard)):
        for c, cb in enumerate(blocks(condition_ids, conditions_per_shard)):
            out.append(Shard("inference", f"{task}-i{i:04d}-c{c:04d}", task=task, items=ib,
                             conditions=cb))
    return out


def pending(shards, out) -> list[Shard]:
    """The shards whose file does not exist yet (in plan order)."""
    return [s for s in shards if not s.path(out).exists()]


def check_no_strays(shards, out, dataset: str) -> None:
    """Raise if ``<out>/<dataset>/`` holds part files that are not in the plan."""
    folder = Path(out) / dataset
    if not folder.is_dir():
        return
    wanted = {s.path(out).name for s in shards}
    stray = sorted(p.name for p in folder.glob("part-*.parquet") if p.name not in wanted)
    if stray:
        raise InputError(f"{folder}: holds {len(stray)} shard file(s) that this run's plan does "
                         f"not produce (e.g. {stray[0]}); it belongs to another run: use a new "
                         f"--out folder")


def clean_stale_tmp(out) -> list[Path]:
    """Remove temporary files left by an interrupted run (e.g. a SIGKILL mid-write):
    ``.<name>.<random>.tmp`` files of the atomic writers in the run folder and its dataset
    folders. Call it at the start of a (resumed) run, before any worker writes. Returns them."""
    out = Path(out)
    found = []
    for folder in (out, out / "activations", out / "baseline", out / "inference"):
        if folder.is_dir():
            found += [p for p in folder.glob(".*.tmp") if p.is_file()]
    for p in found:
        p.unlink(missing_ok=True)
    return found


def read_dataset(out, dataset: str, *, columns=None) -> pa.Table:
    """All shard files of ``<out>/<dataset>/`` as one table (file order = sorted names)."""
    folder = Path(out) / dataset
    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        raise InputError(f"{folder}: no shard files")
    tables = [pq.read_table(f, columns=columns) for f in files]
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables],
                            promote_options="default")


def content_hash(table: pa.Table, sort_by) -> str:
    """SHA-256 of a table's content after sorting by ``sort_by`` (metadata ignored).

    Two runs that wrote the same rows in any order and any sharding give the same hash.
    """
    t = table.replace_schema_metadata(None).sort_by([(c, "ascending") for c in sort_by])
    h = hashlib.sha256()
    h.update(str(t.schema).encode())
    for col in t.column_names:
        h.update(col.encode())
        h.update(repr(t.column(col).to_pylist()).encode())
    return h.hexdigest()
