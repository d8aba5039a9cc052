"""The steering test: does adding a concept's vector raise that concept's word more than other
concepts' vectors raise it?

Input: ``geometry_steering``, one row per item x vector x scale x target word, with
``delta_logp`` (change in the target word's log-probability, renormalised over the concepts'
words, against the unsteered prompt), ``delta_choice`` (change in "the target is chosen",
-1/0/1), ``kind`` (:data:`KINDS`) and ``scale``. Every direction is scored on every concept's
word, so the mismatched cells (a concept's vector on another concept's word) cost no forward.

The effect of a cell is its dose slope: the least-squares slope through the origin of
``delta_logp`` over the non-zero scales (``delta_logp`` is 0 at scale 0 by construction).

Test of record (``specificity``): per item x concept ``c``, ``own - other``: the slope of ``c``'s
word under ``c``'s vector minus the mean slope of ``c``'s word under the other concepts' vectors;
``y ~ 1 + (1 | item) + (1 | concept)`` (REML, Satterthwaite t). Why "other vectors on this
word" and not "this vector on other words": it holds the word and the item fixed (how easily a
word moves, its base probability, its first token), and compares directions of one kind (concept
vectors built the same way from the same stimuli); the renormalisation over the words makes
"this vector on other words" fall whenever the own word rises, which would count one effect
twice. Units: items (stimuli of the choice prompt) and concepts are crossed random units, the
claim is about both; an item x concept cell is the residual. A vector's general effect on every
word (all of them up or down) cancels in the mean over concepts and only inflates the concept
variance: conservative.

Decomposition (supporting, ``component``): the mean slope of the target word under matched
vectors, mismatched vectors (a concept's vector on other concepts' words), on-manifold random
directions and isotropic random directions (random directions on every word), each from
``y ~ 1 + (1 | item) + (1 | vector)`` on item x vector means; in a balanced grid the record
estimate is matched minus mismatched. ``vs_random`` (supporting, one per random kind): matched
concept vectors against random directions with separate vector variances,
``y ~ concept + (1 | item) + (0 + is_concept | vector) + (0 + is_random | vector)``. ``at_scale``
and ``choice_at_scale`` (supporting): the record contrast at each scale, on ``delta_logp`` and
on ``delta_choice`` (linear probability).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.engines.mixed import fit_mixed
from emostat.errors import InputError

KINDS = ("concept", "random_manifold", "random_isotropic")
RANDOM_KINDS = KINDS[1:]
COLUMNS = ("item", "vector", "kind", "target", "scale", "delta_logp", "delta_choice")
SPECIFICITY_FORMULA = "y ~ 1 + (1 | item) + (1 | concept)"
COMPONENT_FORMULA = "y ~ 1 + (1 | item) + (1 | vector)"
VS_RANDOM_FORMULA = ("y ~ concept + (1 | item) + (0 + is_concept | vector) "
                     "+ (0 + is_random | vector)")
COMPONENTS = ("matched", "mismatched") + RANDOM_KINDS
KEEP = ["model", "formula", "scale", "term", "estimate", "std_error", "statistic", "df",
        "p_value", "conf_low", "conf_high", "p_method", "conf_method", "role", "unit", "status",
        "message", "sd_item", "sd_vector", "sd_vector_random", "sd_residual", "n_items",
        "n_concepts", "n_vectors"]


def check_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The steering grid with its columns checked; ``matched`` added where absent."""
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(f"geometry_steering: missing column(s) {missing}")
    bad = sorted(set(rows["kind"].astype(str)) - set(KINDS))
    if bad:
        raise InputError(f"geometry_steering: kind {bad[0]!r} is not one of {list(KINDS)}")
    d = rows[rows["scale"] != 0]
    if "matched" not in d.columns:
        d = d.assign(matched=(d["kind"] == "concept") & (d["vector"] == d["target"]))
    return d


def cell_slopes(rows: pd.DataFrame, y: str = "delta_logp", slope: bool = True) -> pd.DataFrame:
    """Per item x vector x target: the least-squares slope of ``y`` on scale through the
    origin (``sum(scale * y) / sum(scale ** 2)`` over the non-zero scales); ``slope=False``:
    the mean of ``y`` (at one scale, its value)."""
    d = check_rows(rows)
    keys = ["item", "vector", "kind", "target", "matched"]
    w = d["scale"] if slope else 1.0
    g = d.assign(_sy=w * d[y], _ss=w * d["scale"] if slope else 1.0).groupby(keys, sort=True)
    s = g[["_sy", "_ss"]].sum()
    return (s["_sy"] / s["_ss"]).rename("y").reset_index()


