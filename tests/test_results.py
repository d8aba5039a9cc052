"""Schema versions on write and read (emostat.io, emostat.schemas) and emostat.load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import emostat
from emostat import io, schemas
from emostat.analysis.claims.table import build_claims
from emostat.analysis.pipelines import RESULTS, write_results
from emostat.errors import InputError


def _dip():
    return pd.DataFrame({"k": [4000], "attribute": ["valence"], "statistic": [0.08],
                         "p_value": [0.012], "p_method": ["dip"], "unit": ["emotion (27)"],
                         "role": ["study"]})


def _whole():
    return pd.DataFrame({"estimate": [0.151], "conf_low": [np.nan], "conf_high": [np.nan],
                         "p_value": [1e-4], "p_method": ["Mantel"], "unit": ["emotion (27)"],
                         "role": ["record"], "n_perm": [9999], "comparator": ["tau_b"],
                         "estimand": ["mean_rdm"], "ceiling_low": [np.nan],
                         "ceiling_high": [np.nan], "ceiling_method": ["none: one RDM"]})


def test_write_table_records_schema_and_version(tmp_path):
    path = io.write_table(_dip(), tmp_path / "dip.parquet", prov={"seed": 1}, dataset="dip_test")
    prov = io.read_provenance(path)
    assert (prov["schema"], prov["schema_version"], prov["seed"]) == ("dip_test", 1, 1)
    assert "schema" not in io.read_provenance(io.write_table(_dip(), tmp_path / "x.parquet"))


def test_read_table_upgrades_step_by_step_then_validates(tmp_path, monkeypatch):
    # an unversioned file is version 1; pretend dip_test is at version 3 with two steps
    path = io.write_table(_dip().rename(columns={"statistic": "D"}), tmp_path / "d.parquet")
    monkeypatch.setitem(schemas.VERSIONS, "dip_test", 3)
    seen = []
    monkeypatch.setitem(schemas.UPGRADES, ("dip_test", 1),
                        lambda t: seen.append(1) or t.rename(columns={"D": "statistic"}))
    monkeypatch.setitem(schemas.UPGRADES, ("dip_test", 2),
                        lambda t: seen.append(2) or t.assign(statistic=t["statistic"] * 2))
    df = io.read_table(path, dataset="dip_test")
    assert seen == [1, 2] and df["statistic"].iloc[0] == pytest.approx(0.16)
    # a current-version file is read as it is, no step runs
    cur = io.write_table(_dip(), tmp_path / "c.parquet", dataset="dip_test")
    seen.clear()
    assert io.read_table(cur, dataset="dip_test")["statistic"].iloc[0] == 0.08 and not seen
    # validation runs after the upgrade: a step that drops a required column is caught
    monkeypatch.setitem(schemas.UPGRADES, ("dip_test", 2), lambda t: t.drop(columns="unit"))
    with pytest.raises(InputError, match="lacks required column 'unit'"):
        io.read_table(path, dataset="dip_test")


def test_read_table_refuses_newer_other_and_pre_contract_tables(tmp_path):
    newer = io.write_table(_dip(), tmp_path / "n.parquet",
                           prov={"schema": "dip_test", "schema_version": 99})
    with pytest.raises(InputError, match="version 99, newer"):
        io.read_table(newer, dataset="dip_test")
    other = io.write_table(_dip(), tmp_path / "o.parquet", dataset="dip_test")
    with pytest.raises(InputError, match="holds table 'dip_test'"):
        io.read_table(other, dataset="whole_model_rsa")
    # a table from before the results contract (no p_method) is refused, never guessed at
    old = io.write_table(_dip().drop(columns=["p_method", "unit", "role"]),
                         tmp_path / "old.parquet")
    with pytest.raises(InputError, match="before the results contract"):
        io.read_table(old, dataset="dip_test")


def test_write_results_versions_every_known_table(tmp_path):
    tables = {"whole_model_rsa": _whole(), "extra_thing": pd.DataFrame({"a": [1]})}
    tables["claims"] = build_claims(tables, {"kind": "experiment", "ks": [], "tasks": []})
    paths = write_results(tables, tmp_path, {"kind": "experiment", "seed": 3})
    for name in ("whole_model_rsa", "claims"):
        prov = io.read_provenance(paths[name])
        assert prov["schema"] == name and prov["schema_version"] == schemas.VERSIONS[name]
    assert "schema" not in io.read_provenance(paths["extra_thing"])
    prov = json.loads((tmp_path / RESULTS / "provenance.json").read_text())
    assert "schema" not in prov and prov["seed"] == 3


def test_load_results_object(tmp_path):
    tables = {"whole_model_rsa": _whole(), "dip_test": _dip()}
    tables["claims"] = build_claims(tables, {"kind": "reproduction", "ks": [4000],
                                             "headline_k": 4000, "tasks": []})
    write_results(tables, tmp_path, {"kind": "reproduction", "seed": 3})
    r = emostat.load(tmp_path)
    assert r.tables == ["claims", "dip_test", "whole_model_rsa"]
    assert repr(r) == ("<emostat results of a reproduction run: 3 tables (claims, dip_test, "
                       "whole_model_rsa)>")
    assert r["dip_test"]["statistic"].iloc[0] == 0.08 and r.table("dip_test") is r["dip_test"]
    assert r.provenance["seed"] == 3 and "claims" in r
    whole = r.claims[(r.claims["claim"] == "whole_model")
                     & (r.claims["role"] == "supporting")].iloc[0]
    assert whole["decision"] == "supported"              # p 1e-4 <= .05 from 9,999 draws
    assert r.summary().splitlines()[0] == "Claims (alpha = .05)"
    # no neuron_count_null in these tables: the neuron claim's record is absent, so it failed
    assert "1. Attribute neurons exist: failed" in r.summary()
    assert emostat.load(tmp_path / RESULTS).tables == r.tables
    with pytest.raises(InputError, match="no results table 'power'"):
        r["power"]
    with pytest.raises(InputError, match="no results tables"):
        emostat.load(tmp_path / "empty")
    assert pq.read_schema(tmp_path / RESULTS / "claims.parquet").field("k").type == "int64"


def test_neuron_max_t_version_1_gains_the_min_p_column(tmp_path):
    # the first real format change: neuron_max_t 2 adds p_minp_joint; a version-1 file (as
    # session 3 wrote it) reads with the column present and unknown (NaN)
    from emostat.analysis.neurons import neuronnull as nn

    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 6, 5))
    attr = pd.DataFrame({"a": rng.normal(size=15), "b": rng.normal(size=15)})
    tab = nn.neuron_max_t(A, attr, n_perm=19, seed=1)
    v1 = tab.drop(columns=["p_minp_joint", "p_minp_floor"])
    path = io.write_table(v1, tmp_path / "mt.parquet",
                          prov={"schema": "neuron_max_t", "schema_version": 1})
    got = io.read_table(path, dataset="neuron_max_t")
    # version 3 (issue 22 item 5) adds the min-P floor: a version-1 file gains both, unknown
    assert schemas.VERSIONS["neuron_max_t"] == 3
    assert got["p_minp_joint"].isna().all() and len(got) == 2
    assert got["p_minp_floor"].isna().all()
    v2 = io.write_table(tab.drop(columns="p_minp_floor"), tmp_path / "mt2.parquet",
                        prov={"schema": "neuron_max_t", "schema_version": 2})
    assert io.read_table(v2, dataset="neuron_max_t")["p_minp_floor"].isna().all()
    cur = io.read_table(io.write_table(tab, tmp_path / "c.parquet", dataset="neuron_max_t"),
                        dataset="neuron_max_t")
    assert cur["p_minp_joint"].notna().all() and cur["p_minp_floor"].notna().all()
