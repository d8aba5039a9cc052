"""Report figures draw the table values they are given (read back from the matplotlib artists)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES  # noqa: E402
from emostat.format import fmt_p  # noqa: E402
from emostat.report import figures, maskfigures, style, view  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import report_fixtures  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(7)
    t = report_fixtures.human_tables(rng)
    t.update(report_fixtures.masking_tables(rng, [2000, 4000]))
    t.update(report_fixtures.searchlight_tables(rng, [2000, 4000]))
    t.update(report_fixtures.experiment_tables(rng, [2000, 4000]))
    figures.use_style()
    return t


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures closed after it (pyplot keeps them open otherwise: over 20 in one
    worker gave matplotlib's memory warning)."""
    yield
    plt.close("all")


def _bar_heights(ax):
    return np.array([p.get_height() for p in ax.patches])


def test_okabe_ito_palette():
    # Okabe & Ito (2008) hex codes
    assert style.OKABE_ITO["vermillion"] == "#D55E00" and style.OKABE_ITO["blue"] == "#0072B2"
    figures.use_style()
    assert matplotlib.rcParams["figure.dpi"] >= 200


def test_two_panel_bars_and_drops(tables):
    d = tables["masking_by_emotion"]
    fig = maskfigures.masking_two_panel(d, k=4000, cells=tables["masking_cells"])
    a1, a2 = fig.axes
    # the contract's sign: estimate = extra drop (docs/inference.md)
    sub = d[d["k"] == 4000].assign(drop=lambda x: 100 * x["estimate"])
    sub = sub.sort_values("acc_none", ascending=False)   # the study's order: by accuracy w/o
    # panel A: 3 conditions x 27 emotions, accuracies in percent, grouped by condition
    h = _bar_heights(a1)
    assert len(h) == 81
    np.testing.assert_allclose(h[:27], 100 * sub["acc_none"].to_numpy())
    np.testing.assert_allclose(h[54:], 100 * sub["acc_attribute"].to_numpy())
    # error bars (SE over attributes) on the masked conditions; axis not from 0 when data sit high
    from matplotlib.container import ErrorbarContainer

    errs = [c for c in a1.containers if isinstance(c, ErrorbarContainer)]
    assert len(errs) == 2                      # random and attribute-specific, not w/o
    cells = tables["masking_cells"]
    g = cells[cells["k"] == 4000].groupby("concept")["acc_attribute"]
    se = (100 * g.std(ddof=1) / np.sqrt(g.count())).reindex(sub["concept"]).to_numpy()
    seg = errs[1].lines[2][0].get_segments()
    np.testing.assert_allclose([(b[1] - a[1]) / 2 for a, b in seg], se)
    lo = a1.get_ylim()[0]
    assert 0 < lo <= 100 * min(sub["acc_attribute"].min(), sub["acc_random"].min())
    # panel B: the drop per emotion, in the same order, labelled
    np.testing.assert_allclose(_bar_heights(a2), sub["drop"].to_numpy())
    assert [t.get_text() for t in a2.get_xticklabels()] == list(sub["concept"])
    # significance marks: one per emotion with study q < .05 and a drop
    marks = [t.get_text() for t in a2.texts if t.get_text().startswith("*")]
    assert len(marks) == int(((sub["q_value"] < .05) & (sub["drop"] > 0)).sum())


def test_k_lines_are_thick_and_not_yellow(tables):
    fig = maskfigures.attribute_drops(tables["masking_by_attribute"])
    ax = fig.axes[0]
    lines = [ln for ln in ax.lines if ln.get_label().startswith("k =")]
    assert lines and all(ln.get_linewidth() >= 1.5 for ln in lines)
    assert all(ln.get_color().upper() != style.OKABE_ITO["yellow"] for ln in lines)


def test_link_dots_are_visible(tables):
    fig = maskfigures.importance_link(tables["importance_link"], tables["importance_link_by_emotion"])
    from matplotlib.collections import PathCollection

    dots = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert dots and min(c.get_sizes().min() for c in dots) >= 15


