"""The run's concept space on the analysis side: which space a run used, and attribute
importance from the space's mean dissimilarity RDM (only where it has one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat.checks import log
from emostat.errors import InputError
from emostat.space.rules import BOOTSTRAP_COLUMNS


def importance_from_mean(mean_rdm, attr_rdms: pd.DataFrame, *, n_perm: int,
                         seed: int, n_items: int | None = None) -> pd.DataFrame:
    """Attribute importance from a mean human RDM alone (no participants: no bootstrap).

    ``n_items``: the concepts permuted by the Mantel test (default: the n with n(n-1)/2 =
    the RDMs' pairs). Same columns as :func:`emostat.analysis.human.humanspace.attribute_importance`: ``estimate`` is the
    study's Kendall tau-b, ``p_value`` the Mantel (concept-label permutation) p; the bootstrap
    columns are NaN (see :func:`with_shipped_bootstrap`).
    """
    from emostat.analysis.human.humanspace import IMPORTANCE_P_METHOD
    from emostat.analysis.engines.kendall import kendall_tau_b
    from emostat.analysis.engines.mantel import exact_if_fewer, mantel_decided, method_text

    y = np.asarray(mean_rdm, dtype=float)
    Y = attr_rdms.to_numpy(float)
    if n_items is None:
        n_items = int(round((1 + np.sqrt(1 + 8 * len(y))) / 2))
    tau = np.atleast_1d(kendall_tau_b(y[:, None], Y)[0][0])
    p, draws, mc = mantel_decided(y, Y, n_perm, seed, n_items=n_items, factor=1)
    exact = exact_if_fewer(n_perm, n_items) == "exact"
    nan = np.full(len(tau), np.nan)
    return pd.DataFrame({"attribute": list(attr_rdms.columns), "estimate": tau,
                         "std_error": nan, "statistic": nan, "df": nan, "p_value": p,
                         "conf_low": nan, "conf_high": nan, "boot_share_le0": nan,
                         "p_method": method_text(IMPORTANCE_P_METHOD, exact),
                         "unit": f"concept label ({n_items})", "role": "record",
                         "conf_method": "none (no participants)", "n_boot": 0,
                         "n_perm": draws, **mc})


# The participant bootstrap a space ships: rater-sampling precision, named as such (never in
# conf_low/conf_high, which belong to the Mantel p's unit, the concept labels).
SHIPPED_BOOT_COLUMNS = BOOTSTRAP_COLUMNS


def with_shipped_bootstrap(imp: pd.DataFrame, space=None) -> pd.DataFrame:
    """Add the participant-bootstrap columns a space ships (``[options]
    importance_bootstrap`` of its ``space.toml``; the study: ``attribute_importance.csv``,
    computed by emostat from the release against the same attribute RDMs) when present.
    The file was checked when the space was read (:func:`emostat.space.rules.check_bootstrap`:
    inside the space folder, one row per attribute, the space's estimates)."""
    from emostat.space import load_space

    sp = load_space(space)
    name = sp.options.get("importance_bootstrap")
    if not name or sp.path is None:
        return imp
    path = sp.path / name
    boot = pd.read_csv(path).set_index("attribute")
    out = imp.set_index("attribute")
    if not np.allclose(out["estimate"], boot.loc[out.index, "estimate"], atol=1e-9):
        raise InputError(f"{path}: importance estimates differ from the space's means and "
                         "RDM; regenerate it with emostat.release.human.write_shipped_human")
    for col in SHIPPED_BOOT_COLUMNS:
        out[col] = boot.loc[out.index, col].to_numpy()
    return out.reset_index()


def run_space(manifest: dict):
    """The concept space of a collected run: its manifest's ``space`` (``space.provenance()``
    as collect records it, or a name/folder), else its config's ``space``, else the study's.

    A recorded digest must match the space's files now (else InputError: they changed), and
    every concept needs a mean of every attribute (:func:`emostat.space.require_complete`).
    """
    from emostat.space import load_space, require_complete

    rec = manifest.get("space")
    if rec is None:
        rec = (manifest.get("config") or {}).get("space")
    if rec is None:
        return load_space()
    if not isinstance(rec, dict):
        return require_complete(load_space(rec))
    path, name = rec.get("path"), rec.get("name")
    space = load_space(path if path and Path(path).is_dir() else name)
    if rec.get("digest") and space.digest != rec["digest"]:
        raise InputError(f"space {space.name!r} ({space.path}): its files changed since the run "
                         f"was collected (digest {space.digest[:12]}, the run recorded "
                         f"{rec['digest'][:12]}); restore them or collect again")
    return require_complete(space)


def untested_claims(space) -> dict:
    """Claims a run on ``space`` cannot test, with the reason (for ``make_design``): without
    similarity judgments there is no human concept space to explain or to compare with."""
    if space.has_similarity:
        return {}
    why = (f"the space {space.name!r} has no similarity judgments (similarity.csv), so there is "
           "no human concept space to test against")
    return {"importance": why, "link": why, "whole_model": why}


def importance_tables(human, space, *, n_perm: int, seed: int, quiet: bool) -> dict:
    """``attribute_importance`` where the space has similarity judgments, else nothing (and
    one line saying so)."""
    if human.mean_rdm is None:
        log(f"space {space.name!r} has no similarity judgments: no attribute importance, "
            "importance link or whole-model RSA", quiet)
        return {}
    imp = importance_from_mean(human.mean_rdm, human.attribute_rdms, n_perm=n_perm, seed=seed,
                               n_items=space.n_concepts)
    return {"attribute_importance": with_shipped_bootstrap(imp, space)}
