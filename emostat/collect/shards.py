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

from emostat import io
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


STALE_TMP_S = 3600          # a temporary file of another host untouched this long is stale


def clean_stale_tmp(out) -> list[Path]:
    """Remove the temporary files of writers that are gone (e.g. killed mid-write) from the run
    folder, its dataset folders, ``geometry/`` and ``records/``. A temporary file names its
    writer (:func:`emostat.io.tmp_prefix`): one of a process of this host that still runs is
    kept (a live writer's half-written file), one of another host only when it changed in the
    last hour; a name without a writer (an older emostat's) is stale. Call it while holding
    the run's lock (:class:`emostat.lock.RunLock`). Returns the files removed."""
    out = Path(out)
    found = []
    for folder in (out, out / "activations", out / "baseline", out / "inference",
                   out / "geometry"):
        if folder.is_dir():
            found += [p for p in folder.glob(".*.tmp") if p.is_file()]
    if (out / io.RECORDS).is_dir():
        found += [p for p in (out / io.RECORDS).rglob(".*.tmp") if p.is_file()]
    stale = [p for p in found if tmp_is_stale(p)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def tmp_is_stale(path: Path) -> bool:
    """Whether a temporary file's writer is gone (see :func:`clean_stale_tmp`)."""
    import os
    import socket
    import time

    owner = io.tmp_owner(path)
    if owner is None:
        return True
    pid, host = owner
    if host != socket.gethostname():
        try:
            return time.time() - path.stat().st_mtime > STALE_TMP_S
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:                      # another user's live process
        return False
    try:                                         # a killed child not yet reaped is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


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
