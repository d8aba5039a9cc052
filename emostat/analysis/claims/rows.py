"""The pieces a claims row is made of (:mod:`emostat.analysis.claims.table` builds the table
from them; :mod:`emostat.analysis.claims.models` the rows of claims resting on a mixed model)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from emostat.analysis.engines.pcontract import missing, p_contract, same_unit
from emostat.errors import InputError

__all__ = ["COLUMNS", "Record", "row", "at", "one", "test_fields", "absent"]

COLUMNS = ["claim", "task", "k", "role", "test", "source_table", "estimate", "scale",
           "conf_low", "conf_high", "conf_method", "statistic", "df", "p_value", "p_method",
           "unit", "p_floor", "p_mc_low", "p_mc_high", "n_perm", "alpha", "headline",
           "decision", "reason"]


@dataclass(frozen=True)
class Record:
    """The test of record of a claim: rows of ``table`` whose ``column`` equals ``value``
    (``column`` None: every row of the key); ``test`` its name (None: the row's ``test``)."""
    table: str
    column: str | None
    value: str | None
    test: str | None


def row(claim, task, k, role, test, table, **kw) -> dict:
    out = {c: None for c in COLUMNS}
    out.update(claim=claim, task=task, k=None if k is None else int(k), role=role, test=test,
               source_table=table)
    out.update(kw)
    return out


def at(t: pd.DataFrame, task, k) -> pd.DataFrame:
    sel = pd.Series(True, index=t.index)
    if task is not None and "task" in t.columns:
        sel &= t["task"] == task
    if k is not None:
        sel &= t["k"] == k
    return t[sel]


def one(rows: pd.DataFrame, table: str, what: str) -> pd.Series | None:
    if len(rows) > 1:
        tests = rows["test"].tolist() if "test" in rows.columns else rows.index.tolist()
        raise InputError(f"claims: results table {table!r} has {len(rows)} rows of record for "
                         f"{what} ({tests}); the producing table must mark exactly one")
    return rows.iloc[0] if len(rows) else None


def test_fields(r: pd.Series, *, scale: str, factor: float = 1.0, conf: bool | None = None
                 ) -> dict:
    """The test columns of source row ``r``; ``conf`` None: the interval is kept when it has
    no conf_method (it comes from the same fit as the p) or its conf_method names the p's unit."""
    if conf is None:
        how = r.get("conf_method")
        conf = not isinstance(how, str) or same_unit(r.get("unit"), how)
    est = r.get("estimate")
    lo, hi = (r.get("conf_low"), r.get("conf_high")) if conf else (None, None)
    scaled = (lambda x: None if missing(x) else factor * float(x))
    return dict(estimate=scaled(est), scale=scale, conf_low=scaled(lo), conf_high=scaled(hi),
                conf_method=r.get("conf_method") if conf else None,
                statistic=r.get("statistic"), df=r.get("df"), p_value=r.get("p_value"),
                p_method=r.get("p_method"), unit=r.get("unit"), **p_contract(r),
                _direction=not missing(est) and float(est) > 0)


def absent(claim, task, k, rec: Record, why: str, design: dict | None = None) -> dict:
    untested = ((design or {}).get("untested") or {}).get(claim)
    if untested:
        return row(claim, task, k, "record", rec.test, rec.table, _chance=untested)
    return row(claim, task, k, "record", rec.test, rec.table, _failed=why)
