"""Read a concept-space folder (fixed file names), validating everything before it is used.

A space folder holds (UTF-8 everywhere; CSVs with one header row, standard quoting):

- ``space.toml``: ``name``, ``language``, ``citation``, ``licence``, ``human_data``, optional
  ``attributes`` (their order), ``[groups]`` (attribute groups), ``[templates]`` (concept
  prompts and task prompts, see :data:`TEMPLATE_SLOTS`), ``[options]`` (``aggregation`` =
  ``"mean"``: the mean over participants);
- ``concepts.csv``: ``concept, word`` (+ optional ``language, group``), rows in analysis order;
- ``ratings.csv`` (long): ``concept, attribute, value`` (+ optional ``participant``);
- ``similarity.csv`` (optional, long): ``concept_a, concept_b, value`` (dissimilarity) (+
  optional ``participant``); every unordered pair of concepts at least once, no participant
  judging a pair twice;
- ``stimuli.csv`` (optional): ``id, concept, text`` (+ optional ``source, language``).

More columns are kept. Every problem found is one line ``file, row N, field 'x': problem``
(rows as a spreadsheet numbers them: header = row 1); all lines are raised together as one
:class:`~emostat.errors.InputError`. Nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import math
import string
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.errors import InputError, input_error
from emostat.paths import DATA_DIR
import emostat.space.rules as rules
from emostat.space.value import ConceptSpace

TOML, CONCEPTS, RATINGS, SIMILARITY, STIMULI = (
    "space.toml", "concepts.csv", "ratings.csv", "similarity.csv", "stimuli.csv")
FILES = (TOML, CONCEPTS, RATINGS, SIMILARITY, STIMULI)   # the digest covers these, this order
REQUIRED_FILES = (TOML, CONCEPTS, RATINGS)
COLUMNS = {CONCEPTS: (("concept", "word"), ("language", "group")),
           RATINGS: (("concept", "attribute", "value"), ("participant",)),
           SIMILARITY: (("concept_a", "concept_b", "value"), ("participant",)),
           STIMULI: (("id", "concept", "text"), ("source", "language"))}
# template key -> (slots that must appear, slots allowed); "concept" is a table of templates
TEMPLATE_SLOTS = {
    "concept": ({"word"}, {"word"}),
    "binary": ({"text", "word"}, {"text", "word"}),
    "choice": ({"text"}, {"text", "options"}),
    "choice_options": ({"text", "options"}, {"text", "options"}),
    "continuation": ({"word"}, {"word"}),
    "generate": ({"text"}, {"text"}),
    "binary_mlm": ({"text", "word", "mask"}, {"text", "word", "mask"}),
    "choice_mlm": ({"text", "mask"}, {"text", "mask"}),
    "study_mlm": ({"text", "mask"}, {"text", "mask"}),
}
ANSWER_KEYS = ("yes", "no")          # [templates.answers]: the binary task's answer words
AGGREGATIONS = ("mean",)
MAX_LINES = 50
STUDY = "study"


def space_dir() -> Path:
    """The folder of the shipped spaces, ``DATA_DIR/spaces``."""
    return DATA_DIR / "spaces"


def shipped_spaces() -> list[str]:
    """Names of the spaces shipped in ``data/spaces/`` (folders with a ``space.toml``)."""
    d = space_dir()
    return sorted(p.name for p in d.iterdir() if (p / TOML).is_file()) if d.is_dir() else []


def resolve(spec=None) -> Path:
    """The folder of ``spec``: None = the study, a shipped name, or a folder path."""
    s = STUDY if spec is None else str(spec)
    if "/" not in s and "\\" not in s and (space_dir() / s / TOML).is_file():
        return space_dir() / s
    p = Path(s).expanduser()
    if p.is_dir():
        return p
    raise InputError(f"space {s!r}: not a folder and not a shipped space "
                     f"(shipped: {', '.join(shipped_spaces()) or 'none'})")


def load_space(spec=None) -> ConceptSpace:
    """Read and validate a concept space.

    Parameters
    ----------
    spec : None, str, Path or ConceptSpace
        None or ``"study"``: the study's space (``data/spaces/study/``); another shipped name
        (``vader``, ``de-example``); or a folder path. A ConceptSpace is returned as it is.

    Raises
    ------
    InputError
        Every problem found, one line each, naming file, row and field.
    """
    if isinstance(spec, ConceptSpace):
        return spec
    folder = resolve(spec).resolve()
    stamp = tuple((f, p.stat().st_mtime_ns, p.stat().st_size) for f in FILES
                  if (p := folder / f).is_file())
    hit = _CACHE.get(folder)
    if hit is None or hit[0] != stamp:       # read again when any file changed
        hit = _CACHE[folder] = (stamp, read_folder(folder))
    return hit[1]


_CACHE: dict[Path, tuple] = {}   # folder -> (file stamps, space): the study is read often


class Problems:
    """Collects one line per problem; :meth:`check` raises them together."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path, problem, row=None, field=None) -> None:
        self.lines.append(str(input_error(path, problem, row=row, field=field)))

    def check(self) -> None:
        if self.lines:
            extra = len(self.lines) - MAX_LINES
            text = "\n".join(self.lines[:MAX_LINES])
            raise InputError(text + (f"\n... and {extra} more problem(s)" if extra > 0 else ""))


