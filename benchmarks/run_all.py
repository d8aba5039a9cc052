"""Run the benchmarks one after another; each writes its figures to benchmarks/results/.

    python benchmarks/run_all.py            # searchlight, capture, ablation, throughput,
                                            # issue 24's savings (padding, prompt prefix)
                                            # (~25 min on a quiet 2-core CPU)
    python benchmarks/run_all.py --streaming  # also the 36,864 -> 2,359,296-neuron streaming run
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    names = ["bench_searchlight.py", "bench_capture.py", "bench_ablation.py",
             "bench_throughput.py", "bench_padding.py", "bench_prefix.py"]
    if "--streaming" in sys.argv[1:]:
        names.append("bench_streaming.py")
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
