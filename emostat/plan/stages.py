"""The plan at each stage: what ``collect`` and ``analyse`` compare with it, what they record.

``collect`` compares its config, space and (once loaded, before anything is written) the
model's weights; it records the plan and its deviations in the manifest
(``preregistration``) beside the time the collection started (``started``: the first row comes
after it). ``analyse`` compares its choices (alpha, headline k, permutation counts, bootstrap
count, Mantel options, seed) and, for a run not collected under this plan, the run's recorded
config, space and weights; it writes the provenance field ``plan`` and the tables
``plan_deviations`` and ``plan_claims`` (schemas in :mod:`emostat.schemas`).
"""

from __future__ import annotations

import datetime as _dt

import pandas as pd

from emostat.constants import k_count
from emostat.errors import InputError
from emostat.plan.compare import COLLECTION, DEVIATION_FIELDS, check, merge, parse_deviations
from emostat.plan.file import Plan, read_plan

RECORD_ROW = "the row marked record"      # a RECORD entry without a fixed test name
CLAIM_FIELDS = ("claim", "planned_test", "planned_table", "run_test", "run_table",
                "as_planned")


def collection_given(config: dict, space: dict | None = None, model: dict | None = None
                     ) -> dict:
    """What a collection would use: its config fields, the space (its provenance record) and
    the model's identity (with ``weight_sha256``) where known."""
    given = {k: v for k, v in config.items() if k not in ("model", "space")}
    if space is not None:
        given["space"] = space
    if model is not None:
        given["model"] = model
    return given


def open_plan(plan, deviations) -> tuple[Plan | None, dict]:
    """``plan`` (a Plan, a path or None) read with its hash checked, and ``deviations`` (a list
    of ``"field: reason"`` or a dict) checked against it."""
    if plan is not None and not isinstance(plan, Plan):
        plan = read_plan(plan)
    if isinstance(deviations, dict):
        return plan, parse_deviations([f"{k}: {v}" for k, v in deviations.items()], plan)
    return plan, parse_deviations(deviations, plan)


# options of `emostat analyse` that a collected run does not record: with a plan, those not
# given are the plan's (the rest come from the run's config, as without a plan)
ANALYSE_OPTIONS = {"n_boot": "n_boot", "mantel_top": "mantel_top",
                   "n_perm_mantel": "n_perm_mantel", "seed": "analysis_seed"}


def plan_options(plan: Plan | None, **given) -> dict:
    """``given`` (option -> value, None = not given) with the plan's value for each option of
    :data:`ANALYSE_OPTIONS` not given."""
    planned = plan.section("analysis") if plan is not None else {}
    return {k: planned.get(ANALYSE_OPTIONS.get(k, k)) if v is None else v
            for k, v in given.items()}


def check_collection(plan: Plan | None, deviations: dict, *, config: dict, space=None,
                     model=None, where: str = "emostat collect") -> list[dict]:
    """:func:`emostat.plan.compare.check` of a collection's settings (stage ``collect``): the
    config fields of the plan's design (the analysis choices a config may carry are checked by
    the analysis, with the values it uses), the space and the model."""
    if plan is None:
        return []
    design = plan.section("design")
    config = {k: v for k, v in config.items() if k in design}
    return check(plan, collection_given(config, space, model), deviations, stage=COLLECTION,
                 where=where)


def manifest_record(plan: Plan | None, deviations: list[dict]) -> dict | None:
    """The manifest's ``preregistration`` entry (None without a plan)."""
    if plan is None:
        return None
    return {**plan.record(), "deviations": merge(deviations)}


def headline_resolver(ks, n_neurons=None):
    """Planned and given headline k in one form: counts where the neuron count is known, else
    as written; None (the largest k) as that k where the ks are all counts or all fractions."""
    ks = list(ks or [])

    def count(k):
        if k is None:
            if n_neurons:
                return max(k_count(x, n_neurons) for x in ks) if ks else None
            return max(ks) if ks and len({isinstance(x, float) for x in ks}) == 1 else None
        return k_count(k, n_neurons) if (n_neurons and isinstance(k, float)) else k

    return lambda planned, given: (count(planned), count(given))


def _time(text):
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def check_analysis(plan: Plan | None, deviations: dict, *, choices: dict, manifest: dict,
                   ks, n_neurons=None, where: str = "emostat analyse") -> dict | None:
    """Compare an analysis with its plan (and, when the run was not collected under it, the
    run's recorded collection); return the provenance field ``plan`` (None without a plan).

    ``choices``: field -> value the analysis uses (``alpha``, ``headline_k`` as a count or
    None, ``n_perm``, ``n_perm_count``, ``n_boot``, ``mantel_top``, ``n_perm_mantel``,
    ``analysis_seed``); ``manifest``: the run's manifest (``{}`` for none)."""
    if plan is None:
        return None
    pre = manifest.get("preregistration") or {}
    if pre and pre.get("sha256") != plan.sha256:
        raise InputError(f"{where}: the run was collected under another plan ({pre.get('file')}"
                         f", sha256 {str(pre.get('sha256'))[:12]}), not {plan.path} (sha256 "
                         f"{plan.sha256[:12]}); analyse it with the plan it was collected under")
    carried = list(pre.get("deviations") or [])
    if not pre and manifest:
        carried = check_collection(plan, deviations, config=manifest.get("config") or {},
                                   space=manifest.get("space"), model=manifest.get("model"),
                                   where=where)
    found = check(plan, choices, deviations, stage="analyse", where=where,
                  resolve={"headline_k": headline_resolver(ks, n_neurons)})
    started = manifest.get("started")
    t_plan, t_start = _time(plan.written), _time(started)
    return {**plan.record(), "deviations": merge(carried, found),
            "collected_under_plan": bool(pre), "collection_started": started,
            "predates_collection": (None if t_plan is None or t_start is None
                                    else bool(t_plan < t_start))}


def plan_tables(record: dict | None, plan: Plan | None, claims: pd.DataFrame | None
                ) -> dict[str, pd.DataFrame]:
    """``plan_deviations`` (one row per deviation, possibly none) and ``plan_claims`` (each
    planned claim: its test of record as planned and as run, from the claims table)."""
    if record is None or plan is None:
        return {}
    devs = pd.DataFrame(record["deviations"], columns=list(DEVIATION_FIELDS)).astype(str)
    rows = []
    rec = (claims[claims["role"] == "record"] if claims is not None and len(claims)
           else pd.DataFrame(columns=["claim", "test", "source_table"]))
    for c in plan.doc.get("claims") or []:
        ran = rec[rec["claim"] == c.get("claim")]
        tests = sorted({str(t) for t in ran["test"].dropna()})
        tables = sorted({str(t) for t in ran["source_table"].dropna()})
        test, table = c.get("test"), c.get("table")
        if tests:           # run: in the planned table, by the planned test
            same = tables == [table] and (test == RECORD_ROW or tests == [test])
        else:               # not run: as planned only where the plan said so
            same = not c.get("tested", True)
        rows.append({"claim": c.get("claim"), "planned_test": test, "planned_table": table,
                     "run_test": "; ".join(tests) or None,
                     "run_table": "; ".join(tables) or None, "as_planned": bool(same)})
    return {"plan_deviations": devs,
            "plan_claims": pd.DataFrame(rows, columns=list(CLAIM_FIELDS))}