def own_minus_other(cells: pd.DataFrame) -> pd.DataFrame:
    """Per item x concept: the concept's vector on its own word minus the mean of the other
    concepts' vectors on that word (``item, concept, y``); empty without mismatched cells."""
    c = cells[cells["kind"] == "concept"]
    own = c[c["matched"]].set_index(["item", "target"])["y"]
    other = c[~c["matched"]].groupby(["item", "target"])["y"].mean()
    y = (own - other).dropna()
    y.index.names = ["item", "concept"]
    return y.rename("y").reset_index()


def components(cells: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per component, item x vector means of the target's slope (``item, vector, y``)."""
    c = cells[cells["kind"] == "concept"]
    parts = {"matched": c[c["matched"]], "mismatched": c[~c["matched"]]}
    parts.update({k: cells[cells["kind"] == k] for k in RANDOM_KINDS})
    return {k: v.groupby(["item", "vector"], as_index=False)["y"].mean()
            for k, v in parts.items() if len(v)}


def _sd(tidy: pd.DataFrame, group: str, term: str | None = None) -> float:
    r = tidy[(tidy["effect"] == "ran_pars") & (tidy["group"] == group)]
    if term is not None:
        r = r[r["term"] == f"sd__{term}"]
    return float(r["estimate"].iloc[0]) if len(r) else np.nan


def _fit(data: pd.DataFrame, formula: str, term: str, unit: str, **extra) -> dict:
    """One fixed term of one LMM as a row (failed fits keep their reason)."""
    fit = fit_mixed(data, formula)
    t = fit.tidy(unit=unit)
    row = t[(t["effect"] == "fixed") & (t["term"] == term)]
    rec = row.iloc[0].to_dict() if len(row) else dict(
        estimate=np.nan, p_value=np.nan, status="failed", message=f"no {term} term")
    rec.update(formula=fit.fitted_formula, unit=unit, sd_item=_sd(t, "item"),
               sd_residual=_sd(t, "Residual"), **extra)
    groups = t.loc[t["effect"] == "ran_pars", "group"]
    if "concept" in set(groups):
        rec["sd_vector"] = _sd(t, "concept")
    elif "vector.1" in set(groups):            # separate variances: concept, then random
        rec.update(sd_vector=_sd(t, "vector", "is_concept"),
                   sd_vector_random=_sd(t, "vector.1", "is_random"))
    elif "vector" in set(groups):
        rec["sd_vector"] = _sd(t, "vector")
    return rec


def specificity(rows: pd.DataFrame, y: str = "delta_logp", slope: bool = True) -> dict:
    """The test of record alone (one fit): own minus other slope per item x concept,
    ``y ~ 1 + (1 | item) + (1 | concept)``; a row dict (``term = own_minus_other``).
    ``slope=False`` (one scale): the change itself instead of the slope."""
    d = own_minus_other(cell_slopes(rows, y, slope))
    n_i, n_c = d["item"].nunique(), d["concept"].nunique()
    unit = f"item ({n_i}) x concept ({n_c})"
    if n_c < 2 or n_i < 2:
        return dict(model="specificity", term="own_minus_other", unit=unit, status="failed",
                    estimate=np.nan, p_value=np.nan, n_items=n_i, n_concepts=n_c,
                    message=f"needs 2 items and 2 concepts with mismatched cells, has {n_i} "
                            f"item(s) and {n_c} concept(s)")
    rec = _fit(d, SPECIFICITY_FORMULA, "(Intercept)", unit, n_items=n_i, n_concepts=n_c)
    return {**rec, "model": "specificity", "term": "own_minus_other"}


def vs_random(parts: dict, kind: str) -> dict:
    """Matched concept vectors against the random directions of ``kind`` (``parts`` from
    :func:`components`), with separate vector variances: ``y ~ concept + (1 | item) +
    (0 + is_concept | vector) + (0 + is_random | vector)``; a row dict."""
    g = pd.concat([parts["matched"].assign(concept=1.0), parts[kind].assign(concept=0.0)])
    g = g.assign(is_concept=g["concept"], is_random=1.0 - g["concept"])
    n_r = parts[kind]["vector"].nunique()
    unit = (f"item ({g['item'].nunique()}) x vector "
            f"({parts['matched']['vector'].nunique()} concept, {n_r} {kind})")
    return {**_fit(g, VS_RANDOM_FORMULA, "concept", unit, n_vectors=n_r),
            "model": "vs_random", "term": f"concept_vs_{kind}"}


def steering_test(rows: pd.DataFrame) -> pd.DataFrame:
    """Every model of the steering grid (module docstring): ``specificity`` (role
    ``record``), ``component`` x 4, ``vs_random`` per random kind, ``at_scale`` and
    ``choice_at_scale`` per scale (``supporting``).

    Returns one row per model and term: model, formula (fitted), scale (NaN for slopes),
    term, the broom columns, p_method, conf_method, role, unit, status, message, the SDs of
    the random effects (``sd_item``, ``sd_vector`` (the concept's in the specificity model,
    the concept vectors' in ``vs_random``), ``sd_vector_random``, ``sd_residual``) and the
    counts ``n_items``, ``n_concepts``, ``n_vectors``.
    """
    d = check_rows(rows)
    if d.empty or "concept" not in set(d["kind"]):
        raise InputError("steering_test: needs concept-vector rows at a non-zero scale")
    out = [{**specificity(d), "scale": np.nan, "role": "record"}]
    cells = cell_slopes(d)
    parts = components(cells)
    for name, g in parts.items():
        unit = f"item ({g['item'].nunique()}) x vector ({g['vector'].nunique()})"
        out.append({**_fit(g, COMPONENT_FORMULA, "(Intercept)", unit,
                           n_vectors=g["vector"].nunique()),
                    "model": "component", "term": name, "scale": np.nan, "role": "supporting"})
    for kind in RANDOM_KINDS:
        if kind in parts and "matched" in parts:
            out.append({**vs_random(parts, kind), "scale": np.nan, "role": "supporting"})
    for s in sorted(d["scale"].unique()):
        sub = d[d["scale"] == s]
        for y, model in (("delta_logp", "at_scale"), ("delta_choice", "choice_at_scale")):
            out.append({**specificity(sub, y, slope=False), "model": model, "scale": float(s),
                        "role": "supporting"})
    return tidy_rows(out)


def tidy_rows(out: list[dict]) -> pd.DataFrame:
    """The rows of :func:`steering_test` as the ``geometry_steering_test`` columns."""
    res = pd.DataFrame(out)
    for c in KEEP:
        if c not in res.columns:
            res[c] = np.nan
    res = res[KEEP].copy()
    res["status"] = res["status"].fillna("failed")
    res["message"] = res["message"].fillna("")
    res["conf_method"] = res["conf_method"].fillna("")
    res["p_method"] = res["p_method"].fillna("")
    res["n_perm"], res["p_floor"] = 0, 0.0
    res["p_mc_low"], res["p_mc_high"] = np.nan, np.nan
    res["test"] = "steering_" + res["model"]
    return res


def dose_response(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean change of the target's log-probability per component x scale with the spread over
    vectors (for the figure): component (matched, mismatched, random_manifold,
    random_isotropic), scale, mean_delta_logp, se (SD over the vectors' means /
    sqrt(n_vectors)), mean_delta_choice, n_vectors."""
    d = check_rows(rows)
    comp = np.where(d["matched"], "matched",
                    np.where(d["kind"] == "concept", "mismatched", d["kind"]))
    per_vec = d.assign(component=comp).groupby(["component", "scale", "vector"], as_index=False)[
        ["delta_logp", "delta_choice"]].mean()
    g = per_vec.groupby(["component", "scale"])
    out = g.agg(mean_delta_logp=("delta_logp", "mean"), sd=("delta_logp", "std"),
                mean_delta_choice=("delta_choice", "mean"),
                n_vectors=("vector", "nunique")).reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n_vectors"])
    order = {c: k for k, c in enumerate(COMPONENTS)}
    out = out.sort_values(["component", "scale"], key=lambda s: s.map(order)
                          if s.name == "component" else s)
    return out.drop(columns="sd").reset_index(drop=True)