def test_emotion_space_mds_recovers_euclidean_distances():
    # points in the plane -> their distance matrix; classical MDS must return the same
    # configuration up to rotation, so every pairwise distance is recovered (Torgerson 1952)
    import pandas as pd

    from emostat.constants import pair_indices

    rng = np.random.default_rng(0)
    xy = rng.normal(size=(27, 2))
    i, j = pair_indices(27)
    rdm = pd.DataFrame({"concept_a": [ANALYSIS_ORDER[x] for x in i],
                        "concept_b": [ANALYSIS_ORDER[x] for x in j],
                        "estimate": np.hypot(*(xy[i] - xy[j]).T)})
    fig = figures.emotion_space(rdm, ANALYSIS_ORDER)
    pts = fig.axes[0].collections[0].get_offsets()
    d = np.hypot(*(np.asarray(pts)[i] - np.asarray(pts)[j]).T)
    np.testing.assert_allclose(d, rdm["estimate"], atol=1e-9)


def test_rank_heatmap_blocks(tables):
    rsa = tables["neuron_rsa"]
    fig = figures.rank_heatmap(rsa, top=10)
    m = fig.axes[0].images[0].get_array()
    assert m.shape == (14 * 10, 14)
    # first row: arousal's best-ranked neuron, its tau with every attribute
    best = rsa[rsa["attribute"] == ATTRIBUTES[0]].nsmallest(1, "rank")["neuron"].iloc[0]
    taus = rsa[rsa["neuron"] == best].set_index("attribute").loc[list(ATTRIBUTES), "tau"]
    np.testing.assert_allclose(m[0], taus.to_numpy())


def test_drop_vs_importance_points(tables):
    fig = maskfigures.drop_vs_importance(tables["masking_by_attribute"],
                                     tables["attribute_importance"], k=4000)
    pts = np.asarray(fig.axes[0].collections[0].get_offsets())
    ba = tables["masking_by_attribute"]
    ba = ba[ba["k"] == 4000].set_index("attribute")
    imp = tables["attribute_importance"].set_index("attribute")
    np.testing.assert_allclose(pts[:, 1], 100 * ba["estimate"].to_numpy())
    np.testing.assert_allclose(pts[:, 0], imp.loc[ba.index, "estimate"].to_numpy())


def test_ci95_matches_scipy_t():
    import pandas as pd

    d = pd.DataFrame({"estimate": [0.1], "std_error": [0.02], "df": [167.0]})
    lo, hi = style.ci95(d)
    crit = stats.t.ppf(0.975, 167)
    np.testing.assert_allclose([lo[0], hi[0]], [0.1 - crit * 0.02, 0.1 + crit * 0.02])


def test_importance_bars_sorted_with_cis(tables):
    imp = tables["attribute_importance"]
    fig = figures.importance_bars(imp)
    ax = fig.axes[0]
    widths = np.array([p.get_width() for p in ax.patches[:len(imp)]])
    np.testing.assert_allclose(widths, np.sort(imp["estimate"].to_numpy()))


def test_rdm_heatmaps_in_analysis_order(tables):
    fig = figures.rdm_heatmaps(tables["human_rdm"], tables["attribute_rdms"], ANALYSIS_ORDER)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 15
    # the human panel is large and labels every concept at a printable size (>= 4.5 pt);
    # the attribute panels share its order and carry only their titles
    big = axes[0]
    assert [t.get_text() for t in big.get_yticklabels()] == list(ANALYSIS_ORDER)
    assert min(t.get_fontsize() for t in big.get_yticklabels()) >= 4.5
    assert big.get_position().width > 2 * axes[1].get_position().width
    m = axes[1].images[0].get_array()
    ar = tables["attribute_rdms"]
    row = ar[(ar["attribute"] == "arousal")].iloc[0]
    i, j = ANALYSIS_ORDER.index(row["concept_a"]), ANALYSIS_ORDER.index(row["concept_b"])
    assert m[i, j] == m[j, i] == pytest.approx(row["estimate"])
    assert axes[1].get_title() == "arousal"


