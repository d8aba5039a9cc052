"""More concept-label draws for the geometry's tests of record where the collection's draws
do not decide at the analysis's alpha.

A collection's geometry stage draws ``n_perm`` concept-label permutations (999) for its
max-over-layers tests before any alpha is chosen. ``analyse`` decides at its alpha: where the
Monte-Carlo interval of the p of record of ``layer_rsa`` or ``pc_attribute`` (for a Holm
family, its smallest p times the family's size) contains alpha, that table is recomputed from
the stored concept vectors with the draws doubled while undecided, up to
:data:`~emostat.analysis.engines.mantel.MAX_PERM_FACTOR` times the collection's: the doubling
rule of the other permutation tests (the same seed, so the first draws are the collection's).
Only vector metrics are recomputed: cross-validated RDMs (``crossval``) need every stimulus's
states, which are not stored, so such a run keeps its draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.engines.pcontract import missing

__all__ = ["refine_geometry", "stored_vectors"]

SITE = "residual"


def stored_vectors(table: pd.DataFrame, concepts, site: str = SITE) -> np.ndarray:
    """The concept vectors of one site from a ``geometry_vectors`` table as an array
    ``[layers, concepts, dims]``, the concepts in the order given."""
    t = table[table["site"] == site] if "site" in table.columns else table
    layers = sorted(t["layer"].unique())
    by = {(int(r.layer), str(r.concept)): r.values for r in t.itertuples(index=False)}
    try:
        return np.array([[np.asarray(by[(int(la), str(c))], dtype=np.float64)
                          for c in concepts] for la in layers])
    except KeyError as exc:
        raise ValueError(f"geometry_vectors: no vector for layer, concept {exc.args[0]}") \
            from None


def _undecided(row: dict | None, alpha: float) -> bool:
    """Whether a claims row's Monte-Carlo interval of p contains alpha."""
    if not row or "_failed" in row:
        return False
    lo, hi = row.get("p_mc_low"), row.get("p_mc_high")
    return not (missing(lo) or missing(hi)) and lo <= alpha <= hi


def _record(rows: list[dict]) -> dict | None:
    return next((r for r in rows if r.get("role") == "record"), None)


def refine_geometry(tables: dict, alpha: float, means: pd.DataFrame, similarity=None, *,
                    prov: dict, max_factor: int | None = None) -> dict[str, pd.DataFrame]:
    """The geometry tables whose test of record is undecided at ``alpha``, recomputed with more
    draws (see the module); {} when none needs it or the run's geometry cannot be recomputed.

    ``tables``: the run's tables (``geometry_vectors``, ``geometry_layer_rsa``,
    ``geometry_pca``, as :func:`~emostat.analysis.geometry.claims.run_geometry_tables` reads
    them); ``prov``: the provenance of its ``geometry_vectors`` (the stage's options and
    seed); ``means``: the space's attribute means, concepts in the run's order (rows) as the
    stage used them; ``similarity``: its mean dissimilarities (pairs), if any. The refined
    tables' row order and columns are the collection's; the draws they used are in their
    ``n_perm`` and ``p_method``.
    """
    from emostat.analysis.geometry import claims as gc
    from emostat.analysis.geometry.layers import (attribute_rdms, concept_rdms, layer_rsa,
                                                   pca_attributes)
    from emostat.analysis.engines.mantel import MAX_PERM_FACTOR

    vec = tables.get("geometry_vectors")
    if vec is None or not len(vec):
        return {}
    opt = prov.get("geometry") or {}
    metric = opt.get("metric", "correlation")
    first = opt.get("n_perm")
    if (metric == "crossval" or not isinstance(first, int) or first < 1
            or prov.get("seed") is None):
        return {}
    rows_of = {"geometry_layer_rsa": gc.layer_rsa_rows, "geometry_pca": gc.pc_attribute_rows}
    todo = [name for name, rows in rows_of.items()
            if tables.get(name) is not None and len(tables[name])
            and _undecided(_record(rows({name: tables[name]}, alpha)), alpha)]
    cap = (max_factor or MAX_PERM_FACTOR) * first
    if not todo or 2 * first > cap:
        return {}                    # decided (the usual case): the vectors are not read
    seed = int(prov["seed"])
    V = stored_vectors(vec, [str(c) for c in means.index])
    rdms, human = concept_rdms(V, metric), attribute_rdms(means)
    if similarity is not None:
        human["similarity"] = np.asarray(similarity, dtype=float)
    compute = {"geometry_layer_rsa": lambda n: layer_rsa(rdms, human, n_perm=n, seed=seed),
               "geometry_pca": lambda n: pca_attributes(V, means, n_perm=n, seed=seed + 1)}
    out: dict[str, pd.DataFrame] = {}
    for name in todo:
        n = first
        while 2 * n <= cap:
            n *= 2
            new = compute[name](n)
            if not _undecided(_record(rows_of[name]({name: new}, alpha)), alpha):
                break
        t = tables[name]
        kept = t[t["site"] != SITE] if "site" in t.columns else t.iloc[0:0]
        out[name] = pd.concat([new.assign(site=SITE), kept],
                              ignore_index=True).reindex(columns=t.columns)
    return out


def decided_geometry_tables(run_dir, space, alpha: float, quiet: bool = True) -> dict:
    """A collected run's geometry tables ({} without), those whose test of record its draws
    leave undecided at ``alpha`` recomputed with more (:func:`refine_geometry`); one line
    each says so."""
    from pathlib import Path

    from emostat import io
    from emostat.analysis.geometry.claims import FOLDER, run_geometry_tables
    from emostat.checks import log

    tables = run_geometry_tables(run_dir)
    if "geometry_vectors" not in tables:
        return tables
    prov = io.read_provenance(Path(run_dir) / FOLDER / "geometry_vectors.parquet")
    new = refine_geometry(tables, alpha, space.means.loc[list(space.concepts)],
                          space.mean_rdm(), prov=prov)
    for name, t in new.items():
        n = int(t.loc[t["role"] == "record", "n_perm"].max())
        log(f"geometry: {name} recomputed from the concept vectors with {n} concept-label "
            f"permutations (the collection's {prov['geometry']['n_perm']} left its test of "
            f"record undecided at alpha {alpha:g})", quiet)
    return {**tables, **new}
