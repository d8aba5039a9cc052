"""The one line the console and the reports print about a run's plan, from the provenance field
``plan`` (:func:`emostat.plan.stages.check_analysis`); None or absent: not pre-registered."""

from __future__ import annotations

import datetime as _dt

NOT_REGISTERED = ("Not pre-registered: no analysis plan was given (write one with `emostat "
                  "plan` before collecting, then run with `--plan FILE`).")


def when(text) -> str:
    """An ISO time as ``2026-12-03 10:11:12 UTC`` (the text itself if it is not a time)."""
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return str(text)
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def _gap(a, b) -> str:
    try:
        s = (_dt.datetime.fromisoformat(str(b)) - _dt.datetime.fromisoformat(str(a)))
    except (TypeError, ValueError):
        return ""
    sec = abs(s.total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if sec >= size:
            n = sec / size
            return f"{n:.0f} {unit}{'s' if unit == 'day' and round(n) != 1 else ''}"
    return f"{sec:.0f} s"


def plan_line(rec: dict | None, collected_under: str | None = None,
              markdown: bool = False) -> str:
    """``Pre-registered: plan <hash> written <date>, <gap> before the first collected row; no
    deviations.`` or the not-pre-registered line (backticks only with ``markdown``).
    ``collected_under``: the hash of the plan the collection followed (its manifest), said
    when this analysis ran without it."""
    tick = "`" if markdown else ""
    if not rec:
        text = NOT_REGISTERED
        if collected_under:
            text = (f"Analysis not pre-registered: the collection followed plan "
                    f"`{str(collected_under)[:16]}`, but this analysis was run without "
                    "`--plan`.")
        return text if markdown else text.replace("`", "")
    sha = str(rec.get("sha256") or "")
    head = (f"Pre-registered: plan {tick}{sha[:16]}{tick} (SHA-256 of the plan file) written "
            f"{when(rec.get('written'))}")
    started, before = rec.get("collection_started"), rec.get("predates_collection")
    if before is True:
        head += f", {_gap(rec.get('written'), started)} before the first collected row"
    elif before is False:
        head += (f", after the collection had started ({when(started)}): it fixes the analysis,"
                 " not the collection")
    else:
        head += " (the collection's start is not recorded, so it is not known whether the plan "\
                "predates the data)"
    devs = rec.get("deviations") or []
    if not devs:
        return head + "; no deviations."
    fields = ", ".join(sorted({str(d.get("field")) for d in devs}))
    n = len(devs)
    return head + f"; {n} declared deviation{'s' if n != 1 else ''} ({fields})."