def test_diverging_maps_share_one_colour_meaning(tables):
    # loadings and the neuron map: the same diverging map (orange = positive) in both
    f1 = figures.appraisal_loadings(tables["appraisal_loadings"])
    f2 = figures.rank_heatmap(tables["neuron_rsa"], top=5)
    assert f1.axes[0].images[0].get_cmap().name == f2.axes[0].images[0].get_cmap().name \
        == style.DIVERGING == "PuOr_r"
    # the significant neurons are vermillion in the tau histograms and in the counts figure
    f3 = figures.tau_distributions(tables["neuron_rsa"])
    f4 = figures.neuron_counts(tables["neuron_counts"])
    import matplotlib.colors as mc

    verm = mc.to_rgba(style.OKABE_ITO["vermillion"])
    assert any(np.allclose(p.get_facecolor(), verm) for p in f3.axes[0].patches)
    assert np.allclose(f4.axes[0].patches[0].get_facecolor(), verm)


def test_layer_distribution_shares_sum_to_one(tables):
    fig = figures.layer_distribution(tables["layer_distribution"], k=4000)
    share = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    ld = tables["layer_distribution"]
    x = ld[(ld["k"] == 4000) & (ld["attribute"] == ATTRIBUTES[0])]
    np.testing.assert_allclose(share[0], x.sort_values("layer")["n_neurons"] / x["n_neurons"].sum())
    # issue 25: the figure counts layers as the tables do (from 0), not from 1
    ax = fig.axes[0]
    assert ax.get_xticklabels()[0].get_text() == str(int(ld["layer"].min())) == "0"
    assert ax.get_xlabel() == "layer (0 = closest to the input)"


def test_other_figures_draw(tables):
    t = tables
    for fig in (figures.appraisal_loadings(t["appraisal_loadings"]),
                figures.tau_distributions(t["neuron_rsa"]),
                figures.neuron_counts(t["neuron_counts"]),
                maskfigures.attribute_drops(t["masking_by_attribute"]),
                maskfigures.importance_link(t["importance_link"], t["importance_link_by_emotion"]),
                maskfigures.baseline_accuracy(t["baseline_accuracy"]),
                maskfigures.random_null(t["random_null"], t["attribute_vs_null"], skip={"binary"}),
                maskfigures.model_comparison({"a": t["masking_by_attribute"]})):
        assert fig.axes
        plt.close(fig)


def test_random_null_marks_attribute_value(tables):
    fig = maskfigures.random_null(tables["random_null"], tables["attribute_vs_null"], k=4000,
                              task="binary")
    vs = tables["attribute_vs_null"]
    v = vs[(vs["task"] == "binary") & (vs["k"] == 4000)].set_index("attribute")
    ax = fig.axes[0]
    # the p sits in the panel's title, not over the bars (issue 25: labels printed over them)
    assert ax.get_title() == f"{ATTRIBUTES[0]}\n{fmt_p(v.loc[ATTRIBUTES[0], 'p_value'])}"
    assert not ax.texts
    # the contract's estimate is the extra drop over the random masks' mean drop
    drop = v.loc[ATTRIBUTES[0], "estimate"] + v.loc[ATTRIBUTES[0], "null_mean"]
    assert ax.lines[0].get_xdata()[0] == pytest.approx(100 * drop)
    # the shared random draws (attribute null) are drawn in every panel: 50 dots or bins
    rn = tables["random_null"]
    assert rn["attribute"].isna().all()
    assert len(ax.patches) + sum(len(c.get_offsets()) for c in ax.collections) > 0
    if ax.patches:                                    # a histogram has its count axis
        assert len(ax.get_yticks()) > 0 and ax.spines["left"].get_visible()


