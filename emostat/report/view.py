"""The bottom of :mod:`emostat.report`: reading a run's tables, picking rows, small formatters.

Every other report module imports from here and nothing here imports them, so the report
package has no import cycle. Nothing here decides a claim: decisions are the rows of the
run's ``claims`` table (docs/design.md §2), which :mod:`emostat.report.findings` renders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat import format as fmt

# docs/design.md §2: the columns of the claims table, in order
CLAIM_COLUMNS = ["claim", "task", "k", "role", "test", "source_table", "estimate", "scale",
                 "conf_low", "conf_high", "conf_method", "statistic", "df", "p_value",
                 "p_method", "unit", "p_floor", "p_mc_low", "p_mc_high", "n_perm", "alpha",
                 "headline", "decision", "reason"]

# Which task the single-task sections of the experiment report show, in order of preference:
# 27-way choice is the richer inference test; the study's binary task comes next.
PRIMARY_TASKS = ("choice", "binary", "generate")


class Markdown(str):
    """A Markdown string that Jupyter displays as Markdown (``text/markdown``)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def caption_marker(caption: str) -> str:
    """A first output line that sets the table's caption from the data (the offline renderer
    uses it instead of the chunk's static ``tbl-cap``; Quarto ignores the comment)."""
    return f"<!-- caption: {' '.join(str(caption).split())} -->\n"


# ---------------------------------------------------------------------------------------------
# values


def missing(x) -> bool:
    """None, NaN, ±Inf, pandas NA."""
    if x is None or x is pd.NA:
        return True
    try:
        return not np.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def text_or(x, default: str = "") -> str:
    return x.strip() if isinstance(x, str) and x.strip() else default


def listing(items) -> str:
    """``a, b and c``."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def short_list(names, limit: int = 8, rest: str = "others") -> str:
    names = list(names)
    if len(names) <= limit:
        return listing(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} {rest}"


def count_phrase(n: int, total: int, unit: str) -> str:
    """``none of the 27 concepts``, ``all 14 attributes``, ``3 of 27 concepts``."""
    if n == 0:
        return f"none of the {total} {unit}"
    if n == total:
        return f"all {total} {unit}" if total > 2 else f"both {unit}" if total == 2 else \
            f"the one {unit.rstrip('s')}"
    return f"{n} of {total} {unit}"


def k_text(k) -> str:
    return fmt.fmt_num(k, 0, big_mark=",")


def pts(x, digits: int = 1) -> str:
    """A proportion difference as percentage points (``.081`` → ``8.1``)."""
    return fmt.fmt_num(100 * float(x), digits)


def p_text(p, alpha: float | None = .05, name: str | None = "p", digits: int = 3) -> str:
    """An APA p that never rounds across (or onto) ``alpha``: ``p = .049995`` prints
    ``p = .04999``, not ``p = .050``; a missing p prints ``not computed``."""
    if missing(p):
        return f"{name} not computed" if name else "–"
    p = float(p)
    if alpha is not None and p != alpha and p >= 10.0 ** -digits:
        d = digits
        while d < 8 and (round(p, d) == alpha or (round(p, d) <= alpha) != (p <= alpha)):
            d += 1
        digits = d
    return fmt.fmt_p(p, name, digits)


def num_text(x, digits: int = 2, bounded: bool = False) -> str:
    """A number that never rounds a non-zero value to a signless 0 across 0: ``-.0002``
    keeps its sign and first digit instead of printing ``.000``."""
    if missing(x):
        return "–"
    x = float(x)
    if abs(x) < 1e-12:          # floating-point noise of an exact zero (e.g. -7e-17 from a fit)
        x = 0.0
    d = digits
    while d < 8 and x != 0 and float(f"{x:.{d}f}") == 0:
        d += 1
    return fmt.fmt_stat(x, d, bounded=bounded)


def ci_text(lo, hi, digits: int = 2, bounded: bool = False) -> str:
    """``[lo, hi]`` with neither bound rounded across 0 (see :func:`num_text`)."""
    def one(x):
        if missing(x) and not (x is not None and x is not pd.NA and np.isinf(float(x))):
            return None
        return ("∞" if x > 0 else "−∞") if np.isinf(float(x)) else num_text(x, digits, bounded)

    a, b = one(lo), one(hi)
    return "" if a is None or b is None else f"[{a}, {b}]"


# ---------------------------------------------------------------------------------------------
# rows


def headline_k(ks, declared=None) -> int:
    """The headline k: ``declared`` (the design's or the run's ``headline_k``) when it is one
    of ``ks``, else the largest k (docs/design.md §2)."""
    ks = sorted(set(int(k) for k in ks if not missing(k)))
    if not ks:
        raise ValueError("no k values")
    return int(declared) if declared is not None and int(declared) in ks else ks[-1]


def declared_k(claims: pd.DataFrame | None, prov: dict | None = None):
    """The run's headline k: the k of the claims rows marked ``headline``, else the
    ``headline_k`` its provenance records (top level or ``config``); None if neither."""
    if claims is not None and {"headline", "k"} <= set(claims.columns):
        ks = claims.loc[claims["headline"].fillna(False).astype(bool), "k"].dropna()
        if len(ks):
            return int(ks.iloc[0])
    prov = prov or {}
    for rec in (prov, prov.get("config") if isinstance(prov.get("config"), dict) else {}):
        if not missing(rec.get("headline_k")):
            return int(rec["headline_k"])
    return None


def rows(df: pd.DataFrame | None, role: str | None = None, test: str | None = None):
    """Rows of one ``role`` and/or ``test`` (all rows when the table has no such column)."""
    if df is None:
        return None
    if role is not None and "role" in df:
        df = df[df["role"] == role]
    if test is not None and "test" in df:
        df = df[df["test"] == test]
    return df


def fixed_contrast(mm: pd.DataFrame, k=None) -> pd.DataFrame:
    """The attribute-vs-random fixed-effect rows of a mixed-model table (at ``k`` if given)."""
    d = mm[mm["k"] == k] if k is not None and "k" in mm else mm
    if "effect" in d:
        d = d[d["effect"].isin(["fixed"]) | d["effect"].isna()]
    return d[d["term"] == "attribute_vs_random"]


def extra_drop(df: pd.DataFrame) -> pd.Series:
    """The extra accuracy drop of a mask over its comparison (positive = the mask hurts more),
    the ``estimate`` of docs/inference.md."""
    return df["estimate"].astype(float)


def uninterpretable(chance: pd.DataFrame | None) -> set:
    """Tasks the run's ``task_chance`` table marks not interpretable (at chance)."""
    if chance is None or "interpretable" not in chance:
        return set()
    return set(chance.loc[~chance["interpretable"].astype(bool), "task"])


