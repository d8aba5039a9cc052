"""lme4 formulas for :func:`emostat.analysis.engines.mixed.fit_mixed`: the random-effect terms
(``(1 + x | g)``, ``(0 + x | g)``, ``(1 | a/b)`` expanded to ``(1 | a) + (1 | a:b)``), the fixed
terms, the grouping factors' levels, and the terms that cannot be told apart in a data set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from emostat.errors import InputError

__all__ = ["Bar", "parse", "formula_text", "fixed_terms", "groups", "same_partition",
           "identifiable", "vc_group", "BAR"]

BAR = re.compile(r"\(([^()|]+?)(\|\|?)([^()|]+)\)")


@dataclass
class Bar:
    expr: list[str]          # ["1", "x"] or ["0", "x"]
    group: str               # "concept" or "concept:prompt"

    def text(self) -> str:
        return f"({' + '.join(self.expr)} | {self.group})"

    @property
    def slopes(self) -> list[str]:
        return [e for e in self.expr if e not in ("0", "1")]

    @property
    def intercept(self) -> bool:
        return "0" not in self.expr


def parse(formula: str) -> tuple[str, str, list[Bar]]:
    """(response, fixed part, random terms) of an lme4 formula; ``a/b`` nesting expanded."""
    if "~" not in formula:
        raise InputError(f"formula {formula!r}: no '~'")
    lhs, rhs = (s.strip() for s in formula.split("~", 1))
    bars = []
    for expr, _, group in BAR.findall(rhs):
        terms = [t.strip() for t in expr.split("+") if t.strip()]
        if "0" not in terms and "1" not in terms:
            terms = ["1"] + terms
        if "/" in group:
            a, b = (g.strip() for g in group.split("/", 1))
            bars += [Bar(terms, a), Bar(terms, f"{a}:{b}")]
        else:
            bars.append(Bar(terms, group.strip()))
    fixed = BAR.sub("", rhs)
    fixed = " + ".join(t.strip() for t in fixed.split("+") if t.strip()) or "1"
    return lhs, fixed, bars


def formula_text(lhs: str, fixed: str, bars: list[Bar]) -> str:
    return f"{lhs} ~ {fixed}" + "".join(f" + {b.text()}" for b in bars)


def fixed_terms(fixed: str) -> list[str]:
    terms = [t.strip() for t in fixed.split("+") if t.strip()]
    out = [] if "0" in terms else ["(Intercept)"]
    return out + [t for t in terms if t not in ("0", "1")]


def groups(data: pd.DataFrame, group: str) -> pd.Series:
    cols = [c.strip() for c in group.split(":")]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"fit_mixed: grouping column(s) {missing} not in data "
                         f"(has {list(data.columns)})")
    key = data[cols[0]].astype(str)
    for c in cols[1:]:
        key = key + ":" + data[c].astype(str)
    return key


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    codes = pd.DataFrame({"a": pd.factorize(a)[0], "b": pd.factorize(b)[0]})
    return (codes.groupby("a")["b"].nunique().max() == 1
            and codes.groupby("b")["a"].nunique().max() == 1)


def identifiable(data: pd.DataFrame, bars: list[Bar]) -> tuple[list[Bar], list[str]]:
    """Drop random terms whose groups cannot be told apart (one level; same as another term)."""
    keep, notes, seen = [], [], []
    for b in bars:
        g = groups(data, b.group)
        n = g.nunique()
        twin = next((s for s, sg in seen if s != b.group and same_partition(g, sg)), None)
        if n < 2:
            notes.append(f"dropped {b.text()}: {b.group} has {n} level")
        elif twin is not None:
            notes.append(f"dropped {b.text()}: {b.group} has the same groups as {twin}")
        else:
            keep.append(b)
            seen.append((b.group, g))
    return keep, notes


def vc_group(vc, bar: Bar):
    """The VarCorr block of ``bar``: its grouping factor and term names (lme4 names a second
    term of the same factor ``mask.1``)."""
    names = (["(Intercept)"] if bar.intercept else []) + bar.slopes
    for key, grp in vc.groups.items():
        base = grp.grouping_factor or re.sub(r"\.\d+$", "", key)
        if base == bar.group and list(grp.term_names) == names:
            return grp
    raise KeyError(bar.text())
