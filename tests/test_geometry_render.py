"""The geometry section of the experiment report and the geometry profiles of the comparison
report, rendered offline from fixture runs whose results hold geometry tables (computed by
emostat.analysis on planted data) and the claims rows build_claims makes of them."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import report_fixtures  # noqa: E402

from emostat import io  # noqa: E402
from emostat.analysis.geometry import layers as g  # noqa: E402
from emostat.analysis.claims.table import build_claims  # noqa: E402
from emostat.analysis.geometry.probes import probe_layers  # noqa: E402
from emostat.analysis.geometry.steering import steering_test  # noqa: E402

GEO = ["layer_rsa", "pc_attribute", "probe", "steering"]


def geometry_tables(seed: int, n_layers: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    C, per, d = 8, 4, 6
    concepts = [f"c{k}" for k in range(C)]
    labels = np.repeat(concepts, per)
    X = rng.normal(size=(n_layers, C * per, d))
    X[n_layers // 2] += 2 * rng.normal(size=(C, d))[np.repeat(np.arange(C), per)]
    means = pd.DataFrame({"valence": rng.normal(size=C), "arousal": rng.normal(size=C)},
                         index=concepts)
    V = g.concept_vectors(X, labels, concepts)
    human = g.attribute_rdms(means)
    human["similarity"] = rng.uniform(size=len(human))
    S, _, ev = g.pca_scores(V, 2)
    scores = pd.DataFrame([dict(layer=la, concept=c, PC1=S[la, k, 0], PC2=S[la, k, 1],
                                explained1=ev[la, 0], explained2=ev[la, 1],
                                **{"attribute:valence": means.iloc[k, 0]})
                           for la in range(n_layers) for k, c in enumerate(concepts)])
    probes = probe_layers(X, labels, np.tile(np.arange(per), C), n_splits=4, n_perm=19)
    probes["group_by"] = "setting"
    probes["depth"] = probes["layer"] / (n_layers - 1)
    vecs = [(f"c{k}", "concept") for k in range(4)] + [
        (f"manifold-{k}", "random_manifold") for k in range(3)] + [
        (f"isotropic-{k}", "random_isotropic") for k in range(2)]
    rows = pd.DataFrame([dict(item=f"i{i}", vector=v, kind=kind, target=f"c{w}", scale=s,
                              delta_logp=(1.5 * s if v == f"c{w}" else 0.1 * s)
                              + 0.3 * rng.normal(), delta_choice=0)
                         for i in range(8) for v, kind in vecs for w in range(4)
                         for s in (0.25, 0.5, 1.0)])
    rows["layer"] = n_layers // 2
    rows["matched"] = (rows["kind"] == "concept") & (rows["vector"] == rows["target"])
    test = steering_test(rows)
    test.insert(0, "layer", n_layers // 2)
    return {"geometry_layer_rsa": g.layer_rsa(g.concept_rdms(V), human, n_perm=99),
            "geometry_pca": g.pca_attributes(V, means, n_perm=99),
            "geometry_pca_scores": scores, "geometry_probes": probes,
            "geometry_steering": rows, "geometry_steering_test": test}


def add_geometry(run: Path, seed: int, n_layers: int) -> pd.DataFrame:
    tables = geometry_tables(seed, n_layers)
    for name, df in tables.items():
        io.write_table(df, run / "results" / f"{name}.parquet", dataset=name)
    geo = build_claims(tables, {"kind": "experiment", "ks": [], "tasks": [], "alpha": 0.05})
    geo = geo[geo["claim"].isin(GEO)]
    claims = pd.concat([io.read_table(run / "results" / "claims.parquet"), geo],
                       ignore_index=True)
    for c in ("k", "n_perm"):
        claims[c] = claims[c].astype("Int64")
    report_fixtures.write_claims(run, claims)
    return geo


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from emostat.report import render

    tmp = tmp_path_factory.mktemp("georeport")
    a = report_fixtures.make_run(tmp / "a", "experiment", seed=4, model="model-a")
    b = report_fixtures.make_run(tmp / "b", "experiment", seed=5, model="model-b", n_layers=6)
    geo = add_geometry(a, 1, 5)
    add_geometry(b, 2, 9)
    old = os.environ.get("EMOSTAT_OFFLINE_RENDER")
    os.environ["EMOSTAT_OFFLINE_RENDER"] = "1"
    try:
        e = render.render_report([a], out=tmp / "out", quiet=True, to="html")
        c = render.render_report([a, b], out=tmp / "out", quiet=True, kind="comparison",
                                 to="html")
    finally:
        if old is None:
            os.environ.pop("EMOSTAT_OFFLINE_RENDER")
    return geo, e["html"].read_text(), c["html"].read_text()


def _prose(html: str) -> str:
    import html as h

    return h.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_experiment_section_states_the_claims_rows(rendered):
    from emostat.report.findings import DECISIONS, TITLES
    from emostat.report.view import p_text

    geo, html, _ = rendered
    text = _prose(html)
    text = text[text.rindex("Emotion geometry layer by layer"):]    # the section, not the TOC
    for _, r in geo[geo["role"] == "record"].iterrows():
        # each record row's decision and its p as the findings module prints it
        seg = text[text.index(f"{TITLES[r['claim']]}.") :][:1500]
        assert DECISIONS[r["decision"]] in seg, r["claim"]
        assert p_text(r["p_value"], alpha=r["alpha"]) in seg, (r["claim"], seg)
    for fig in ("fig-geometry-layers", "fig-geometry-pca", "fig-geometry-steering"):
        assert re.search(rf"<figure id=\"{fig}\">\s*<img", html), fig


def test_comparison_sets_profiles_side_by_side(rendered):
    _, _, html = rendered
    for fig in ("fig-cmp-geometry-rsa", "fig-cmp-geometry-probe"):
        assert re.search(rf"<figure id=\"{fig}\">\s*<img", html), fig
    text = _prose(html)
    assert "model-a, layer rsa." in text and "model-b, probe." in text


def test_depth_is_layer_over_last_layer():
    from types import SimpleNamespace

    from emostat.report import geometry as view

    t = geometry_tables(3, 5)
    runs = [SimpleNamespace(label="m", get=lambda n, t=t: t.get(n))]
    fig = view.depth_profiles(runs, "rsa")
    x = fig.axes[0].lines[0].get_xdata()
    # 5 layers: depths 0, .25, .5, .75, 1 (layer / (5 - 1))
    assert np.allclose(x, [0, .25, .5, .75, 1])
    assert view.depth_profiles([SimpleNamespace(label="m", get=lambda n: None)]) is None
