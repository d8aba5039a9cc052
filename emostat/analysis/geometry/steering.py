"""The steering test: does adding a concept's vector raise that concept more than a random
direction of the same norm does?

Input: one row per item x vector x scale (``geometry_steering``) with ``delta_logp`` (change in
the target concept's log-probability against the unsteered prompt), ``delta_choice`` (change in
"the target is chosen", -1/0/1), ``kind`` (``concept`` or ``random``) and ``scale``. Items and
vectors are crossed random units (vectors are draws: each concept vector is one, each random
direction is one), the random directions are the control condition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.engines.mixed import fit_mixed
from emostat.errors import InputError

DOSE_FORMULA = ("delta_logp ~ scale + concept_scale + (0 + scale | item) "
                "+ (0 + scale | vector)")
SCALE_FORMULA = "{y} ~ concept + (1 | item) + (1 | vector)"
COLUMNS = ("item", "vector", "kind", "scale", "delta_logp", "delta_choice")


def steering_test(rows: pd.DataFrame) -> pd.DataFrame:
    """Crossed mixed models of the steering effect (items x vectors).

    - ``dose`` (role ``record``): ``delta_logp ~ scale + concept_scale + (0 + scale | item) +
      (0 + scale | vector)``; the term ``concept_scale`` is the extra change in the target's
      log-probability per unit of scale for concept vectors over random directions.
    - ``at_scale`` (role ``supporting``), one per scale: ``delta_logp ~ concept + (1 | item) +
      (1 | vector)``; ``concept`` = concept minus random at that scale.
    - ``choice_at_scale`` (role ``supporting``): the same on ``delta_choice`` (linear
      probability model of the change in choosing the target).

    Returns one row per model and term of interest: model, formula (fitted), scale (NaN for
    the dose model), term, estimate, std_error, statistic, df, p_value, conf_low, conf_high,
    p_method, role, unit, status, message.
    """
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(f"steering_test: missing column(s) {missing}")
    d = rows[rows["scale"] != 0].copy()
    if d.empty or set(d["kind"]) != {"concept", "random"}:
        raise InputError("steering_test: needs concept and random rows at a non-zero scale")
    d["concept"] = (d["kind"] == "concept").astype(float)
    d["concept_scale"] = d["concept"] * d["scale"]
    n_items, n_vec = d["item"].nunique(), d["vector"].nunique()
    n_rand = d.loc[d["kind"] == "random", "vector"].nunique()
    unit = f"item ({n_items}) x vector ({n_vec}, {n_rand} random)"
    out = []

    def add(fit, term, model, scale, role):
        t = fit.tidy()
        row = t[(t["effect"] == "fixed") & (t["term"] == term)]
        rec = (row.iloc[0].to_dict() if len(row) else
               dict(term=term, estimate=np.nan, p_value=np.nan, p_method="",
                    status="failed", message=f"no {term} term"))
        rec.update(model=model, formula=fit.fitted_formula, scale=scale, role=role, unit=unit)
        out.append(rec)

    add(fit_mixed(d, DOSE_FORMULA), "concept_scale", "dose", np.nan, "record")
    for s in sorted(d["scale"].unique()):
        sub = d[d["scale"] == s]
        add(fit_mixed(sub, SCALE_FORMULA.format(y="delta_logp")), "concept", "at_scale", s,
            "supporting")
        add(fit_mixed(sub, SCALE_FORMULA.format(y="delta_choice")), "concept",
            "choice_at_scale", s, "supporting")
    res = pd.DataFrame(out)
    keep = ["model", "formula", "scale", "term", "estimate", "std_error", "statistic", "df",
            "p_value", "conf_low", "conf_high", "p_method", "role", "unit", "status", "message"]
    for c in keep:
        if c not in res.columns:
            res[c] = np.nan
    res = res[keep]
    res["conf_method"] = np.where(res["p_method"].astype(str).str.startswith("Satterthwaite"),
                                  "Satterthwaite t interval", "Wald z interval")
    res["n_perm"], res["p_floor"] = 0, 0.0
    res["p_mc_low"], res["p_mc_high"] = np.nan, np.nan
    res["test"] = "steering_" + res["model"]
    return res


def dose_response(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean change per kind x scale with the spread over vectors (for the figure): kind, scale,
    mean_delta_logp, se (SD over the vectors' means / sqrt(n_vectors)), mean_delta_choice,
    n_vectors."""
    per_vec = rows.groupby(["kind", "scale", "vector"], as_index=False)[
        ["delta_logp", "delta_choice"]].mean()
    g = per_vec.groupby(["kind", "scale"])
    out = g.agg(mean_delta_logp=("delta_logp", "mean"), sd=("delta_logp", "std"),
                mean_delta_choice=("delta_choice", "mean"),
                n_vectors=("vector", "nunique")).reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n_vectors"])
    return out.drop(columns="sd")
