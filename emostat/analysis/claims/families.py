"""Families of the claims table: which rows decide, and over how many tests (issue 22 item 5).

One rule, fixed before the data (docs/inference.md, "Families"):

- **k**: a claim tested at several k (masking, link) has ONE row of record, at the headline k
  (declared in the config, default the largest). The other k are ``supporting`` rows: their
  decisions are shown as dose information, never counted as further findings, so they need no
  correction among themselves.
- **tasks**: the tasks of a run (binary, choice, generate) are co-equal outcomes with no
  headline; at the headline k the record rows of a claim over the run's tasks are one family,
  Holm-adjusted over all the tasks the run collected (a task left out at chance counts as a
  test that cannot reject: the family is fixed before its chance test). One task: no change.
- **supporting rows** print their own floor: a row whose smallest attainable p is above alpha
  is ``too coarse to decide`` (decided by :func:`emostat.analysis.claims.decision.decide`), and
  the report says so beside its p. The draws are not extended for them (the searchlight null
  doubles for the record's joint max-T p only: extending it for Holm's floor of q/(B+1) would
  multiply the searchlight's permutation time by up to 8).
"""

from __future__ import annotations

import numpy as np

from emostat.analysis.claims.rows import Record, row
from emostat.analysis.engines.pcontract import mc_interval, missing

__all__ = ["apply_families", "minp_row", "FAMILY_RULE", "K_CLAIMS"]

K_CLAIMS = ("masking", "link")
FAMILY_RULE = ("one record row per claim at the headline k (other k: supporting); Holm over "
               "the run's tasks at the headline k")
_MINP = Record("neuron_max_t", None, None, "max_t_minp")


def apply_families(rows: list[dict], design: dict, hk) -> list[dict]:
    """Apply the family rule to the claim rows (before they are decided), in place."""
    tasks = design.get("tasks")
    m = len(tasks) if tasks else 1
    for r in rows:
        if r["claim"] in K_CLAIMS and r["role"] == "record" and r["k"] is not None \
                and hk is not None and int(r["k"]) != int(hk):
            r["role"] = "supporting"
            why = r.get("_why")
            r["_why"] = (f"k = {r['k']} is not the headline k ({hk}): supporting"
                         + (f"; {why}" if why else ""))
    if m < 2:
        return rows
    for claim in K_CLAIMS:
        fam = [r for r in rows if r["claim"] == claim and r["role"] == "record"
               and (hk is None or r["k"] is None or int(r["k"]) == int(hk))]
        _holm_rows([r for r in fam if not missing(r.get("p_value"))], m)
    return rows


def _holm_rows(fam: list[dict], m: int) -> None:
    """Holm step-down over a family of ``m`` tests of which ``fam`` have a p (the others
    cannot reject): each row's p, floor and Monte-Carlo bounds scaled by its Holm factor."""
    order = sorted(range(len(fam)), key=lambda i: float(fam[i]["p_value"]))
    running = 0.0
    for j, i in enumerate(order):
        r = fam[i]
        factor = m - j
        running = max(running, min(1.0, factor * float(r["p_value"])))
        r["p_value"] = running
        for c in ("p_floor", "p_mc_low", "p_mc_high"):
            if not missing(r.get(c)):
                r[c] = min(1.0, factor * float(r[c]))
        r["p_method"] = f"{r.get('p_method') or 'p'}; Holm over the run's {m} tasks"


def minp_row(t, a: float) -> dict | None:
    """The neuron claim's supporting min-P row: the smallest Westfall-Young min-P p over the
    attributes (already adjusted over them), with its floor (the smallest ``p_minp_floor`` of
    the attributes: about q/(B+1), :func:`emostat.analysis.neurons.neuronnull.min_p_floor`)."""
    if t is None or "p_minp_joint" not in t.columns:
        return None
    p = t["p_minp_joint"].to_numpy(float)
    if not np.isfinite(p).any():
        return None
    i = int(np.nanargmin(p))
    n = t["n_perm"].iloc[i] if "n_perm" in t.columns else None
    n = None if missing(n) else int(n)
    fl = t["p_minp_floor"].to_numpy(float) if "p_minp_floor" in t.columns else np.array([])
    floor = float(np.nanmin(fl)) if np.isfinite(fl).any() else None    # any attribute's
    lo, hi = mc_interval(p[i], n) if n else (np.nan, np.nan)
    method = t["p_minp_joint_method"].iloc[i] if "p_minp_joint_method" in t.columns else None
    n_sig = int(np.nansum(p <= a))
    return row("neurons", None, None, "supporting", _MINP.test, _MINP.table,
               estimate=float(n_sig), scale="count", p_value=float(p[i]),
               p_method=method if isinstance(method, str) else
               "Westfall-Young single-step min-P over the attributes",
               unit=t["unit"].iloc[i] if "unit" in t.columns else None,
               p_floor=None if missing(floor) else float(floor), p_mc_low=lo, p_mc_high=hi,
               n_perm=n, _direction=True,
               _why=f"{n_sig} of {len(t)} attributes with min-P p <= alpha")