def primary_task(df: pd.DataFrame, skip=()) -> str:
    """The task the single-task sections show: the first task in ``PRIMARY_TASKS`` order that
    is not in ``skip`` (tasks at chance); all tasks are candidates when every one is skipped."""
    present = list(dict.fromkeys(df["task"]))
    ok = [t for t in present if t not in set(skip)] or present
    return next((t for t in PRIMARY_TASKS if t in ok), ok[0])


def task_view(df: pd.DataFrame | None, task: str | None = None, skip=()) -> pd.DataFrame | None:
    """Rows of one task when the table has a ``task`` column (default :func:`primary_task`)."""
    if df is None or "task" not in df:
        return df
    task = primary_task(df, skip) if task is None else task
    return df[df["task"] == task]


def concepts(run, table: pd.DataFrame | None = None, col: str = "concept") -> list:
    """The run's concepts in analysis order: the ``human_means`` table's order, else the order
    of appearance in ``table``."""
    hm = run.get("human_means") if run is not None else None
    for d, c in ((hm, "concept"), (table, col)):
        if d is not None and c in d:
            return list(dict.fromkeys(d[c].astype(str)))
    return []


def concept_labels(*provs) -> dict:
    """Concept id -> word for figure labels, from the space's provenance (``space.words``) of
    the first of ``provs`` (results provenance, run manifest) that records one; ids whose word
    is the id are left out (labelled by their id)."""
    for p in provs:
        words = ((p or {}).get("space") or {}).get("words") if isinstance(p, dict) else None
        if words:
            return {str(k): str(v) for k, v in words.items()}
    return {}


def attributes(*tables) -> list:
    """Attribute names in order of first appearance over ``tables``."""
    out: list = []
    for t in tables:
        if t is not None and "attribute" in t:
            out += [a for a in dict.fromkeys(t["attribute"].dropna().astype(str)) if a not in out]
    return out


def order(values, preferred=()) -> list:
    """``values`` (unique, order of appearance) with those in ``preferred`` first, in its order."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def attribute_groups(run) -> dict:
    """attribute → group name from the run's provenance (``space: groups``); ``{}`` when the
    run does not record its space's groups."""
    for rec in (run.provenance, run.manifest) if run is not None else ():
        sp = rec.get("space") if isinstance(rec, dict) else None
        groups = sp.get("groups") if isinstance(sp, dict) else None
        if isinstance(groups, dict):
            return {a: g for g, members in groups.items() for a in members}
    return {}


def has_intervals(d: pd.DataFrame) -> bool:
    """Whether a table has any finite 95% interval to draw (a space without individual raters'
    ratings has none)."""
    return all(c in d for c in ("conf_low", "conf_high")) and bool(
        (d["conf_low"].notna() & d["conf_high"].notna()).any())
