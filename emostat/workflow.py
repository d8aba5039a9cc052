"""``emostat run``: the main job, end to end."""

from __future__ import annotations

from pathlib import Path


def run(out="out", *, release=None, quick: bool = False, to=("html", "pdf"),
        seed: int = 20241201, quiet: bool = False) -> dict[str, Path]:
    """Collect on the embedded model (or reproduce the study with ``release``), analyse, render.

    Returns the rendered report files by format.
    """
    from emostat.report.render import render_report

    out = Path(out)
    if release is not None:
        from emostat.analysis.pipeline import reproduce

        reproduce(release, out, seed=seed, quiet=quiet)
        kind = "reproduction"
    else:
        from emostat.analysis.pipeline import analyse_run
        from emostat.collect.runner import collect

        collect(out=out, quick=quick, seed=seed, quiet=quiet)
        analyse_run(out, seed=seed, quiet=quiet)
        kind = "experiment"
    files = render_report([out], to=list(to), out=out / "report", kind=kind, quiet=quiet)
    for fmt, path in files.items():
        print(f"report ({fmt}): {Path(path).resolve()}")
    return files
