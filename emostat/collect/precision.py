"""Reduced precision only where it decides like float32 on the run's own items (issue 24).

``dtype = "bfloat16"`` / ``"float16"`` and ``quantize = "int8"`` change the arithmetic of every
forward pass; on the embedded SmolLM2-135M int8 dynamic quantisation agreed with float32 on
13-31% of choices (benchmarks/results/precision.json). Before a run with either writes
anything, :func:`check` scores a seeded sample of the run's own unmanipulated items (condition
none; ``precision_check_items`` of them, all when the run has fewer) twice, with a float32
model and with the run's model, through the run's own scoring code (:class:`Worker`), and
compares the raw decisions (share of items whose choice agrees) and the raw margins (Pearson
r of the right answer's score minus the best other). Agreement below
``precision_min_agreement`` is refused in one line, before the collection spends its time;
otherwise the record goes into the manifest (``precision``).

Decisions are the raw ones (argmax of the log-probabilities, yes when logit_yes > logit_no):
calibration offsets are fitted on the whole condition none, which the check does not score.
Binary items are scored with the zero-shot prompt even in prompt-tuning mode (the soft prompts
do not exist yet). The float32 model is loaded a second time for the check (on the run's
device) when ``dtype`` is not float32, and freed after it.

``dtype = "auto"`` (the default profile's) chooses: bfloat16 where the run's device computes
it natively (a CPU with AVX512-BF16 or AMX-BF16, a CUDA GPU that supports it; local backend
only, since elsewhere the driver's host is not the one that computes) and the check passes;
float32 otherwise, said in one line. The choice goes into ``plan.json`` before the first row,
so a resumed run keeps it on any host, and into the manifest's ``precision`` record
(``auto``, ``chosen``, ``native_bf16``). ``EMOSTAT_NATIVE_BF16=0`` (or ``1``) overrides the
detection (the test suite sets 0: its frozen numbers are float32).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.checks import child_seeds, log
from emostat.collect.config import CollectConfig, run_space
from emostat.collect.worker import PreloadedAPI, Worker, grouped_batches, head_users
from emostat.errors import InputError
from emostat.tasks import TASKS

__all__ = ["agreement", "auto_dtype", "check", "native_bf16", "needed", "recorded",
           "sample_items", "score_items"]

NATIVE_ENV = "EMOSTAT_NATIVE_BF16"
RESUMED = "chosen when the run began"     # auto_dtype's reason for a resumed run's dtype
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(device: str = "cpu") -> bool:
    """True when ``device`` computes bfloat16 natively: a CPU with AVX512-BF16 or AMX-BF16
    (Linux ``/proc/cpuinfo``; False elsewhere), a CUDA GPU that supports it. The environment
    variable ``EMOSTAT_NATIVE_BF16`` (0 or 1) overrides the detection."""
    env = os.environ.get(NATIVE_ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    if str(device).startswith("cuda"):
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if str(device) != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return any(flag in flags.split() for flag in _CPU_FLAGS)


def auto_dtype(cfg: CollectConfig, out) -> tuple[str, str]:
    """The dtype a ``dtype = "auto"`` run tries first, and why: the one its ``plan.json``
    recorded (a resumed run keeps its choice on any host), else bfloat16 on a local run whose
    device has native bf16 (:func:`native_bf16`), else float32."""
    try:
        old = json.loads((Path(out) / "plan.json").read_text()).get("config", {})
    except (OSError, ValueError, AttributeError):
        old = {}
    if old.get("dtype") in ("float32", "bfloat16"):
        return old["dtype"], f"{RESUMED} ({Path(out) / 'plan.json'})"
    if cfg.backend != "local":
        return "float32", f"backend {cfg.backend}: the workers' hosts are not checked here"
    if native_bf16(cfg.device):
        return "bfloat16", f"native bfloat16 on {cfg.device}"
    return "float32", f"no native bfloat16 on {cfg.device}"


def needed(cfg: CollectConfig) -> bool:
    """True when the run computes in anything but float32 (``dtype`` or ``quantize``)."""
    return cfg.dtype != "float32" or cfg.quantize != "none"


def agreement(pred_ref, pred_low, margin_ref, margin_low) -> dict:
    """Decision agreement and margin correlation of two scorings of the same items.

    ``pred_*``: decisions (labels; None counts as a decision of its own); ``margin_*``: the
    continuous outcome (NaN where a task has none, e.g. generate). Returns ``n``, ``n_agree``,
    ``agreement`` (``n_agree / n``), its 95% Clopper-Pearson interval ``conf_low``,
    ``conf_high`` (the sample's precision: the rule reads the point estimate) and
    ``margin_r`` (Pearson r over the items with both margins finite; None with fewer than 3
    or a constant side)."""
    from scipy.stats import binomtest

    a, b = list(pred_ref), list(pred_low)
    if len(a) != len(b) or not a:
        raise ValueError(f"expected two equal, non-empty lists of decisions, got {len(a)} "
                         f"and {len(b)}")
    n_agree = sum(x == y for x, y in zip(a, b))
    x, y = np.asarray(margin_ref, float), np.asarray(margin_low, float)
    ok = np.isfinite(x) & np.isfinite(y)
    r = None
    if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
        r = float(np.corrcoef(x[ok], y[ok])[0, 1])
    ci = binomtest(int(n_agree), len(a)).proportion_ci(0.95, method="exact")
    return {"n": len(a), "n_agree": int(n_agree), "agreement": n_agree / len(a),
            "conf_low": float(ci.low), "conf_high": float(ci.high), "margin_r": r}


def sample_items(items: dict[str, pd.DataFrame], n: int, seed: int
                 ) -> dict[str, pd.DataFrame]:
    """A seeded sample of ``n`` items over the run's tasks (all of them when there are fewer),
    in the run's order: the same items for the same config."""
    rows = [(t, i) for t, df in items.items() for i in range(len(df))]
    if len(rows) > n:
        rng = np.random.default_rng(child_seeds(seed, 1)[0])
        rows = [rows[j] for j in sorted(rng.choice(len(rows), n, replace=False))]
    out = {}
    for t, df in items.items():
        idx = [i for task, i in rows if task == t]
        if idx:
            out[t] = df.iloc[idx].reset_index(drop=True)
    return out


def score_items(worker: Worker, task: str, items: pd.DataFrame) -> tuple[list, np.ndarray]:
    """Raw decisions and raw margins of ``items`` of ``task`` without any manipulation,
    scored by ``worker`` in batches of the run's size (binary batches share their concept)."""
    spec = TASKS[task]
    concepts = list(worker.space.concepts)
    pred, lps = [None] * len(items), [None] * len(items)
    key = items["emotion"].to_numpy() if spec.per_concept else np.array([""] * len(items))
    texts = items["text"].to_numpy()
    for g, batch in grouped_batches(key, range(len(items)), worker.cfg.batch_size):
        p, lp, _ = worker.score_unmasked(task, g, [texts[r] for r in batch])
        for j, r in enumerate(batch):
            pred[r], lps[r] = p[j], lp[j]
    if not spec.calibration:                      # generate: a parsed label, no margin
        return pred, np.full(len(items), np.nan)
    from emostat.collect.calibration import margins

    return pred, margins(task, lps, list(items["emotion"]), items["label"], None,
                         candidates=concepts)


def _scored(cfg: CollectConfig, api, lm, sample) -> tuple[list, np.ndarray, float]:
    worker = Worker(replace(cfg, representation="zero_shot").to_dict(), ".",
                    api=PreloadedAPI(api, lm))
    t0, pred, marg = time.perf_counter(), [], []
    for task, df in sample.items():
        p, m = score_items(worker, task, df)
        pred += p
        marg.append(m)
    return pred, np.concatenate(marg), time.perf_counter() - t0


class check_threads:
    """torch's threads while the check scores: all the run's workers' (``workers x threads``:
    the check runs before they start, on the cores they will use), restored after."""

    def __init__(self, cfg: CollectConfig):
        self.n = cfg.threads * (cfg.workers if cfg.backend == "local" else 1)

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(max(1, self.n))
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)
        return False


