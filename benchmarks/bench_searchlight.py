"""Neuron searchlight RSA: emostat's vectorised Kendall vs a scipy.stats.kendalltau loop.

Data: the study's release (27 emotions x 12 seeds x 36,864 neurons, 14 released attribute
RDMs) when ../shared/data/model-emotion is present, else a synthetic set of the same shape.
Timed, in the same run:
  emostat   ``searchlight(A, attr, layer_sizes, n_jobs=J)`` on all neurons (neuron RDMs,
            Kendall tau-b + p for 516,096 tests, study q, BH q, ranks), J = 1 and 2, BLAS held
            to one thread (the library default);
  blas2     the same with ``n_jobs=1`` but BLAS allowed 2 threads (to justify the default);
  scipy     ``scipy.stats.kendalltau(rdm, attr, alternative="greater", method="asymptotic")``
            for every attribute, on a random subsample of neurons (RDMs precomputed, so scipy
            gets the cheaper job), extrapolated linearly to all neurons.
Reports median seconds over repeats and the ratio scipy_extrapolated / emostat. The machine is
shared: the 1-minute load average is recorded beside each figure.

Run: .venv/bin/python benchmarks/bench_searchlight.py [--repeats 3] [--scipy-neurons 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats as ss
from threadpoolctl import threadpool_limits

from emostat.analysis.engines import kendall
from emostat.analysis.neurons import searchlight as sl

# the study's release beside the checkout (see tests/release_path.py)
SHARED_RELEASE = Path(__file__).resolve().parents[2] / "shared" / "data" / "model-emotion"

OUT = Path(__file__).parent / "results" / "searchlight.json"


def load_data():
    if (SHARED_RELEASE / "Data").is_dir():
        from emostat.analysis.neurons.activations import load_activation_array
        from emostat.release import common
        from emostat.release.model import read_activations

        table, _ = read_activations(SHARED_RELEASE, quiet=True)
        A, _, _, sizes = load_activation_array(table)
        attr = pd.read_csv(common.find(SHARED_RELEASE, common.ATTRIBUTE_DIST))
        return A, attr, sizes, "release"
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 27, 36864))
    i, j = np.tril_indices(27, -1)
    means = rng.normal(size=(27, 14))
    attr = pd.DataFrame(np.abs(means[i] - means[j]), columns=[f"a{k}" for k in range(14)])
    return A, attr, [3072] * 12, "synthetic"


def timed(fn, repeats):
    times, loads = [], []
    for _ in range(repeats):
        loads.append(os.getloadavg()[0])
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, statistics.median(loads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scipy-neurons", type=int, default=300)
    args = ap.parse_args()
    A, attr, sizes, source = load_data()
    n = A.shape[2]
    res = {"data": source, "neurons": n, "attributes": attr.shape[1],
           "tests": n * attr.shape[1], "cpu_count": os.cpu_count(),
           "python": platform.python_version(), "numpy": np.__version__}

    for jobs in (1, 2):
        med, all_t, load = timed(lambda: sl.searchlight(A, attr, sizes, n_jobs=jobs),
                                 args.repeats)
        res[f"emostat_n_jobs{jobs}_s"] = med
        res[f"emostat_n_jobs{jobs}_all_s"] = all_t
        res[f"emostat_n_jobs{jobs}_load1"] = load
        print(f"emostat n_jobs={jobs}: {med:.2f} s (load {load:.1f})", flush=True)

    # BLAS with 2 threads: bypass the single-thread limiter for one run
    orig = kendall.single_threaded_blas
    try:
        import contextlib
        kendall.single_threaded_blas = contextlib.nullcontext
        sl.single_threaded_blas = contextlib.nullcontext
        with threadpool_limits(2, user_api="blas"):
            med, all_t, load = timed(lambda: sl.searchlight(A, attr, sizes), 1)
    finally:
        kendall.single_threaded_blas = orig
        sl.single_threaded_blas = orig
    res["emostat_blas2_s"], res["emostat_blas2_load1"] = med, load
    print(f"emostat n_jobs=1, BLAS 2 threads: {med:.2f} s (load {load:.1f})", flush=True)

    rng = np.random.default_rng(1)
    pick = rng.choice(n, size=min(args.scipy_neurons, n), replace=False)
    rdm = sl.neuron_rdms(A[:, :, pick])
    Y = attr.to_numpy()

    def scipy_loop():
        for c in range(rdm.shape[1]):
            for k in range(Y.shape[1]):
                ss.kendalltau(rdm[:, c], Y[:, k], alternative="greater", method="asymptotic")

    med, _, load = timed(scipy_loop, 1)
    res["scipy_subsample_neurons"] = len(pick)
    res["scipy_subsample_s"] = med
    res["scipy_extrapolated_s"] = med * n / len(pick)
    res["scipy_load1"] = load
    best = min(res["emostat_n_jobs1_s"], res["emostat_n_jobs2_s"])
    res["ratio_scipy_over_emostat"] = res["scipy_extrapolated_s"] / best
    print(f"scipy loop: {med:.2f} s for {len(pick)} neurons -> "
          f"{res['scipy_extrapolated_s']:.0f} s for {n}; ratio {res['ratio_scipy_over_emostat']:.0f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
