"""A hand-written space (12 concepts x 3 attributes, per-participant ratings) through analyse:
searchlight numbers equal scipy's Kendall tau-b recomputed from the files."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from emostat import io
from emostat.space import load_space

CONCEPTS = [f"c{k:02d}" for k in range(12)]
ATTRS = ["calm", "warmth", "power"]
TOML = '''name = "twelve"
language = "en"
citation = "hand-written test space"
licence = "CC0"
human_data = false

[templates.concept]
t1 = "The feeling of {word}"
'''


def make_space(d, rng, with_similarity: bool):
    d.mkdir(parents=True)
    (d / "space.toml").write_text(TOML, encoding="utf-8")
    order = rng.permutation(12)                     # analysis order differs from name order
    (d / "concepts.csv").write_text("concept,word\n" + "".join(
        f"{CONCEPTS[k]},word{k}\n" for k in order), encoding="utf-8")
    with open(d / "ratings.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["concept", "attribute", "value", "participant"])
        for p in range(5):
            for a in ATTRS:
                for c in CONCEPTS:
                    w.writerow([c, a, int(rng.integers(1, 10)), f"p{p}"])
    if with_similarity:
        with open(d / "similarity.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["concept_a", "concept_b", "value", "participant"])
            for p in range(3):
                for a, b in combinations(CONCEPTS, 2):
                    w.writerow([a, b, int(rng.integers(1, 10)), f"s{p}"])
    return d


def make_run(run, space, rng, n_templates=3, layers=(4, 3)):
    run.mkdir()
    rows = []
    shuffled = list(rng.permutation(CONCEPTS))       # file order != analysis order
    for layer, units in enumerate(layers):
        for c in shuffled:
            for t in range(n_templates):
                # halves: exact in float32 and in sums, so ties are exact on both sides
                vals = (rng.integers(-4, 5, size=units) / 2).astype(np.float32)
                rows.append({"model": "m", "concept": c, "template": f"t{t}", "layer": layer,
                             "values": vals.tolist()})
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("model", pa.string()), ("concept", pa.string()), ("template", pa.string()),
        ("layer", pa.int64()), ("values", pa.list_(pa.float32()))]))
    io.write_table(table, run / "activations" / "part-0.parquet")
    (run / "manifest.json").write_text(json.dumps({
        "complete": True, "activations_only": True, "space": space.provenance(),
        "config": {"ks": [2]}, "model": {"name": "m"}}))
    return rows


def independent_rdms(d, rows):
    """Attribute and neuron RDMs from the files with plain Python (analysis order, dist())."""
    order = [r["concept"] for r in csv.DictReader(open(d / "concepts.csv", encoding="utf-8"))]
    pairs = [(i, j) for j in range(len(order)) for i in range(j + 1, len(order))]
    ratings = list(csv.DictReader(open(d / "ratings.csv", encoding="utf-8")))
    attr = {}
    for a in ATTRS:       # exact rational means: equal differences tie exactly
        vals = {c: [Fraction(r["value"]) for r in ratings
                    if r["concept"] == c and r["attribute"] == a] for c in order}
        m = {c: sum(v) / len(v) for c, v in vals.items()}
        attr[a] = np.array([float(abs(m[order[i]] - m[order[j]])) for i, j in pairs])
    acts = {}                                         # (layer, concept) -> templates x units
    for r in rows:
        acts.setdefault((r["layer"], r["concept"]), []).append(np.asarray(r["values"], float))
    neurons = []
    for layer in sorted({k[0] for k in acts}):
        X = {c: np.vstack(acts[(layer, c)]) for c in order}
        for u in range(X[order[0]].shape[1]):
            neurons.append(np.array([np.mean(np.abs(X[order[i]][:, u] - X[order[j]][:, u]))
                                     for i, j in pairs]))
    return attr, neurons


@pytest.mark.parametrize("with_similarity", [True, False])
def test_searchlight_equals_scipy_kendall_tau_b(tmp_path, capsys, with_similarity):
    from emostat.analysis.pipelines import analyse_run

    rng = np.random.default_rng(7)
    d = make_space(tmp_path / "space", rng, with_similarity)
    space = load_space(d)
    assert (space.n_concepts, space.n_attributes, space.n_pairs) == (12, 3, 66)
    rows = make_run(tmp_path / "run", space, rng)
    with pytest.warns(UserWarning, match="no file record"):
        analyse_run(tmp_path / "run", n_perm=99, seed=1,
                    searchlight={"n_perm_mantel": 0, "n_perm_count": 0})
    res = tmp_path / "run" / "results"
    rsa = io.read_table(res / "neuron_rsa.parquet")
    attr, neurons = independent_rdms(d, rows)
    assert len(rsa) == len(neurons) * 3 == 21
    for row in rsa.itertuples():
        ref = stats.kendalltau(neurons[row.neuron], attr[row.attribute], variant="b")[0]
        assert row.tau == pytest.approx(ref, abs=1e-12), (row.neuron, row.attribute)
    human = io.read_table(res / "attribute_rdms.parquet")
    assert len(human) == 66 * 3
    out = capsys.readouterr().out
    prov = json.loads((res / "provenance.json").read_text())
    assert prov["space"]["digest"] == space.digest
    if with_similarity:
        imp = io.read_table(res / "attribute_importance.parquet").set_index("attribute")
        subj = pd.read_csv(d / "similarity.csv").groupby(["concept_a", "concept_b"])["value"]
        mean = subj.mean()
        order = list(space.concepts)
        y = [mean.get((order[i], order[j]), mean.get((order[j], order[i])))
             for j in range(12) for i in range(j + 1, 12)]
        for a in ATTRS:        # importance = tau-b(mean human RDM, attribute RDM), scipy
            assert imp.loc[a, "estimate"] == pytest.approx(
                stats.kendalltau(y, attr[a], variant="b")[0], abs=1e-12)
        assert imp["unit"].iloc[0] == "concept label (12)"
    else:
        assert "has no similarity judgments: no attribute importance" in out
        assert not (res / "attribute_importance.parquet").exists()
        assert not (res / "whole_model_rsa.parquet").exists()


def test_run_space_from_manifest(tmp_path):
    from emostat.analysis.pipelines import run_space
    from emostat.errors import InputError

    assert run_space({}).name == "study"                            # default
    assert run_space({"config": {"space": "de-example"}}).name == "de-example"
    d = make_space(tmp_path / "space", np.random.default_rng(1), False)
    rec = load_space(d).provenance()
    assert run_space({"space": rec}).digest == rec["digest"]
    with open(d / "ratings.csv", "a", encoding="utf-8") as fh:
        fh.write("c00,calm,1,p9\n")
    with pytest.raises(InputError, match="its files changed since the run was collected"):
        run_space({"space": rec})
