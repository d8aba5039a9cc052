"""Cost of the emotion-label permutation null of the whole searchlight: the batched null
(emostat.analysis.neurons.neuronnull, counted as popcounts by emostat.analysis.engines.signbits) against two
earlier versions of the code, in the same run.

Data: the study's release (27 emotions x 12 seeds x 36,864 neurons, 14 attribute RDMs) when
../shared/data/model-emotion is present, else a synthetic set of the same shape.
  today     the pre-session ``count_null`` of emostat/analysis/neurons/searchlight.py at commit
            1a007d8 (``git archive`` of that commit into a temporary folder, run in a child
            process on the same neuron RDMs): per batch of 8 permutations the permuted attribute
            RDMs through the old Kendall kernel and the study's FDR counts. Timed at n_perm = 8
            and 32; the difference is three batches of 8 (the observed labelling and start-up
            cancel), and 199 permutations are extrapolated as t(8) + (199 - 8) / 24 * (t(32) -
            t(8));
  packed    the float32 BLAS version of ``neuronnull.searchlight_null`` at commit 429d8c0 (two
            attribute columns packed per float32 multiply), 199 permutations on 2 threads, in a
            child process like ``today``;
  batched   ``neuronnull.searchlight_null(R, attr, n_perm=199)`` now: all permutations in one
            pass of sign bit-planes and popcounts (exact integers), the count and max-T
            statistics of every permutation (observed labelling included); 1 thread, then 2.
Also recorded: this machine's single-thread float32 matmul GFLOPS (a product of the batched
kernel's shape) before and after, and the 1-minute load average before each timing. The machine
is shared (2 cores, other jobs running): the ratio is the result, seconds depend on the load.

Run: .venv/bin/python benchmarks/bench_searchlight_perm.py [--perm 199] [--commit 1a007d8]
     [--packed 429d8c0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from emostat.analysis.neurons import neuronnull as nn
from emostat.analysis.neurons import searchlight as sl
from emostat.analysis.engines.kendall import single_threaded_blas

OUT = Path(__file__).parent / "results" / "searchlight_perm.json"


def _timed(fn):
    load = os.getloadavg()[0]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, load, out


def gflops_single_thread(repeats: int = 3) -> float:
    """float32 GFLOPS of (1024 x 2047) @ (2047 x 1400) on one BLAS thread (best of repeats)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2047, 1024)).astype(np.float32).T
    b = rng.normal(size=(2047, 1400)).astype(np.float32)
    best = np.inf
    with single_threaded_blas():
        a @ b
        for _ in range(repeats):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
    return 2 * 1024 * 2047 * 1400 / best / 1e9


OLD_SCRIPT = """
import sys, time, json, numpy as np, pandas as pd
from emostat.analysis.neurons import searchlight as sl
R = np.load(sys.argv[1]); attr = pd.read_pickle(sys.argv[2]); out = {}
for n in (8, 32):
    t = time.perf_counter(); sl.count_null(R, attr, n_perm=n, seed=1)
    out[n] = time.perf_counter() - t
print(json.dumps(out))
"""


PACKED_SCRIPT = """
import sys, time, json, numpy as np, pandas as pd
from emostat.analysis.neurons import neuronnull as nn
R = np.load(sys.argv[1]); attr = pd.read_pickle(sys.argv[2]); B = int(sys.argv[3])
t = time.perf_counter(); nn.searchlight_null(R, attr, n_perm=B, seed=1, n_jobs=2)
print(json.dumps({"s": time.perf_counter() - t}))
"""


