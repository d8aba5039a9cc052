"""A run checked against its plan: every setting the plan fixes, compared with the value the
command would use; a difference is refused unless declared as a deviation with a reason.

Pure functions on dicts (no collect, no analysis import), used by ``collect``, ``analyse`` and
``run`` before they write anything. A setting is named by its *field*: the config key or option
name (``alpha``, ``headline_k``, ``ks``, ``n_random_draws``, ...), ``model`` (the weights'
SHA-256), ``space`` (the space's digest) and, for the analysis' own seed, ``analysis_seed``.
A deviation is declared as ``--deviation "field: reason"`` (the option spelling ``--alpha`` is
accepted for ``alpha``) and recorded as data: ``{field, stage, planned, given, reason}``.
"""

from __future__ import annotations

import json

from emostat.errors import InputError
from emostat.plan.file import Plan

SECTIONS = ("design", "analysis")
# the design table's entries that are not settings (how the plan was made)
INFO = ("profile",)
# what the analysis of a collected run takes from the collection (compared at `analyse` when
# the run was not collected under this plan)
COLLECTION = "collect"
DEVIATION_FIELDS = ("field", "stage", "planned", "given", "reason")


def field_name(text: str) -> str:
    """A field as the user may write it (``--headline-k``, ``headline-k``) -> ``headline_k``."""
    return text.strip().lstrip("-").replace("-", "_")


def planned_values(plan: Plan) -> dict:
    """Every setting the plan fixes: field -> value (None for a field planned unset)."""
    out = {}
    for name in SECTIONS:
        out.update({k: v for k, v in plan.section(name).items() if k not in INFO})
    out["model"] = list(plan.doc.get("models") or [])
    out["space"] = dict(plan.doc.get("space") or {})
    return out


def parse_deviations(texts, plan: Plan | None) -> dict[str, str]:
    """``["field: reason", ...]`` -> ``{field: reason}``; each field one the plan fixes, each
    reason non-empty, each field once. InputError (one line) otherwise."""
    texts = list(texts or [])
    if texts and plan is None:
        raise InputError("--deviation needs --plan FILE (a deviation is from a plan)")
    if plan is None:
        return {}
    known = planned_values(plan)
    out: dict[str, str] = {}
    for text in texts:
        name, sep, reason = str(text).partition(":")
        name, reason = field_name(name), reason.strip()
        if not sep or not name or not reason:
            raise InputError(f"--deviation {text!r}: expected \"field: reason\" (e.g. "
                             "\"alpha: the journal asks for .005\")")
        if name not in known:
            raise InputError(f"--deviation {text!r}: {name!r} is not a setting of the plan "
                             f"{plan.path} (fields: {', '.join(sorted(known))})")
        if name in out:
            raise InputError(f"--deviation {text!r}: field {name!r} is declared twice")
        out[name] = reason
    return out


def show(field: str, value) -> str:
    """A value as the messages, tables and reports print it."""
    if field == "model":
        items = value if isinstance(value, list) else [value]
        return "; ".join(_model_text(m) for m in items) or "none"
    if field == "space":
        v = value or {}
        d = str(v.get("digest") or "")
        return f"{v.get('name', '?')}" + (f" (digest {d[:12]})" if d else "")
    if value is None:
        return "unset"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _model_text(m) -> str:
    m = m or {}
    sha = str(m.get("weight_sha256") or "")
    return f"{m.get('name') or m.get('source') or '?'}" + (f" (sha256 {sha[:12]})" if sha else "")


def _same(field: str, planned, given) -> bool:
    if field == "model":
        want = {m.get("weight_sha256") for m in planned if m.get("weight_sha256")}
        got = [m.get("weight_sha256") for m in (given if isinstance(given, list) else [given])]
        # one collected model: one of the planned; a run's list: the planned set
        return (set(got) == want) if isinstance(given, list) else (got[0] in want)
    if field == "space":
        return (planned or {}).get("digest") == (given or {}).get("digest")
    if isinstance(planned, (list, tuple)) and isinstance(given, (list, tuple)):
        return list(planned) == list(given)
    if isinstance(planned, bool) or isinstance(given, bool):
        return planned is given
    return planned == given


def check(plan: Plan | None, given: dict, deviations: dict[str, str], *, stage: str,
          where: str, resolve=None) -> list[dict]:
    """Compare ``given`` (field -> the value this command would use) with the plan.

    ``resolve``: field -> function(planned, given) -> (planned, given) put in comparable form
    (e.g. the headline k as a count). Returns the declared deviations found, as records; an
    undeclared difference raises one InputError naming every such field with both values, before
    the caller writes anything. No plan: nothing to check, ``[]``."""
    if plan is None:
        return []
    planned = planned_values(plan)
    found, refused = [], []
    for name, value in given.items():
        if name not in planned:
            continue                       # a setting this plan does not fix (older plan)
        p, g = planned[name], value
        if resolve and name in resolve:
            p, g = resolve[name](p, g)
        if _same(name, p, g):
            continue
        rec = {"field": name, "stage": stage, "planned": show(name, planned[name]),
               "given": show(name, value)}
        if name in deviations:
            found.append({**rec, "reason": deviations[name]})
        else:
            refused.append(rec)
    if refused:
        parts = "; ".join(f"{r['field']}: planned {r['planned']}, given {r['given']}"
                          for r in refused)
        raise InputError(f"{where}: {len(refused)} setting(s) contradict the plan {plan.path} "
                         f"(sha256 {plan.sha256[:12]}): {parts}. Use the planned value(s) or "
                         "declare each with --deviation \"field: reason\"; nothing was written")
    return found


def merge(*lists) -> list[dict]:
    """Deviation records of several stages, one per field and stage (first kept)."""
    seen, out = set(), []
    for recs in lists:
        for r in recs or []:
            key = (r["field"], r["stage"])
            if key not in seen:
                seen.add(key)
                out.append({k: r.get(k) for k in DEVIATION_FIELDS})
    return out
