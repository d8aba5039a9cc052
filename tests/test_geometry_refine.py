"""More draws for the geometry's tests of record where the collection's do not decide
(emostat.analysis.geometry.refine): the stored vectors give back the collection's tables
exactly, the draws are doubled only while the record's Monte-Carlo interval holds alpha, up to
8x, and a decided or cross-validated run is left as it is.

References: the tables `layer_rsa` and `pca_attributes` compute on the same vectors (exact
equality), the Clopper-Pearson interval (statsmodels' `proportion_confint(method="beta")`,
checked in tests/test_geometry.py) and the doubling rule of the other permutation tests
(emostat.analysis.engines.mantel.MAX_PERM_FACTOR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.geometry import layers as g
from emostat.analysis.geometry.claims import layer_rsa_rows, pc_attribute_rows
from emostat.analysis.geometry.refine import refine_geometry, stored_vectors
from emostat.analysis.engines.mantel import MAX_PERM_FACTOR

C, L, D, SEED = 9, 4, 12, 7


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(3)
    concepts = [f"c{i}" for i in range(C)]
    means = pd.DataFrame(rng.normal(size=(C, 3)), index=concepts, columns=["a", "b", "v"])
    V = rng.normal(size=(L, C, D))
    V[2] += 0.8 * means["v"].to_numpy()[:, None] * rng.normal(size=D)   # a weak signal
    sim = np.abs(rng.normal(size=C * (C - 1) // 2))
    human = g.attribute_rdms(means).assign(similarity=sim)
    vec = g.vectors_table(V, concepts).assign(site="residual")
    tables = {"geometry_vectors": vec,
              "geometry_layer_rsa": g.layer_rsa(g.concept_rdms(V), human, n_perm=199,
                                                seed=SEED).assign(site="residual"),
              "geometry_pca": g.pca_attributes(V, means, n_perm=199,
                                               seed=SEED + 1).assign(site="residual")}
    prov = {"seed": SEED, "geometry": {"n_perm": 199, "metric": "correlation"}}
    return dict(V=V, means=means, sim=sim, human=human, tables=tables, prov=prov)


def _record(rows):
    return next(r for r in rows if r["role"] == "record")


def test_stored_vectors_give_back_the_collections_tables_exactly(run):
    V = stored_vectors(run["tables"]["geometry_vectors"], list(run["means"].index))
    assert np.array_equal(V, run["V"])                   # float64 kept (float32 was not)
    again = g.layer_rsa(g.concept_rdms(V), run["human"], n_perm=199, seed=SEED)
    pd.testing.assert_frame_equal(again.assign(site="residual"),
                                  run["tables"]["geometry_layer_rsa"])


def test_decided_tests_are_left_as_they_are(run):
    # alpha far from every record p: nothing to redo
    p = _record(layer_rsa_rows(run["tables"], 0.5))["p_value"]
    q = _record(pc_attribute_rows(run["tables"], 0.5))["p_value"]
    alpha = 0.999 if max(p, q) < 0.9 else 1e-6
    assert refine_geometry(run["tables"], alpha, run["means"], run["sim"],
                           prov=run["prov"]) == {}


def test_undecided_record_gets_doubled_draws_up_to_the_cap(run):
    t = run["tables"]
    alpha = _record(layer_rsa_rows(t, 0.05))["p_value"]  # its interval surely holds alpha
    new = refine_geometry(t, alpha, run["means"], run["sim"], prov=run["prov"])
    assert "geometry_layer_rsa" in new
    r = new["geometry_layer_rsa"]
    n = int(r.loc[r["role"] == "record", "n_perm"].iloc[0])
    assert n in {199 * 2 ** j for j in range(1, 4)} and n <= MAX_PERM_FACTOR * 199
    # stops at the first count that decides, else at the cap
    rec = _record(layer_rsa_rows({"geometry_layer_rsa": r}, alpha))
    if n < MAX_PERM_FACTOR * 199:
        assert not rec["p_mc_low"] <= alpha <= rec["p_mc_high"]
    # the table is the one layer_rsa computes with n draws, rows and columns as collected
    want = g.layer_rsa(g.concept_rdms(run["V"]), run["human"], n_perm=n, seed=SEED)
    pd.testing.assert_frame_equal(r, want.assign(site="residual")[list(t["geometry_layer_rsa"]
                                                                      .columns)])
    assert f"{n} concept-label permutations" in rec["p_method"]


def test_cross_validated_distances_and_missing_seeds_keep_their_draws(run):
    t = run["tables"]
    alpha = _record(layer_rsa_rows(t, 0.05))["p_value"]
    for prov in ({"seed": SEED, "geometry": {"n_perm": 199, "metric": "crossval"}},
                 {"geometry": {"n_perm": 199}}):
        assert refine_geometry(t, alpha, run["means"], run["sim"], prov=prov) == {}


def test_the_standalone_command_decides_its_draws_as_analyse_does(run, monkeypatch):
    # `emostat geometry` decides its own claims at the default alpha: the same refinement
    from emostat.analysis.claims import table
    from emostat.collect import geometry_run as gr

    t = run["tables"]
    alpha = _record(layer_rsa_rows(t, 0.05))["p_value"]
    monkeypatch.setattr(table, "DEFAULT_ALPHA", alpha)
    rsa, pca = gr._decided(t["geometry_vectors"], t["geometry_layer_rsa"], t["geometry_pca"],
                           run["means"], run["sim"], SEED, gr.GeometryOptions(n_perm=199))
    want = refine_geometry(t, alpha, run["means"], run["sim"], prov=run["prov"])
    pd.testing.assert_frame_equal(rsa, want["geometry_layer_rsa"])
    assert rsa["n_perm"].max() > 199
    pd.testing.assert_frame_equal(pca, want.get("geometry_pca", t["geometry_pca"]))