def read_csv(path: Path, problems: Problems) -> pd.DataFrame | None:
    """A CSV as stripped strings plus ``_row`` (spreadsheet row); None after a problem."""
    name = COLUMNS[path.name]
    records = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            for rec in reader:
                if rec and any(f.strip() for f in rec):
                    records.append([f.strip() for f in rec])
    except csv.Error as e:
        problems.add(path, f"malformed CSV near line {reader.line_num} ({e})")
        return None
    except UnicodeDecodeError as e:
        problems.add(path, f"not UTF-8 text ({e.reason} at byte {e.start})")
        return None
    if not records:
        problems.add(path, "file is empty (expected a header row and data rows)")
        return None
    header = records[0]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        problems.add(path, f"duplicate column name(s) {dup}", row=1)
    missing = [c for c in name[0] if c not in header]
    for c in missing:
        problems.add(path, f"required column missing (found {header})", row=1, field=c)
    if dup or missing:
        return None
    bad = False
    for k, rec in enumerate(records[1:]):
        if len(rec) != len(header):
            problems.add(path, f"{len(rec)} fields, the header has {len(header)} "
                         "(unquoted comma?)", row=k + 2)
            bad = True
    if len(records) == 1:
        problems.add(path, "no data rows (only a header)")
        return None
    if bad:
        return None
    df = pd.DataFrame(records[1:], columns=header, dtype=object)
    df["_row"] = np.arange(2, len(df) + 2)
    for c in name[0]:
        for r in df.loc[df[c] == "", "_row"]:
            problems.add(path, "empty value", row=int(r), field=c)
    for c in name[1]:
        if c not in df.columns:
            df[c] = ""
    return df


def numbers(df: pd.DataFrame, path: Path, problems: Problems, field: str = "value") -> np.ndarray:
    """``df[field]`` as floats; each non-numeric or non-finite value is a problem."""
    out = np.full(len(df), np.nan)
    for k, (v, r) in enumerate(zip(df[field], df["_row"])):
        if v == "":
            continue                                  # already reported as empty
        try:
            x = float(v)
        except ValueError:
            problems.add(path, f"not a number: {v!r}", row=int(r), field=field)
            continue
        if not math.isfinite(x):
            problems.add(path, f"not a finite number: {v!r}", row=int(r), field=field)
            continue
        out[k] = x
    return out


def unknown_concepts(df, field, known, path, problems) -> None:
    for v, r in zip(df[field], df["_row"]):
        if v != "" and v not in known:
            problems.add(path, f"unknown concept {v!r} (not in {CONCEPTS})", row=int(r),
                         field=field)


def duplicates(df, keys, path, problems, what, field=None) -> None:
    """One problem per row whose ``keys`` repeat an earlier row's (empty parts not shown)."""
    first: dict[tuple, int] = {}
    for rec in zip(*(df[k] for k in keys), df["_row"]):
        key, r = rec[:-1], int(rec[-1])
        if key in first:
            shown = ", ".join(k for k in key if k != "")
            problems.add(path, f"duplicate {what} ({shown}) (first at row {first[key]})",
                         row=r, field=field or keys[-1])
        else:
            first[key] = r


