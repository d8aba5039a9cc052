"""Geometry claims rows (emostat.analysis.geometry.claims via build_claims) from small
hand-made tables shaped like the geometry tables' record rows. Each expected decision follows
from docs/design.md §2 applied by hand to the numbers given; Holm against statsmodels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from emostat.analysis.claims.table import RECORD, build_claims

EXP = {"kind": "experiment", "ks": [], "tasks": [], "alpha": 0.05}


def _perm(p, n_perm):
    return dict(p_value=p, n_perm=n_perm, p_floor=1 / (n_perm + 1), p_mc_low=np.nan,
                p_mc_high=np.nan)


def _rsa(ps=(0.002, 0.03, 0.4), sim_p=None, n_perm=999):
    attrs = ["pleasant", "intense", "social"]
    rows = [dict(layer=3, depth=0.5, attribute=a, test="max_over_layers", role="record",
                 estimate=0.3, statistic=0.3, **_perm(p, n_perm)) for a, p in zip(attrs, ps)]
    rows += [dict(layer=1, depth=0.2, attribute="pleasant", test="layer_mantel",
                  role="supporting", estimate=0.1, statistic=0.1, **_perm(0.001, n_perm))]
    if sim_p is not None:
        rows.append(dict(layer=5, depth=1.0, attribute="similarity", test="max_over_layers",
                         role="record", estimate=0.2, statistic=0.2, **_perm(sim_p, n_perm)))
    return pd.DataFrame(rows).assign(p_method="max over 6 layers, concept-label permutations",
                                     unit="concept label (12)", scale="rho")


def _pca(p1=(0.2, 0.01, 0.5), p2=(0.9, 0.9, 0.9)):
    rows = []
    for comp, ps in (("PC1", p1), ("PC2", p2)):
        for a, p in zip(["pleasant", "intense", "social"], ps):
            rows.append(dict(layer=2, depth=0.4, component=comp, attribute=a,
                             test="max_over_layers", role="record", estimate=-0.7,
                             conf_low=-0.9, conf_high=-0.2, **_perm(p, 999)))
    return pd.DataFrame(rows).assign(p_method="max over layers of |r|",
                                     unit="concept (12)", conf_method="Fisher z over concepts")


def _probes(acc=0.4, p=0.01, chance=1 / 12, n_perm=199):
    return pd.DataFrame([
        dict(layer=4, test="ridge_cv", role="supporting", estimate=acc, **_perm(p, n_perm)),
        dict(layer=4, test="max_over_layers", role="record", estimate=acc, conf_low=0.3,
             conf_high=0.5, control_accuracy=0.08, **_perm(p, n_perm))]).assign(
        chance=chance, p_method="max over layers of the ridge probe accuracy",
        unit="stimulus (36) in 4 groups", scale="proportion",
        conf_method="Clopper-Pearson over stimuli (36)")


def _steer(est=1.2, p=0.003, status="ok", message=""):
    return pd.DataFrame([
        dict(layer=3, model="specificity", term="own_minus_other", test="steering_specificity",
             role="record", estimate=est, conf_low=est - 0.5, conf_high=est + 0.5,
             statistic=4.0, df=20.0, p_value=p, p_method="Satterthwaite t", status=status,
             message=message, unit="item (12) x concept (17)"),
        dict(layer=3, model="component", term="matched", test="steering_component",
             role="supporting", estimate=0.4, p_value=0.5, p_method="Satterthwaite t",
             status="ok", unit="item (12) x vector (17)"),
        dict(layer=3, model="component", term="mismatched", test="steering_component",
             role="supporting", estimate=-0.8, p_value=0.5, p_method="Satterthwaite t",
             status="ok", unit="item (12) x vector (17)"),
        dict(layer=3, model="component", term="random_manifold", test="steering_component",
             role="supporting", estimate=-1.3, p_value=0.01, p_method="Satterthwaite t",
             status="ok", unit="item (12) x vector (20)"),
        dict(layer=3, model="at_scale", term="own_minus_other", test="steering_at_scale",
             role="supporting", estimate=0.1, p_value=0.5, p_method="Satterthwaite t",
             status="ok", unit="item (12) x concept (17)")]).assign(
        conf_method="Satterthwaite t interval", n_perm=0, p_floor=0.0)


def _claims(claim=None, **tables):
    """The geometry claims rows of a run with all four tables (defaults above, replaced by
    ``tables``; None: left out); ``claim``: that claim's rows only."""
    full = dict(geometry_layer_rsa=_rsa(), geometry_pca=_pca(), geometry_probes=_probes(),
                geometry_steering_test=_steer())
    full.update(tables)
    c = build_claims({k: v for k, v in full.items() if v is not None}, EXP)
    return c[c["claim"] == claim] if claim else c[c["claim"].isin(
        ["layer_rsa", "pc_attribute", "probe", "steering"])]


def test_registry_has_the_geometry_claims():
    for claim, table in (("layer_rsa", "geometry_layer_rsa"), ("pc_attribute", "geometry_pca"),
                         ("probe", "geometry_probes"), ("steering", "geometry_steering_test")):
        assert RECORD[(claim, "experiment")].table == table


