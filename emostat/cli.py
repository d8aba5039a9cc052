"""The ``emostat`` command line. Each subcommand calls one library function (imported lazily,
so ``emostat --help`` is fast and ``analysis`` commands never load torch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emostat import __version__
from emostat.errors import EmostatError, InputError

SEED = 20241201                  # the master seed when neither the command line nor a config sets it


def _add_common(p: argparse.ArgumentParser) -> None:
    # default None: a value given on the command line always wins over a config file, even one
    # equal to the default (command line > file > profile)
    p.add_argument("--seed", type=int, default=None,
                   help=f"master random seed (default: the config's, else {SEED})")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summaries")


def _seed(a) -> int:
    if a.seed is not None and a.seed < 0:
        from emostat.errors import InputError

        raise InputError(f"--seed must be an integer >= 0, got {a.seed}")
    return SEED if a.seed is None else a.seed


def _number(text: str):
    """An option's number as written: an int where it reads as one, else a float; text that
    is neither is kept (and refused, naming the option, where the value is checked)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _add_choices(s: argparse.ArgumentParser, what: str) -> None:
    s.add_argument("--alpha", type=_number, default=None,
                   help=f"alpha of every claim, in (0, 1) (default: {what}, else .05)")
    s.add_argument("--headline-k", type=_number, default=None,
                   help="the k the claims and reports lead with: one of the run's k, as a count "
                        f"or a fraction of the neurons (default: {what}, else the largest)")


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _add_items(s: argparse.ArgumentParser) -> None:
    s.add_argument("--items-per-concept", type=_positive, default=None, metavar="N",
                   help="stimuli per concept for the tasks (config items_per_emotion; default: "
                        "the profile's; --quick picks enough for the chance test to detect 15 "
                        "points above chance, docs/inference.md)")


def _cmd_import_release(a):
    from emostat.release import import_release

    import_release(a.path, a.out, quiet=a.quiet)


NO_RELEASE = ("reproduce needs --release PATH: a clone of github.com/thunlp/Model_Emotion or an "
              "import-release output (the study's data does not ship with emostat)")


def _cmd_reproduce(a):
    from emostat.analysis.pipelines import reproduce

    if a.release is None:
        raise InputError(NO_RELEASE)
    reproduce(a.release, a.out, seed=_seed(a), n_boot=a.n_boot, n_perm=a.n_perm, quiet=a.quiet,
              searchlight=_searchlight_options(a), alpha=a.alpha, headline_k=a.headline_k)


def _cmd_collect(a):
    from emostat.collect.runner import collect

    collect(config=a.config, out=a.out, model=a.model, device=a.device, dtype=a.dtype,
            quick=a.quick, backend=a.backend, address=a.address, seed=a.seed, quiet=a.quiet,
            activations_only=a.activations_only, space=a.space,
            items_per_concept=a.items_per_concept, plan=a.plan, deviations=a.deviation)


def _cmd_analyse(a):
    from emostat.analysis.pipelines import analyse_run
    from emostat.plan.stages import open_plan, plan_options

    plan, devs = open_plan(a.plan, a.deviation)
    o = plan_options(plan, n_boot=a.n_boot, mantel_top=a.mantel_top,
                     n_perm_mantel=a.n_perm_mantel, seed=a.seed)
    a.mantel_top, a.n_perm_mantel, a.seed = o["mantel_top"], o["n_perm_mantel"], o["seed"]
    boot = {} if o["n_boot"] is None else {"n_boot": o["n_boot"]}   # else analyse_run's
    analyse_run(a.run_dir, out=a.out, seed=_seed(a), n_perm=a.n_perm, quiet=a.quiet,
                searchlight=_searchlight_options(a), alpha=a.alpha, headline_k=a.headline_k,
                plan=plan, deviations=devs, **boot)


def _searchlight_options(a) -> dict:
    top = a.mantel_top
    if top is not None and top != "k":
        try:
            top = int(top)
        except ValueError:
            from emostat.errors import InputError

            raise InputError(f"--mantel-top must be a number or 'k', got {top!r}") from None
    return {"mantel_top": top, "n_perm_mantel": a.n_perm_mantel,
            "n_perm_count": a.n_perm_count}


