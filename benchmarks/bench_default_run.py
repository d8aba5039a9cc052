"""The default experiment end to end (`emostat run --out DIR`, what `make run` runs after its
set-up), timed by phase, with the single-thread fp32 matmul rate measured before and after in
the same run (issue 24: at most 5 minutes on a host with 150 GFLOPS).

Variants (``--variants``, in this order, one after another on the same host):

  auto     the default profile as shipped (dtype auto: bfloat16 where the CPU computes it
           natively and it passes the precision check, else float32)
  float32  the same run with ``dtype = "float32"`` (the named baseline: the default before
           dtype auto)

For each: wall seconds of the whole command, the collection's phases (manifest
``phase_seconds``), the analysis and report seconds (from the command's own lines), the rows,
the dtype chosen, and the wall time scaled to a 150 GFLOPS host (``wall x rate / 150``, the
rate the mean of the two measurements). With both variants, the ratio auto / float32.
Writes benchmarks/results/default_run.json.

Run:  .venv/bin/python benchmarks/bench_default_run.py [--variants auto,float32] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nullcal import matmul_gflops

RESULTS = Path(__file__).resolve().parent / "results" / "default_run.json"
TARGET_GFLOPS = 150.0


def run_variant(name: str, work: Path) -> dict:
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(Path(sys.executable).with_name("emostat")), "run", "--out", str(out)]
    if name != "auto":
        cfg = work / f"{name}.toml"
        cfg.write_text(f'dtype = "{name}"\n')
        cmd += ["--config", str(cfg)]
    rate0, load0 = matmul_gflops(dtype=np.float32), os.getloadavg()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    rate1, load1 = matmul_gflops(dtype=np.float32), os.getloadavg()
    log = proc.stdout + proc.stderr
    (work / f"{name}.log").write_text(log)
    if proc.returncode:
        raise SystemExit(f"{name}: emostat run failed (rc {proc.returncode}); see "
                         f"{work / f'{name}.log'}")
    m = json.loads((out / "manifest.json").read_text())
    analysis = re.search(r"results: .*\((\d+) s\)", log)
    report = re.search(r"rendered \w+ report in (\d+) s", log)
    rate = (rate0 + rate1) / 2
    import pandas as pd

    claims = pd.read_parquet(out / "results" / "claims.parquet")
    rec = claims[claims["role"] == "record"]
    decided = {str(r.claim): [r.decision, float(r.p_value)] for r in rec.itertuples()}
    return {"claims_of_record": decided,
            "command": " ".join(cmd[1:]), "wall_s": round(wall, 1),
            "collection_s": m.get("seconds"), "phase_s": m.get("phase_seconds"),
            "analysis_s": float(analysis.group(1)) if analysis else None,
            "report_s": float(report.group(1)) if report else None,
            "rows": m.get("n_rows"), "dtype": m.get("dtype"),
            "precision": m.get("precision"),
            "gflop_per_row": {t: c.get("gflop_per_row") for t, c in (m.get("cost") or {}).items()},
            "matmul_gflops_1thread": [round(rate0, 1), round(rate1, 1)],
            "load": [list(load0), list(load1)],
            "wall_scaled_to_150_gflops_s": round(wall * rate / TARGET_GFLOPS, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="auto,float32")
    ap.add_argument("--work", default=None, help="folder for the runs (default: a temp one)")
    a = ap.parse_args(argv)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="emostat-default-run-"))
    work.mkdir(parents=True, exist_ok=True)
    res = {"host": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "target_gflops": TARGET_GFLOPS, "variants": {}}
    for name in [v.strip() for v in a.variants.split(",") if v.strip()]:
        print(f"== {name}", flush=True)
        res["variants"][name] = got = run_variant(name, work)
        print(json.dumps({k: got[k] for k in ("wall_s", "collection_s", "analysis_s",
                                               "report_s", "dtype", "matmul_gflops_1thread",
                                               "wall_scaled_to_150_gflops_s")}), flush=True)
    v = res["variants"]
    if {"auto", "float32"} <= set(v):
        res["ratio_auto_to_float32"] = {
            "wall": round(v["auto"]["wall_s"] / v["float32"]["wall_s"], 3),
            "same_decisions": sum(v["auto"]["claims_of_record"][c][0] == d[0] for c, d in
                                  v["float32"]["claims_of_record"].items()
                                  if c in v["auto"]["claims_of_record"]),
            "claims": len(v["float32"]["claims_of_record"]),
            "inference": round(v["auto"]["phase_s"]["inference"]
                               / v["float32"]["phase_s"]["inference"], 3)}
    RESULTS.write_text(json.dumps(res, indent=1))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
