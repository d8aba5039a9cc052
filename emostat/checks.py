"""Small helpers shared across emostat: column checks, score matrices, progress lines, child
seeds and the versions of the packages a run's numbers depend on. Imports nothing of emostat
but errors."""

from __future__ import annotations

import numpy as np

from emostat.errors import input_error

# the packages whose behaviour the numbers depend on (analysis, collection)
ANALYSIS_PACKAGES = ("emostat", "numpy", "scipy", "pandas", "pyarrow", "statsmodels", "diptest",
                     "torch", "transformers")
COLLECT_PACKAGES = ("emostat", "torch", "transformers", "tokenizers", "safetensors", "gguf",
                    "numpy", "pandas", "pyarrow", "scipy", "ray")


def require_columns(df, columns, where) -> None:
    """InputError naming ``where`` (a file or a table's name) when ``df`` lacks a column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise input_error(where, f"missing column(s) {missing}; found {list(df.columns)}")


def score_matrix(rows, width: int, where: str) -> np.ndarray:
    """(rows, width) float64 of the ``logprobs`` lists of inference rows; an InputError naming
    ``where`` and the row when one has another length."""
    lp = [np.asarray(x, dtype=np.float64) for x in rows["logprobs"]]
    bad = [i for i, x in enumerate(lp) if x.shape != (width,)]
    if bad:
        raise input_error(where, f"column 'logprobs' of row {rows.index[bad[0]]} has "
                                 f"{lp[bad[0]].size} scores, expected {width}")
    return np.stack(lp) if lp else np.zeros((0, width))


def log(msg: str, quiet: bool) -> None:
    """Print a progress line (flushed, so it shows in a log file) unless ``quiet``."""
    if not quiet:
        print(msg, flush=True)


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent child seeds of ``seed`` (stable across runs and platforms)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def package_versions(packages=ANALYSIS_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    vers = {}
    for pkg in packages:
        try:
            vers[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return vers