def _add_plan(s: argparse.ArgumentParser) -> None:
    s.add_argument("--plan", type=Path, default=None,
                   help="the plan file of `emostat plan`: a setting that contradicts it is "
                        "refused unless declared with --deviation (docs/preregistration.md)")
    s.add_argument("--deviation", action="append", default=None, metavar='"FIELD: REASON"',
                   help="a declared departure from the plan, with its reason (repeatable); "
                        "recorded in the manifest, the results and the report")


def _cmd_plan(a):
    from emostat.plan import read_plan
    from emostat.plan.markdown import to_markdown

    if a.action == "show":
        if a.file is None:
            from emostat.errors import InputError

            raise InputError("emostat plan show FILE: give the plan file")
        print(to_markdown(read_plan(a.file)))
        return
    if a.out is None:
        from emostat.errors import InputError

        raise InputError("emostat plan: give --out FILE (the plan to write), or `emostat plan "
                         "show FILE`")
    from emostat.plan.make import make_plan

    plan = make_plan(a.out, markdown=a.markdown, config=a.config, models=a.model,
                     space=a.space, quick=a.quick, seed=a.seed, alpha=a.alpha,
                     headline_k=a.headline_k, items_per_concept=a.items_per_concept, cli=True)
    if not a.quiet:
        print(f"plan: {Path(a.out).resolve()}  sha256 {plan.sha256}  written {plan.written}")
        if a.markdown:
            print(f"plan (Markdown): {Path(a.out).with_suffix('.md').resolve()}")


def _add_searchlight(s: argparse.ArgumentParser) -> None:
    from emostat.analysis.pipelines import SEARCHLIGHT_PERM as D

    s.add_argument("--mantel-top", default=None,
                   help="neurons per attribute given an concept-label Mantel p: a number, or "
                        f"'k' for the top-k set at the headline k (default {D['mantel_top']})")
    s.add_argument("--n-perm-mantel", type=int, default=None,
                   help="Mantel permutations per chosen neuron, an extra uncorrected for "
                        f"the choice (default {D['n_perm_mantel']}: off; e.g. 9999)")
    s.add_argument("--n-perm-count", type=int, default=None,
                   help="concept-label permutations of the searchlight shared by the max-T "
                        "and count nulls, all in one batched product: a minimum, doubled "
                        "while undecided (0: skip; default: the run's config, else "
                        f"{D['n_perm_count']}, smallest p 1/(B+1) = .005)")


def _cmd_report(a):
    from emostat.report.render import render_report

    render_report(a.results_dir, to=a.to.split(","), out=a.out, kind=a.kind, quiet=a.quiet)


def _cmd_space_check(a):
    from emostat.space.check import check, format_description

    print(format_description(check(a.dir)))


def _cmd_run(a):
    from emostat.workflow import run

    run(out=a.out, release=a.release, quick=a.quick, to=a.to.split(","), seed=a.seed,
        quiet=a.quiet, models=a.model, space=a.space, alpha=a.alpha, headline_k=a.headline_k,
        config=a.config, items_per_concept=a.items_per_concept, plan=a.plan,
        deviations=a.deviation)


