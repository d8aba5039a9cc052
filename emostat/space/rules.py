"""Value checks of a concept space: what :mod:`emostat.space.folder` checks beyond the shapes.

Names (concept ids, words, attributes) carry no invisible characters, and concept ids are safe
as file names; ratings lie inside the attribute's declared scale (``[scales]`` of
``space.toml``) and dissimilarities inside ``similarity_scale`` (else >= 0); every distance the
analysis takes is finite; every attribute and the mean dissimilarity vary across concepts; the
file ``[options] importance_bootstrap`` names exists inside the space folder and matches the
space. Each problem is one line of :class:`~emostat.space.folder.Problems` naming file, row and
field. Nothing here imports analysis or collect.
"""

from __future__ import annotations

import csv
import math
import unicodedata
from pathlib import Path

import numpy as np

# the participant bootstrap a space may ship beside its files (importance_bootstrap)
BOOTSTRAP_COLUMNS = ("std_error_participants", "conf_low_participants",
                     "conf_high_participants", "conf_method_participants", "boot_share_le0",
                     "n_boot")
# joiners that scripts need between two letters (Persian, Indic scripts, emoji sequences)
JOINERS = {"\u200c", "\u200d"}
UNSAFE_IN_ID = set('/\\:*?"<>|')
MAX_ID = 100


def invisible(text: str) -> str | None:
    """The first invisible or control character of ``text`` as ``U+XXXX NAME``, else None.

    Format, control, private-use and unassigned characters count, and every space but
    U+0020; a zero-width (non-)joiner is allowed between two visible characters."""
    for k, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if ch in JOINERS and 0 < k < len(text) - 1 and not text[k - 1].isspace() \
                and not text[k + 1].isspace():
            continue
        if cat in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or (cat == "Zs" and ch != " "):
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"
    return None


def check_names(df, fields, path, problems) -> None:
    """No invisible character in ``df[field]`` (one problem per cell)."""
    for field in fields:
        for v, r in zip(df[field], df["_row"]):
            bad = invisible(v)
            if bad:
                problems.add(path, f"{v!r} holds an invisible character ({bad}); remove it",
                             row=int(r), field=field)


def unsafe_id(cid: str) -> str | None:
    """Why concept id ``cid`` is not safe as a file name (prompt tuning names files after
    concepts), else None."""
    if cid in (".", "..") or cid.startswith("."):
        return "must not start with '.'"
    bad = sorted({c for c in cid if c in UNSAFE_IN_ID})
    if bad:
        return f"must not contain {' '.join(bad)} (concept ids name files)"
    if len(cid) > MAX_ID:
        return f"longer than {MAX_ID} characters"
    return None


def check_ids(cdf, path, problems) -> None:
    for v, r in zip(cdf["concept"], cdf["_row"]):
        why = v and unsafe_id(v)
        if why:
            problems.add(path, f"concept id {v!r} {why}", row=int(r), field="concept")


def read_scale(value, tpath, problems, field: str):
    """``[low, high]`` of ``space.toml`` as a pair of floats (None after a problem)."""
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                  and math.isfinite(x) for x in value))
    if not ok or not value[0] < value[1]:
        problems.add(tpath, f"must be [low, high], two finite numbers with low < high, got "
                     f"{value!r}", field=field)
        return None
    return float(value[0]), float(value[1])


def read_scales(meta: dict, attributes, tpath, problems) -> tuple[dict, tuple | None]:
    """``[scales]`` (attribute -> (low, high)) and ``similarity_scale`` of ``space.toml``."""
    table = meta.get("scales", {})
    scales = {}
    if not isinstance(table, dict):
        problems.add(tpath, "must be a table of attribute = [low, high]", field="scales")
        table = {}
    for a, v in table.items():
        if a not in attributes:
            problems.add(tpath, f"unknown attribute {a!r}", field=f"scales.{a}")
            continue
        sc = read_scale(v, tpath, problems, f"scales.{a}")
        if sc is not None:
            scales[a] = sc
    sim = meta.get("similarity_scale")
    if sim is not None:
        sim = read_scale(sim, tpath, problems, "similarity_scale")
    return scales, sim


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_ratings(rdf, values, scales, path, problems) -> None:
    """Each rating inside its attribute's scale; each attribute's distances finite."""
    attr = rdf["attribute"].to_numpy(object)
    rows = rdf["_row"].to_numpy()
    for k, (a, v) in enumerate(zip(attr, values)):
        if a in scales and np.isfinite(v) and not scales[a][0] <= v <= scales[a][1]:
            lo, hi = scales[a]
            problems.add(path, f"{_fmt(v)} is outside the scale of {a!r} [{_fmt(lo)}, "
                         f"{_fmt(hi)}] (space.toml [scales])", row=int(rows[k]), field="value")
    for a in dict.fromkeys(attr):
        sel = (attr == a) & np.isfinite(values)
        if sel.any():
            _finite_spread(values[sel], rows[sel], path, problems, f"attribute {a!r}")


