"""Parquet I/O: atomic writes with provenance metadata, validated reads.

Every dataset emostat writes carries a JSON provenance record in the Parquet schema metadata under
the key ``emostat`` (emostat version, creation time, plus what the caller adds: model identity,
config, seeds, source files and hashes). Files are written to a temporary name in the target folder
(``.<name>.<pid>@<host>.<random>.tmp``: the writer is named, so a later run removes only the
temporary files of writers that are gone) and renamed into place, so a reader never sees a
half-written file; the file gets the mode the user's umask gives (not mkstemp's 0600). With
``record_root`` a writer also leaves the file's record (rows, SHA-256) under
``<record_root>/records/`` before the file appears, so that a run can check a file it finds
against what was written (:mod:`emostat.integrity`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from emostat.errors import InputError
from emostat.schemas import upgrade, validate, version as schema_version
from emostat.version import __version__

PROVENANCE_KEY = b"emostat"
RECORDS = "records"                 # <run>/records/<relative path>.json: rows and SHA-256
_TMP_OWNER = re.compile(r"\.(\d+)@(.+)\.[^.]+\.tmp$")


def provenance(**extra: Any) -> dict:
    """A provenance record: emostat version, time (UTC, ISO 8601), Python, plus ``extra``."""
    rec = {
        "emostat_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    rec.update(extra)
    return rec


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def user_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux: /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)                               # elsewhere: read it by setting it
    os.umask(mask)
    return mask


def set_user_mode(path) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode a plain ``open`` would
    have given it: 0666 minus the user's umask."""
    os.chmod(path, 0o666 & ~user_umask())


def tmp_prefix(path) -> str:
    """Prefix of the temporary file that becomes ``path``: it names the writing process."""
    return f".{Path(path).name}.{os.getpid()}@{socket.gethostname()}."


def tmp_owner(tmp) -> tuple[int, str] | None:
    """(pid, host) of the process that made a temporary file (None: a name without one)."""
    m = _TMP_OWNER.search(Path(tmp).name)
    return (int(m.group(1)), m.group(2)) if m else None


def record_path(root, path) -> Path:
    """Where the record of ``path`` (a file under the run folder ``root``) is kept."""
    rel = Path(path).resolve().relative_to(Path(root).resolve())
    return Path(root) / RECORDS / f"{rel.as_posix()}.json"


def write_record(root, path, data_file, rows: int) -> None:
    """Write the record of ``path`` (rows, SHA-256 of ``data_file``, its bytes) atomically."""
    write_text(record_path(root, path), json.dumps({"rows": int(rows),
                                                    "sha256": file_sha256(data_file)}))


def write_text(path, text: str) -> Path:
    """Write a text file atomically (temporary file + rename; nothing left on an error)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        set_user_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(folder, what: str = "output folder") -> Path:
    """Refuse (InputError, one line naming it) an output folder that cannot be written: a
    path that is a file (or below one), a read-only or full file system. Tries a small write in
    the folder, or in its nearest existing parent when it does not exist yet (removed at once;
    nothing else is created). Returns ``folder``."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{folder}: cannot write the {what}: {probe} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".emostat-probe-", dir=probe)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the {what} ({os_reason(exc)})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise InputError(f"{folder}: cannot write the {what} ({os_reason(exc)})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return folder


def os_reason(exc: OSError) -> str:
    """An OSError in words, without the path (the caller names it): 'read-only file system'."""
    return (exc.strerror or str(exc)).lower()


def _as_table(data, schema: pa.Schema | None) -> pa.Table:
    if isinstance(data, pa.Table):
        return data.cast(schema) if schema is not None and data.schema != schema else data
    return pa.Table.from_pandas(pd.DataFrame(data), schema=schema, preserve_index=False)


def with_schema_version(prov: dict | None, dataset: str | None) -> dict:
    """``prov`` (or a fresh :func:`provenance`) plus ``schema`` and ``schema_version`` of
    ``dataset`` (:data:`emostat.schemas.VERSIONS`); unchanged without a dataset."""
    rec = dict(prov if prov is not None else provenance())
    if dataset is not None:
        rec.update(schema=dataset, schema_version=schema_version(dataset))
    return rec


