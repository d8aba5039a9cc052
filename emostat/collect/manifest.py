"""A collection run's record: provenance embedded in every file, the run's fingerprint and
plan (``plan.json``), phase times and ``manifest.json`` (with the record of every file)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from emostat import io
from emostat.checks import COLLECT_PACKAGES, package_versions
from emostat.collect.config import CollectConfig, run_space
from emostat.collect.items import task_prompts
from emostat.collect.stages import NONE
from emostat.errors import InputError
from emostat.plan.file import now


def run_provenance(cfg: CollectConfig, ident: dict) -> dict:
    """The record embedded in every file of a run (and the core of its manifest)."""
    model = ident.get("model") or {}
    return {"kind": "collection", "fingerprint": run_fingerprint(cfg, model), "model": model,
            "model_kind": ident.get("kind"), "dtype": cfg.dtype, "site": ident.get("site"),
            "layer_sizes": ident.get("layer_sizes"), "n_neurons": ident.get("n_neurons"),
            "seed": cfg.seed, "config": cfg.to_dict(), "space": run_space(cfg).provenance(),
            "package_versions": package_versions(COLLECT_PACKAGES)}


def run_fingerprint(cfg: CollectConfig, model_identity: dict | None) -> str:
    """The run's identity: the config with the model path replaced by the weights' SHA-256
    (the same weights by any path are the same run) and, for a space given by the config,
    the space's path by the digest of its files."""
    space = run_space(cfg).digest if cfg.space is not None else None
    return cfg.fingerprint(weights=(model_identity or {}).get("weight_sha256"), space=space)


def check_plan(cfg: CollectConfig, out: Path, fingerprint: str, weights: str | None) -> None:
    """Record the run's fingerprint in out/plan.json; refuse a folder holding another run."""
    path = out / "plan.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("fingerprint") not in (fingerprint, cfg.fingerprint()):
            was = old.get("config", {})
            changed = sorted(k for k, v in cfg.to_dict().items()
                             if k != "model" and was.get(k, v) != v)
            if old.get("weight_sha256", weights) != weights:
                changed.insert(0, "model weights")
            raise InputError(f"{out}: holds a run with another config (changed: {changed}); "
                             f"use a new --out folder, or the same config to resume")
        return
    # started: before the run's first row (kept on resume); a pre-registered plan predates it
    io.write_text(path, json.dumps({"fingerprint": fingerprint, "weight_sha256": weights,
                                    "config": cfg.to_dict(), "started": now()}, indent=2))


def run_timing(out: Path, planned: dict) -> dict:
    """The manifest's ``started`` (when the run folder was first planned, before its first
    row: out/plan.json; None for a run begun before it was recorded) and, with a plan file
    (``planned["preregistration"]``, :mod:`emostat.plan.stages`), the plan and its
    deviations."""
    try:
        started = json.loads((out / "plan.json").read_text()).get("started")
    except (OSError, ValueError):
        started = None
    pre = (planned or {}).get("preregistration")
    return {"started": started, **({"preregistration": pre} if pre else {})}


def manifest_done(fingerprint: str, out: Path) -> bool:
    path = out / "manifest.json"
    if not path.exists():
        return False
    m = json.loads(path.read_text())
    return m.get("fingerprint") == fingerprint and m.get("complete", False)


def phase_record(phase: dict, t_accuracy: float) -> dict[str, float]:
    """Phase times in pipeline order (seconds, 0.1 s); accuracy measured from ``t_accuracy``."""
    phase = dict(phase, accuracy=time.perf_counter() - t_accuracy)
    order = ["load", "activations", "conditions", "baseline", "calibration", "inference",
             "accuracy"]
    return {k: round(phase[k], 1) for k in order + sorted(set(phase) - set(order))
            if k in phase}


def write_manifest(out: Path, manifest: dict) -> None:
    """Write manifest.json with the record of every file of the run (rows, SHA-256) and the
    digest of its own content (``record_sha256``), which ``analyse`` checks
    (:mod:`emostat.integrity`)."""
    from emostat.integrity import RECORD_KEY, file_record, manifest_digest

    manifest["files"] = file_record(out)
    manifest[RECORD_KEY] = manifest_digest(manifest)
    io.write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))


def calibration_record(cfg: CollectConfig) -> dict:
    """The manifest's description of how decisions were taken."""
    from emostat.collect.calibration import METHOD, REFERENCE

    return {"applied": bool(cfg.calibrate), "file": "calibration.parquet",
            "source_condition": NONE, "methods": dict(METHOD), "reference": REFERENCE,
            "scheme": "cross-fitted", "folds": int(cfg.calibration_folds),
            "fold_column": "cal_fold",
            "note": "offsets from condition none only, applied unchanged to every condition; "
                    "each item decided with offsets fitted on the other calibration folds "
                    "(never on itself); raw scores in inference.logprobs, raw decisions in "
                    "prediction_raw, margins in margin / margin_raw"}


def task_prompt_record(cfg: CollectConfig, example: str = "I lost my keys.") -> dict[str, str]:
    """An example of each decoder task prompt, from the space's templates (the binary one
    asks about the space's first concept; MLM runs use the space's mask templates)."""
    space = run_space(cfg)
    p = task_prompts(space, "causal", None, cfg.choice_prompt)
    word = space.words[space.concepts[0]]
    return {"binary": p["binary"][0](example, word), "choice": p["choice"][0](example, None),
            "choice_prompt": cfg.choice_prompt, "generate": p["generate"][0](example)}


def concept_template_record(prompts: pd.DataFrame) -> dict[str, str]:
    """Template name -> one example prompt (the first concept's)."""
    first = prompts.drop_duplicates("template")
    return dict(zip(first["template"], first["text"]))
