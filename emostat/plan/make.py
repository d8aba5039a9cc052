"""``emostat plan``: the plan of a study, written before collection (docs/preregistration.md).

It is built from the options ``emostat run`` takes (config, quick, model(s), space, seed, alpha,
headline k) by the same code ``run`` uses to decide them, so the plan records what ``run`` would
do: the space (name, digest), the model(s) (source and the SHA-256 of the weight files: the
identity the collection records, hashed without loading the model), the design (every config
field that changes a dataset or a test; execution settings such as device and workers are not
planned), the claims with their tests of record (the claims module's ``RECORD`` table), alpha,
the headline k, permutation counts and the doubling rule that stops them, exclusions and the
analysis options.
"""

from __future__ import annotations

import inspect
import sys
import tomllib
from pathlib import Path

from emostat.errors import InputError
from emostat.plan.file import FORMAT, SCHEMA_VERSION, Plan, now, write_plan
from emostat.plan.stages import RECORD_ROW

# config fields that change neither a dataset nor a test: where and how fast a run executes
EXECUTION = ("device", "backend", "threads", "workers", "cpu_kernel", "ray_num_cpus",
             "ray_num_gpus", "ray_memory_gb", "ray_actors", "batch_size", "items_per_shard",
             "conditions_per_shard",
             # the reduced-precision guard: checked before the run, recorded in its manifest
             "precision_check_items", "precision_min_agreement")
OWN_SECTION = ("model", "space")


def model_identity(model) -> dict:
    """The identity of a model's weights without loading it: the SHA-256 ``collect`` records
    (of the GGUF file, or over the folder's safetensors files, names and contents; cached by
    path, size and mtime in emostat's cache, so the collection does not hash them again)."""
    from emostat.collect.models import resolve_source
    from emostat.collect.weights import file_digest, hash_files

    src = resolve_source(model)
    if src.gguf is not None:
        sha, how = file_digest(src.gguf), "SHA-256 of the GGUF file"
    else:
        files = sorted(p for p in src.folder.iterdir()
                       if p.suffix == ".safetensors" and p.is_file())
        if not files:
            raise InputError(f"model {src.text!r}: no safetensors weights to identify (emostat "
                             "refuses pickle checkpoints)")
        sha, how = hash_files(files), "SHA-256 over its safetensors files (names, contents)"
    return {"source": "embedded" if model is None else str(model), "name": src.name,
            "kind": src.kind, "weight_sha256": sha, "hashed": how}


def _unset(d: dict) -> dict:
    """A table without None values, their names in ``unset`` (TOML has no null)."""
    out = {k: v for k, v in d.items() if v is not None}
    none = sorted(k for k, v in d.items() if v is None)
    return {**out, "unset": none} if none else out


def design_fields(cfg) -> dict:
    """The planned config fields of ``cfg`` (a CollectConfig): all but execution settings, the
    model and space (their own tables) and the analysis choices (the analysis table); the
    prompt-tuning fields only in prompt-tuning mode (as the run's fingerprint)."""
    from emostat.collect.config import ANALYSIS_FIELDS, PT_FIELDS, SLURM_DEFAULTS

    skip = set(EXECUTION) | set(SLURM_DEFAULTS) | set(OWN_SECTION) | set(ANALYSIS_FIELDS)
    if cfg.representation == "zero_shot":
        skip |= set(PT_FIELDS) - {"representation"}
    return {k: v for k, v in cfg.to_dict().items() if k not in skip}


def analysis_fields(cfg, *, seed, alpha, headline_k) -> dict:
    """The analysis settings ``run`` would use: the choices (options over the config over the
    defaults, :func:`emostat.analysis.pipelines.choices.run_choices`), the bootstrap count of
    :func:`analyse_run`, the searchlight's Mantel options and the analysis seed."""
    from emostat.analysis.pipelines import analyse_run
    from emostat.analysis.pipelines.choices import run_choices
    from emostat.analysis.pipelines.steps import SEARCHLIGHT_PERM

    ch = run_choices({"alpha": alpha, "headline_k": headline_k}, cfg.to_dict(), cfg.ks,
                     config_where="config", given_where="emostat plan")
    mantel = dict(SEARCHLIGHT_PERM)                   # the same in both profiles
    return {"alpha": ch["alpha"], "headline_k": ch["headline_k"], "n_perm": ch["n_perm"],
            "n_perm_count": ch["n_perm_count"],
            "n_boot": _default(analyse_run, "n_boot"),
            "mantel_top": mantel["mantel_top"], "n_perm_mantel": mantel["n_perm_mantel"],
            "analysis_seed": _default(analyse_run, "seed") if seed is None else int(seed)}


def _default(fn, name: str):
    return inspect.signature(fn).parameters[name].default


def stopping_rules() -> dict:
    """The doubling rule of the permutation tests, with each family's cap as the code has it."""
    from emostat.analysis.engines.mantel import MAX_PERM_FACTOR, mantel_decided
    from emostat.analysis.neurons.neuronnull import decided_null

    def cap(fn):
        return int(inspect.signature(fn).parameters["factor"].default)

    return {"rule": "a permutation test's draws are doubled (new draws, the same seeds) while "
                    "the Clopper-Pearson 95% interval of its record p contains alpha, up to "
                    "factor x its first count; a count asked above the default starts from "
                    "the default doubled until it reaches the count",
            "factor": {"neuron_max_t": cap(decided_null), "mantel": cap(mantel_decided),
                       "importance_link": int(MAX_PERM_FACTOR),
                       "geometry_max_over_layers": int(MAX_PERM_FACTOR)}}