def test_headline_k_and_stars():
    # docs/design.md §2: the declared k when the run has it, else the largest k
    assert view.headline_k([1500, 4000, 6000], 4000) == 4000
    assert view.headline_k([1500, 4000, 6000]) == 6000
    assert view.headline_k([10, 20, 30], 4000) == 30
    assert [style.stars(q) for q in (.0005, .005, .03, .2, np.nan)] == \
        ["***", "**", "*", "", ""]


def test_figures_label_concepts_by_the_spaces_word():
    # issue 16 leftover: a space whose ids are not its words (de-example: freude -> Freude)
    # labels figures by word; the words come from the space's provenance
    from emostat.report import figures, maskfigures, view
    from emostat.space import load_space

    space = load_space("de-example")
    labels = view.concept_labels({"space": space.provenance()})
    assert labels["freude"] == "Freude" and len(labels) == space.n_concepts
    ids = list(space.concepts)
    i, j = np.triu_indices(len(ids), 1)
    hr = pd.DataFrame({"concept_a": [ids[a] for a in i], "concept_b": [ids[b] for b in j],
                       "estimate": np.linspace(1, 2, len(i))})
    fig = figures.emotion_space(hr, ids, labels)
    texts = {t.get_text() for ax in fig.axes for t in ax.texts + ax.get_yticklabels()}
    assert {space.words[c] for c in ids} <= texts and not set(ids) & texts
    base = pd.DataFrame({"task": "choice", "concept": ids, "estimate": 50.0})
    fig = maskfigures.baseline_accuracy(base, ids, labels)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [space.words[c] for c in ids]
    # the study's words are its ids: nothing recorded, figures keep the ids
    assert "words" not in load_space("study").provenance() and view.concept_labels({}) == {}


def _label_boxes_clear(fig):
    """The MDS panel's concept labels: no two boxes overlap, none covers a marker, all inside
    the axes (display boxes from the renderer, as drawn)."""
    from emostat.report.labels import boxes, overlap

    ax = fig.axes[0]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    b = boxes(ax.texts, r)
    assert len(b) == len(ax.collections[0].get_offsets())
    shared = [(i, j) for i in range(len(b)) for j in range(i + 1, len(b))
              if overlap(b[i], b[j]) > 0]
    assert not shared, [(ax.texts[i].get_text(), ax.texts[j].get_text()) for i, j in shared]
    pts = ax.transData.transform(np.asarray(ax.collections[0].get_offsets()))
    covered = [(t.get_text(), k) for t, bb in zip(ax.texts, b) for k, (x, y) in enumerate(pts)
               if bb[0] < x < bb[2] and bb[1] < y < bb[3]]
    assert not covered
    f = ax.get_window_extent(r)
    assert all(f.x0 <= x0 and x1 <= f.x1 and f.y0 <= y0 and y1 <= f.y1 for x0, y0, x1, y1 in b)


def _rdm(ids, xy):
    i, j = np.triu_indices(len(ids), 1)
    return pd.DataFrame({"concept_a": [ids[a] for a in i], "concept_b": [ids[b] for b in j],
                         "estimate": np.hypot(*(xy[i] - xy[j]).T)})


def test_mds_labels_do_not_overlap_in_the_study_space():
    # Fig. 3A printed crowded concepts' labels over each other (approval / admiration / love,
    # remorse / sadness, fear / annoyance); the study's mean RDM as the analysis averages it
    from emostat.space import load_space

    figures.use_style()
    sp = load_space("study")
    hr = (sp.similarity.groupby(["concept_a", "concept_b"], as_index=False)["value"].mean()
          .rename(columns={"value": "estimate"}))
    fig = figures.emotion_space(hr, list(sp.concepts))
    assert {t.get_text() for t in fig.axes[0].texts} == set(sp.concepts)
    _label_boxes_clear(fig)
    plt.close(fig)