def _cmd_geometry(a):
    from emostat.collect.geometry_run import GeometryOptions, run_geometry

    kw = {k: v for k, v in dict(n_perm=a.n_perm, n_perm_probe=a.n_perm_probe,
                                steer_layer=a.steer_layer, n_random=a.n_random,
                                n_isotropic=a.n_isotropic,
                                n_items=a.n_items, metric=a.metric).items() if v is not None}
    if a.scales:
        kw["scales"] = tuple(float(x) for x in a.scales.split(","))
    if a.ffn:
        kw["sites"] = ("residual", "ffn")
    opt = GeometryOptions.quick(**kw) if a.quick else GeometryOptions(**kw)
    space = {}
    if a.space:
        from emostat.space import load_space

        sp = load_space(a.space)
        if sp.stimuli is None or not len(sp.stimuli):
            raise InputError(f"space {sp.name!r} has no stimuli.csv: the geometry needs stimuli")
        space = dict(stimuli=sp.stimuli, means=sp.means.loc[list(sp.concepts)],
                     similarity=sp.mean_rdm(), words=dict(sp.words))
    run_geometry(a.out, model=a.model, options=opt, seed=a.seed, quiet=a.quiet, **space)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="emostat", description="emostat: emotion concepts inside language models — collect, analyse, report.")
    p.add_argument("--version", action="version", version=f"emostat {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("import-release", help="convert the study's released data to Parquet")
    s.add_argument("path", type=Path, help="a clone of thunlp/Model_Emotion or the shared copy")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    _add_common(s)
    s.set_defaults(func=_cmd_import_release)

    s = sub.add_parser("reproduce", help="reproduce the study's statistics from its release")
    # no default: the release is not redistributed with emostat, so there is no place an
    # installed package could find it; a missing --release is one InputError line, rc 2
    s.add_argument("--release", type=Path, default=None,
                   help="release folder (a clone of thunlp/Model_Emotion) or an import-release "
                   "output; required")
    s.add_argument("--out", type=Path, required=True, help="output folder (results/ inside)")
    s.add_argument("--n-boot", type=int, default=10_000, help="bootstrap resamples")
    s.add_argument("--n-perm", type=int, default=None,
                   help="permutation draws, a minimum (default 10000)")
    _add_searchlight(s)
    _add_choices(s, "the paper's 4000 for --headline-k")
    _add_common(s)
    s.set_defaults(func=_cmd_reproduce)

    s = sub.add_parser("collect", help="record activations and inference from a model")
    s.add_argument("--config", type=Path, help="TOML config (keys: see emostat/collect/config.py)")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--model", help="folder saved with save_pretrained, a .gguf file (or a folder "
                   "holding one), or a cached HF id (default: embedded SmolLM2-135M)")
    s.add_argument("--space", help="concept space: a folder (concepts.csv, ratings.csv, "
                   "space.toml, ...) or a shipped name (default: the study's 27 x 14)")
    # defaults None: the config file's value (else the profile's) unless given here
    s.add_argument("--device", default=None, help="cpu | cuda | mps (default cpu)")
    s.add_argument("--dtype", default=None,
                   help="float32 | bfloat16 | float16 | auto (default: auto, i.e. bfloat16 "
                        "where the device computes it natively, else float32; --quick: "
                        "float32; anything but float32 only where it decides like float32 on "
                        "a sample of the run's items: config precision_min_agreement)")
    s.add_argument("--quick", action="store_true", help="small profile (<= 3 min on 2 CPUs)")
    _add_items(s)
    s.add_argument("--backend", default=None, choices=["local", "ray", "slurm"],
                   help="where shards run: local processes, a Ray cluster, or Slurm job "
                        "arrays submitted and awaited from here (slurm_* config keys; "
                        "docs/backends.md); default local")
    s.add_argument("--address", help="Ray cluster address (with --backend ray)")
    s.add_argument("--activations-only", action="store_true",
                   help="tasks off: concept activations only (searchlight, RSA), e.g. for an "
                        "encoder without a trained MLM head")
    _add_plan(s)
    _add_common(s)
    s.set_defaults(func=_cmd_collect)

    s = sub.add_parser("analyse", help="analyse a collected run (writes RUN_DIR/results)")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--out", type=Path, default=None,
                   help="write OUT/results instead of RUN_DIR/results (refused if OUT/results "
                        "holds another run's analysis; the same run's is replaced)")
    s.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap resamples (default: the plan's, else 2000)")
    s.add_argument("--n-perm", type=int, default=None,
                   help="permutation draws, a minimum (default: the run's config, else 10000)")
    _add_searchlight(s)
    _add_choices(s, "the run's config")
    _add_plan(s)
    _add_common(s)
    s.set_defaults(func=_cmd_analyse)

    s = sub.add_parser("report", help="render the Quarto report of a results folder")
    s.add_argument("results_dir", type=Path, nargs="+",
                   help="run folder(s) holding results/ (several: model comparison)")
    s.add_argument("--to", default="html,pdf", help="comma list of html, pdf")
    s.add_argument("--out", type=Path, help="output folder (default: <first dir>/report)")
    s.add_argument("--kind", choices=["auto", "reproduction", "experiment", "comparison"],
                   default="auto", help="auto: comparison for several runs")
    _add_common(s)
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("space", help="concept spaces: `emostat space check DIR`")
    ss = s.add_subparsers(dest="space_command", required=True)
    c = ss.add_parser("check", help="validate a concept space and describe it (writes nothing)")
    c.add_argument("dir", help="a space folder or a shipped space name (study, vader, ...)")
    c.set_defaults(func=_cmd_space_check)

    s = sub.add_parser("geometry", help="concept vectors, RSA, PCA, probes and steering per "
                       "layer (writes OUT/results/geometry_*.parquet)")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--model", help="as for collect (default: embedded SmolLM2-135M)")
    s.add_argument("--quick", action="store_true", help="10 probed layers, 16 steering items")
    s.add_argument("--n-perm", type=int, help="concept-label permutations (default 999)")
    s.add_argument("--n-perm-probe", type=int, help="probe label shuffles (default 199)")
    s.add_argument("--steer-layer", type=int, help="steering layer (default: the middle one)")
    s.add_argument("--scales", help="comma list of steering scales (x residual norm)")
    s.add_argument("--n-random", type=int,
                   help="steering: random directions on the data manifold (default 20)")
    s.add_argument("--n-isotropic", type=int,
                   help="steering: isotropic Gaussian directions (default 5)")
    s.add_argument("--n-items", type=int, help="held-out steering items")
    s.add_argument("--metric", choices=["correlation", "cosine", "euclidean", "crossval"],
                   help="layer RDM distance (default correlation; crossval: cross-validated "
                        "squared distance over stimulus folds, unbiased)")
    s.add_argument("--space", help="concept space folder or shipped name (default: the "
                   "study's situations and human means)")
    s.add_argument("--ffn", action="store_true",
                   help="also compute vectors, RSA and PCA from the FFN output (supporting)")
    _add_common(s)
    s.set_defaults(func=_cmd_geometry)

    s = sub.add_parser("run", help="collect (or reproduce), analyse and render, end to end")
    s.add_argument("--out", type=Path, default=Path("out"))
    s.add_argument("--release", type=Path, help="reproduce the study from this release instead")
    s.add_argument("--quick", action="store_true")
    s.add_argument("--model", action="append",
                   help="model path or cached HF id; repeat it to compare models in one report "
                        "(default: the embedded SmolLM2-135M)")
    s.add_argument("--space", help="concept space folder or shipped name (default: the study's)")
    s.add_argument("--config", type=Path, help="TOML collect config (as for collect)")
    _add_items(s)
    s.add_argument("--to", default="html,pdf")
    _add_choices(s, "the profile's")
    _add_plan(s)
    _add_common(s)
    s.set_defaults(func=_cmd_run)

    s = sub.add_parser("plan", help="write a study's plan before collecting (pre-registration),"
                       " or `emostat plan show FILE` as Markdown")
    s.add_argument("action", nargs="?", choices=["show"], help="show: print FILE as Markdown")
    s.add_argument("file", nargs="?", type=Path, help="the plan file to show")
    s.add_argument("--out", type=Path, help="the plan file to write (TOML; never overwritten)")
    s.add_argument("--markdown", action="store_true",
                   help="also write the plan as Markdown beside it (OUT with suffix .md)")
    s.add_argument("--config", type=Path, help="TOML collect config (as for run and collect)")
    s.add_argument("--quick", action="store_true", help="plan the quick profile")
    s.add_argument("--model", action="append",
                   help="model path or cached HF id, as for run (repeat for several)")
    s.add_argument("--space", help="concept space folder or shipped name (default: the study's)")
    _add_items(s)
    _add_choices(s, "the profile's")
    _add_common(s)
    s.set_defaults(func=_cmd_plan)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except EmostatError as exc:
        print(f"emostat: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:              # a full disk, a folder that became read-only, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"emostat: error: {where}{(exc.strerror or str(exc)).lower()} (nothing "
              f"half-written is kept; rerun the same command once this is fixed)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emostat: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