def claim_rows(kind: str, cfg, space) -> list[dict]:
    """One row per claim of ``kind`` from the claims module's RECORD table, with whether this
    design can test it and why not."""
    from emostat.analysis.claims.table import LINK_MIN_ATTRIBUTES, RECORD
    from emostat.analysis.pipelines.runspace import untested_claims
    from emostat.console.headline import CLAIM_TEXT

    untested = untested_claims(space)
    geometry = {"layer_rsa", "pc_attribute", "probe", "steering"}
    tasked = {"masking", "link", "above_chance"}
    rows = []
    for (claim, k), rec in RECORD.items():
        if k != kind:
            continue
        row = {"claim": claim, "statement": CLAIM_TEXT.get(claim, claim),
               "test": rec.test or RECORD_ROW, "table": rec.table}
        if rec.column is not None:
            row["rows"] = f"{rec.column} = {rec.value}"
        why = untested.get(claim)
        if why is None and claim in geometry and not cfg.geometry:
            why = "the geometry stage is off (config geometry = false)"
        if why is None and claim in tasked and not cfg.tasks:
            why = "no inference tasks (activations only)"
        n_att = len(cfg.attributes) if cfg.attributes is not None else space.n_attributes
        if why is None and claim == "link" and n_att < LINK_MIN_ATTRIBUTES:
            why = (f"the link is a correlation over attributes and this design masks {n_att}; "
                   f"it needs at least {LINK_MIN_ATTRIBUTES}")
        row["tested"] = why is None
        if why:
            row["why_not"] = why
        rows.append(row)
    return rows


def exclusions(cfg, space, alpha: float) -> list[dict]:
    """The rules that leave data or claims out, as the analysis applies them."""
    from emostat.analysis.masking.experiment import CHANCE_METHOD
    from emostat.analysis.pipelines.runspace import untested_claims
    from emostat.tasks import TASKS

    out = []
    if cfg.tasks:
        chance = ", ".join(f"{t} {TASKS[t].chance(space):.3g}" for t in cfg.tasks)
        out.append({"what": "tasks at chance",
                    "rule": f"a task whose unmanipulated accuracy is not above chance "
                            f"({CHANCE_METHOD}, p >= alpha = {alpha:g}; chance: {chance}) is "
                            "left out of the causal tests (its claims: not tested)"})
    untested = untested_claims(space)
    if untested:
        out.append({"what": "claims the space cannot test", "claims": sorted(untested),
                    "rule": next(iter(untested.values()))})
    return out


def build(*, config=None, models=None, space=None, quick: bool = False, seed=None,
          alpha=None, headline_k=None, items_per_concept=None, command: str | None = None
          ) -> dict:
    """The plan document (without its hash) for the options of ``emostat run``."""
    from emostat.collect.config import run_space
    from emostat.collect.driver import build_config, tasks_for_space
    from emostat.version import __version__

    cfg = build_config(config, quick=quick, seed=seed, space=space,
                       items_per_concept=items_per_concept)
    cfg = tasks_for_space(cfg, run_space(cfg))       # as the collection will
    sp = run_space(cfg)
    models = list(models or [None])
    profile = "quick" if quick else "default"
    if config is not None and not quick:
        profile = tomllib.loads(Path(config).read_text()).get("profile", "default")
    analysis = analysis_fields(cfg, seed=seed, alpha=alpha, headline_k=headline_k)
    prov = sp.provenance()
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "written": now(),
           "emostat_version": __version__, "kind": "experiment"}
    if command:
        doc["command"] = command
    doc["space"] = _unset({"name": sp.name, "digest": sp.digest, "source": space or "study",
                           "language": prov.get("language"), "n_concepts": sp.n_concepts,
                           "n_attributes": sp.n_attributes, "attributes": list(sp.attributes),
                           "similarity": bool(sp.has_similarity),
                           "human_data": bool(sp.human_data)})
    doc["design"] = _unset({"profile": profile, **design_fields(cfg)})
    doc["analysis"] = _unset(analysis)
    doc["stopping"] = stopping_rules()
    doc["models"] = [model_identity(m) for m in models]
    doc["claims"] = claim_rows("experiment", cfg, sp)
    ex = exclusions(cfg, sp, analysis["alpha"])
    if ex:
        doc["exclusions"] = ex
    return doc


def make_plan(out, *, markdown: bool = False, **options) -> Plan:
    """Write the plan of ``options`` (those of :func:`build`) to ``out`` (refused when it
    exists); with ``markdown`` also ``out`` with suffix ``.md``. Returns the plan read back."""
    out = Path(out)
    md = out.with_suffix(".md")
    if markdown and md.exists():
        raise InputError(f"{md}: exists; choose another plan file name")
    doc = build(command=" ".join(["emostat", *sys.argv[1:]]) if options.pop("cli", False)
                else None, **options)
    plan = write_plan(doc, out)
    if markdown:
        from emostat.plan.markdown import to_markdown

        md.write_text(to_markdown(plan), encoding="utf-8")
    return plan
