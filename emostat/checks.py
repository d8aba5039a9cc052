"""Small helpers shared across emostat: column checks, progress lines, child seeds and the
versions of the packages a run's numbers depend on. Imports nothing of emostat but errors."""

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
