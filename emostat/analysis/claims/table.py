"""The claims table: the decision on each of the study's claims, made once (docs/design.md §2).

:func:`build_claims` turns a run's results tables into one row per claim x task x k x role.
Console, reports and the comparison report render these rows; they never decide. One function
each for the run's alpha (:func:`alpha`), its headline k (:func:`headline_k`), the row of record
(:data:`RECORD`, :func:`record_of`) and the decision (:func:`decide`).

``estimate`` is in the row's ``scale``: ``points`` (a proportion difference x 100), ``log-odds``
(binomial GLMM), ``r``, ``tau``, ``count`` (attributes whose Holm-adjusted p <= alpha, on a
claim-level row over attributes; for the neuron record, attributes whose joint max-T p <= alpha)
or ``proportion``; a gaussian model of another outcome than
accuracy has that outcome's name as scale. ``conf_low/conf_high`` are kept only when the
interval is over the same unit as the p (same fit, or ``conf_method`` naming ``unit``'s unit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.geometry.claims import geometry_claim_rows
from emostat.analysis.claims.decision import decide
from emostat.analysis.claims.families import apply_families, minp_row
from emostat.analysis.claims.models import model_rows
from emostat.analysis.claims.rows import (COLUMNS, Record, absent as _absent, at as _at,
                                         family_row as _family_row, joint_row as _joint_row,
                                         one as _one, row as _row,
                                         test_fields as _test_fields)
from emostat.analysis.engines.pcontract import holm, mc_interval, missing, p_contract, same_unit
from emostat.errors import InputError

__all__ = ["build_claims", "decide", "alpha", "headline_k", "record_of", "make_design",
           "RECORD", "COLUMNS", "DECISIONS", "holm", "mc_interval", "p_contract", "same_unit"]

DEFAULT_ALPHA = 0.05

# The study's own threshold for its searchlight statistic (method.md §3): its row counts there,
# so the "study" row shows the study's number (61,956 on the release), not one at this alpha.
STUDY_NEURON_Q = 0.01

DECISIONS = ("supported", "not supported", "too coarse to decide", "failed", "not tested")


# Westfall-Young single-step max-T over all neurons x attributes jointly (p_fwer_joint of
# neuron_max_t, floor 1/(B+1)); Holm over the per-attribute max-T p's is a supporting row
_NEURONS = Record("neuron_max_t", None, None, "max_t_joint")
_NEURONS_HOLM = Record("neuron_max_t", None, None, "max_t_holm")
_IMPORTANCE = Record("attribute_importance", "role", "record", "mantel_holm")
_LINK = Record("importance_link", "role", "record", None)
_WHOLE = Record("rsa_evaluation", "role", "record", None)   # pipelines.rsasteps (issue 23)

# Fixed per claim and design before any data are seen.
RECORD: dict[tuple[str, str], Record] = {
    (claim, kind): rec for claim, rec in (("neurons", _NEURONS), ("importance", _IMPORTANCE),
                                          ("link", _LINK), ("whole_model", _WHOLE))
    for kind in ("reproduction", "experiment")}
RECORD.update({
    ("masking", "reproduction"): Record("masking_mixed_model", "model", "record", "mask_lmm"),
    ("masking", "experiment"): Record("masking_mixed_model", "model", "item_glmm", "item_glmm"),
    # the record GLMM's structure on the outcome a prior shift cannot move
    ("knowledge", "experiment"): Record("knowledge_mixed_model", "model", "knowledge_glmm",
                                        "knowledge_glmm"),
    ("above_chance", "experiment"): Record("task_chance", None, None, "exact_binomial"),
    # the geometry (emostat.analysis.geometry.claims): max-over-layers rows and steering;
    # layer_rsa's test is the similarity row's, or Holm over attributes without similarity
    ("layer_rsa", "experiment"): Record("geometry_layer_rsa", "role", "record", None),
    ("pc_attribute", "experiment"): Record("geometry_pca", "role", "record",
                                           "max_over_layers_pc1_holm"),
    ("probe", "experiment"): Record("geometry_probes", "role", "record", "max_over_layers"),
    ("steering", "experiment"): Record("geometry_steering_test", "role", "record",
                                       "steering_specificity")})


# ---- the four rules ---------------------------------------------------------------------------
def alpha(design: dict, where: str = "claims", field: str = "alpha") -> float:
    """The run's alpha: ``design["alpha"]`` (from the config), default .05; one for all claims.
    Anything but a number in (0, 1) is an InputError ``<where>: <field> must be ...``."""
    a = design.get("alpha")
    if a is None:
        return DEFAULT_ALPHA
    if isinstance(a, bool) or not isinstance(a, (int, float, np.number)) or not 0 < a < 1:
        raise InputError(f"{where}: {field} must be a number in (0, 1), got {a!r}")
    return float(a)


def headline_k(design: dict, where: str = "claims", field: str = "headline k"):
    """The k the design declares (``design["headline_k"]``), else the largest of its ``ks``;
    None without ks. A declared k is a count, or a fraction of ``design["n_neurons"]`` (rounded
    as :func:`emostat.constants.k_count`; kept as a fraction without ``n_neurons``, to match ks
    written as fractions in a config). A declared k that is not one of the run's ks, or not a
    count >= 1 or a fraction in (0, 1), is an InputError ``<where>: <field> ...``.

    >>> headline_k({"ks": [1000, 2000, 3000]}), headline_k({"ks": [1000, 2000], "headline_k": 1000})
    (3000, 1000)
    """
    from emostat.constants import k_count

    ks = list(design.get("ks") or [])
    k = design.get("headline_k")
    if k is None:
        return max(int(x) for x in ks) if ks else None
    count = isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1
    share = isinstance(k, (float, np.floating)) and 0 < k < 1
    if not (count or share):
        raise InputError(f"{where}: {field} must be a count >= 1 or a fraction in (0, 1), "
                         f"got {k!r}")
    n = design.get("n_neurons")
    k = k_count(k, n) if n else (int(k) if count else float(k))
    if ks and k not in ks:
        raise InputError(f"{where}: {field} {k!r} is not one of the run's k {sorted(ks)}")
    return k


def make_design(kind: str, ks, *, headline_k=None, alpha=None, tasks=None,
                untested=None, n_neurons=None) -> dict:
    """The design :func:`build_claims` decides under (stored in the run's provenance).

    ``untested``: claim -> why it cannot be tested in this run (e.g. a space without
    similarity judgments has no importance); such a claim whose record table is absent is
    ``not tested`` with that reason instead of ``failed``."""
    design = {"kind": kind, "alpha": alpha, "headline_k": headline_k,
              "ks": sorted(int(k) for k in ks), "tasks": tasks}
    if n_neurons:
        design["n_neurons"] = int(n_neurons)
    return {**design, "untested": dict(untested)} if untested else design


def record_of(claim: str, design: dict) -> Record:
    """The test of record of ``claim`` under ``design["kind"]`` (:data:`RECORD`)."""
    kind = design.get("kind")
    try:
        return RECORD[(claim, kind)]
    except KeyError:
        raise InputError(f"claims: no test of record for claim {claim!r} in a {kind!r} "
                         f"design (known: {sorted(RECORD)})") from None


# ---- claim builders: each returns row dicts (decisions added by build_claims) ------------------
def _neurons(tables, design, a) -> list[dict]:
    rec = record_of("neurons", design)
    t = tables.get(rec.table)
    rows = []
    if t is None or not len(t):
        rows.append(_absent("neurons", None, None, rec, f"record table {rec.table!r} is not "
                            "in this run (no permutations of the searchlight?)"))
    else:
        rows.append(_joint_row(t, rec, a))
        rows.append(_family_row("neurons", t, _NEURONS_HOLM, a, "have a neuron beyond the "
                                "permutation maximum over all neurons", role="supporting"))
        rows += [r for r in [minp_row(t, a)] if r is not None]
    counts = tables.get("neuron_count_null")
    for value in ([] if counts is None else sorted(set(counts["count"]))):
        sup = Record("neuron_count_null", "count", value, f"count_null_{value}_holm")
        rows.append(_family_row("neurons", counts[counts["count"] == value], sup, a,
                                f"have more {value} neurons than relabelled concepts give",
                                role="supporting"))
    rsa = tables.get("neuron_rsa")
    if rsa is not None and len(rsa):
        q = rsa["q_value"].to_numpy(float)
        n_sig = int(np.nansum(q < STUDY_NEURON_Q))
        rows.append(_row("neurons", None, None, "study", "study_fdr", "neuron_rsa",
                         estimate=float(n_sig), scale="count",
                         p_value=float(np.nanmin(q)),
                         p_method="the study's q = p N / rank(p) over all neuron x attribute "
                                  "tests (Kendall normal approximation; pairs as independent), "
                                  f"counted at its own q < {STUDY_NEURON_Q:g}",
                         unit=f"pair ({len(rsa)} tests)", p_floor=0.0, _direction=True,
                         _why=f"{n_sig} of {len(rsa)} neuron x attribute tests with the "
                              f"study's q < {STUDY_NEURON_Q:g}"))
    return rows


def _importance(tables, design, a) -> list[dict]:
    rec = record_of("importance", design)
    t = tables.get(rec.table)
    if t is None or not len(t):
        return [_absent("importance", None, None, rec, f"record table {rec.table!r} absent",
                        design)]
    g = t[t[rec.column] == rec.value] if rec.column in t.columns else t
    return [_family_row("importance", g, rec, a, "relate to the human concept space (Mantel)")]


def _whole_model(tables, design, a) -> list[dict]:
    """Record: rsa_evaluation's; study: its tau-b on the mean RDM; supporting: the Mantel."""
    rec = record_of("whole_model", design)

    def row(x, role, table):
        comp = str(x.get("comparator", "tau"))
        scale = "tau" if comp.startswith("tau") else "rho" if comp in ("rho_a", "spearman") else "r"
        return _row("whole_model", None, None, role, x.get("test", "mantel"), table,
                    **_test_fields(x, scale=scale, conf=same_unit(x.get("unit"),
                                                                  x.get("conf_method"))))

    w = tables.get("whole_model_rsa")
    sup = [row(w.iloc[0], "supporting", "whole_model_rsa")] if w is not None and len(w) else []
    t = tables.get(rec.table)
    r = None if t is None or not len(t) else _one(t[t[rec.column] == rec.value], rec.table,
                                                  "whole_model")
    if r is None:
        why = "absent" if t is None or not len(t) else "without a row of record"
        return [_absent("whole_model", None, None, rec, f"record table {rec.table!r} {why}",
                        design)] + sup
    st = t[t["role"] == "study"].head(1)
    return [row(r, "record", rec.table)] + [row(x, "study", rec.table)
                                            for _, x in st.iterrows()] + sup


def _masking(tables, design, a, task, k, claim: str = "masking") -> list[dict]:
    return model_rows(tables, record_of(claim, design), design, a, task, k, claim)


def _link(tables, design, a, task, k) -> list[dict]:
    rec = record_of("link", design)
    t = tables.get(rec.table)
    if t is None or not len(t):
        return [_absent("link", task, k, rec, f"record table {rec.table!r} absent", design)]
    g = _at(t, task, k)
    r = _one(g[g[rec.column] == rec.value], rec.table, f"link, task {task}, k = {k}")
    rows = []
    n_att = _n_attributes(tables, task, k)
    if r is None and n_att is not None and n_att < LINK_MIN_ATTRIBUTES:
        rows.append(_row("link", task, k, "record", rec.test, rec.table, _chance=(
            f"the link is a correlation over attributes and this run masks {n_att} "
            f"attribute{'' if n_att == 1 else 's'} at k = {int(k):,}; it needs at least "
            f"{LINK_MIN_ATTRIBUTES}")))
    elif r is None:
        rows.append(_absent("link", task, k, rec, f"{rec.table!r} has no row of record"))
    else:
        rows.append(_row("link", task, k, "record", r["test"], rec.table,
                         **_test_fields(r, scale="r")))
    for _, o in g[g[rec.column] != rec.value].iterrows():
        rows.append(_row("link", task, k, "study" if o["role"] == "study" else "supporting",
                         o["test"], rec.table, **_test_fields(o, scale="r")))
    return rows


LINK_MIN_ATTRIBUTES = 3   # emostat.analysis.masking.link tests nothing over fewer attributes


def _n_attributes(tables, task, k) -> int | None:
    """Attribute masks of the run at (task, k), from ``attribute_vs_null`` (None: unknown)."""
    vs = tables.get("attribute_vs_null")
    if vs is None or not len(vs) or "attribute" not in vs.columns:
        return None
    return int(_at(vs, task, k)["attribute"].nunique())


def _above_chance(tables, design, a, task) -> list[dict]:
    rec = record_of("above_chance", design)
    t = tables.get(rec.table)
    g = None if t is None else t[t["task"] == task]
    if g is None or not len(g):
        return [_absent("above_chance", task, None, rec, f"{rec.table!r} has no row for it")]
    r = g.iloc[0]
    return [_row("above_chance", task, None, "record", rec.test, rec.table,
                 estimate=float(r["accuracy"]), scale="proportion", p_value=r["p_value"],
                 p_method=r["p_method"], unit=f"item ({int(r['n_items'])})", p_floor=0.0,
                 _direction=bool(r["accuracy"] > r["chance"]),
                 _why=f"accuracy {r['accuracy']:.3f} against chance {r['chance']:.3f}")]


def _chance_reasons(tables, tasks) -> dict:
    t = tables.get("task_chance")
    if t is None or not len(t):
        return {}
    return {r["task"]: (f"task {r['task']!r} is not above chance ({r['reason']}): its masking "
                        "effects are not interpretable")
            for _, r in t.iterrows() if r["task"] in tasks and not bool(r["interpretable"])}


# ---- the table -------------------------------------------------------------------------------
def build_claims(tables: dict[str, pd.DataFrame], design: dict) -> pd.DataFrame:
    """The claims table (schema ``claims``) of a run's results ``tables``.

    ``design``: ``kind`` (``reproduction`` | ``experiment``), ``alpha`` (None: .05),
    ``headline_k`` (declared, or None), ``ks`` (the run's ks) and ``tasks`` (None: the
    reproduction's one unnamed task; ``[]``: no tasks, e.g. an activations-only run).
    Exactly one ``record`` row per claim x task, at the headline k for the claims tested per
    k (the other k are ``supporting``; the tasks of a run are one Holm family at the headline
    k: :mod:`emostat.analysis.claims.families`); two rows of record in a source table are an
    :class:`~emostat.errors.InputError` naming that table.
    """
    a = alpha(design)
    hk = headline_k(design)
    ks = sorted(int(k) for k in (design.get("ks") or []))
    tasks = design.get("tasks")
    task_list = [None] if tasks is None else list(tasks)
    rows = _neurons(tables, design, a) + _importance(tables, design, a)
    if design.get("kind") == "experiment":
        for task in task_list:
            rows += _above_chance(tables, design, a, task)
    at_chance = _chance_reasons(tables, task_list)
    for task in task_list:
        for k in ks:
            claims_k = [("masking", _masking), ("link", _link)]
            if design.get("kind") == "experiment":
                claims_k.append(("knowledge", lambda *x: _masking(*x, claim="knowledge")))
            for claim, fn in claims_k:
                if task in at_chance:
                    rows.append(_row(claim, task, k, "record", record_of(claim, design).test,
                                     "task_chance", _chance=at_chance[task]))
                else:
                    rows += fn(tables, design, a, task, k)
    rows += _whole_model(tables, design, a)
    rows += [_row(g.pop("claim"), None, None, g.pop("role"), g.pop("test"),
                  g.pop("source_table"), **g) for g in geometry_claim_rows(tables, a)]
    apply_families(rows, design, hk)
    for r in rows:
        decision, reason = decide(r["p_value"], alpha=a, p_floor=r["p_floor"],
                                  p_mc_low=r["p_mc_low"], p_mc_high=r["p_mc_high"],
                                  in_direction=r.pop("_direction", True),
                                  failed=r.pop("_failed", None), at_chance=r.pop("_chance", None))
        why, note = r.pop("_why", None), r.pop("_note", None)
        reason = (f"{why}; {reason}" if why and decision not in ("failed", "not tested")
                  else reason)
        r.update(alpha=a, headline=r["k"] is None or r["k"] == hk, decision=decision,
                 reason=f"{reason}; {note}" if note else reason)
    out = pd.DataFrame(rows, columns=COLUMNS)
    rec = out[out["role"] == "record"]
    dup = rec.duplicated(["claim", "task", "k"], keep=False)
    if dup.any():
        keys = rec[dup][["claim", "task", "k"]].values.tolist()
        raise InputError(f"claims: more than one row of record for {keys}")
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    floats = ["estimate", "conf_low", "conf_high", "statistic", "df", "p_value", "p_floor",
              "p_mc_low", "p_mc_high", "alpha"]
    out[floats] = out[floats].apply(pd.to_numeric, errors="coerce").astype(float)
    for c in ("k", "n_perm"):
        out[c] = pd.array([None if missing(x) else int(x) for x in out[c]], dtype="Int64")
    for c in ("claim", "task", "role", "test", "source_table", "scale", "conf_method",
              "p_method", "unit", "decision", "reason"):
        out[c] = out[c].map(lambda x: None if missing(x) and not isinstance(x, str) else str(x))
    out["headline"] = out["headline"].astype(bool)
    return out


def claim_decisions(claims: pd.DataFrame) -> pd.DataFrame:
    """The record rows only: one decision per claim x task x k."""
    return claims[claims["role"] == "record"].reset_index(drop=True)