def participants(df: pd.DataFrame) -> pd.Series:
    return df["participant"].where(df["participant"] != "", None)


# ---------------------------------------------------------------------------------------------

def read_toml(path: Path, problems: Problems) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        problems.add(path, f"not valid TOML ({e})")
    except UnicodeDecodeError as e:
        problems.add(path, f"not UTF-8 text ({e.reason})")
    return {}


def slots(text: str) -> list[str]:
    """Slot names of a ``str.format`` template (``{word}`` -> ``word``)."""
    return [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]


def check_templates(templates, path: Path, problems: Problems) -> dict:
    """Validate ``[templates]``: each known key's required slots present, no unknown slot."""
    if not isinstance(templates, dict):
        problems.add(path, "[templates] must be a table", field="templates")
        return {}
    out = dict(templates)
    for key, (need, allowed) in TEMPLATE_SLOTS.items():
        if key not in templates:
            continue
        value = templates[key]
        items = value.items() if key == "concept" and isinstance(value, dict) else [(None, value)]
        if key == "concept" and not isinstance(value, dict):
            problems.add(path, "must be a table of template id = text", field="templates.concept")
            continue
        if key == "concept" and not value:
            problems.add(path, "no concept templates", field="templates.concept")
        for tid, text in items:
            where = f"templates.{key}" + (f".{tid}" if tid is not None else "")
            if not isinstance(text, str):
                problems.add(path, "must be a string", field=where)
                continue
            try:
                found = slots(text)
            except ValueError as e:
                problems.add(path, f"bad braces ({e}); write a literal brace as {{{{ or }}}}",
                             field=where)
                continue
            for s in sorted(need - set(found)):
                problems.add(path, f"missing slot {{{s}}}", field=where)
            for s in sorted(set(found) - allowed):
                problems.add(path, f"unknown slot {{{s}}} (allowed: "
                             f"{', '.join('{' + a + '}' for a in sorted(allowed))})", field=where)
            if key in ("concept", "continuation") and found.count("word") > 1:
                problems.add(path, "the {word} slot must appear exactly once", field=where)
    answers = templates.get("answers")
    if answers is not None:
        if not isinstance(answers, dict):
            problems.add(path, "must be a table yes = ..., no = ...", field="templates.answers")
        else:
            for k in ANSWER_KEYS:
                if not isinstance(answers.get(k), str) or not answers.get(k).strip():
                    problems.add(path, "missing or empty answer word", field=f"templates.answers.{k}")
    return out


