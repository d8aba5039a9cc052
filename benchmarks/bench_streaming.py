"""Streamed searchlight from Parquet: time and peak memory vs model size (issue "Scale out" 4).

For each size (neurons = 36,864; 589,824; 2,359,296 by default) a synthetic ``activations``
dataset of 27 concepts x 12 templates is generated layer by layer (3,072 units per layer, float32,
one row group per layer - never the whole array in memory) and then scored with
``searchlight_stream`` against 14 attribute RDMs, writing ``neuron_rsa`` to Parquet. Each phase
runs in a fresh subprocess, so its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is
its own. Reports seconds, peak RSS, seconds per million neurons and the scaling exponent
(log time ratio / log size ratio; 1.0 = linear), against the smallest size as the baseline in
the same run. Writes benchmarks/results/streaming.json.

Run: .venv/bin/python benchmarks/bench_streaming.py [--sizes 36864,589824,2359296]
     [--workdir /tmp/emostat-stream] [--chunk 4096]
The largest size takes ~10-20 minutes on 2 shared cores and ~3 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results" / "streaming.json"
UNITS = 3072
N_CONCEPTS, N_TEMPLATES, N_ATTR = 27, 12, 14


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def generate(path: Path, neurons: int, seed: int = 0) -> dict:
    """Write a synthetic activations Parquet layer by layer (bounded memory)."""
    import pyarrow as pa

    from emostat.constants import ANALYSIS_ORDER
    from emostat.io import TableWriter, provenance
    from emostat.schemas import schema

    if neurons % UNITS:
        raise SystemExit(f"neurons must be a multiple of {UNITS}")
    rng = np.random.default_rng(seed)
    n_rows = N_CONCEPTS * N_TEMPLATES
    concepts = [c for c in ANALYSIS_ORDER for _ in range(N_TEMPLATES)]
    templates = [str(t) for _ in ANALYSIS_ORDER for t in range(N_TEMPLATES)]
    offsets = pa.array(np.arange(0, n_rows * UNITS + 1, UNITS, dtype=np.int32))
    t = time.perf_counter()
    prov = provenance(dataset="activations", synthetic=True, seed=seed)
    with TableWriter(path, schema("activations"), prov=prov, compression="none") as w:
        for layer in range(neurons // UNITS):
            vals = rng.standard_normal((n_rows, UNITS), dtype=np.float32)
            w.write(pa.table({
                "model": pa.array(["synthetic"] * n_rows), "concept": pa.array(concepts),
                "template": pa.array(templates),
                "layer": pa.array(np.full(n_rows, layer, dtype=np.int64)),
                "values": pa.ListArray.from_arrays(offsets, pa.array(vals.ravel()))}))
    return {"seconds": time.perf_counter() - t, "peak_rss_mb": _peak_mb(),
            "bytes": path.stat().st_size}


def attr_rdms(seed: int = 1):
    import pandas as pd

    from emostat.constants import pair_indices

    rng = np.random.default_rng(seed)
    i, j = pair_indices(N_CONCEPTS)
    means = rng.normal(size=(N_CONCEPTS, N_ATTR))
    return pd.DataFrame(np.abs(means[i] - means[j]), columns=[f"a{k}" for k in range(N_ATTR)])


def search(path: Path, out: Path, chunk: int) -> dict:
    from emostat.analysis.neurons.searchlight import searchlight_stream

    t = time.perf_counter()
    searchlight_stream(path, attr_rdms(), chunk_neurons=chunk, out_path=out)
    return {"seconds": time.perf_counter() - t, "peak_rss_mb": _peak_mb(),
            "out_bytes": out.stat().st_size}


def _child(args) -> dict:
    cmd = [sys.executable, __file__, "--phase", args[0], *args[1:]]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="36864,589824,2359296")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/emostat-stream"))
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--phase", choices=["generate", "search"])
    ap.add_argument("--neurons", type=int)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    a = ap.parse_args()
    if a.phase == "generate":
        print(json.dumps(generate(a.workdir / f"act_{a.neurons}.parquet", a.neurons)))
        return
    if a.phase == "search":
        print(json.dumps(search(a.workdir / f"act_{a.neurons}.parquet",
                                a.workdir / f"rsa_{a.neurons}.parquet", a.chunk)))
        return

    a.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = []
    for n in sizes:
        common = ["--neurons", str(n), "--workdir", str(a.workdir), "--chunk", str(a.chunk)]
        gen = _child(["generate", *common])
        load = os.getloadavg()[0]
        run = _child(["search", *common])
        row = {"neurons": n, "tests": n * N_ATTR, "generate_s": gen["seconds"],
               "generate_peak_rss_mb": gen["peak_rss_mb"], "activations_bytes": gen["bytes"],
               "search_s": run["seconds"], "search_peak_rss_mb": run["peak_rss_mb"],
               "neuron_rsa_bytes": run["out_bytes"], "s_per_million_neurons":
               run["seconds"] / n * 1e6, "load1_at_start": load}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if not a.keep:
            for f in a.workdir.glob(f"*_{n}.parquet"):
                f.unlink()
    base = rows[0]
    for r in rows[1:]:
        r["scaling_exponent_vs_smallest"] = (math.log(r["search_s"] / base["search_s"])
                                             / math.log(r["neurons"] / base["neurons"]))
    res = {"concepts": N_CONCEPTS, "templates": N_TEMPLATES, "attributes": N_ATTR,
           "units_per_layer": UNITS, "chunk_neurons": a.chunk, "cpu_count": os.cpu_count(),
           "executor": "inline (one process, BLAS 1 thread)", "sizes": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT}")
    if not a.keep and not any(a.workdir.iterdir()):
        shutil.rmtree(a.workdir)


if __name__ == "__main__":
    main()
