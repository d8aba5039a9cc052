"""Cost of one emotion-label permutation of the whole searchlight: batched (now) vs per batch
of 8 (the code path before emostat.analysis.neuronnull), in the same run.

Data: the study's release (27 emotions x 12 seeds x 36,864 neurons, 14 attribute RDMs) when
../shared/data/model-emotion is present, else a synthetic set of the same shape.
  today     what count_null did per batch of 8 permutations: the permuted attribute RDMs as 112
            columns through ``kendall_tau_b`` (dense ranks, blockwise sign product in float32,
            single-threaded BLAS) and the study's FDR counts per permutation;
  batched   ``neuronnull.searchlight_null(R, attr, n_perm=P)``: all permutations in one product,
            two attribute columns packed per float32 multiply (exact), the count and max-T
            statistics per permutation; once on 1 thread, once on 2.
Also measured in the same run: this machine's single-thread float32 matmul GFLOPS (a product of
the batched kernel's shape) and the 1-minute load average before each timing. The machine is
shared (2 cores, other jobs running): the ratio is the result, seconds depend on the load.

Run: .venv/bin/python benchmarks/bench_searchlight_perm.py [--perm 199] [--today 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from emostat.analysis import neuronnull as nn
from emostat.analysis import searchlight as sl
from emostat.analysis.kendall import kendall_tau_b, single_threaded_blas
from emostat.analysis.mantel import perm_blocks, permuted_pairs

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


def today_path(R, Y, perms, alpha=0.01):
    """The pre-batching count-null step: tau and p of all neurons per batch of permutations."""
    C = perms.shape[1]
    q = Y.shape[1]
    idx = permuted_pairs(perms, C)
    Yp = np.concatenate([Y[i] for i in idx], axis=1)
    _, p = kendall_tau_b(R, Yp)
    return [nn.study_counts(p[:, b * q:(b + 1) * q], alpha) for b in range(len(perms))]


def main(argv=None) -> dict:
    from bench_searchlight import load_data   # same data as the plain searchlight benchmark

    ap = argparse.ArgumentParser()
    ap.add_argument("--perm", type=int, default=199, help="batched permutations timed")
    ap.add_argument("--today", type=int, default=8, help="permutations of today's path timed")
    a = ap.parse_args(argv)

    A, attr, sizes, source = load_data()
    R = sl.neuron_rdms(A)
    Y = attr.to_numpy(float)
    n, q = R.shape[1], Y.shape[1]
    gf_before = gflops_single_thread()
    C = int(round((1 + np.sqrt(1 + 8 * R.shape[0])) / 2))
    perms = next(perm_blocks(C, a.today, 1))
    today_s, today_load, _ = _timed(lambda: today_path(R, Y, perms))
    b1_s, b1_load, null = _timed(lambda: nn.searchlight_null(R, attr, n_perm=a.perm, seed=1))
    b2_s, b2_load, null2 = _timed(lambda: nn.searchlight_null(R, attr, n_perm=a.perm, seed=1,
                                                              n_jobs=2))
    assert np.array_equal(null.null_counts, null2.null_counts)
    gf_after = gflops_single_thread()
    today_per = today_s / a.today
    res = {
        "data": source, "neurons": n, "attributes": q, "pairs": R.shape[0],
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__,
        "machine_note": "shared 2-core machine, other jobs running: compare ratios; the load "
                        "average (1 min) is recorded before each timing",
        "single_thread_sgemm_gflops_before": gf_before,
        "single_thread_sgemm_gflops_after": gf_after,
        "today_perms": a.today, "today_s": today_s, "today_load1": today_load,
        "today_s_per_perm": today_per,
        "batched_perms": a.perm, "batched_1thread_s": b1_s, "batched_1thread_load1": b1_load,
        "batched_1thread_s_per_perm": b1_s / (a.perm + 1),
        "batched_2threads_s": b2_s, "batched_2threads_load1": b2_load,
        "batched_2threads_s_per_perm": b2_s / (a.perm + 1),
        "ratio_today_over_batched_1thread_per_perm": today_per / (b1_s / (a.perm + 1)),
        "ratio_today_over_batched_2threads_per_perm": today_per / (b2_s / (a.perm + 1)),
        "today_s_for_199_perms_extrapolated": today_per * 199,
        "flops_per_perm_unpacked": 2 * R.shape[0] * (R.shape[0] - 1) // 2 * n * q,
        "note": "the batched run includes the observed labelling (perm + 1 products) and the "
                "count and max-T statistics of every permutation",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