def _finite_spread(v, rows, path, problems, what: str) -> None:
    """A problem at the largest |value| when differences or means of ``v`` overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.isfinite(v.max() - v.min()) and np.isfinite(np.abs(v).sum())
    if not ok:
        k = int(np.argmax(np.abs(v)))
        problems.add(path, f"{_fmt(v[k])} is too large: the distances or means of {what} "
                     "overflow to infinity (rescale the values)", row=int(rows[k]),
                     field="value")


def check_similarity(sdf, values, scale, path, problems) -> None:
    """Dissimilarities >= 0 (inside ``similarity_scale`` where declared) and finite means."""
    rows = sdf["_row"].to_numpy()
    for v, r in zip(values, rows):
        if not np.isfinite(v):
            continue
        if scale is not None and not scale[0] <= v <= scale[1]:
            problems.add(path, f"{_fmt(v)} is outside the similarity_scale [{_fmt(scale[0])}, "
                         f"{_fmt(scale[1])}] (space.toml)", row=int(r), field="value")
        elif v < 0:
            problems.add(path, f"a dissimilarity must be >= 0, got {_fmt(v)}", row=int(r),
                         field="value")
    ok = np.isfinite(values)
    if ok.any():
        _finite_spread(values[ok], rows[ok], path, problems, "the dissimilarities")


def check_variation(space, rpath, spath, first_rows: dict, problems) -> None:
    """Every attribute's means, and the mean dissimilarity RDM, vary across concepts (a
    constant RDM has no rank correlation: every statistic on it would be NaN)."""
    for a in space.attributes:
        m = space.means[a].to_numpy(float)
        m = m[np.isfinite(m)]
        if len(m) > 1 and np.all(m == m[0]):
            problems.add(rpath, f"attribute {a!r} has the same mean ({_fmt(m[0])}) for every "
                         "concept: its RDM is constant and cannot be compared (remove it)",
                         row=first_rows.get(a), field="value")
    if space.has_similarity:
        rdm = space.mean_rdm()
        ok = rdm[np.isfinite(rdm)]
        if len(ok) > 1 and np.all(ok == ok[0]):
            problems.add(spath, f"every concept pair has the same mean dissimilarity "
                         f"({_fmt(ok[0])}): the RDM is constant and cannot be compared",
                         field="value")


def check_bootstrap(space, folder: Path, tpath, problems) -> Path | None:
    """``[options] importance_bootstrap``: a CSV inside the space folder with one row per
    attribute of the space (``attribute, estimate`` and :data:`BOOTSTRAP_COLUMNS`), whose
    estimates are the space's importance (Kendall tau-b of the mean dissimilarity RDM with
    each attribute RDM, scipy). Returns its resolved path (None: not named, or a problem)."""
    name = space.options.get("importance_bootstrap")
    field = "options.importance_bootstrap"
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        problems.add(tpath, "must be a file name (a path inside the space folder)", field=field)
        return None
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root):
        problems.add(tpath, f"{name!r} is outside the space folder (give a path inside it)",
                     field=field)
        return None
    if not path.is_file():
        problems.add(tpath, f"file {name!r} not found in the space folder", field=field)
        return None
    if not space.has_similarity:
        problems.add(tpath, f"{name!r} needs similarity.csv (importance comes from the "
                     "dissimilarities)", field=field)
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            recs = list(csv.DictReader(fh))
            header = list(recs[0].keys()) if recs else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.add(path, f"not a readable CSV file ({exc})")
        return None
    missing = [c for c in ("attribute", "estimate", *BOOTSTRAP_COLUMNS) if c not in header]
    if missing:
        problems.add(path, f"required column(s) missing {missing} (found {header})", row=1)
        return None
    seen, unknown = set(), []
    tau = _importance(space)
    for k, rec in enumerate(recs):
        a, r = rec["attribute"], k + 2
        if a in seen:
            problems.add(path, f"attribute {a!r} is listed twice", row=r, field="attribute")
            continue
        if a not in space.attributes:
            unknown.append((a, r))
            continue
        seen.add(a)
        try:
            est = float(rec["estimate"])
        except ValueError:
            problems.add(path, f"not a number: {rec['estimate']!r}", row=r, field="estimate")
            continue
        if not abs(est - tau[a]) <= 1e-9:
            problems.add(path, f"estimate {est:.6g} is not the space's importance of {a!r} "
                         f"({tau[a]:.6g}); regenerate the file", row=r, field="estimate")
    absent = [a for a in space.attributes if a not in seen]
    for k, (a, r) in enumerate(unknown):      # a renamed attribute: one line, both names
        hint = f" (no row for {', '.join(map(repr, absent))})" if k == 0 and absent else ""
        problems.add(path, f"attribute {a!r} is not an attribute of the space{hint}", row=r,
                     field="attribute")
    if absent and not unknown:
        problems.add(path, f"no row for attribute(s) {', '.join(map(repr, absent))}",
                     field="attribute")
    return path


def _importance(space) -> dict:
    """Kendall tau-b of the mean dissimilarity RDM with each attribute RDM (scipy)."""
    from scipy.stats import kendalltau

    y = space.mean_rdm()
    rdms = space.attribute_rdms()
    return {a: float(kendalltau(y, rdms[a].to_numpy(float), variant="b").statistic)
            for a in space.attributes}
