"""``emostat run``: the main job, end to end."""

from __future__ import annotations

import re
from pathlib import Path


def _folder_name(model: str) -> str:
    """A run folder name for a model path or id (``HuggingFaceTB/SmolLM2-135M`` →
    ``SmolLM2-135M``)."""
    name = Path(str(model).rstrip("/")).name or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


SEED = 20241201                  # the master seed when no config and no --seed set one


def run(out="out", *, release=None, quick: bool = False, to=("html", "pdf"),
        seed: int | None = None, quiet: bool = False, models=None,
        space=None, alpha=None, headline_k=None, items_per_concept=None, config=None,
        plan=None, deviations=None) -> dict[str, Path]:
    """Collect on the embedded model (or reproduce the study with ``release``), analyse, render.

    ``models`` (several local paths or cached ids) runs the experiment on each into
    ``<out>/<model>/`` and renders one comparison report of all of them into
    ``<out>/report``; one model renders the experiment report. ``space`` (a folder or a
    shipped name) is the concept space of the collection (default: the study's). ``seed``
    None: the profile's. ``alpha`` and ``headline_k`` (one of the profile's ks as written
    there, or for ``release`` one of the study's k) decide the claims; they are checked
    before anything runs. ``items_per_concept``: stimuli per concept of the collection (config
    ``items_per_emotion``; None: the profile's). ``config``: a collect config file (as
    ``emostat collect --config``). ``plan`` (a plan file of ``emostat plan``) and
    ``deviations`` (``"field: reason"``): every setting is checked against the plan before
    anything is written (:func:`check_against_plan`), then by the collection and the analysis,
    which record it. Returns the rendered report files by format.
    """
    from emostat import io
    from emostat.report.render import render_report

    from emostat.errors import InputError
    from emostat.plan.stages import open_plan

    plan, deviations = open_plan(plan, deviations)
    out = io.check_writable(out)                              # before any work
    models = list(models or [])
    if release is not None:
        from emostat.analysis.pipelines import reproduce

        for name, v in (("--space", space), ("--config", config), ("--plan", plan)):
            if v is not None:
                raise InputError(f"{name} is for a collected run; --release reproduces the "
                                 "study from its released data")
        reproduce(release, out, seed=SEED if seed is None else seed, quiet=quiet, alpha=alpha,
                  headline_k=headline_k)
        dirs, kind = [out], "reproduction"
    else:
        from emostat.analysis.pipelines import analyse_run
        from emostat.analysis.pipelines.choices import OPTIONS, check_choices
        from emostat.collect.runner import build_config, collect

        cfg = build_config(config, quick=quick, seed=seed, space=space,
                           items_per_concept=items_per_concept)
        check_choices({"alpha": alpha, "headline_k": headline_k}, cfg.ks, where="emostat run",
                      names=OPTIONS)
        if plan is not None:
            check_against_plan(plan, deviations, cfg, models, quick=quick, seed=seed,
                               alpha=alpha, headline_k=headline_k)
        dirs = [out] if len(models) <= 1 else [out / _folder_name(m) for m in models]
        for d, m in zip(dirs, models or [None]):
            given = {"seed": SEED if seed is None else seed, "alpha": alpha,
                     "headline_k": headline_k}     # the searchlight is precomputed for them
            collect(config=config, out=d, model=m, quick=quick, seed=seed, quiet=quiet,
                    space=space, items_per_concept=items_per_concept, plan=plan,
                    deviations=deviations, analysis=given)
            analyse_run(d, quiet=quiet, plan=plan, deviations=deviations, **given)
        kind = "comparison" if len(dirs) > 1 else "experiment"
        if len(dirs) > 1:               # the models' whole-model RSA, paired (issue 23)
            from emostat.analysis.pipelines.rsasteps import compare_runs, write_comparison

            write_comparison(dirs, compare_runs(dirs, seed=SEED if seed is None else seed,
                                                quiet=quiet))
    files = render_report(dirs, to=list(to), out=out / "report", kind=kind, quiet=quiet)
    for fmt, path in files.items():
        print(f"report ({fmt}): {Path(path).resolve()}")
    return files


def check_against_plan(plan, deviations: dict, cfg, models, *, quick: bool, seed, alpha,
                       headline_k) -> None:
    """Before ``run`` writes anything: its analysis settings and its models' weights (hashed
    without loading, as ``emostat plan`` did) against ``plan``. The collection (its config
    first, before it loads a model) and the analysis check again, with the values they use,
    and record what they find."""
    from emostat.plan.compare import check
    from emostat.plan.make import analysis_fields, model_identity
    from emostat.plan.stages import headline_resolver

    given = analysis_fields(cfg, seed=seed, alpha=alpha, headline_k=headline_k)
    check(plan, given, deviations, stage="analyse", where="emostat run",
          resolve={"headline_k": headline_resolver(cfg.ks)})
    check(plan, {"model": [model_identity(m) for m in models or [None]]}, deviations,
          stage="collect", where="emostat run")
