"""The geometry report figures draw from the tables (sentences: the claims rows, findings.py)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from emostat.analysis.geometry import layers as g  # noqa: E402
from emostat.analysis.geometry.probes import probe_layers  # noqa: E402
from emostat.report import geometry as view  # noqa: E402


def _tables():
    rng = np.random.default_rng(0)
    C, per, L, d = 6, 4, 3, 5
    labels = np.repeat([f"c{k}" for k in range(C)], per)
    X = rng.normal(size=(L, C * per, d))
    X[1] += 2 * rng.normal(size=(C, d))[np.repeat(np.arange(C), per)]
    concepts = [f"c{k}" for k in range(C)]
    means = pd.DataFrame({"valence": rng.normal(size=C)}, index=concepts)
    V = g.concept_vectors(X, labels, concepts)
    rsa = g.layer_rsa(g.concept_rdms(V), g.attribute_rdms(means), n_perm=99)
    pca = g.pca_attributes(V, means, n_perm=99)
    probes = probe_layers(X, labels, np.tile(np.arange(per), C), n_splits=4, n_perm=19)
    probes["group_by"] = "setting"
    return rsa, pca, probes


def test_figures_draw():
    rsa, pca, probes = _tables()
    assert view.layer_profiles(rsa, probes).axes
    scores = pd.DataFrame({"layer": 0, "concept": list("ab"), "PC1": [1, -1], "PC2": [0, 1],
                           "explained1": .6, "explained2": .3, "attribute:valence": [1, 2]})
    assert view.pca_map(scores, "valence", 0).axes
    rows = pd.DataFrame({"kind": ["concept", "random_manifold"] * 4,
                         "scale": [.5, .5, 1, 1] * 2, "vector": list("abababab"),
                         "target": list("aabbaabb"), "delta_logp": np.arange(8.0)})
    fig = view.dose_response(rows)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["own vector, own word (1 vectors)", "other concepts' vectors (1 vectors)",
                      "random, on the manifold (1 vectors)"]