def refusal(rec: dict) -> str:
    """The one-line message of a check below its threshold."""
    what = " + ".join([rec["dtype"]] * (rec["dtype"] != "float32")
                      + ["int8"] * (rec["quantize"] == "int8"))
    r = "n/a" if rec["margin_r"] is None else f"{rec['margin_r']:.3f}"
    lo, hi = rec["agreement_ci95"]
    return (f"precision check: {what} decided like float32 on {rec['n_agree']} of "
            f"{rec['n_items']} of the run's items (agreement {rec['agreement']:.3f}, 95% CI "
            f"{lo:.2f}-{hi:.2f}; margin r {r}), below config field 'precision_min_agreement' "
            f"= {rec['threshold']}; use dtype = \"float32\" and quantize = \"none\", or lower "
            f"precision_min_agreement if this agreement is acceptable")


def check(cfg: CollectConfig, lm, api, items: dict[str, pd.DataFrame], quiet: bool = False,
          threshold: float | None = None, auto: str | None = None) -> dict:
    """Refuse a reduced-precision run that does not decide like float32; return its record.

    Parameters
    ----------
    cfg : the run's config; lm : the model loaded with ``cfg.dtype``; api : the model
    functions (``load_model`` loads the float32 reference); items : the run's task items
    (:func:`emostat.collect.items.build_items`); threshold : overrides
    ``cfg.precision_min_agreement`` (tests); auto : for a ``dtype = "auto"`` run, why
    ``cfg.dtype`` was tried (:func:`auto_dtype`): a check below the threshold then chooses
    float32 instead of refusing, except in a resumed run (its rows so far are in
    ``cfg.dtype``: refused, never mixed).

    Returns
    -------
    dict
        ``{"checked": False, "reason": ...}`` for a float32 run (or int8 without tasks: int8
        touches task scoring only); else ``checked, dtype, quantize, n_items, n_agree,
        agreement, agreement_ci95, margin_r, threshold, check_items, tasks, decisions,
        seconds``. With ``auto``, also ``auto`` (the reason), ``native_bf16`` and ``chosen``
        (the dtype the run computes in).

    Raises
    ------
    InputError
        Agreement below the threshold (:func:`refusal`), or a float16/bfloat16 run without
        inference tasks (nothing to check it on).
    """
    tag = {} if auto is None else {"auto": auto, "native_bf16": native_bf16(cfg.device)}
    if not needed(cfg) or (cfg.dtype == "float32" and not items):
        why = "float32 without quantisation" if not needed(cfg) else "int8 without tasks"
        return {"checked": False, "reason": f"{why}: not needed",
                **tag, **({"chosen": cfg.dtype} if tag else {})}
    if auto is not None and not items:
        return {"checked": False, "reason": "no inference tasks to check bfloat16 on",
                **tag, "chosen": "float32"}
    if not items:
        raise InputError(f"config field 'dtype': {cfg.dtype} is allowed after a check of "
                         f"its decisions against float32 on the run's task items, and this "
                         f"run has no inference tasks; use dtype = \"float32\"")
    threshold = cfg.precision_min_agreement if threshold is None else threshold
    sample = sample_items(items, cfg.precision_check_items, cfg.seed)
    t0 = time.perf_counter()
    ref = lm
    if cfg.dtype != "float32":
        space = run_space(cfg)
        ref = api.load_model(cfg.model, device=lm.device, dtype="float32",
                             threads=cfg.threads, tasks=head_users(cfg), quiet=True,
                             words=[space.words[c] for c in space.concepts])
    with check_threads(cfg):
        p32, m32, s32 = _scored(replace(cfg, dtype="float32", quantize="none"), api, ref,
                                sample)
        del ref
        p, m, s = _scored(cfg, api, lm, sample)
    got = agreement(p32, p, m32, m)
    rec = {"checked": True, "dtype": cfg.dtype, "quantize": cfg.quantize,
           "n_items": got["n"], "n_agree": got["n_agree"],
           "agreement": round(got["agreement"], 4),
           "agreement_ci95": [round(got["conf_low"], 4), round(got["conf_high"], 4)],
           "margin_r": None if got["margin_r"] is None else round(got["margin_r"], 4),
           "threshold": threshold, "check_items": cfg.precision_check_items, "tasks": {t: len(df) for t, df in sample.items()},
           "decisions": "raw (uncalibrated), condition none",
           "seconds": {"float32": round(s32, 2), "run": round(s, 2),
                       "total": round(time.perf_counter() - t0, 2)}}
    if tag:
        rec |= tag | {"chosen": cfg.dtype if got["agreement"] >= threshold else "float32"}
    if got["agreement"] < threshold and (not tag or auto.startswith(RESUMED)):
        raise InputError(refusal(rec))
    if got["agreement"] < threshold:              # auto: float32 instead of a refusal
        print(f"emostat: dtype auto: {cfg.dtype} decided like float32 on {rec['n_agree']} of "
              f"{rec['n_items']} of the run's items, below precision_min_agreement = "
              f"{threshold}: this run computes in float32", file=sys.stderr, flush=True)
        return rec
    log(f"precision check: {rec['n_agree']} of {rec['n_items']} items decided as in float32 "
        f"(margin r {rec['margin_r']}), threshold {threshold}"
        + (f"; dtype auto: {cfg.dtype} ({auto})" if tag else ""), quiet)
    return rec


def recorded(out, fingerprint: str, cfg: CollectConfig) -> dict | None:
    """The check recorded by a finished run of this config in ``out`` (a rerun of it does
    nothing, so checking again would only repeat the same seeded comparison); None when the
    run is not finished, is another run, or was checked with another sample size or
    threshold."""
    try:
        m = json.loads((Path(out) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    rec = m.get("precision") if isinstance(m, dict) else None
    if (m.get("fingerprint") != fingerprint or not m.get("complete")
            or not isinstance(rec, dict) or not rec.get("checked")):
        return None
    same = (rec.get("threshold"), rec.get("check_items")) == (
        cfg.precision_min_agreement, cfg.precision_check_items)
    return rec if same and (rec.get("dtype"), rec.get("quantize")) == (cfg.dtype,
                                                                       cfg.quantize) else None
