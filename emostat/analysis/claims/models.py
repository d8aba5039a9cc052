"""Claims rows resting on a mixed model's ``attribute_vs_random`` term: ``masking`` (the item
GLMM of a run, the mask LMM of the release) and ``knowledge`` (the same GLMM on the recalibrated
outcome). A record fit that failed makes its claim ``failed``; a singular or fallback fit keeps
its decision and says what was dropped or used (:func:`emostat.analysis.engines.mixedreport.
fit_verdict`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.claims.rows import Record, absent, at, one, row, test_fields
from emostat.analysis.engines.mixedreport import fit_verdict
from emostat.analysis.masking.knowledge import P_METHOD as KNOWLEDGE_P_METHOD
from emostat.errors import InputError

__all__ = ["model_rows", "fit_row", "scale_of"]


def scale_of(r: pd.Series) -> tuple[str, float]:
    """(scale, factor) of a model row's estimate: log-odds (GLMM), points (accuracy x 100) or
    the outcome's own name."""
    if r.get("family") == "binomial":
        return "log-odds", 1.0
    outcome = r.get("outcome")
    if isinstance(outcome, str) and outcome not in ("", "accuracy"):
        return outcome, 1.0
    return "points", 100.0


def model_rows(tables, rec: Record, design: dict, a: float, task, k,
               claim: str = "masking") -> list[dict]:
    """The rows of a claim tested by a mixed model's ``attribute_vs_random`` term (masking;
    knowledge: the same on the recalibrated outcome). A record fit that failed makes the claim
    ``failed``; a singular or fallback fit says what was dropped or used in the reason."""
    t = tables.get(rec.table)
    if claim == "knowledge" and (t is None or task not in set(t.get("task", []))):
        return [row(claim, task, k, "record", rec.test, rec.table, _chance=(
            f"task {task!r} has no knowledge model: only tasks decided on scores (binary, "
            "choice) with raw log-probs have an answer prior to re-fit"))]
    if t is None or not len(t):
        return [absent(claim, task, k, rec, f"record table {rec.table!r} absent")]
    g = at(t, task, k)
    g = g[(g["effect"] == "fixed") & (g["term"] == "attribute_vs_random")]
    chosen = g[g[rec.column] == rec.value]
    r = one(chosen, rec.table, f"{claim}, task {task}, k = {k}")
    others = g[(g["role"] == "record") & (g[rec.column] != rec.value)]
    if len(others):
        raise InputError(f"claims: results table {rec.table!r} marks model(s) "
                         f"{others['model'].tolist()} as record for task {task}, k = {k}, but "
                         f"the test of record is {rec.value!r}; the producing table must mark "
                         "exactly one")
    rows = []
    if r is None:
        rows.append(absent(claim, task, k, rec,
                           f"the record model {rec.value!r} was not fitted for this k"))
    else:
        rows.append(fit_row(claim, task, k, "record", rec.test, rec.table, r))
    for _, o in g[g[rec.column] != rec.value].iterrows():
        rows.append(fit_row(claim, task, k, "study" if o["role"] == "study" else "supporting",
                            str(o["model"]), rec.table, o))
    if claim != "masking":
        return rows
    vs = tables.get("attribute_vs_null")
    if vs is not None and len(vs):
        v = at(vs, task, k)
        if len(v):
            q = v["q_value_bh"].to_numpy(float)
            i = int(np.nanargmin(q)) if np.isfinite(q).any() else 0
            pos = v["estimate"].to_numpy(float) > 0
            n_ok = int(((q <= a) & pos).sum())
            rows.append(row("masking", task, k, "supporting", "attribute_vs_null_bh",
                            "attribute_vs_null", estimate=float(n_ok), scale="count",
                            p_value=q[i], p_method="smallest BH q over attributes x k: "
                            + str(v["p_method"].iloc[i]), unit=v["unit"].iloc[i],
                            p_floor=0.0, _direction=bool(pos[i]),
                            _why=f"{n_ok} of {len(v)} attribute masks lower accuracy more "
                                 "than the random masks (BH q <= alpha)"))
    return rows


def fit_row(claim, task, k, role, test, table, r) -> dict:
    """A claims row from a mixed model's fixed-effect row ``r``: ``failed`` when the fit
    failed, the fit's notes (singular, dropped terms, fallback SE) at the end of the reason."""
    scale, factor = scale_of(r)
    failed, note = fit_verdict(r.get("status"), r.get("message"))
    f = test_fields(r, scale=scale, factor=factor)
    if claim == "knowledge" and isinstance(f["p_method"], str):
        f["p_method"] = f"{KNOWLEDGE_P_METHOD}: {f['p_method']}"
    return row(claim, task, k, role, test, table, **f, _failed=failed, _note=note)
