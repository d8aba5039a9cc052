"""The searchlight null's exact Kendall kernel (emostat.analysis.engines.signbits.concordance)
against its previous version, in the same run, on one thread.

  previous  commit 6be2c96: two popcounts per 64 pairs of entries for neuron RDMs without ties,
            four for the others, whatever the attribute RDM; 32-column attribute tiles
  now       a path per kind of column pair (one popcount where neither RDM has ties, two
            where one or both have; the module docstring), 64-column tiles

Data: the neuron RDMs of the study's release (36,864 neurons; ../shared/data/model-emotion,
else a synthetic set of the same shape) against the 14 attribute RDMs under ``--perm``
concept relabellings (as the null permutes them), as they are ("float": few ties) and with the
activations rounded to bfloat16 first (as a bfloat16 collection records them: many neuron
RDMs then have ties, 40% on the embedded model's default run). Both versions give the same
integers (checked). With the single-thread float32 matmul rate before and after.

Run: .venv/bin/python benchmarks/bench_signbits.py [--perm 40] [--previous 6be2c96]
Writes benchmarks/results/signbits.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results" / "signbits.json"

SCRIPT = """
import sys, time, json, numpy as np
from emostat.analysis.engines.signbits import concordance
RX, RY = np.load(sys.argv[1]), np.load(sys.argv[2])
concordance(RX[:, :64], RY[:, :64])                       # numba: compiled before timing
t = time.perf_counter(); S = concordance(RX, RY); s = time.perf_counter() - t
np.save(sys.argv[3], S)
print(json.dumps({"s": s}))
"""


def timed_at(commit: str | None, RX, RY) -> tuple[float, np.ndarray, float]:
    """Seconds of concordance(RX, RY) in a child process importing ``commit``'s emostat (None:
    this checkout's), its result and the load average before it."""
    from bench_searchlight_perm import emostat_at

    with tempfile.TemporaryDirectory() as tmp:
        tree = (Path(__file__).resolve().parents[1] if commit is None
                else emostat_at(commit, Path(tmp)))
        paths = [str(Path(tmp) / f) for f in ("RX.npy", "RY.npy", "S.npy")]
        np.save(paths[0], RX)
        np.save(paths[1], RY)
        load = os.getloadavg()[0]
        done = subprocess.run([sys.executable, "-c", SCRIPT, *paths], cwd=tree, check=True,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(tree),
                                   "NUMBA_CACHE_DIR": str(Path(tmp) / "numba")})
        return json.loads(done.stdout.strip().splitlines()[-1])["s"], np.load(paths[2]), load


def bfloat16(A: np.ndarray) -> np.ndarray:
    """A rounded to bfloat16 (nearest, ties to even) and back to float32."""
    u = np.ascontiguousarray(A, dtype=np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.view(np.float32)


def main(argv=None) -> dict:
    from bench_searchlight import load_data
    from bench_searchlight_perm import gflops_single_thread

    from emostat.analysis.engines.kendall import dense_ranks
    from emostat.analysis.engines.mantel import perm_blocks, permuted_pairs
    from emostat.analysis.neurons import searchlight as sl

    ap = argparse.ArgumentParser()
    ap.add_argument("--perm", type=int, default=40, help="relabellings of the attribute RDMs")
    ap.add_argument("--previous", default="6be2c96", help="the previous kernel's commit")
    a = ap.parse_args(argv)
    A, attr, _, source = load_data()
    Y = attr.to_numpy(float)
    C = int(round((1 + np.sqrt(1 + 8 * len(Y))) / 2))
    perms = np.concatenate([np.arange(C)[None]] + list(perm_blocks(C, a.perm, 1)))
    RY = np.concatenate([dense_ranks(Y)[0][i] for i in permuted_pairs(perms, C)], axis=1)
    gf_before = gflops_single_thread()
    res = {"data": source, "attribute_columns": RY.shape[1], "previous": a.previous,
           "cpu_count": os.cpu_count(), "single_thread_sgemm_gflops_before": gf_before}
    for name, acts in (("float", A), ("bfloat16", bfloat16(A))):
        RX = dense_ranks(sl.neuron_rdms(acts))[0]
        n = RX.shape[0]
        tied = float(np.mean([len(np.unique(RX[:, j])) < n for j in range(RX.shape[1])]))
        s_old, S_old, l_old = timed_at(a.previous, RX, RY)
        s_new, S_new, l_new = timed_at(None, RX, RY)
        assert np.array_equal(S_old, S_new), f"{name}: the versions disagree"
        res[name] = {"neurons": RX.shape[1], "neuron_rdms_with_ties": tied,
                     "previous_s": s_old, "previous_load1": l_old,
                     "now_s": s_new, "now_load1": l_new, "ratio_previous_over_now": s_old / s_new}
    res["single_thread_sgemm_gflops_after"] = gflops_single_thread()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
