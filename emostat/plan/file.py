"""The plan file: a TOML document with the SHA-256 of its own content (docs/preregistration.md).

The file is written once (:func:`write_plan`, never over an existing file) and read back with
its hash checked (:func:`read_plan`): the line ``sha256 = "<hex>"`` holds the SHA-256 of every
other line of the file, bytes as written, so a reader can check it without emostat::

    grep -v '^sha256 = ' plan.toml | sha256sum

Any edit after writing (a value, a comment, a space) changes that hash, and emostat refuses the
file. TOML has no null: a field without a value (``None`` in the config) is left out of its
table and named in the table's ``unset`` list. The writer below covers the values a plan holds
(strings, numbers, booleans, lists of them, tables, arrays of tables).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from emostat.errors import InputError

FORMAT = "emostat-plan"
SCHEMA_VERSION = 1
HASH_LINE = re.compile(r'^sha256 = "([0-9a-f]{64})"\s*$')
HEADER = ("# emostat analysis plan (pre-registration), written by `emostat plan`.\n"
          "# Do not edit: `sha256` below is the SHA-256 of every other line of this file\n"
          "# (grep -v '^sha256 = ' FILE | sha256sum); emostat refuses a plan edited after it\n"
          "# was written. Declare a departure when running: --deviation \"field: reason\".\n")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def now() -> str:
    """The time now, UTC, ISO 8601 with microseconds (plans and collection starts compare)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


# ---- writing ----------------------------------------------------------------------------------
def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)      # JSON escapes are valid TOML escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    raise TypeError(f"plan: {where}: cannot write {type(v).__name__} {v!r} to TOML")


def dumps(doc: dict) -> str:
    """``doc`` as TOML: scalars first, then tables (``[a]``, ``[a.b]``), then arrays of tables
    (``[[a]]``). None is not allowed (leave the key out)."""
    lines: list[str] = []

    def table(d: dict, path: list[str]) -> None:
        plain = {k: v for k, v in d.items() if not _is_table(v) and not _is_tables(v)}
        for k, v in plain.items():
            if v is None:
                raise TypeError(f"plan: {'.'.join(path + [k])}: None has no TOML form")
            lines.append(f"{_key(k)} = {_value(v, '.'.join(path + [k]))}")
        for k, v in d.items():
            if _is_table(v):
                lines.append("")
                lines.append("[" + ".".join(_key(p) for p in path + [k]) + "]")
                table(v, path + [k])
        for k, v in d.items():
            if _is_tables(v):
                for item in v:
                    lines.append("")
                    lines.append("[[" + ".".join(_key(p) for p in path + [k]) + "]]")
                    table(item, path + [k])

    table(doc, [])
    return "\n".join(lines) + "\n"


def _is_table(v) -> bool:
    return isinstance(v, dict)


def _is_tables(v) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(isinstance(x, dict) for x in v)


def digest(text: str) -> str:
    """SHA-256 of a plan file's text without its ``sha256`` line (what ``grep -v`` keeps)."""
    kept = [ln for ln in text.splitlines(keepends=True) if not HASH_LINE.match(ln)]
    return hashlib.sha256("".join(kept).encode("utf-8")).hexdigest()


def write_plan(doc: dict, path) -> "Plan":
    """Write ``doc`` (without ``sha256``) to ``path`` with its hash; refuse an existing file (a
    plan is written once). Atomic: a temporary file in the same folder, then a rename."""
    from emostat import io

    path = Path(path)
    if path.exists():
        raise InputError(f"{path}: exists; a plan is written once (choose another file name, "
                         "or delete the old plan if it was never used)")
    if not path.parent.is_dir():
        raise InputError(f"{path}: folder {str(path.parent)!r} not found")
    body = dumps(doc)
    h = hashlib.sha256((HEADER + body).encode("utf-8")).hexdigest()
    text = HEADER + f'sha256 = "{h}"\n' + body
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        io.set_user_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return read_plan(path)


# ---- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A plan file read back with its hash checked.

    ``doc`` is the parsed TOML; ``sha256`` the hash of its content (the file's own, checked);
    ``path`` the file as given."""

    path: Path
    sha256: str
    doc: dict

    @property
    def written(self) -> str:
        return str(self.doc.get("written", ""))

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", "experiment"))

    def section(self, name: str) -> dict:
        """Table ``name`` with its ``unset`` fields as None (TOML has no null)."""
        d = dict(self.doc.get(name) or {})
        for f in d.pop("unset", []) or []:
            d[f] = None
        return d

    def record(self) -> dict:
        """What a manifest and a results folder record of the plan (no deviations)."""
        return {"file": str(Path(self.path).resolve()), "sha256": self.sha256,
                "written": self.written, "schema_version": self.doc.get("schema_version"),
                "kind": self.kind, "emostat_version": self.doc.get("emostat_version")}


def read_plan(path) -> Plan:
    """Read a plan file; InputError (one line) when it is missing, not a plan, of a newer
    format, or edited after it was written (its content no longer has its recorded hash)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: plan file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable plan file ({exc})") from None
    found = [m.group(1) for m in map(HASH_LINE.match, text.splitlines()) if m]
    if len(found) != 1:
        raise InputError(f"{path}: not an emostat plan (no single `sha256 = \"...\"` line); "
                         "write one with `emostat plan --out FILE`")
    actual = digest(text)
    if actual != found[0]:
        raise InputError(f"{path}: the plan was edited after it was written (its content has "
                         f"SHA-256 {actual[:12]}..., the file records {found[0][:12]}...); a "
                         "plan is not changed: run with --deviation \"field: reason\" instead")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not a valid TOML file ({exc})") from None
    if doc.get("format") != FORMAT:
        raise InputError(f"{path}: format {doc.get('format')!r} is not {FORMAT!r}")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(f"{path}: plan schema version {version!r} is newer than this "
                         f"emostat reads ({SCHEMA_VERSION}); upgrade emostat")
    doc.pop("sha256", None)
    return Plan(path=path, sha256=actual, doc=doc)
