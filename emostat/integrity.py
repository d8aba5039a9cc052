"""Integrity of a collected run: the manifest's record of every file, and the check ``analyse``
makes against it before reading anything.

At the end of ``emostat collect`` the manifest gets ``files``: for every Parquet file of the run
(top-level tables and the shards of ``activations/``, ``baseline/``, ``inference/``) its row count
and the SHA-256 of its bytes. :func:`check_run` refuses a run whose files differ from that record
(a shard deleted, truncated, replaced or added), naming the files. No torch here: ``analysis``
imports this module.

While a run is being collected, every file it writes leaves its own record (rows, SHA-256) under
``<run>/records/`` before it appears (:func:`emostat.io.write_table`). A resumed ``collect``
trusts an existing file only when it matches that record (:func:`untrusted_files`); one that
does not is named and recomputed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pyarrow.parquet as pq

from emostat import io
from emostat.errors import InputError

DATASETS = ("activations", "baseline", "inference")


RECORD_KEY = "record_sha256"


def manifest_digest(manifest: dict) -> str:
    """SHA-256 of a manifest's content (its JSON, keys sorted) without :data:`RECORD_KEY`:
    written into the manifest by ``collect``, compared by :func:`check_run`, so an edited
    manifest (its config, say) is refused before any statistic runs."""
    import hashlib

    rec = json.loads(json.dumps({k: v for k, v in manifest.items() if k != RECORD_KEY},
                                default=str))
    text = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_files(out) -> list[Path]:
    """The Parquet files that make up a run (results/ and other folders excluded; the
    geometry stage's ``geometry/geometry_*.parquet`` included), sorted."""
    out = Path(out)
    files = [p for p in out.glob("*.parquet") if p.is_file()]
    for d in DATASETS:
        files += [p for p in (out / d).glob("part-*.parquet") if p.is_file()]
    files += [p for p in (out / "geometry").glob("geometry_*.parquet") if p.is_file()]
    return sorted(files)


def _rows(path: Path) -> int:
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:                             # noqa: BLE001 - pyarrow raises several
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None


def file_record(out) -> dict[str, dict]:
    """``{relative path: {"rows": n, "sha256": hex}}`` for every file of the run."""
    out = Path(out)
    return {p.relative_to(out).as_posix(): {"rows": _rows(p), "sha256": io.file_sha256(p)}
            for p in run_files(out)}


def record_problem(out, path, fallback: dict | None = None) -> str | None:
    """Why ``path`` (a file of the run ``out``) cannot be trusted, or None when it matches its
    record: the one written beside it (``records/``), else ``fallback`` (a manifest's entry)."""
    rp = io.record_path(out, path)
    rec = None
    if rp.is_file():
        try:
            rec = json.loads(rp.read_text())
        except (OSError, ValueError):
            return "its record is unreadable"
    rec = rec or fallback
    if not rec:
        return "no record of it (written by an older emostat, or its record was removed)"
    try:
        rows = _rows(path)
    except InputError:
        return "not a readable Parquet file"
    if rows != rec.get("rows"):
        return f"{rows} rows, its record {rec.get('rows')}"
    if io.file_sha256(path) != rec.get("sha256"):
        return "its content differs from its record (SHA-256)"
    return None


def untrusted_files(out, manifest: dict | None = None) -> list[tuple[Path, str]]:
    """(file, why) for every Parquet file of the run that does not match its record
    (:func:`record_problem`; ``manifest``: an earlier manifest whose ``files`` serve as the
    record of files written before records existed)."""
    out = Path(out)
    old = (manifest or {}).get("files") or {}
    bad = []
    for p in run_files(out):
        why = record_problem(out, p, old.get(p.relative_to(out).as_posix()))
        if why:
            bad.append((p, why))
    return bad


def _listing(names: list[str], n: int = 3) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def problems(run_dir, manifest: dict) -> list[str]:
    """What differs between a run folder and its manifest's file record (empty: intact)."""
    run_dir = Path(run_dir)
    record = manifest.get("files") or {}
    missing, changed = [], []
    for rel, rec in sorted(record.items()):
        p = run_dir / rel
        if not p.is_file():
            missing.append(rel)
        elif _rows(p) != rec.get("rows"):
            changed.append(f"{rel} ({_rows(p)} rows, manifest {rec.get('rows')})")
        elif io.file_sha256(p) != rec.get("sha256"):
            changed.append(f"{rel} (content differs)")
    extra = [p.relative_to(run_dir).as_posix() for p in run_files(run_dir)
             if p.relative_to(run_dir).as_posix() not in record]
    out = []
    for d, n in (manifest.get("n_shards") or {}).items():
        have = sum(1 for rel in record if rel.startswith(f"{d}/"))
        if have != n:
            out.append(f"the manifest plans {n} {d} shard(s) but records {have}")
    if missing:
        out.append(f"missing {_listing(missing)}")
    if changed:
        out.append(f"changed {_listing(changed)}")
    if extra:
        out.append(f"not in the manifest {_listing(extra)}")
    return out


def read_manifest(run_dir) -> dict:
    """The manifest of a finished run (InputError when absent, unreadable or incomplete)."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{run_dir}: no manifest.json, so this is not a finished "
                         f"`emostat collect` run; run or resume `emostat collect` first")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not manifest.get("complete", False):
        raise InputError(f"{path}: the collection is not complete; resume `emostat collect`")
    return manifest


def check_run(run_dir) -> dict:
    """Verify a collected run against its manifest before analysis; return the manifest.

    Raises
    ------
    InputError
        An edited manifest (:func:`manifest_digest`); the missing, changed or unexpected files,
        named (every planned shard must be present with its recorded row count and SHA-256).
    """
    manifest = read_manifest(run_dir)
    if RECORD_KEY in manifest and manifest[RECORD_KEY] != manifest_digest(manifest):
        raise InputError(f"{Path(run_dir) / 'manifest.json'}: edited since `emostat collect` "
                         "wrote it (its content no longer matches its record_sha256); restore "
                         "it, or collect again. Other analysis choices are options of "
                         "`emostat analyse` (--alpha, --headline-k, --n-perm, --n-perm-count)")
    if "files" not in manifest:
        warnings.warn(f"{run_dir}: the manifest has no file record (collected by an older "
                      f"emostat); the run's files are not checked", stacklevel=2)
        return manifest
    found = problems(run_dir, manifest)
    if found:
        raise InputError(f"{run_dir}: the run does not match its manifest: {'; '.join(found)}. "
                         f"Rerun the same `emostat collect` command into this folder to redo "
                         f"missing files (delete changed ones first)")
    return manifest