def test_no_geometry_tables_no_rows():
    c = build_claims({}, EXP)
    assert not c["claim"].isin(["layer_rsa", "pc_attribute", "probe", "steering"]).any()
    full = _claims()
    # one record row per geometry claim
    assert sorted(full.loc[full["role"] == "record", "claim"]) == [
        "layer_rsa", "pc_attribute", "probe", "steering"]


def test_layer_rsa_holm_over_attributes_without_similarity():
    c = _claims("layer_rsa", geometry_layer_rsa=_rsa())
    rec = c[c["role"] == "record"]
    assert len(rec) == 1
    r = rec.iloc[0]
    # Holm over (.002, .03, .4): adjusted .006, .06, .4 (statsmodels); smallest .006 <= .05
    adj = multipletests([0.002, 0.03, 0.4], method="holm")[1]
    assert r["p_value"] == pytest.approx(adj.min()) and r["p_value"] == pytest.approx(0.006)
    assert r["estimate"] == 1 and r["scale"] == "count"             # one attribute at .05
    assert r["decision"] == "supported" and r["p_floor"] == pytest.approx(3 / 1000)


def test_layer_rsa_similarity_is_the_record_when_present():
    c = _claims("layer_rsa", geometry_layer_rsa=_rsa(sim_p=0.2))
    rec = c[c["role"] == "record"].iloc[0]
    assert rec["test"] == "max_over_layers" and rec["p_value"] == 0.2
    assert rec["decision"] == "not supported"                         # .2 > .05
    assert (c["role"] == "supporting").sum() == 1                     # the attributes' family
    assert rec["conf_low"] is None or np.isnan(rec["conf_low"])       # no selection-naive CI


def test_pc_attribute_any_sign_and_pc2_supporting():
    c = _claims("pc_attribute", geometry_pca=_pca())
    rec = c[c["role"] == "record"].iloc[0]
    # PC1 p (.2, .01, .5) -> Holm .4, .03, .5: .03 <= .05; r = -.7 counts (the sign is free)
    assert rec["p_value"] == pytest.approx(0.03) and rec["decision"] == "supported"
    sup = c[c["role"] == "supporting"].iloc[0]
    assert sup["test"] == "max_over_layers_pc2_holm" and sup["decision"] == "not supported"


def test_probe_direction_is_above_chance():
    ok = _claims("probe", geometry_probes=_probes()).iloc[0]
    assert ok["decision"] == "supported" and ok["p_floor"] == pytest.approx(1 / 200)
    below = _claims("probe", geometry_probes=_probes(acc=0.05, p=0.01)).iloc[0]
    assert below["decision"] == "not supported"                      # .05 < chance 1/12
    coarse = _claims("probe", geometry_probes=_probes(p=0.05, n_perm=9)).iloc[0]
    assert coarse["decision"] == "too coarse to decide"              # floor 1/10 > .05


def test_steering_specificity_row_and_failures():
    r = _claims("steering", geometry_steering_test=_steer()).iloc[0]
    assert r["decision"] == "supported" and r["conf_low"] == pytest.approx(0.7)   # same fit
    assert r["scale"] == "delta_logp" and r["df"] == 20 and r["test"] == "steering_specificity"
    # the decomposition is told beside the contrast of record
    assert "matched 0.4, mismatched -0.8, on-manifold random -1.3" in r["reason"]
    neg = _claims("steering", geometry_steering_test=_steer(est=-1.0)).iloc[0]
    assert neg["decision"] == "not supported"                        # p small, wrong direction
    bad = _claims("steering", geometry_steering_test=_steer(
        status="failed", message="deviance must contain finite real values")).iloc[0]
    assert bad["decision"] == "failed" and "deviance must contain" in bad["reason"]
    sing = _claims("steering", geometry_steering_test=_steer(
        status="singular", message="singular: dropped (1 | item) (variance 0)")).iloc[0]
    assert sing["decision"] == "supported" and "fit singular: dropped (1 | item)" in sing["reason"]
    fb = _claims("steering", geometry_steering_test=_steer(     # issue 22: a fallback is told
        status="fallback", message="Satterthwaite df failed: Wald z")).iloc[0]
    assert fb["decision"] == "supported" and "fit Satterthwaite df failed: Wald z" in fb["reason"]
    old = _steer()
    old.loc[old.role == "record", "role"] = "supporting"             # a v1 table, upgraded
    v1 = _claims("steering", geometry_steering_test=old).iloc[0]
    assert v1["decision"] == "not tested" and "mismatched-concept control" in v1["reason"]
    st = _claims("steering", geometry_steering_test=None).iloc[0]   # an encoder: no steering
    assert st["decision"] == "not tested" and "decoder" in st["reason"]


