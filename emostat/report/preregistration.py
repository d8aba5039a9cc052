"""The report's account of the plan (reports/_plan.qmd, _plan_tables.qmd), rendered from the
results: the provenance field ``plan`` and the tables ``plan_claims`` and ``plan_deviations``
(:mod:`emostat.plan.stages`). Without a plan: one line, "not pre-registered"."""

from __future__ import annotations

import pandas as pd

from emostat.plan.text import plan_line, when


def statement(run) -> str:
    """The plan's one line (hash, date, before or after the first collected row, deviations)."""
    pre = (run.manifest or {}).get("preregistration") or (
        (run.provenance.get("collect_manifest") or {}).get("preregistration")) or {}
    return plan_line(run.provenance.get("plan"), pre.get("sha256"), markdown=True)


def runs_statement(runs) -> str:
    """The comparison report's line: one plan statement when every run says the same (e.g.
    none has a plan), else one bullet per run."""
    lines = [statement(r) for r in runs]
    if len(set(lines)) == 1:
        return lines[0]
    return "\n".join(f"- **{r.label}.** {line}" for r, line in zip(runs, lines))


def registered(run) -> bool:
    return bool(run.provenance.get("plan")) and run.has("plan_claims")


def plan_summary(run) -> str:
    """The plan's full hash, file and time (the statement gives the first 16 digits)."""
    rec = run.provenance.get("plan") or {}
    started = rec.get("collection_started")
    text = (f"The plan file `{rec.get('file')}` has SHA-256 `{rec.get('sha256')}`; it was "
            f"written {when(rec.get('written'))} by emostat {rec.get('emostat_version')}")
    text += (f"; the collection started {when(started)}." if started else ".")
    return text + (" Each claim's test of record as planned and as run is below; a setting "
                   "that departs from the plan is run only when declared with a reason, and "
                   "every such deviation is listed.")


def tests_table(run) -> pd.DataFrame | None:
    """Claim, planned test (table), test run (table), whether as planned."""
    t = run.get("plan_claims")
    if t is None or not len(t):
        return None

    def where(test, table):
        if test is None or pd.isna(test):
            return "not run"
        return f"{test} ({table})"

    return pd.DataFrame({
        "Claim": t["claim"],
        "Planned test of record": [where(a, b) for a, b in zip(t["planned_test"],
                                                              t["planned_table"])],
        "Test run": [where(a, b) for a, b in zip(t["run_test"], t["run_table"])],
        "As planned": ["yes" if x else "no" for x in t["as_planned"]]})


def deviations_table(run) -> pd.DataFrame | None:
    """One row per declared deviation (None when there are none: the statement says so)."""
    t = run.get("plan_deviations")
    if t is None or not len(t):
        return None
    return pd.DataFrame({"Setting": t["field"], "Stage": t["stage"], "Planned": t["planned"],
                         "Run": t["given"], "Reason": t["reason"]})
