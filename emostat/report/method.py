"""The Method and the appendix of a report: the run's settings, its differences from the
study, the parts left out, and a short summary of its provenance record — all read from the
run's provenance and manifest, never typed by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from emostat import format as fmt
from emostat.report.view import Markdown, k_text

def compact_list(v, limit: int = 12) -> str:
    """A list in run-length / range notation: ``[1536]*30`` → ``1536 × 30``,
    ``[0, 1, ..., 11]`` → ``0–11``; long irregular lists are cut with their length."""
    v = list(v)
    if not v:
        return "none"
    ints = all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v)
    if ints and len(v) >= 3 and all(b - a == 1 for a, b in zip(v, v[1:])):
        return f"{v[0]}–{v[-1]}"
    runs: list[list] = []
    for x in v:
        if runs and runs[-1][0] == x:
            runs[-1][1] += 1
        else:
            runs.append([x, 1])
    parts = [f"{x} × {n}" if n > 2 else ", ".join([str(x)] * n) for x, n in runs]
    if len(parts) > limit:
        return ", ".join(parts[:limit]) + f", … ({len(v)} values)"
    return ", ".join(parts)


HEX = re.compile(r"\b[0-9a-f]{32,}\b")


def breakable(s: str) -> str:
    """A provenance value fit for a narrow table cell: SHA-256 digests shortened to their first
    16 hex digits (the full ones are in provenance.json), long paths given break points after
    ``/`` (zero-width spaces), so that no cell runs off a PDF page."""
    s = HEX.sub(lambda m: m.group(0)[:16] + "…", str(s))
    return s.replace("/", "/\u200b") if len(s) > 40 else s


def model_line(prov: dict, manifest: dict | None = None) -> str:
    """The model with its weights' format: ``SmolLM2-135M-Instruct (GGUF Q4_1, dequantised to
    float32)``; a plain ``name (dtype)`` otherwise."""
    for rec in (manifest or {}, prov):
        m = rec.get("model")
        if isinstance(m, dict):
            name = m.get("name") or Path(str(m.get("source") or "model")).stem
            dtype = m.get("dtype") or rec.get("dtype")
            src = str(m.get("source") or "")
            q = re.search(r"\.((?:I?Q\d\w*)|F16|BF16|F32)\.gguf$", src, flags=re.I)
            if src.lower().endswith(".gguf"):
                quant = f"GGUF {q.group(1).upper()}" if q else "GGUF"
                return f"{name} ({quant}, dequantised to {dtype or 'float32'})"
            return f"{name} ({dtype})" if dtype else str(name)
        if m:
            return str(m)
    return ""


def precision_line(manifest: dict | None) -> str:
    """How the run's arithmetic was chosen and checked (the manifest's ``precision`` record):
    empty for a plain float32 run."""
    rec = (manifest or {}).get("precision")
    if not isinstance(rec, dict):
        return ""
    chosen = rec.get("chosen") or (manifest or {}).get("dtype") or rec.get("dtype")
    auto = ("; chosen by dtype auto" + (", native bfloat16 on this host"
                                        if rec.get("native_bf16") else "")
            if rec.get("auto") else "")
    if not rec.get("checked"):
        return f"{chosen}{auto}" if rec.get("auto") else ""
    lo, hi = (rec.get("agreement_ci95") or [None, None])[:2]
    r = rec.get("margin_r")
    what = rec.get("dtype") + (" with int8 layers" if rec.get("quantize") == "int8" else "")
    check = (f"{what} decided like float32 on {rec.get('n_agree')} of {rec.get('n_items')} of "
             f"the run's items (agreement {fmt.fmt_num(rec.get('agreement'), 3)}"
             + (f", 95% CI {fmt.fmt_num(lo, 2)}–{fmt.fmt_num(hi, 2)}" if lo is not None else "")
             + (f"; margin r {fmt.fmt_num(r, 4)}" if r is not None else "")
             + f"; threshold {rec.get('threshold')})")
    if chosen != rec.get("dtype"):
        return f"{chosen}{auto}: {check}, below the threshold"
    return f"{chosen}{auto}, after {check}"


def json_value(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def provenance_rows(prov: dict, max_files: int = 12) -> pd.DataFrame:
    """Provenance record → a compact two-column (Item, Value) frame.

    Nested dicts are flattened (``config: device``); lists in run-length / range notation
    (:func:`compact_list`); ``None`` values and the prompt-tuning ``pt_*`` settings of a run
    that did not prompt-tune are dropped; a dict of more than ``max_files`` path → hash
    entries is summarised as its count and one SHA-256 over the sorted ``path  hash`` lines
    (as ``sha256sum`` would list them); a dict of templates as their count and ids.
    """
    rows = []
    nested = [v for v in prov.values() if isinstance(v, dict) and isinstance(v.get("config"), dict)]
    cfg = prov.get("config") if isinstance(prov.get("config"), dict) else (
        nested[0]["config"] if nested else {})
    prompt_tuned = str(cfg.get("representation", prov.get("representation", ""))) == \
        "prompt_tuning"
    uses_ray = str(cfg.get("backend", "")) == "ray"
    # a nested record (e.g. the collection manifest inside the analysis provenance) repeats
    # much of the outer one: a leaf equal to the outer leaf of the same name is shown once
    outer = {str(k): json_value(v) for k, v in prov.items()}
    seen = set()

    def walk(prefix, key, v, depth=0):
        if v is None or (not prompt_tuned and str(key).startswith("pt_")) or (
                not uses_ray and str(key).startswith("ray_")) or key in ("out", "complete"):
            return
        if depth == 1 and outer.get(str(key)) == json_value(v):
            return
        if isinstance(v, (str, int, float, bool)) and (str(key), str(v)) in seen:
            return
        if isinstance(v, (str, int, float, bool)) and depth <= 1:
            seen.add((str(key), str(v)))
        if key == "package_versions" and isinstance(v, dict):
            rows.append((prefix, ", ".join(f"{k2} {v2}" for k2, v2 in v.items())))
        elif key == "templates" and isinstance(v, dict):
            rows.append((prefix, f"{len(v)} ({compact_list(list(v))})"))
        elif isinstance(v, dict) and len(v) > max_files and all(
                isinstance(x, str) for x in v.values()):
            lines = "".join(f"{k2}  {v2}\n" for k2, v2 in sorted(v.items()))
            digest = hashlib.sha256(lines.encode()).hexdigest()
            rows.append((prefix, f"{len(v)} files; SHA-256 over their sorted hashes: {digest}"))
        elif isinstance(v, dict) and prefix and len(v) >= 3 and all(
                x is None or isinstance(x, (str, int, float, bool, list, tuple))
                for x in v.values()):
            # a record of plain settings: one row "key value; key value" (it wraps)
            parts = []
            for k2, v2 in v.items():
                if v2 is None or (not prompt_tuned and str(k2).startswith("pt_")) or (
                        not uses_ray and str(k2).startswith("ray_")) or (
                        depth + 1 == 1 and outer.get(str(k2)) == json_value(v2)):
                    continue
                val = compact_list(v2) if isinstance(v2, (list, tuple)) else str(v2)
                parts.append(f"{str(k2).replace('_', ' ')} {val}")
            if parts:
                rows.append((prefix, "; ".join(parts)))
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                # spaces, not dots, between levels: a long key can wrap in a PDF table cell
                name = str(k2).replace("_", " ")
                if name == "collect manifest":
                    name = "collection"
                walk(f"{prefix}: {name}" if prefix else name, k2, v2,
                     depth + (1 if prefix else 0) if isinstance(v2, dict) else depth + 1)
        elif isinstance(v, (list, tuple)):
            rows.append((prefix, compact_list(v)))
        else:
            rows.append((prefix, str(v)))

    walk("", "", prov, -1)
    return pd.DataFrame(rows, columns=["Item", "Value"])


def left_out(run, parts: dict) -> list:
    """``[(name, tables)]`` of the report parts none of whose tables ``run`` has.

    ``parts`` maps a part's name (a section or figure) to the tables it is drawn from.
    """
    return [(name, tuple(tabs)) for name, tabs in parts.items()
            if not any(run.has(t) for t in tabs)]


def left_out_line(items) -> Markdown:
    """The one line of the method that says which parts are left out and why ("" if none)."""
    if not items:
        return Markdown("")
    bits = [f"{name} (this run has no {' or '.join(f'`{t}`' for t in tabs)} table)"
            for name, tabs in items]
    return Markdown("Left out for lack of their results tables: " + "; ".join(bits) + ".")


def heading(title: str, run, tables, level: int = 1) -> Markdown:
    """A section heading when ``run`` has any of ``tables`` ("" otherwise)."""
    return Markdown(f"{'#' * level} {title}\n") if any(run.has(t) for t in tables) \
        else Markdown("")


def resampling_counts(run) -> dict:
    """``{"n_boot": {value: [tables]}, "n_perm": {...}}`` read from the run's tables (their
    ``n_boot`` / ``n_perm`` columns), so the Method states what the tables used."""
    out: dict = {"n_boot": {}, "n_perm": {}}
    for name in run.tables():
        if name in ("claims",):
            continue
        cols = set(pq.read_schema(run.path(name)).names)
        for key in out:
            if key in cols:
                v = pd.read_parquet(run.path(name), columns=[key])[key].dropna()
                for x in sorted(set(int(x) for x in v if x > 0)):
                    out[key].setdefault(x, []).append(name)
    return out


def resampling_line(counts: dict, label: str) -> str:
    """``10,000 (attribute_importance, whole_model_rsa); 199 (neuron_count_null)``."""
    return "; ".join(f"{fmt.fmt_num(v, 0, big_mark=',')} ({', '.join(t)})"
                     for v, t in sorted(counts.items(), reverse=True))


def settings_list(prov: dict, manifest: dict | None = None, ks=(), counts: dict | None = None,
                  first_concept: str | None = None) -> Markdown:
    """The run's settings as a short Markdown list (never a dumped dict). Resampling counts
    come from the tables (``counts``: :func:`resampling_counts`), else from the provenance;
    templates are listed with the first concept's word (and any ``{name}`` placeholder) shown as
    ``[concept]`` (``[name]``)."""
    manifest = manifest or {}
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    items = []
    line = model_line(prov, manifest)
    if line:
        items.append(f"Model: {line}")
    line = precision_line(manifest)
    if line:
        items.append(f"Arithmetic: {line}")
    if "seed" in prov:
        items.append(f"Master seed: {prov['seed']}")
    for key, label in (("n_boot", "Bootstrap resamples"), ("n_perm", "Permutations")):
        got = (counts or {}).get(key)
        if got:
            items.append(f"{label}: {resampling_line(got, label)}")
        elif key in prov:
            items.append(f"{label}: {fmt.fmt_num(prov[key], 0, big_mark=',')}")
    if ks:
        items.append("k: " + ", ".join(k_text(k) for k in ks))
    for key, label in (("tasks", "Tasks"), ("items_per_emotion", "Items per concept"),
                       ("attributes", "Attributes masked"), ("n_random_draws", "Random masks"),
                       ("device", "Device"), ("representation", "Representation")):
        v = cfg.get(key, manifest.get(key))
        if v is not None and v != []:
            items.append(f"{label}: {compact_list(v) if isinstance(v, list) else v}")
    out = "\n".join(f"- {i}" for i in items)
    tpl = manifest.get("templates")
    if isinstance(tpl, dict) and tpl:
        shown = []
        for tid, t in tpl.items():
            if first_concept:
                t = re.sub(rf"\b{re.escape(first_concept)}\b", "[concept]", str(t))
            # a format placeholder ("{concept}") is named plainly, as the concept's word is
            t = re.sub(r"[{]([A-Za-z_]+)[}]", r"[\1]", str(t))
            shown.append(f"{tid}: “{t}”")
        how = (", the concept's word shown as [concept]" if first_concept else "")
        out += f"\n- Templates ({len(tpl)}{how}): " + "; ".join(shown)
    return Markdown(out + "\n" if out else "")


def differences(run, n_concepts: int, n_attributes: int) -> Markdown:
    """The run's differences from the study, read from its configuration and provenance: the
    situations (stimuli), the model, the task(s), the human data and the random control."""
    prov, man = run.provenance, run.manifest
    cfg = man.get("config") if isinstance(man.get("config"), dict) else {}
    items = []
    model = model_line(prov, man)
    if str(prov.get("kind", "")) != "reproduction":
        items.append(f"**Model.** The study prompt-tuned RoBERTa-base; this run uses "
                     f"{model or 'the model named in the provenance'}"
                     + (f" ({cfg['representation']} representation)"
                        if cfg.get("representation") else "") + ".")
        space = (prov.get("space") or man.get("space") or {})
        human = space.get("human_data") if isinstance(space, dict) else None
        name = space.get("name") if isinstance(space, dict) else None
        tasks = cfg.get("tasks") if "tasks" in cfg else man.get("tasks")
        if tasks:
            tasks = tasks if isinstance(tasks, list) else [tasks]
            items.append(f"**Task.** The study scored one binary task per emotion prompt; this "
                         f"run scores {', '.join(map(str, tasks))}.")
            stim = cfg.get("stimuli") or man.get("stimuli") or cfg.get("items")
            where = (f"`{stim}`" if isinstance(stim, str) and stim != "shipped" else
                     f"the stimuli.csv of the space `{name}`" if name else
                     "the ones listed in its manifest")
            items.append("**Situations.** The study's situations are not in its release; this "
                         f"run's items are {where}.")
        elif tasks == []:
            items.append("**Task.** The study scored one binary task per emotion prompt; this "
                         "run has no tasks (concept activations only: no masking).")
        items.append(f"**Human data.** {n_concepts} concepts × {n_attributes} attributes"
                     + (f" from the space `{name}`" if name else "")
                     + ("; illustrative ratings, not human judgements" if human is False else
                        "" if human else "; the provenance does not record their source")
                     + ".")
        draws = cfg.get("n_random_draws") or man.get("n_random_draws")
        items.append("**Random control.** The study drew one random neuron set per attribute "
                     "and k" + (f"; this run draws {draws} and tests each attribute mask "
                                f"against their population" if draws else "") + ".")
    items.append("**Multiple comparisons.** The study's q = p·N/rank(p) is not the "
                 "Benjamini–Hochberg procedure; both are reported, named.")
    return Markdown("\n".join(f"- {i}" for i in items) + "\n")


def provenance_summary(prov: dict, manifest: dict | None = None) -> pd.DataFrame:
    """At most a page: what produced the run (version, created, seed, model, packages) and the
    file record summarised (file count, rows, one SHA-256 over the sorted ``path  hash`` lines);
    the full record stays in results/provenance.json and the manifest."""
    manifest = manifest or {}
    rows = []
    for key, label in (("emostat_version", "emostat"), ("created", "Created"),
                       ("python", "Python"), ("kind", "Kind"), ("seed", "Master seed")):
        v = prov.get(key, manifest.get(key))
        if v is not None:
            rows.append((label, str(v)))
    m = model_line(prov, manifest)
    if m:
        rows.append(("Model", m))
    sp = prov.get("space") or manifest.get("space")
    if isinstance(sp, dict) and sp.get("name"):
        rows.append(("Concept space", f"{sp['name']} (SHA-256 {str(sp.get('digest', ''))[:16]}…)"
                     if sp.get("digest") else str(sp["name"])))
    for label, rec in (("Source files", prov.get("source_files")),
                       ("Collected files", manifest.get("files") or manifest.get("shards"))):
        s = file_record_summary(rec)
        if s:
            rows.append((label, s))
    pv = prov.get("package_versions") or manifest.get("package_versions")
    if isinstance(pv, dict):
        rows.append(("Packages", ", ".join(f"{k} {v}" for k, v in pv.items())))
    rows.append(("Full record", "results/provenance.json" + (" and manifest.json"
                                                             if manifest else "")))
    return pd.DataFrame(rows, columns=["Item", "Value"])


def file_record_summary(rec) -> str:
    """``N files, R rows; SHA-256 of the record: <16 hex>…`` for a file record (a dict
    path → hash, path → {rows, sha256, ...} or a list of such records)."""
    if not rec:
        return ""
    if isinstance(rec, dict):
        items = sorted(rec.items())
    elif isinstance(rec, list):
        items = sorted((str(r.get("path", i)) if isinstance(r, dict) else str(i), r)
                       for i, r in enumerate(rec))
    else:
        return ""
    n_files, n_rows = 0, 0
    for _, v in items:
        if isinstance(v, dict):
            n_files += int(v.get("n_files", 1))
            n_rows += int(v.get("rows", v.get("n_rows", 0)) or 0)
        else:
            n_files += 1
    digest = hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()
    return (f"{fmt.fmt_num(n_files, 0, big_mark=',')} files"
            + (f", {fmt.fmt_num(n_rows, 0, big_mark=',')} rows" if n_rows else "")
            + f"; SHA-256 of the record {digest[:16]}…")


def selection_sentence(sel) -> str:
    """Whether the masks silenced in collection are the reported searchlight's top-k sets
    (table ``mask_selection``); empty without the table."""
    if sel is None or sel.empty:
        return ""
    n, same = len(sel), int(sel["identical"].sum())
    if same == n:
        return (f"The {n} attribute masks silenced during collection are exactly the top-k "
                "neurons of the searchlight reported here.")
    worst = sel.loc[sel["jaccard"].idxmin()]
    return (f"{n - same} of the {n} attribute masks silenced during collection differ from the "
            "top-k neurons of the searchlight reported here (smallest overlap: "
            f"{worst['attribute']} at k = {int(worst['k']):,}, Jaccard {worst['jaccard']:.2f}); "
            "the masking results test the collected sets.")
