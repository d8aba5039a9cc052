"""The geometry as a stage of `emostat collect` and its claims rows in `emostat analyse`:
a tiny random-weight Llama (tests/tiny_models.py) on the hand-written 12 x 3 space of
test_collect_space, end to end to the claims table.

References: the Holm-adjusted family p against statsmodels' multipletests; the claims rows'
p-values equal the source tables' record rows; a second collect reuses the tables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from emostat import io, schemas  # noqa: E402


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory):
    import tiny_models as tm
    from test_collect_space import write_config, write_space

    from emostat.analysis.pipelines import analyse_run
    from emostat.collect.runner import collect

    tmp = tmp_path_factory.mktemp("geo")
    model = tmp / "tiny-llama"
    tm.save_tiny(model, "llama")
    space = write_space(tmp / "mine")
    cfg = write_config(tmp / "run.toml", space, tasks=["choice"], geometry_items=12,
                       geometry_perm=199, geometry_probe_perm=99)
    collect(config=cfg, out=tmp / "run", model=str(model), quiet=True)
    analyse_run(tmp / "run", quiet=True, n_perm=199)
    return tmp / "run", cfg, model


def test_stage_writes_tables_with_provenance(geo_run):
    run, _, _ = geo_run
    m = json.loads((run / "manifest.json").read_text())
    for name in ("geometry_vectors", "geometry_layer_rsa", "geometry_pca", "geometry_probes",
                 "geometry_probe_attributes", "geometry_steering", "geometry_steering_test"):
        path = run / "geometry" / f"{name}.parquet"
        prov = io.read_provenance(path)
        assert prov["schema"] == name and prov["schema_version"] == schemas.version(name)
        assert prov["space"]["name"] == "mine" and prov["stage"] == "geometry"
        assert f"geometry/{name}.parquet" in m["files"]          # checked by analyse
    assert m["phase_seconds"]["geometry"] > 0
    vec = io.read_table(run / "geometry" / "geometry_vectors.parquet", dataset="geometry_vectors")
    # tiny llama: 3 layers x the space's 12 concepts, 3 stimuli each
    assert len(vec) == 3 * 12 and set(vec["n_stimuli"]) == {3}
    st = io.read_table(run / "geometry" / "geometry_steering.parquet")
    # grid: 12 held-out items x (12 concept + 20 on-manifold + 5 isotropic vectors) x 3 scales
    # x the 12 concepts' words
    assert len(st) == 12 * 37 * 3 * 12


def test_claims_rows_from_record_rows(geo_run):
    from statsmodels.stats.multitest import multipletests

    run, _, _ = geo_run
    claims = io.read_table(run / "results" / "claims.parquet", dataset="claims")
    rec = claims[claims["role"] == "record"].set_index("claim")
    for claim in ("layer_rsa", "pc_attribute", "probe", "steering"):
        assert claim in rec.index and rec.loc[claim, "decision"] in (
            "supported", "not supported", "too coarse to decide", "failed")
        assert isinstance(rec.loc[claim, "reason"], str) and rec.loc[claim, "p_method"]
    pca = io.read_table(run / "results" / "geometry_pca.parquet", dataset="geometry_pca")
    pc1 = pca[(pca["role"] == "record") & (pca["component"] == "PC1")]
    # Holm over the space's 3 attributes (statsmodels), the smallest adjusted p
    adj = multipletests(pc1["p_value"], method="holm")[1]
    assert rec.loc["pc_attribute", "p_value"] == pytest.approx(adj.min(), abs=1e-12)
    pr = io.read_table(run / "results" / "geometry_probes.parquet", dataset="geometry_probes")
    r = pr[pr["role"] == "record"].iloc[0]
    assert rec.loc["probe", "p_value"] == pytest.approx(r["p_value"], abs=1e-15)
    assert rec.loc["probe", "p_floor"] == pytest.approx(1 / 100)          # 99 shuffles
    # the space has no similarity judgments: layer_rsa is Holm over its 3 attributes
    rsa = io.read_table(run / "results" / "geometry_layer_rsa.parquet")
    g = rsa[rsa["role"] == "record"]
    assert set(g["attribute"]) == {"pleasant", "intense", "social"}
    assert rec.loc["layer_rsa", "p_value"] == pytest.approx(
        multipletests(g["p_value"], method="holm")[1].min(), abs=1e-12)
    st = io.read_table(run / "results" / "geometry_steering_test.parquet")
    d = st[st["role"] == "record"].iloc[0]
    assert d["model"] == "specificity" and d["term"] == "own_minus_other"
    assert rec.loc["steering", "test"] == "steering_specificity"
    if np.isfinite(d["p_value"]):
        assert rec.loc["steering", "p_value"] == pytest.approx(d["p_value"], abs=1e-15)


def test_second_collect_reuses_the_geometry(geo_run, capsys):
    from emostat.collect.runner import collect

    run, cfg, model = geo_run
    before = (run / "geometry" / "geometry_pca.parquet").stat().st_mtime_ns
    collect(config=cfg, out=run, model=str(model), quiet=True)
    assert (run / "geometry" / "geometry_pca.parquet").stat().st_mtime_ns == before


def test_geometry_off_writes_nothing(tmp_path):
    from emostat.collect.config import load_config

    cfg = load_config(None, quick=True, geometry=False)
    from emostat.collect.geometry_stage import run_geometry_stage

    assert run_geometry_stage(cfg, tmp_path, object(), None, {}, "x") is None
    assert not (tmp_path / "geometry").exists()