@pytest.mark.parametrize("n, clusters", [(27, 4), (27, 2), (6, 1), (3, 1)])
def test_mds_labels_do_not_overlap_in_clustered_layouts(n, clusters):
    # synthetic spaces: tight clusters of concepts (and the small spaces users bring)
    rng = np.random.default_rng(n + clusters)
    centres = rng.normal(scale=4, size=(clusters, 2))
    xy = centres[np.arange(n) % clusters] + rng.normal(scale=0.3, size=(n, 2))
    ids = [f"concept{i:02d}" if i % 3 else f"c{i}" for i in range(n)]
    figures.use_style()
    fig = figures.emotion_space(_rdm(ids, xy), ids)
    _label_boxes_clear(fig)
    plt.close(fig)


def test_labels_are_placed_on_a_canvas_without_a_renderer():
    # the PDF backend's canvas has no get_renderer: labels are measured with an Agg renderer
    # of the same figure, and the figure keeps its own canvas
    from matplotlib.backends.backend_pdf import FigureCanvasPdf
    from matplotlib.figure import Figure

    from emostat.report.labels import boxes, overlap, place_labels

    fig = Figure(figsize=(3, 3))
    canvas = FigureCanvasPdf(fig)
    ax = fig.add_subplot()
    xy = np.array([[0, 0], [0.05, 0], [0, 0.05], [1, 1], [1.02, 1]])
    ax.scatter(*xy.T, s=18)
    ax.margins(0.2)
    anns = place_labels(ax, xy, ["alpha", "beta", "gamma", "delta", "epsilon"])
    assert fig.canvas is canvas
    b = boxes(anns)
    assert not any(overlap(b[i], b[j]) for i in range(5) for j in range(i + 1, 5))


def test_drop_vs_importance_labels_do_not_overlap(tables):
    # the attributes' scatter (issue 25: labels overlapped in the default report's figure)
    fig = maskfigures.drop_vs_importance(tables["masking_by_attribute"],
                                         tables["attribute_importance"], k=4000)
    assert {t.get_text() for t in fig.axes[0].texts} == set(ATTRIBUTES)
    _label_boxes_clear(fig)
    plt.close(fig)


@pytest.mark.parametrize("clusters", [1, 3])
def test_pca_map_labels_do_not_overlap(clusters):
    from emostat.report import geometry

    rng = np.random.default_rng(clusters)
    n = 27
    centres = rng.normal(scale=3, size=(clusters, 2))
    xy = centres[np.arange(n) % clusters] + rng.normal(scale=0.4, size=(n, 2))
    ids = [f"concept{i:02d}" for i in range(n)]
    scores = pd.DataFrame({"layer": 3, "concept": ids, "PC1": xy[:, 0], "PC2": xy[:, 1],
                           "explained1": .3, "explained2": .2,
                           "attribute:valence": rng.normal(size=n)})
    figures.use_style()
    fig = geometry.pca_map(scores, "valence", 3)
    assert [t.get_text() for t in fig.axes[0].texts] == ids
    _label_boxes_clear(fig)
    plt.close(fig)


def test_importance_without_intervals_draws_its_stars_and_promises_no_ci(tables):
    # issue 25: a space without individual raters' ratings has no CI; the caption promised
    # 95% CIs and the stars were placed at NaN (not drawn)
    from emostat.report import captions

    imp = tables["attribute_importance"].assign(conf_low=np.nan, conf_high=np.nan,
                                                p_value=0.0004)
    fig = figures.importance_bars(imp)
    ax = fig.axes[0]
    drawn = [t for t in ax.texts if t.get_text() == "***"]
    assert len(drawn) == len(imp) and all(np.isfinite(t.get_position()[0]) for t in drawn)
    assert not ax.collections                          # no error bars
    assert "95% CI" not in captions.importance_bars(imp)
    assert "95% CIs" in captions.importance_bars(tables["attribute_importance"])
    plt.close(fig)
