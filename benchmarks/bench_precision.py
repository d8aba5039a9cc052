"""Reduced precision on the embedded model: does it decide like float32, and how fast is it?
(issue 24 item 5; the guard itself is emostat.collect.precision.)

The default profile's unmanipulated items (the 27-way choice task, short prompt, condition
none; all 405, or a seeded sample with --items) are scored by the run's own scoring code
(``Worker.score_unmasked``, batches of 32, one thread) with:

  float32   oneDNN prepacked fp32 kernels: the default path, the reference
  fp32_torch  torch's own fp32 kernels (same arithmetic up to rounding: a control)
  bfloat16  weights and activations in bf16 (``dtype = "bfloat16"``)
  float16   the same in fp16 (``dtype = "float16"``)
  int8      dynamic int8 quantisation of the layers' linears (``quantize = "int8"``)

Rows are scored in rounds of one batch, the variants in turn (a change of load hits all of
them). For each: time per row (after a warm-up of 2 items, which also pays for packing or
quantising), its ratio to float32 in the same run, the share of raw decisions equal to
float32's and the Pearson r of the raw margins (right answer's log-prob minus the best other),
exactly as the guard computes them (:func:`emostat.collect.precision.agreement`, with the
Clopper-Pearson interval of the agreement), and the same on the guard's own sample of this
config (``precision_check_items`` = 54 seeded items: what ``emostat collect`` would decide).
The single-thread matmul rate is measured before and after, with the load average and whether
the CPU has native bf16 (avx512_bf16 / amx_bf16 flags). Writes benchmarks/results/precision.json.

Run:  .venv/bin/python benchmarks/bench_precision.py              # all 405 items
      .venv/bin/python benchmarks/bench_precision.py --items 54   # the guard's default sample
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bench_geometry import gflops       # torch fp32 matmul rate (set to one thread below)

RESULTS = Path(__file__).resolve().parent / "results" / "precision.json"
VARIANTS = {"float32": dict(dtype="float32", cpu_kernel="onednn"),
            "fp32_torch": dict(dtype="float32", cpu_kernel="torch"),
            "bfloat16": dict(dtype="bfloat16"),
            "float16": dict(dtype="float16"),
            "int8": dict(dtype="float32", quantize="int8")}


def native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main(argv=None):
    from emostat.collect.config import load_config
    from emostat.collect.items import build_items
    from emostat.collect.models import load_model
    from emostat.collect.precision import agreement, sample_items, score_items
    from emostat.collect.worker import PreloadedAPI, Worker, default_api

    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=405)
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    cfg = load_config(threads=1)
    every = build_items(cfg)
    (task, items), = sample_items(every, a.items, cfg.seed).items()
    # the items the guard itself would score for this config (precision_check_items)
    guard_ids = set(sample_items(every, cfg.precision_check_items, cfg.seed)[task]["item_id"])
    guard = np.flatnonzero(items["item_id"].isin(guard_ids).to_numpy())
    rate0, load0 = gflops(), os.getloadavg()
    models = {}
    out = {"task": task, "n_items": len(items), "batch_size": cfg.batch_size,
           "choice_prompt": cfg.choice_prompt, "threads": 1, "native_bf16": native_bf16(),
           "variants": {}}
    workers, warm = {}, {}
    for name, fields in VARIANTS.items():
        dt = fields["dtype"]
        if dt not in models:
            models[dt] = load_model(None, dtype=dt, threads=1)
        workers[name] = Worker(replace(cfg, **fields).to_dict(), ".",
                               api=PreloadedAPI(default_api(), models[dt]))
        t = time.perf_counter()
        score_items(workers[name], task, items.iloc[:2])       # warm-up: pack or quantise
        warm[name] = time.perf_counter() - t
    # rounds of one batch each, the variants in turn: a change of load hits all of them
    sec = dict.fromkeys(VARIANTS, 0.0)
    pred = {n: [] for n in VARIANTS}
    marg = {n: [] for n in VARIANTS}
    for lo in range(0, len(items), cfg.batch_size):
        chunk = items.iloc[lo:lo + cfg.batch_size]
        for name, w in workers.items():
            t = time.perf_counter()
            p, m = score_items(w, task, chunk)
            sec[name] += time.perf_counter() - t
            pred[name] += p
            marg[name].append(m)
    marg = {n: np.concatenate(m) for n, m in marg.items()}
    for name, fields in VARIANTS.items():
        got = agreement(pred["float32"], pred[name], marg["float32"], marg[name])
        out["variants"][name] = {
            **fields, "seconds": round(sec[name], 2),
            "ms_per_row": round(1000 * sec[name] / len(items), 1),
            "time_ratio_to_float32": round(sec[name] / sec["float32"], 3),
            "warmup_seconds": round(warm[name], 2),
            "n_agree": got["n_agree"], "agreement": round(got["agreement"], 4),
            "margin_r": None if got["margin_r"] is None else round(got["margin_r"], 4),
            "ci95": [round(got["conf_low"], 4), round(got["conf_high"], 4)],
            "raw_accuracy": round(float(np.mean(marg[name] > 0)), 4),
            "passes_default_threshold": got["agreement"] >= cfg.precision_min_agreement}
        if len(guard) == len(guard_ids):            # the guard's own verdict on its sample
            g = agreement([pred["float32"][i] for i in guard], [pred[name][i] for i in guard],
                          marg["float32"][guard], marg[name][guard])
            out["variants"][name]["guard_sample"] = {
                "n": g["n"], "n_agree": g["n_agree"], "agreement": round(g["agreement"], 4),
                "margin_r": None if g["margin_r"] is None else round(g["margin_r"], 4),
                "passes": g["agreement"] >= cfg.precision_min_agreement}
        print(name, out["variants"][name], flush=True)
    out.update(matmul_gflops_1thread=[round(rate0, 1), round(gflops(), 1)],
               load=[list(load0), list(os.getloadavg())], cpu=platform.processor() or
               platform.machine(), torch=torch.__version__,
               threshold=cfg.precision_min_agreement,
               when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