def test_record_rows_carry_their_simultaneous_intervals():
    # the tables' record rows hold intervals simultaneous over layers (the same selection as
    # their max-over-layers p), so the claims rows keep them; a Holm family is a count
    rsa = _rsa(sim_p=0.01)
    rsa.loc[rsa["attribute"] == "similarity", ["conf_low", "conf_high", "conf_method"]] = [
        0.05, 1.0, "one-sided 95% lower bound, simultaneous over 6 layers"]
    rec = _claims("layer_rsa", geometry_layer_rsa=rsa)
    rec = rec[rec["role"] == "record"].iloc[0]
    assert (rec["conf_low"], rec["conf_high"]) == (0.05, 1.0)
    assert "simultaneous" in rec["conf_method"]
    pr = _claims("probe", geometry_probes=_probes()).iloc[0]
    assert (pr["conf_low"], pr["conf_high"]) == (0.3, 0.5)
    pc = _claims("pc_attribute", geometry_pca=_pca())
    assert pc["conf_low"].isna().all()


def test_family_contract_is_the_smallest_raw_p_rows():
    # Holm over (.72, .36, .99): every adjusted p is 1; the family's Monte-Carlo interval is
    # the .36 row's scaled by 3 ([.30, .42] -> [.90, 1]), not the first tied row's (.72)
    pca = _pca(p1=(0.72, 0.36, 0.99))
    pca.loc[(pca["component"] == "PC1") & (pca["attribute"] == "intense"),
            ["p_mc_low", "p_mc_high"]] = [0.30, 0.42]
    rec = _claims("pc_attribute", geometry_pca=pca)
    rec = rec[rec["role"] == "record"].iloc[0]
    assert rec["p_value"] == pytest.approx(multipletests([.72, .36, .99], method="holm")[1].min())
    assert (rec["p_mc_low"], rec["p_mc_high"]) == (pytest.approx(0.9), pytest.approx(1.0))
    # issue 25: the sentence a reader gets names the attribute with the smaller raw p
    from emostat.report.findings import claim_sentence
    assert "(smallest at intense, layer" in claim_sentence(rec)


def test_attribute_probes_are_a_supporting_family_of_the_probe_claim():
    att = pd.DataFrame([dict(layer=2, attribute=a, test="max_over_layers", role="record",
                             estimate=0.3, **_perm(p, 199)) for a, p in
                        (("pleasant", 0.005), ("intense", 0.3))]).assign(
        p_method="max over layers of the out-of-fold R^2", unit="stimulus (36)", scale="R2")
    c = _claims("probe", geometry_probe_attributes=att)
    sup = c[c["role"] == "supporting"].iloc[0]
    assert sup["test"] == "attribute_r2_holm" and sup["estimate"] == 1   # Holm .01, .3
    assert sup["p_value"] == pytest.approx(0.01) and sup["decision"] == "supported"


def test_attribute_probes_joint_max_t_row_when_the_table_has_it():
    att = pd.DataFrame([dict(layer=2, attribute=a, test="max_over_layers", role="record",
                             estimate=0.3, p_fwer_joint=pj, **_perm(p, 199)) for a, p, pj in
                        (("pleasant", 0.005, 0.005), ("intense", 0.03, 0.09))]).assign(
        p_method="max over layers of the out-of-fold R^2", unit="stimulus (36)", scale="R2")
    sup = _claims("probe", geometry_probe_attributes=att)
    sup = sup[sup["role"] == "supporting"].iloc[0]
    # max-T over layers x attributes: floor 1/200 (Holm over 2 would be 2/200)
    assert sup["test"] == "attribute_r2_max_t" and sup["estimate"] == 1
    assert sup["p_value"] == 0.005 and sup["p_floor"] == pytest.approx(1 / 200)
    assert sup["decision"] == "supported"


def test_v1_steering_tables_read_upgraded_and_the_claim_says_why(tmp_path):
    # v1 (before the mismatched control): random directions were isotropic ("random"), each
    # scored on one drawn word; the record was the dose model against them
    from emostat import io, schemas

    grid = pd.DataFrame(dict(layer=3, item="i1", vector=["joy", "fear", "random-01"],
                             kind=["concept", "concept", "random"],
                             target=["joy", "fear", "fear"], scale=1.0,
                             delta_logp=[.2, .1, -1.3], delta_choice=0))
    got = io.read_table(io.write_table(grid, tmp_path / "g.parquet", prov={
        "schema": "geometry_steering", "schema_version": 1}), dataset="geometry_steering")
    assert schemas.VERSIONS["geometry_steering"] == 2
    assert list(got.kind) == ["concept", "concept", "random_isotropic"]
    assert list(got.matched) == [True, True, False]
    v1 = _steer().assign(model="dose", term="concept_scale", test="steering_dose",
                         scale=np.nan, p_mc_low=np.nan, p_mc_high=np.nan)
    test = io.read_table(io.write_table(v1, tmp_path / "t.parquet", prov={
        "schema": "geometry_steering_test", "schema_version": 1}),
        dataset="geometry_steering_test")
    assert (test.role != "record").all()
    r = _claims("steering", geometry_steering_test=test).iloc[0]
    assert r["decision"] == "not tested" and "rerun the geometry stage" in r["reason"]