def read_folder(folder) -> ConceptSpace:
    """Read and validate the space in ``folder`` (see the module docstring)."""
    folder = Path(folder)
    problems = Problems()
    if not folder.is_dir():
        raise InputError(f"{folder}: space folder not found")
    for f in REQUIRED_FILES:
        if not (folder / f).is_file():
            problems.add(folder / f, "required file missing")
    problems.check()
    meta = read_toml(folder / TOML, problems)
    frames = {f: read_csv(folder / f, problems) for f in FILES[1:] if (folder / f).is_file()}
    if any(f is None for f in frames.values()):
        problems.check()                 # a file could not be read as a table: stop here
    tpath = folder / TOML

    # concepts
    cdf = frames[CONCEPTS]
    cpath = folder / CONCEPTS
    duplicates(cdf, ["concept"], cpath, problems, "concept")
    duplicates(cdf, ["word"], cpath, problems, "word")
    rules.check_names(cdf, ("concept", "word"), cpath, problems)
    rules.check_ids(cdf, cpath, problems)
    concepts = tuple(pd.unique(cdf["concept"]))
    known = set(concepts)
    if len(concepts) < 3:
        problems.add(cpath, f"{len(concepts)} concept(s); a space needs at least 3")

    # ratings
    rdf = frames[RATINGS]
    rpath = folder / RATINGS
    unknown_concepts(rdf, "concept", known, rpath, problems)
    rvalue = numbers(rdf, rpath, problems)
    rules.check_names(rdf, ("attribute",), rpath, problems)
    duplicates(rdf, ["concept", "attribute", "participant"], rpath, problems, "rating")
    order = meta.get("attributes")
    seen = list(pd.unique(rdf.loc[rdf["attribute"] != "", "attribute"]))
    if order is None:
        attributes = tuple(seen)
    elif not isinstance(order, list) or not all(isinstance(a, str) for a in order):
        problems.add(tpath, "must be a list of attribute names", field="attributes")
        attributes = tuple(seen)
    else:
        attributes = tuple(order)
        listed = set(order)
        for a, r in zip(rdf["attribute"], rdf["_row"]):
            if a != "" and a not in listed:
                problems.add(rpath, f"attribute {a!r} not in space.toml's attributes",
                             row=int(r), field="attribute")
                listed.add(a)                          # once per attribute
        for a in order:
            if a not in seen:
                problems.add(tpath, f"attribute {a!r} has no rating in {RATINGS}",
                             field="attributes")

    scales, sim_scale = rules.read_scales(meta, attributes, tpath, problems)
    rules.check_ratings(rdf, rvalue, scales, rpath, problems)

    # similarity
    sdf = frames.get(SIMILARITY)
    svalue = None
    if sdf is not None:
        spath = folder / SIMILARITY
        unknown_concepts(sdf, "concept_a", known, spath, problems)
        unknown_concepts(sdf, "concept_b", known, spath, problems)
        svalue = numbers(sdf, spath, problems)
        rules.check_similarity(sdf, svalue, sim_scale, spath, problems)
        same = sdf["concept_a"] == sdf["concept_b"]
        for r in sdf.loc[same & (sdf["concept_a"] != ""), "_row"]:
            problems.add(spath, "a concept paired with itself", row=int(r), field="concept_b")
        lo = np.where(sdf["concept_a"] < sdf["concept_b"], sdf["concept_a"], sdf["concept_b"])
        hi = np.where(sdf["concept_a"] < sdf["concept_b"], sdf["concept_b"], sdf["concept_a"])
        keyed = sdf.assign(_lo=lo, _hi=hi)
        duplicates(keyed, ["participant", "_lo", "_hi"], spath, problems,
                   "pair (participant, concepts)", field="concept_b")
        valid = ~same & keyed["_lo"].isin(known) & keyed["_hi"].isin(known)
        got = set(zip(keyed.loc[valid, "_lo"], keyed.loc[valid, "_hi"]))
        n_pairs = len(concepts) * (len(concepts) - 1) // 2
        if len(got) < n_pairs:
            miss = [(a, b) for k, a in enumerate(concepts) for b in concepts[k + 1:]
                    if (min(a, b), max(a, b)) not in got]
            problems.add(spath, f"not a full set of pairs: {len(miss)} of the {n_pairs} "
                         f"unordered concept pairs have no judgment, e.g. {miss[0]}",
                         field="concept_a")

    # stimuli
    tdf = frames.get(STIMULI)
    if tdf is not None:
        stpath = folder / STIMULI
        duplicates(tdf, ["id"], stpath, problems, "id")
        unknown_concepts(tdf, "concept", known, stpath, problems)

    # space.toml
    for key in ("name", "language", "citation", "licence"):
        if key in meta and not isinstance(meta[key], str):
            problems.add(tpath, "must be a string", field=key)
    if "human_data" in meta and not isinstance(meta["human_data"], bool):
        problems.add(tpath, "must be true or false", field="human_data")
    groups = meta.get("groups", {})
    if not isinstance(groups, dict):
        problems.add(tpath, "must be a table of group = [attributes]", field="groups")
        groups = {}
    for g, members in groups.items():
        if not isinstance(members, list) or not all(isinstance(a, str) for a in members):
            problems.add(tpath, "must be a list of attribute names", field=f"groups.{g}")
            continue
        for a in members:
            if a not in attributes:
                problems.add(tpath, f"unknown attribute {a!r}", field=f"groups.{g}")
    templates = meta.get("templates")
    language = meta.get("language", "en")
    if templates is None:
        if isinstance(language, str) and language.split("-")[0] == "en" and \
                folder.resolve() != (space_dir() / STUDY).resolve():
            templates = dict(load_space(STUDY).templates)   # English spaces borrow the study's
        else:
            problems.add(tpath, "no [templates] table (concept prompts need templates in "
                         "the space's language)", field="templates")
            templates = {}
    else:
        templates = check_templates(templates, tpath, problems)
        if "concept" not in templates:
            problems.add(tpath, "no concept templates (a table of id = text with a {word} "
                         "slot)", field="templates.concept")
    options = meta.get("options", {})
    if not isinstance(options, dict):
        problems.add(tpath, "must be a table", field="options")
        options = {}
    if options.get("aggregation", "mean") not in AGGREGATIONS:
        problems.add(tpath, f"unsupported aggregation {options.get('aggregation')!r} "
                     f"(supported: {', '.join(AGGREGATIONS)})", field="options.aggregation")
    problems.check()

    # build the value
    ratings = pd.DataFrame({"concept": rdf["concept"].to_numpy(object),
                            "attribute": rdf["attribute"].to_numpy(object),
                            "value": rvalue, "participant": participants(rdf).to_numpy(object)})
    ratings = pd.concat([ratings, rdf.drop(columns=["concept", "attribute", "value",
                                                    "participant", "_row"])
                         .reset_index(drop=True)], axis=1)
    means = aggregate(ratings, concepts, attributes)
    similarity = None
    if sdf is not None:
        similarity = pd.DataFrame({"concept_a": sdf["concept_a"].to_numpy(object),
                                   "concept_b": sdf["concept_b"].to_numpy(object),
                                   "value": svalue,
                                   "participant": participants(sdf).to_numpy(object)})
    stimuli = None
    if tdf is not None:
        stimuli = tdf.drop(columns=["_row"]).reset_index(drop=True)
    rest = {k: v for k, v in meta.items()
            if k not in ("name", "language", "citation", "licence", "human_data", "groups",
                         "templates", "options", "attributes", "scales", "similarity_scale")}
    space = ConceptSpace(
        name=meta.get("name", folder.name), concepts=concepts,
        words=dict(zip(cdf["concept"], cdf["word"])), attributes=attributes, means=means,
        language=language, groups={g: tuple(m) for g, m in groups.items()},
        ratings=ratings, similarity=similarity, stimuli=stimuli, templates=templates,
        citation=meta.get("citation", ""), licence=meta.get("licence", ""),
        human_data=meta.get("human_data", True), digest=digest(folder), path=folder,
        options={**rest, **options}, scales=scales, similarity_scale=sim_scale)
    # what the analysis will need of the values (checked before any run writes anything)
    first = dict(zip(rdf["attribute"][::-1], rdf["_row"][::-1]))
    rules.check_variation(space, rpath, folder / SIMILARITY, first, problems)
    rules.check_bootstrap(space, folder, tpath, problems)
    problems.check()
    return space