def write_table(data, path, *, prov: dict | None = None, schema: pa.Schema | None = None,
                dataset: str | None = None, row_group_size: int | None = None,
                compression: str = "zstd", record_root=None) -> Path:
    """Write ``data`` (DataFrame or Arrow table) to ``path`` atomically, with provenance.

    ``dataset``: the table's name in :mod:`emostat.schemas`; its schema version is stored in
    the provenance (``schema``, ``schema_version``) so that :func:`read_table` can upgrade it.
    ``record_root``: the run folder; the file's record (:func:`record_path`) is written before
    the file is renamed into place, so a file that exists always has one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _as_table(data, schema)
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pandas", None)  # pandas index metadata only confuses other readers
    meta[PROVENANCE_KEY] = json.dumps(with_schema_version(prov, dataset), default=str).encode()
    table = table.replace_schema_metadata(meta)
    fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression=compression, row_group_size=row_group_size)
        set_user_mode(tmp)
        if record_root is not None:
            write_record(record_root, path, tmp, table.num_rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class TableWriter:
    """Write a Parquet file batch by batch, atomically and with provenance (like write_table).

    Use as a context manager; ``write(data)`` appends a DataFrame or Arrow table (one or more
    row groups). The file appears at ``path`` only when the block exits without an error.
    """

    def __init__(self, path, schema: pa.Schema, *, prov: dict | None = None,
                 dataset: str | None = None, compression: str = "zstd"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(schema.metadata or {})
        meta[PROVENANCE_KEY] = json.dumps(with_schema_version(prov, dataset),
                                          default=str).encode()
        self.schema = schema.with_metadata(meta)
        fd, self.tmp = tempfile.mkstemp(prefix=tmp_prefix(self.path), suffix=".tmp",
                                        dir=self.path.parent)
        os.close(fd)
        self._writer = pq.ParquetWriter(self.tmp, self.schema, compression=compression)

    def write(self, data, row_group_size: int | None = None) -> None:
        table = _as_table(data, self.schema.remove_metadata())
        self._writer.write_table(table.replace_schema_metadata(self.schema.metadata),
                                 row_group_size=row_group_size)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._writer.close()
        if exc_type is None:
            set_user_mode(self.tmp)
            os.replace(self.tmp, self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)
        return False


def read_provenance(path) -> dict:
    """The provenance record stored in a Parquet file written by emostat ({} if none)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def read_table(path, *, columns=None, dataset: str | None = None, as_pandas: bool = True):
    """Read a Parquet file; with ``dataset``, upgrade it to the current schema version and
    validate it.

    The version is the ``schema_version`` of the file's provenance (absent: 1); a file whose
    provenance names another ``schema`` than ``dataset`` is an error. Upgrades
    (:func:`emostat.schemas.upgrade`) work on the whole table, so ``columns`` are selected after
    them.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        table = pq.read_table(path, columns=columns if dataset is None else None)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    if dataset is not None:
        table = _upgraded(table, path, dataset)
        validate(table, dataset, where=str(path))
        if columns is not None:
            table = table.select(list(columns))
    return table.to_pandas() if as_pandas else table


def _upgraded(table: pa.Table, path: Path, dataset: str) -> pa.Table:
    raw = (table.schema.metadata or {}).get(PROVENANCE_KEY)
    prov = json.loads(raw) if raw else {}
    stored = prov.get("schema")
    if stored is not None and stored != dataset:
        raise InputError(f"{path}: holds table {stored!r}, read as {dataset!r}")
    v = int(prov.get("schema_version", 1))
    if v == schema_version(dataset):
        return table
    df = upgrade(table.to_pandas(), dataset, v, where=str(path))
    out = pa.Table.from_pandas(df, preserve_index=False)
    # the pandas round trip turns an integer column with nulls (k, draw) into floats: columns
    # that kept their name get their stored type back
    for i, name in enumerate(out.column_names):
        if name in table.column_names and out.schema.field(i).type != table.schema.field(
                name).type:
            try:
                out = out.set_column(i, name, out.column(i).cast(table.schema.field(name).type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    return out