def emostat_at(commit: str, folder: Path) -> Path:
    """A new folder under ``folder`` holding commit ``commit``'s emostat (``git archive``)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    tree = Path(folder) / "old"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", commit, "emostat"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def old_code(R, attr, commit: str, script: str, *args) -> tuple[dict, float]:
    """The JSON printed by ``script`` run on R, attr in a child process importing commit
    ``commit``'s emostat (``git archive``), and the load average before it."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tree = emostat_at(commit, Path(tmp))
        np.save(Path(tmp) / "R.npy", R)
        attr.to_pickle(Path(tmp) / "attr.pkl")
        load = os.getloadavg()[0]
        done = subprocess.run([sys.executable, "-c", script, str(Path(tmp) / "R.npy"),
                               str(Path(tmp) / "attr.pkl"), *map(str, args)], cwd=tree,
                              check=True, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(done.stdout.strip().splitlines()[-1]), load


def today_path(R, attr, commit: str) -> dict:
    """Seconds of the pre-session count_null (commit ``commit``) at n_perm = 8 and 32."""
    out, load = old_code(R, attr, commit, OLD_SCRIPT)
    t = {int(k): v for k, v in out.items()}
    batch = (t[32] - t[8]) / 3
    return {"commit": commit, "s_at_8": t[8], "s_at_32": t[32], "load1": load,
            "s_per_perm": batch / 8, "s_for_199_extrapolated": t[8] + (199 - 8) / 8 * batch}


def main(argv=None) -> dict:
    from bench_searchlight import load_data   # same data as the plain searchlight benchmark

    ap = argparse.ArgumentParser()
    ap.add_argument("--perm", type=int, default=199, help="batched permutations timed")
    ap.add_argument("--commit", default="1a007d8", help="the pre-session code's commit")
    ap.add_argument("--packed", default="429d8c0", help="the packed float32 product's commit")
    a = ap.parse_args(argv)

    A, attr, sizes, source = load_data()
    R = sl.neuron_rdms(A)
    n, q = R.shape[1], attr.shape[1]
    gf_before = gflops_single_thread()
    today = today_path(R, attr, a.commit)
    packed, packed_load = old_code(R, attr, a.packed, PACKED_SCRIPT, a.perm)
    b1_s, b1_load, null = _timed(lambda: nn.searchlight_null(R, attr, n_perm=a.perm, seed=1))
    b2_s, b2_load, null2 = _timed(lambda: nn.searchlight_null(R, attr, n_perm=a.perm, seed=1,
                                                              n_jobs=2))
    assert np.array_equal(null.null_counts, null2.null_counts)
    gf_after = gflops_single_thread()
    per1, per2 = b1_s / (a.perm + 1), b2_s / (a.perm + 1)
    res = {
        "data": source, "neurons": n, "attributes": q, "pairs": R.shape[0],
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__,
        "machine_note": "shared 2-core machine, other jobs running: compare ratios; the load "
                        "average (1 min) is recorded before each timing",
        "single_thread_sgemm_gflops_before": gf_before,
        "single_thread_sgemm_gflops_after": gf_after,
        "today": today, "today_s_per_perm": today["s_per_perm"],
        "packed_float32": {"commit": a.packed, "threads": 2, "perms": a.perm,
                           "s": packed["s"], "load1": packed_load,
                           "s_per_perm": packed["s"] / (a.perm + 1)},
        "batched_perms": a.perm, "batched_1thread_s": b1_s, "batched_1thread_load1": b1_load,
        "batched_1thread_s_per_perm": per1,
        "batched_2threads_s": b2_s, "batched_2threads_load1": b2_load,
        "batched_2threads_s_per_perm": per2,
        "ratio_today_over_batched_1thread_per_perm": today["s_per_perm"] / per1,
        "ratio_today_over_batched_2threads_per_perm": today["s_per_perm"] / per2,
        "ratio_today_over_batched_best_199": today["s_for_199_extrapolated"] / min(b1_s, b2_s),
        "ratio_packed_over_batched_2threads": packed["s"] / b2_s,
        "seconds_for_199_2threads": b2_s * 200 / (a.perm + 1),
        "flops_per_perm_unpacked": 2 * R.shape[0] * (R.shape[0] - 1) // 2 * n * q,
        "note": "the batched runs (now and packed) include the observed labelling (perm + 1 "
                "products) and the count and max-T statistics of every permutation; 'today' "
                "is single-threaded, as its default was",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