def aggregate(ratings: pd.DataFrame, concepts, attributes) -> pd.DataFrame:
    """Per-concept means: the mean over participants of each concept x attribute cell."""
    m = ratings.groupby(["concept", "attribute"], sort=False)["value"].mean().unstack()
    means = m.reindex(index=list(concepts), columns=list(attributes)).astype(float)
    means.index.name = "concept"
    means.columns.name = None
    return means


def digest(folder: Path) -> str:
    """SHA-256 over the space's files (name and bytes of each present file, fixed order)."""
    h = hashlib.sha256()
    for f in FILES:
        p = folder / f
        if p.is_file():
            h.update(f.encode() + b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def require_complete(space: ConceptSpace) -> ConceptSpace:
    """``space`` when every concept has a mean of every attribute, else InputError with one
    line per missing cell (attribute RDMs, hence the searchlight, need them all).

    Call it before a run writes anything (collect) and before analysis.
    """
    problems = Problems()
    where = (space.path / RATINGS) if space.path is not None else RATINGS
    for c in space.concepts:
        for a in space.attributes:
            if not math.isfinite(space.means.loc[c, a]):
                problems.add(where, f"no rating of attribute {a!r} for concept {c!r} (the "
                             "attribute RDMs need every cell)", field="value")
    problems.check()
    return space
