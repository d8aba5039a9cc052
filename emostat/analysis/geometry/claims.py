"""Claims rows of the layer-wise geometry (docs/geometry.md): ``layer_rsa``, ``pc_attribute``,
``probe`` and ``steering``, each from the ``role == "record"`` rows of its results table.

Tests of record, fixed before the data are seen:

- ``layer_rsa``: the max-over-layers Mantel row of the mean similarity RDM
  (``geometry_layer_rsa``, attribute ``similarity``) where the space has one; otherwise Holm
  over the attributes' max-over-layers rows (the smallest adjusted p; estimate = attributes
  with adjusted p <= alpha). The attributes' family is a supporting row when similarity is
  the record.
- ``pc_attribute``: Holm over the attributes' PC1 max-over-layers rows (``geometry_pca``); PC2
  is a supporting family. The sign of a PC is a convention, so any direction counts.
- ``probe``: the ridge probe's max-over-layers row (``geometry_probes``); claimed direction:
  accuracy above chance (the permutation null's mean accuracy at that layer). A probe whose
  shuffles cannot reorder the labels is ``not tested`` (its ``note`` says why). The attribute
  regression probes (``geometry_probe_attributes``) are a supporting family: Holm over the
  attributes' max-over-layers R^2 rows.
- ``steering``: the specificity model (``geometry_steering_test``, model ``specificity``): a
  concept's vector on its own word minus the other concepts' vectors on that word, per unit of
  scale, over items x concepts; claimed direction: the own vector raises the word more. The
  matched, mismatched and random components are in the reason (supporting rows of the
  table).

The rows of record of ``layer_rsa`` and ``probe`` carry the best layer's simultaneous interval
over layers (the same selection as their max-over-layers p; see
:mod:`emostat.analysis.geometry.layers` and :mod:`emostat.analysis.geometry.probes`); the
Holm families (``pc_attribute``, the attribute probes) are counts, with no interval. Each function
returns plain row dicts (claim, role, test, source_table and the test columns, with the private
keys ``_direction``, ``_failed``, ``_why``, ``_chance`` that :func:`build_claims` consumes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat import io
from emostat.analysis.engines.pcontract import holm, mc_interval, missing, p_contract

CLAIMS = ("layer_rsa", "pc_attribute", "probe", "steering")
RECORD_TABLES = {"layer_rsa": "geometry_layer_rsa", "pc_attribute": "geometry_pca",
                 "probe": "geometry_probes", "steering": "geometry_steering_test"}
# a collected run's geometry (emostat.collect.geometry_stage): <run>/geometry/<name>.parquet
FOLDER = "geometry"
TABLES = ("geometry_vectors", "geometry_layer_rsa", "geometry_pca", "geometry_pca_scores",
          "geometry_probes")
OPTIONAL_TABLES = ("geometry_probe_attributes",)   # absent from runs before it existed
STEERING_TABLES = ("geometry_steering", "geometry_steering_test")


def run_geometry_tables(run_dir, folder: str = FOLDER) -> dict[str, pd.DataFrame]:
    """The geometry tables of a collected run (``<run>/geometry/``; ``folder="results"``: an
    ``emostat geometry`` output), by name; {} without."""
    folder = Path(run_dir) / folder
    return {name: io.read_table(folder / f"{name}.parquet", dataset=name)
            for name in TABLES + OPTIONAL_TABLES + STEERING_TABLES
            if (folder / f"{name}.parquet").exists()}


def has_geometry(tables: dict) -> bool:
    """Whether the run computed the geometry (any of its record tables is present)."""
    return any(tables.get(t) is not None for t in RECORD_TABLES.values())


def record_rows(t: pd.DataFrame | None) -> pd.DataFrame:
    """The ``role == "record"`` rows of a geometry table (empty when absent)."""
    if t is None or not len(t) or "role" not in t.columns:
        return pd.DataFrame()
    return t[t["role"] == "record"]


def test_columns(r: pd.Series, scale: str, *, conf: bool) -> dict:
    """The test columns of one record row (interval only where ``conf``)."""
    def num(x):
        return None if missing(x) else float(x)

    return dict(estimate=num(r.get("estimate")), scale=scale,
                conf_low=num(r.get("conf_low")) if conf else None,
                conf_high=num(r.get("conf_high")) if conf else None,
                conf_method=r.get("conf_method") if conf else None,
                statistic=num(r.get("statistic")), df=num(r.get("df")),
                p_value=num(r.get("p_value")), p_method=r.get("p_method"), unit=r.get("unit"),
                **p_contract(r))


def family(claim: str, g: pd.DataFrame, test: str, table: str, alpha: float, what: str,
           role: str, label: str = "attribute") -> dict:
    """A claim-level row over a family of record rows: Holm over them, the smallest adjusted
    p; estimate = members with adjusted p <= alpha (scale ``count``)."""
    p = g["p_value"].to_numpy(float) if len(g) else np.array([])
    m = int((~np.isnan(p)).sum())
    if m == 0:
        return dict(claim=claim, role=role, test=test, source_table=table,
                    _failed=f"{table}: no {label} has a max-over-layers p-value")
    adj = holm(p)
    i = int(np.nanargmin(p))          # the smallest raw p has the smallest adjusted p (its
    # contract, scaled, is the family's: the first of tied adjusted p's need not be that row)
    c = p_contract(g.iloc[i])
    n_sig = int(np.nansum(adj <= alpha))
    best = g.iloc[i]
    scale = lambda x: None if missing(x) else min(1.0, m * float(x))  # noqa: E731
    return dict(claim=claim, role=role, test=test, source_table=table, estimate=float(n_sig),
                scale="count", p_value=float(adj[i]),
                p_method=f"Holm over {m} {label}s (smallest adjusted p): {best['p_method']}",
                unit=best.get("unit"), p_floor=scale(c["p_floor"]),
                p_mc_low=scale(c["p_mc_low"]), p_mc_high=scale(c["p_mc_high"]),
                n_perm=c["n_perm"], _direction=True,
                _why=f"{n_sig} of {m} {label}s {what} (Holm-adjusted p <= alpha; smallest at "
                     f"{best[label]}, layer {int(best['layer'])})")


def layer_rsa_rows(tables: dict, alpha: float) -> list[dict]:
    table = RECORD_TABLES["layer_rsa"]
    rec = record_rows(tables.get(table))
    if not len(rec):
        return [dict(claim="layer_rsa", role="record", test="max_over_layers",
                     source_table=table, _failed=f"{table!r} has no rows of record")]
    sim = rec[rec["attribute"] == "similarity"]
    attrs = rec[rec["attribute"] != "similarity"]
    rows = []
    what = "have a layer whose concept RDM follows theirs beyond the max-over-layers null"
    if len(sim):
        r = sim.iloc[0]
        rows.append(dict(claim="layer_rsa", role="record", test="max_over_layers",
                         source_table=table, **test_columns(r, "rho", conf=True),
                         _direction=not missing(r["estimate"]) and float(r["estimate"]) > 0,
                         _why=f"best layer {int(r['layer'])} of the concept RDM against the "
                              "mean human dissimilarities"))
    if len(attrs):
        rows.append(family("layer_rsa", attrs, "max_over_layers_holm", table, alpha, what,
                           role="supporting" if len(sim) else "record"))
    return rows


def pc_attribute_rows(tables: dict, alpha: float) -> list[dict]:
    table = RECORD_TABLES["pc_attribute"]
    rec = record_rows(tables.get(table))
    rows = []
    for comp, role in (("PC1", "record"), ("PC2", "supporting")):
        g = rec[rec["component"] == comp] if len(rec) else rec
        if role == "supporting" and not len(g):
            continue
        rows.append(family("pc_attribute", g, f"max_over_layers_{comp.lower()}_holm", table,
                           alpha, f"follow {comp} of the concept vectors beyond the "
                           "max-over-layers null", role=role))
    return rows


def probe_rows(tables: dict, alpha: float) -> list[dict]:
    table = RECORD_TABLES["probe"]
    rec = record_rows(tables.get(table))
    if not len(rec):
        return [dict(claim="probe", role="record", test="max_over_layers", source_table=table,
                     _failed=f"{table!r} has no row of record")]
    r = rec.iloc[0]
    chance = float(r["chance"]) if "chance" in r and not missing(r["chance"]) else 0.0
    ctrl = r.get("control_accuracy")
    est = r.get("estimate")
    note = r.get("note")
    untested = (f"the probe's null cannot move: {note}" if isinstance(note, str) and note
                else None)
    why = (f"best layer {int(r['layer'])}: out-of-fold accuracy {float(est):.3f} against "
           f"chance {chance:.3f} (the null's mean)"
           + ("" if missing(ctrl) or missing(r.get("accuracy_plain")) else
              f"; control task {float(ctrl):.3f} against {float(r['accuracy_plain']):.3f} on "
              "the same plain folds")
           if not missing(est) else None)
    rows = [dict(claim="probe", role="record", test="max_over_layers", source_table=table,
                 **test_columns(r, "proportion", conf=True), _chance=untested,
                 _direction=not missing(est) and float(est) > chance, _why=why)]
    att = record_rows(tables.get("geometry_probe_attributes"))
    if len(att) and untested:
        rows.append(dict(claim="probe", role="supporting", test="attribute_r2_holm",
                         source_table="geometry_probe_attributes", _chance=untested))
    elif len(att) and "p_fwer_joint" in att.columns:
        rows.append(joint_family(att, alpha))
    elif len(att):
        rows.append(family("probe", att, "attribute_r2_holm", "geometry_probe_attributes",
                           alpha, "are predicted from single stimuli beyond the "
                           "max-over-layers null (out-of-fold R^2)", role="supporting"))
    return rows


def joint_family(att: pd.DataFrame, alpha: float) -> dict:
    """The attribute probes as one supporting row: the smallest Westfall-Young max-T p over
    layers x attributes (floor 1/(B + 1)); estimate = attributes with that p <= alpha."""
    table = "geometry_probe_attributes"
    p = att["p_fwer_joint"].to_numpy(float)
    if np.isnan(p).all():
        return dict(claim="probe", role="supporting", test="attribute_r2_max_t",
                    source_table=table, _failed=f"{table}: no attribute has a p-value")
    i = int(np.nanargmin(p))
    best = att.iloc[i]
    n = int(best["n_perm"])
    exact = missing(best["p_mc_low"])                                # NaN: enumerated
    lo, hi = (np.nan, np.nan) if exact else mc_interval(p[i], n)
    n_sig = int(np.nansum(p <= alpha))
    return dict(claim="probe", role="supporting", test="attribute_r2_max_t",
                source_table=table, estimate=float(n_sig), scale="count", p_value=float(p[i]),
                p_method=f"Westfall-Young max-T over the layers x {len(att)} attributes of the "
                         f"out-of-fold R^2 (smallest p): {best['p_method']}",
                unit=best.get("unit"), p_floor=float(best["p_floor"]), p_mc_low=lo,
                p_mc_high=hi, n_perm=n, _direction=True,
                _why=f"{n_sig} of {len(att)} attributes are predicted from single stimuli "
                     f"beyond the max-T null over layers and attributes (out-of-fold R^2; "
                     f"best {best['attribute']}, layer {int(best['layer'])}, R^2 "
                     f"{float(best['estimate']):.3f})")


def steering_rows(tables: dict, alpha: float) -> list[dict]:
    table = RECORD_TABLES["steering"]
    test = "steering_specificity"
    t = tables.get(table)
    if t is None or not len(t):
        why = ("no steering table: steering scores a decoder's next-token choice (an encoder "
               "has none)")
        return [dict(claim="steering", role="record", test=test, source_table=table,
                     _chance=why)]
    rec = record_rows(t)
    if not len(rec):
        return [dict(claim="steering", role="record", test=test, source_table=table,
                     _chance=f"{table!r} has no specificity test (a table from before the "
                             "mismatched-concept control): rerun the geometry stage")]
    r = rec.iloc[0]
    failed = (f"the specificity model failed: {r.get('message') or 'no estimate'}"
              if r.get("status") == "failed" or missing(r.get("estimate")) else None)
    est = r.get("estimate")
    comp = {c["term"]: c["estimate"] for _, c in t[t["model"] == "component"].iterrows()}
    parts = ", ".join(f"{label} {float(comp[k]):.3g}" for k, label in (
        ("matched", "matched"), ("mismatched", "mismatched"),
        ("random_manifold", "on-manifold random"), ("random_isotropic", "isotropic random"))
        if k in comp and not missing(comp[k]))
    note = (f"; fit {r['message']}" if r.get("status") in ("singular", "fallback")
            and r.get("message") else "")
    why = None if missing(est) else (
        f"a concept's vector changes its own concept's log-probability by {float(est):.3g} "
        f"per unit of scale more than the other concepts' vectors change it, at layer "
        f"{int(r['layer'])}" + (f" (per unit of scale: {parts})" if parts else "") + note)
    return [dict(claim="steering", role="record", test=test, source_table=table,
                 **test_columns(r, "delta_logp", conf=True),
                 _direction=not missing(est) and float(est) > 0, _failed=failed, _why=why)]


def geometry_claim_rows(tables: dict, alpha: float) -> list[dict]:
    """Every geometry claims row of a run (none when the run has no geometry tables)."""
    if not has_geometry(tables):
        return []
    return (layer_rsa_rows(tables, alpha) + pc_attribute_rows(tables, alpha)
            + probe_rows(tables, alpha) + steering_rows(tables, alpha))
