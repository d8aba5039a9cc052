"""Cost of the permutation-calibrated searchlight, as ratios to the plain searchlight.

Data: the study's release (27 emotions x 12 seeds x 36,864 neurons, 14 attribute RDMs) when
../shared/data/model-emotion is present, else a synthetic set of the same shape. In one run:
  plain       ``searchlight(R, attr)`` on precomputed neuron RDMs (tau, p, q, ranks);
  count_null  ``count_null(R, attr, n_perm=P)`` (each permutation reruns the searchlight
              product and the study's FDR), inline and on a 2-thread pool;
  mantel      ``neuron_mantel`` for the top-M neurons of each attribute, N permutations.
Reported per unit: seconds per count-null permutation / plain searchlight, and seconds per
10,000 Mantel neuron-permutations / plain searchlight. Ratios, not seconds, are the result:
the machine is shared (2 cores, other jobs running); the 1-minute load average is recorded.
numpy only (analysis never imports torch, so there is no CUDA path here).

Run: .venv/bin/python benchmarks/bench_searchlight_perm.py [--perm 8] [--top 20] [--mantel 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from emostat.analysis import searchlight as sl

OUT = Path(__file__).parent / "results" / "searchlight_perm.json"


def _timed(fn):
    load = os.getloadavg()[0]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, load, out


def main(argv=None) -> dict:
    from bench_searchlight import load_data   # same data as the plain searchlight benchmark

    ap = argparse.ArgumentParser()
    ap.add_argument("--perm", type=int, default=8, help="count-null permutations timed")
    ap.add_argument("--top", type=int, default=20, help="Mantel neurons per attribute")
    ap.add_argument("--mantel", type=int, default=2000, help="Mantel permutations timed")
    a = ap.parse_args(argv)

    A, attr, sizes, source = load_data()
    R = sl.neuron_rdms(A)
    n, q = R.shape[1], attr.shape[1]
    plain_s, plain_load, rsa = _timed(lambda: sl.searchlight(R, attr, sizes))
    cn_s, cn_load, _ = _timed(lambda: sl.count_null(R, attr, n_perm=a.perm, seed=1))
    with ThreadPoolExecutor(2) as ex:
        cn2_s, cn2_load, _ = _timed(lambda: sl.count_null(R, attr, n_perm=a.perm, seed=1,
                                                          batch=max(1, a.perm // 2),
                                                          executor=ex))
    top = {k: v for k, v in sl.top_k(rsa, a.top).items()}
    m_s, m_load, _ = _timed(lambda: sl.neuron_mantel(R, attr, top, n_perm=a.mantel, seed=1))
    plain_again, _, _ = _timed(lambda: sl.searchlight(R, attr, sizes))   # drift check
    per_perm = cn_s / a.perm
    mantel_units = q * a.top * a.mantel / 1e4          # units of 10,000 neuron-permutations
    res = {
        "data": source, "neurons": n, "attributes": q, "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__,
        "machine_note": "shared 2-core machine, other jobs running: compare ratios only",
        "plain_searchlight_s": plain_s, "plain_searchlight_again_s": plain_again,
        "plain_load1": plain_load,
        "count_null_perms": a.perm, "count_null_s": cn_s, "count_null_load1": cn_load,
        "count_null_2threads_s": cn2_s, "count_null_2threads_load1": cn2_load,
        "ratio_count_null_per_perm_over_plain": per_perm / plain_s,
        "ratio_count_null_2threads_over_inline": cn2_s / cn_s,
        "mantel_top": a.top, "mantel_perms": a.mantel, "mantel_s": m_s, "mantel_load1": m_load,
        "ratio_mantel_per_1e4_neuron_perms_over_plain": m_s / mantel_units / plain_s,
        "default_cost_in_plain_searchlights": {
            "count_null_19_perms": 19 * per_perm / plain_s,
            "mantel_top20_9999_perms": (m_s / mantel_units) * q * 20 * 9999 / 1e4 / plain_s},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
