"""RSA tables of a run (issue 23): the whole-model RDM against the human raters on named
estimands and comparators with the ceiling of each, the similarity ceiling of the layer
profile, and the paired comparison of several runs' models.

Rows of record are fixed by the design before the data (``RECORD_RSA``): the comparator of
record is rho-a (ties in Likert ratings do not favour it, method.md §10); the estimand is
``per_rater`` with the two-factor bootstrap (raters and concepts) when the space has two or more
raters' RDMs, else ``mean_rdm`` with the concept-label permutation. The study's statistic,
tau-b on the mean RDM, is the ``study`` row, with its split-half ceiling and the same
inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat.analysis.engines.rsaceiling import half_splits, split_half_ceiling
from emostat.analysis.engines.rsacompare import Resample, n_items
from emostat.analysis.engines.rsaeval import rsa_tables

__all__ = ["whole_model_tables", "similarity_ceiling", "compare_runs", "RSA_BOOT",
           "RECORD_RSA", "space_raters", "rsa_run_tables"]

RSA_BOOT = 2000         # two-factor resamples of the run's RSA rows (at most n_boot)
RSA_SPLITS = 20         # half splits of the mean_rdm ceiling inside resamples
RECORD_RSA = {"record": "rho_a", "study": ("tau_b", "mean_rdm")}


def _rows(X, Y, names, comparator, estimand, inference, n_boot, n_perm, seed, role, term):
    t = rsa_tables(X, Y, names, comparator=comparator, estimand=estimand,
                   inference=inference, n_boot=n_boot, n_perm=n_perm, seed=seed,
                   n_splits=RSA_SPLITS)
    m = t["models"].rename(columns={"model": "term"})
    m["term"] = term if term is not None else m["term"]
    m["role"] = role
    m["test"] = f"rsa_{comparator}_{estimand}_{inference}"
    return m, t


def whole_model_tables(model_rdm, raters, *, n_boot: int = RSA_BOOT, n_perm: int = 10_000,
                       seed: int = 0) -> dict[str, pd.DataFrame]:
    """``rsa_evaluation``: the whole-model RDM against the raters (record, study and extra rows).

    Parameters
    ----------
    model_rdm : array (P,)
        The model's RDM (:func:`emostat.analysis.neurons.wholemodel.model_rdm`).
    raters : array (R, P)
        The raters' RDMs (R >= 2: rater-level inference), or the mean RDM (one row).
    """
    X = np.atleast_2d(np.asarray(model_rdm, dtype=float))
    Y = np.atleast_2d(np.asarray(raters, dtype=float))
    several = len(Y) >= 2
    inference = "both" if several else "permutation"
    rows = []
    if several:
        plan = [("record", "rho_a", "per_rater"), ("study", "tau_b", "mean_rdm"),
                ("extra", "tau_b", "per_rater"), ("extra", "rho_a", "mean_rdm")]
    else:
        plan = [("record", "rho_a", "mean_rdm"), ("study", "tau_b", "mean_rdm")]
    for role, comp, est in plan:
        m, _ = _rows(X, Y, ["whole_model"], comp, est, inference, n_boot, n_perm, seed, role,
                     "whole_model")
        rows.append(m)
    return {"rsa_evaluation": pd.concat(rows, ignore_index=True)}


def space_raters(space, mean_rdm=None) -> np.ndarray | None:
    """(R, P) RDMs of a space's raters who judged every pair (``similarity.csv`` with a
    ``participant`` column), else its mean RDM as one row, else None."""
    subj = space.subject_rdms() if space is not None else None
    if subj is not None:
        S = subj[1][np.isfinite(subj[1]).all(axis=1)]
        if len(S) >= 2:
            return S
    mean = mean_rdm if mean_rdm is not None else (space.mean_rdm() if space is not None
                                                  else None)
    return None if mean is None else np.asarray(mean, dtype=float)[None]


def rsa_run_tables(A, raters, *, n_boot: int, n_perm: int, seed: int) -> dict:
    """The RSA tables of a run from its activations and raters: ``rsa_evaluation`` and, with
    two or more raters, ``rsa_ceiling`` (the layer profile's band)."""
    from emostat.analysis.neurons.wholemodel import model_rdm

    out = whole_model_tables(model_rdm(A), raters, n_boot=min(n_boot, RSA_BOOT),
                             n_perm=n_perm, seed=seed)
    ceiling = similarity_ceiling(raters, seed=seed)
    if ceiling is not None:
        out["rsa_ceiling"] = ceiling
    return out


def similarity_ceiling(raters, comparators=("spearman", "rho_a", "tau_b"),
                       seed: int = 0) -> pd.DataFrame | None:
    """``rsa_ceiling``: the split-half ceiling of the mean similarity RDM (the human RDM of the
    layer profile, estimand ``mean_rdm``) per comparator; None with fewer than 2 raters."""
    Y = np.atleast_2d(np.asarray(raters, dtype=float))
    if len(Y) < 2 or not np.isfinite(Y).all():
        return None
    n = n_items(Y.shape[1])
    splits = half_splits(len(Y), 100, seed)
    rows = []
    for comp in comparators:
        low, high, r = split_half_ceiling(Resample.full(n, comp), Y, splits)
        rows.append({"human_rdm": "similarity", "comparator": comp, "estimand": "mean_rdm",
                     "ceiling_low": float(low[0]), "ceiling_high": float(high[0]),
                     "r_half": float(r[0]), "n_raters": len(Y), "n_splits": len(splits),
                     "ceiling_method": "split-half reliability of the mean RDM (Spearman-Brown "
                                       "to all raters): lower = reliability, upper = its "
                                       "square root"})
    return pd.DataFrame(rows)


def compare_runs(run_dirs, *, n_boot: int = RSA_BOOT, n_perm: int = 10_000, seed: int = 0,
                 quiet: bool = False) -> dict[str, pd.DataFrame]:
    """Paired comparison of several runs' whole-model RDMs against the same human raters.

    Every run's model RDM (1 - cosine over all FFN neurons, averaged over templates) from its
    activations; the raters of the runs' shared concept space (its participants' RDMs when it
    has them, else the mean RDM). Returns ``rsa_comparison`` (one row per model) and
    ``rsa_comparison_differences`` (every pair, paired on the same resamples, Holm), written by
    :func:`write_comparison` into each run's results.
    """
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.analysis.neurons.wholemodel import model_rdm
    from emostat.analysis.pipelines.runspace import run_space
    from emostat.checks import log
    from emostat.errors import InputError
    from emostat.integrity import read_manifest

    dirs = [Path(d) for d in run_dirs]
    spaces = [run_space(read_manifest(d)) for d in dirs]
    if len({s.digest for s in spaces}) > 1:
        raise InputError("compare_runs: the runs use different concept spaces; a paired "
                         "comparison needs the same concepts and raters")
    space = spaces[0]
    subj = space.subject_rdms()
    Y = (subj[1] if subj is not None and len(subj[1]) >= 2 and np.isfinite(subj[1]).all()
         else np.asarray(space.mean_rdm())[None])
    X, names = [], []
    for d in dirs:
        A, _, _, _ = load_activation_array(d / "activations", concepts=space.concepts)
        X.append(model_rdm(A))
        names.append(d.name)
    log(f"comparing {len(dirs)} models' whole-model RSA ({'raters' if len(Y) > 1 else 'mean'}"
        " RDM) ...", quiet)
    inference = "both" if len(Y) >= 2 else "permutation"
    estimand = "per_rater" if len(Y) >= 2 else "mean_rdm"
    t = rsa_tables(np.vstack(X), Y, names, comparator=RECORD_RSA["record"], estimand=estimand,
                   inference=inference, n_boot=n_boot, n_perm=n_perm, seed=seed,
                   n_splits=RSA_SPLITS)
    models = t["models"].assign(role="record", test=f"rsa_{RECORD_RSA['record']}_{estimand}_"
                                                      f"{inference}")
    diffs = t["differences"]
    if len(diffs):
        diffs = diffs.assign(role="record")
    return {"rsa_comparison": models, "rsa_comparison_differences": diffs}


def write_comparison(run_dirs, tables: dict, prov: dict | None = None) -> None:
    """Write the comparison tables into every compared run's ``results/`` (the comparison
    report reads them from there; provenance lists the runs compared)."""
    from emostat import io

    runs = [str(Path(d).resolve()) for d in run_dirs]
    for d in run_dirs:
        for name, df in tables.items():
            if df is not None and len(df):
                io.write_table(df, Path(d) / "results" / f"{name}.parquet",
                               prov=io.provenance(kind="comparison", runs=runs, **(prov or {})),
                               dataset=name)
