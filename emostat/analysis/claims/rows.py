"""The rows of the claims table: their columns and the builders every claim shares
(:mod:`emostat.analysis.claims.table` picks the rows of record and decides;
:mod:`emostat.analysis.claims.models` builds the rows of claims resting on a mixed model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emostat.analysis.engines.pcontract import holm, missing, p_contract, same_unit
from emostat.errors import InputError

__all__ = ["COLUMNS", "Record", "row", "at", "one", "test_fields", "absent", "family_row",
           "joint_row"]

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


def family_row(claim: str, g: pd.DataFrame, rec: Record, a: float, what: str,
                role: str = "record") -> dict:
    """A claim-level row over attributes: the smallest Holm-adjusted p of the family (claim
    supported when any attribute is), estimate = attributes with adjusted p <= alpha."""
    p = g["p_value"].to_numpy(float)
    m = int((~np.isnan(p)).sum())
    if m == 0:
        return row(claim, None, None, role, rec.test, rec.table,
                    _failed=f"{rec.table}: no attribute has a p-value")
    adj = (g["p_adjusted"].to_numpy(float) if "p_adjusted" in g.columns else holm(p))
    i = int(np.nanargmin(adj))
    c = p_contract(g.iloc[i])
    lo, hi = c["p_mc_low"], c["p_mc_high"]
    method = g["p_method"].iloc[i] if "p_method" in g.columns else None
    n_sig = int(np.nansum(adj <= a))
    return row(claim, None, None, role, rec.test, rec.table, estimate=float(n_sig),
                scale="count", p_value=float(adj[i]),
                p_method=f"Holm over {m} attributes (smallest adjusted p): {method}",
                unit=g["unit"].iloc[i] if "unit" in g.columns else None,
                p_floor=None if missing(c["p_floor"]) else min(1.0, m * float(c["p_floor"])),
                p_mc_low=None if missing(lo) else min(1.0, m * lo),
                p_mc_high=None if missing(hi) else min(1.0, m * hi), n_perm=c["n_perm"],
                _direction=True,
                _why=f"{n_sig} of {m} attributes {what} (Holm-adjusted p <= alpha)")


def joint_row(t: pd.DataFrame, rec: Record, a: float) -> dict:
    """The neuron claim's record: the smallest joint max-T p of ``neuron_max_t`` (the
    permutation maximum over all neurons and attributes; no further adjustment), estimate =
    attributes whose best neuron has joint p <= alpha."""
    if "p_fwer_joint" not in t.columns:
        return absent("neurons", None, None, rec, f"{rec.table!r} has no p_fwer_joint column "
                       "(written before the joint max-T): re-run the analysis")
    pj = t["p_fwer_joint"].to_numpy(float)
    if not np.isfinite(pj).any():
        return absent("neurons", None, None, rec, f"{rec.table!r}: no attribute has a p-value")
    i = int(np.nanargmin(pj))
    r = t.iloc[i]
    own = r.drop(["p_value", "p_mc_low", "p_mc_high"], errors="ignore")
    if "p_fwer_joint_mc_low" not in r.index:        # no interval of its own: from n_perm
        own = own.drop("p_floor", errors="ignore")
    c = p_contract(own.rename({"p_fwer_joint": "p_value", "p_fwer_joint_mc_low": "p_mc_low",
                               "p_fwer_joint_mc_high": "p_mc_high"}))
    n_sig = int(np.nansum(pj <= a))
    method = r.get("p_fwer_joint_method")
    return row("neurons", None, None, "record", rec.test, rec.table, estimate=float(n_sig),
                scale="count", p_value=float(pj[i]),
                p_method=method if isinstance(method, str) else
                "Westfall-Young single-step max-T over all neurons x attributes jointly",
                unit=r.get("unit"), **c, _direction=True,
                _why=f"{n_sig} of {len(t)} attributes have a neuron beyond the permutation "
                     "maximum over all neurons and attributes (joint max-T p <= alpha)")
