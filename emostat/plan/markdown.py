"""A plan as plain Markdown, for a registry (OSF, AsPredicted) or a registered report:
``emostat plan --markdown`` (beside the TOML) or ``emostat plan show FILE`` (to stdout)."""

from __future__ import annotations

from emostat.plan.compare import show
from emostat.plan.file import Plan

UNSET = {"headline_k": "the largest of the run's k", "items_per_emotion": "all",
         "emotions": "all of the space's", "attributes": "all of the space's",
         "templates": "all shipped", "chat": "when the tokenizer has a chat template",
         "goemotions": "none"}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(rows, head) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def _settings(plan: Plan, name: str) -> list[str]:
    d = plan.section(name)
    rows = [(f"`{k}`", UNSET.get(k, "unset") if v is None else show(k, v))
            for k, v in d.items()]
    return _table(rows, ["Setting", "Value"])


def to_markdown(plan: Plan) -> str:
    """The plan, every section, as Markdown (headings, tables, no HTML)."""
    doc = plan.doc
    sp = doc.get("space") or {}
    models = doc.get("models") or []
    names = ", ".join(m.get("name", "?") for m in models)
    out = [f"# Analysis plan: space {sp.get('name', '?')} on {names}", "",
           f"- SHA-256 of the plan file: `{plan.sha256}`",
           f"- Written: {plan.written} (UTC)",
           f"- emostat {doc.get('emostat_version', '?')}, plan format "
           f"{doc.get('format')} version {doc.get('schema_version')}, kind {plan.kind}"]
    if doc.get("command"):
        out.append(f"- Command: `{doc['command']}`")
    out += ["", "## Concept space", ""]
    out += _table([(f"`{k}`", show(k, v)) for k, v in sp.items() if k != "unset"],
                  ["Field", "Value"])
    out += ["## Model(s)", ""]
    out += _table([(m.get("name"), m.get("source"), m.get("kind"),
                    f"`{m.get('weight_sha256')}`", m.get("hashed")) for m in models],
                  ["Name", "Source", "Kind", "Weights SHA-256", "Hashed"])
    out += ["## Design", "", "Every collection setting that changes a dataset or a test "
            "(execution settings such as device and workers are not planned).", ""]
    out += _settings(plan, "design")
    out += ["## Claims and their tests of record", "",
            "Fixed per claim before the data are seen; conclusions follow these tests.", ""]
    out += _table([(c.get("claim"), c.get("statement"), f"`{c.get('test')}`",
                    f"`{c.get('table')}`" + (f" ({c['rows']})" if c.get("rows") else ""),
                    "yes" if c.get("tested") else f"no: {c.get('why_not', '')}")
                   for c in doc.get("claims") or []],
                  ["Claim", "Statement", "Test of record", "Results table", "Tested"])
    out += ["## Alpha, headline k, permutations and analysis options", ""]
    out += _settings(plan, "analysis")
    stop = doc.get("stopping") or {}
    if stop:
        caps = ", ".join(f"{k} {v}x" for k, v in (stop.get("factor") or {}).items())
        rule = str(stop.get("rule", ""))
        out += ["## Stopping rule of the permutation tests", "",
                f"{rule[:1].upper()}{rule[1:]} (factor: {caps}).", ""]
    ex = doc.get("exclusions") or []
    out += ["## Exclusions", ""]
    out += [f"- **{e.get('what')}**: {e.get('rule')}" + (
        f" (claims: {', '.join(e['claims'])})" if e.get("claims") else "") for e in ex] or [
        "- none"]
    out += ["", "## Deviations", "",
            "A run that departs from this plan is refused unless each departure is declared "
            "with a reason (`--deviation \"field: reason\"`); emostat records every deviation "
            "in the run's manifest and results, and the report lists them.", ""]
    return "\n".join(out)
