"""Geometry analysis (no torch): exact permutation nulls, planted signals, sklearn equality."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.geometry import layers as g
from emostat.analysis.geometry import probes as pr
from emostat.analysis.geometry.steering import steering_test
from emostat.constants import pair_indices
from emostat.errors import InputError


def _square(v, n):
    i, j = pair_indices(n)
    S = np.zeros((n, n))
    S[i, j] = S[j, i] = v
    return S


def test_layer_rsa_exact_enumeration_matches_brute_force():
    rng = np.random.default_rng(3)
    n, L = 5, 3
    P = n * (n - 1) // 2
    M = rng.normal(size=(L, P))
    H = pd.DataFrame({"a": rng.normal(size=P), "b": M[1] + rng.normal(0, .5, P)})
    out = g.layer_rsa(M, H, n_perm="exact")
    i, j = pair_indices(n)
    for col in H:
        obs = np.array([stats.spearmanr(M[l], H[col]).statistic for l in range(L)])
        perm = []
        for p in itertools.permutations(range(n)):       # brute force: all 120 relabellings
            S = _square(H[col].to_numpy(), n)[np.ix_(p, p)]
            perm.append([stats.spearmanr(M[l], S[i, j]).statistic for l in range(L)])
        perm = np.array(perm)
        rows = out[(out.attribute == col) & (out.test == "layer_mantel")]
        # reference: scipy spearmanr over an explicit loop of the 5! permutations
        np.testing.assert_allclose(rows.estimate, obs, atol=1e-12)
        np.testing.assert_allclose(rows.p_value, (perm >= obs - 1e-12).mean(0), atol=1e-12)
        best = out[(out.attribute == col) & (out.test == "max_over_layers")].iloc[0]
        assert best.layer == int(np.argmax(obs))
        assert best.p_value == pytest.approx((perm.max(1) >= obs.max() - 1e-12).mean())
        assert best.p_floor == pytest.approx(1 / 120)


def test_pca_attributes_exact_enumeration_and_scipy_r():
    rng = np.random.default_rng(4)
    C, L, d = 5, 2, 6
    V = rng.normal(size=(L, C, d))
    means = pd.DataFrame({"valence": rng.normal(size=C)}, index=list("abcde"))
    out = g.pca_attributes(V, means, n_components=1, n_perm="exact")
    S, _, _ = g.pca_scores(V, 1)
    r = np.array([stats.pearsonr(S[l, :, 0], means.valence).statistic for l in range(L)])
    rows = out[out.test == "pc_pearson"]
    np.testing.assert_allclose(rows.estimate, r, atol=1e-10)        # scipy pearsonr
    np.testing.assert_allclose(rows.p_value, [stats.pearsonr(S[l, :, 0], means.valence).pvalue
                                              for l in range(L)], atol=1e-10)
    perm = np.array([[abs(stats.pearsonr(S[l, :, 0], means.valence.to_numpy()[list(p)])
                          .statistic) for l in range(L)]
                     for p in itertools.permutations(range(C))])
    rec = out[out.test == "max_over_layers"].iloc[0]
    assert rec.p_value == pytest.approx((perm.max(1) >= np.abs(r).max() - 1e-12).mean())


def test_concept_vectors_match_groupby_and_project_out_neutral():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 12, 4))
    labels = np.repeat(["x", "y", "z"], [3, 4, 5])
    V = g.concept_vectors(X, labels, ["z", "x", "y"])
    for layer in range(2):
        ref = pd.DataFrame(X[layer]).groupby(labels).mean() - X[layer].mean(0)  # pandas
        np.testing.assert_allclose(V[layer], ref.loc[["z", "x", "y"]].to_numpy(), atol=1e-12)
    N = rng.normal(size=(2, 20, 4))
    Vp = g.concept_vectors(X, labels, ["z", "x", "y"], neutral=N, n_pcs=2)
    for layer in range(2):
        _, _, Vt = np.linalg.svd(N[layer] - N[layer].mean(0))
        assert np.abs(Vp[layer] @ Vt[:2].T).max() < 1e-10          # orthogonal to the PCs
    with pytest.raises(InputError, match="no stimulus"):
        g.concept_vectors(X, labels, ["z", "x", "y", "w"])


def test_clopper_pearson_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 199), (7, 199), (199, 199), (40, 405)]:
        lo, hi = g.clopper_pearson(k, n)
        ref = proportion_confint(k, n, method="beta")                # statsmodels
        assert float(lo) == pytest.approx(ref[0], abs=1e-10)
        assert float(hi) == pytest.approx(ref[1], abs=1e-10)


def test_cv_accuracy_equals_sklearn_cross_val_score():
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 15).astype(str)
    X = rng.normal(size=(60, 8)) + (y.astype(int)[:, None] == np.arange(8)) * 1.5
    groups = np.tile(np.arange(10), 6)
    folds = pr.group_folds(groups, 5)
    for tr, te in folds:                                             # grouped: no group shared
        assert not set(groups[tr]) & set(groups[te])
    acc = (pr.cv_predict(X, y, folds) == y).mean()
    scores = cross_val_score(pr.make_probe(), X, y, cv=folds)        # sklearn's own CV
    sizes = np.array([len(te) for _, te in folds])
    assert acc == pytest.approx((scores * sizes).sum() / sizes.sum(), abs=1e-12)
    # the ridge probe (one penalty, many label vectors at once) is checked against
    # scikit-learn in test_probes.py


def _planted(seed, signal_layer=3, L=6, C=10, per=8, d=20, strength=3.0):
    """Concepts on a valence line along one direction, plus a small offset of their own, at one
    layer; pure noise elsewhere."""
    rng = np.random.default_rng(seed)
    valence = rng.normal(size=C)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    labels = np.repeat(np.arange(C), per)
    X = rng.normal(size=(L, C * per, d))
    if signal_layer is not None:
        X[signal_layer] += strength * valence[labels][:, None] * direction
        X[signal_layer] += rng.normal(0, 0.5, (C, d))[labels]
    concepts = [str(c) for c in range(C)]
    means = pd.DataFrame({"valence": valence, "other": rng.normal(size=C)}, index=concepts)
    return X, labels.astype(str), concepts, means, direction


def test_planted_signal_found_at_its_layer_and_direction():
    X, labels, concepts, means, direction = _planted(0)
    V = g.concept_vectors(X, labels, concepts)
    human = g.attribute_rdms(means[["valence"]])
    rsa = g.layer_rsa(g.concept_rdms(V, "euclidean"), human, n_perm=199, seed=1)
    rec = rsa[rsa.test == "max_over_layers"].iloc[0]
    assert rec.layer == 3 and rec.p_value <= 1 / 200 + 1e-12         # the planted layer
    pca = g.pca_attributes(V, means, n_perm=199, seed=2)
    rec = pca[(pca.test == "max_over_layers") & (pca.component == "PC1")
              & (pca.attribute == "valence")].iloc[0]
    assert rec.layer == 3 and abs(rec.estimate) > 0.95 and rec.p_value < 0.01
    _, W, _ = g.pca_scores(V, 1)
    assert abs(W[3, 0] @ direction) > 0.9                            # the planted direction
    groups = np.tile(np.arange(8), 10)                               # e.g. 8 templates
    probes = pr.probe_layers(X, labels, groups, n_perm=199, seed=0, logistic_layers=[0, 3],
                             types=groups)
    rec = probes[probes.test == "max_over_layers"].iloc[0]
    assert rec.layer == 3 and rec.p_value == pytest.approx(1 / 200)
    assert rec.accuracy_plain > rec.control_accuracy + 0.1          # selective
    assert rec.conf_low > rec.chance
    others = probes[(probes.test == "ridge_cv") & (probes.layer != 3)]
    assert (others.p_value > 0.01).mean() >= 0.8                     # noise layers: no signal
    logit = probes[probes.test == "logistic_cv"].set_index("layer")
    assert logit.loc[3, "estimate"] > logit.loc[0, "estimate"] + 0.1


def test_no_signal_rejects_at_about_the_nominal_rate():
    hits = []
    for seed in range(40):
        X, labels, concepts, means, _ = _planted(seed, signal_layer=None, C=8, per=3, d=6)
        V = g.concept_vectors(X, labels, concepts)
        human = pd.DataFrame({"valence": np.abs(np.subtract.outer(
            means.valence.to_numpy(), means.valence.to_numpy()))[pair_indices(8)]})
        rsa = g.layer_rsa(g.concept_rdms(V), human, n_perm=199, seed=seed)
        pca = g.pca_attributes(V, means[["valence"]], n_components=1, n_perm=199, seed=seed)
        hits.append([rsa.loc[rsa.test == "max_over_layers", "p_value"].iloc[0] <= .05,
                     pca.loc[pca.test == "max_over_layers", "p_value"].iloc[0] <= .05])
    rate = np.mean(hits, axis=0)
    # binomial(40, .05): P(X >= 7) = .0034; a leaky null (e.g. per-layer p on the best
    # layer, whose rate is ~1 - .95**6 = .26 here) fails this
    assert (rate * 40 <= 6).all(), rate


def _steer_grid(seed, effect, n_items=10, K=8, n_manifold=20, n_iso=5, scales=(0.5, 1.0)):
    """A steering grid from a softmax model of the choice: item i's logits over K words are
    z_i; direction v at scale s adds s * (a_v + b_iv + e_vw) to word w's logit, plus
    ``effect`` * s * (1 + .5 u_i) to its own word (a concept vector only); log-probabilities
    renormalised.
    a_v: a direction's general pull, b_iv its item-specific part (both cancel in the
    renormalisation), e_vw its word-specific part, SD 1 for concept vectors and 2.5 for random
    directions (no specificity when effect = 0: own and other concept vectors are
    exchangeable)."""
    rng = np.random.default_rng(seed)
    words = [f"c{k}" for k in range(K)]
    names = words + [f"m{k}" for k in range(n_manifold)] + [f"g{k}" for k in range(n_iso)]
    kinds = (["concept"] * K + ["random_manifold"] * n_manifold
             + ["random_isotropic"] * n_iso)
    V = len(names)
    z = rng.normal(0, 1.5, (n_items, K))
    a = rng.normal(0, .5, V)
    sd_w = np.where(np.arange(V) < K, 1.0, 2.5)[None, :, None]  # random directions move the
    # words more: the normaliser grows (Jensen), so they lower the average word's log p
    own = np.zeros((n_items, V, K))               # the planted effect varies over items
    own[:, np.arange(K), np.arange(K)] = effect * (1 + .5 * rng.normal(size=(n_items, 1)))
    rows = []
    for s in scales:
        shift = s * (a[None, :, None] + rng.normal(0, .3, (n_items, V, 1))
                     + sd_w * rng.normal(0, 1.0, (1, V, K)) + own)
        for i in range(n_items):
            lp0 = z[i] - np.logaddexp.reduce(z[i])
            zz = z[i][None] + shift[i] + rng.normal(0, .2, (V, K))
            lp = zz - np.logaddexp.reduce(zz, axis=1, keepdims=True)
            for v in range(V):
                for w in range(K):
                    ch = int(np.argmax(lp[v]) == w) - int(np.argmax(lp0) == w)
                    rows.append(dict(item=f"i{i}", vector=names[v], kind=kinds[v],
                                     target=words[w], scale=s, delta_logp=lp[v, w] - lp0[w],
                                     delta_choice=ch))
    return pd.DataFrame(rows)


def _anova_crossed(y):
    """Balanced two-way crossed random intercepts without replication (rows x columns of
    ``y``): mean, SE and Satterthwaite df from the ANOVA mean squares. With interior variance
    estimates, REML = ANOVA, so lme4 + lmerTest give these exactly (textbook closed form:
    Var(mean) = (MS_rows + MS_cols - MS_res) / (r c))."""
    r, c = y.shape
    m = y.mean()
    ms_r = c * ((y.mean(1) - m) ** 2).sum() / (r - 1)
    ms_c = r * ((y.mean(0) - m) ** 2).sum() / (c - 1)
    res = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + m
    ms_e = (res ** 2).sum() / ((r - 1) * (c - 1))
    v = ms_r + ms_c - ms_e
    df = v ** 2 / (ms_r ** 2 / (r - 1) + ms_c ** 2 / (c - 1) + ms_e ** 2 / ((r - 1) * (c - 1)))
    return m, np.sqrt(v / (r * c)), df, (ms_r, ms_c, ms_e)


def test_specificity_equals_the_closed_form_of_the_balanced_crossed_model():
    rows = _steer_grid(0, effect=0.6)
    out = steering_test(rows)
    rec = out[out.role == "record"].iloc[0]
    # the contrast by hand: own vector on own word minus the other concept vectors on that word,
    # slope through the origin over scales .5 and 1 (sum(s y) / sum(s^2))
    c = rows[rows.kind == "concept"].assign(sy=lambda d: d.scale * d.delta_logp)
    slope = c.groupby(["item", "vector", "target"]).sy.sum() / (0.5 ** 2 + 1.0 ** 2)
    M = slope.unstack("target")                       # (item, vector) x target
    items, K = sorted(rows["item"].unique()), 8
    y = np.array([[M.loc[(i, f"c{k}"), f"c{k}"]
                   - np.mean([M.loc[(i, f"c{j}"), f"c{k}"] for j in range(K) if j != k])
                   for k in range(K)] for i in items])
    m, se, df, ms = _anova_crossed(y)
    assert ms[0] > ms[2] and ms[1] > ms[2]            # interior: REML = ANOVA
    assert rec.model == "specificity" and rec.term == "own_minus_other"
    assert rec.estimate == pytest.approx(m, rel=1e-9)
    assert rec.std_error == pytest.approx(se, rel=1e-4)
    assert rec.df == pytest.approx(df, rel=1e-3)
    assert rec.p_value == pytest.approx(2 * stats.t.sf(abs(m / se), df), rel=1e-3)
    assert rec.p_value < 0.05 and rec.conf_low > 0
    assert rec.unit == "item (10) x concept (8)" and rec.status == "ok"
    # the decomposition adds up: record = matched - mismatched (balanced grid)
    comp = out[out.model == "component"].set_index("term")
    assert list(comp.index) == ["matched", "mismatched", "random_manifold", "random_isotropic"]
    assert comp.loc["matched", "estimate"] - comp.loc["mismatched", "estimate"] == \
        pytest.approx(rec.estimate, rel=1e-6)
    assert comp.loc["random_manifold", "n_vectors"] == 20
    assert comp.loc["random_isotropic", "n_vectors"] == 5
    assert comp.loc["random_manifold", "estimate"] < comp.loc["mismatched", "estimate"]


def test_steering_table_has_separate_variances_20_random_directions_and_the_mismatched_control():
    out = steering_test(_steer_grid(1, effect=0.6))
    vs = out[out.model == "vs_random"].set_index("term")
    assert list(vs.index) == ["concept_vs_random_manifold", "concept_vs_random_isotropic"]
    for f in vs.formula:      # one slope variance for the concept vectors, one for the random
        assert "(0 + is_concept | vector)" in f and "(0 + is_random | vector)" in f
    assert (vs.sd_vector > 0).all() and (vs.sd_vector_random > 0).all()
    assert vs.loc["concept_vs_random_manifold", "n_vectors"] >= 20
    assert vs.loc["concept_vs_random_manifold", "unit"] == \
        "item (10) x vector (8 concept, 20 random_manifold)"
    rec = out[out.role == "record"]
    assert len(rec) == 1 and rec.term.iloc[0] == "own_minus_other"      # the mismatched contrast
    assert set(out.loc[out.model == "at_scale", "scale"]) == {0.5, 1.0}
    assert set(out.test) == {"steering_specificity", "steering_component", "steering_vs_random",
                             "steering_at_scale", "steering_choice_at_scale"}


def test_specificity_null_does_not_reject_but_random_directions_would():
    out = steering_test(_steer_grid(2, effect=0.0))
    rec = out[out.role == "record"].iloc[0]
    assert rec.p_value > 0.05
    # random directions lower the average word: concept vs random "finds" an
    # effect that is not specific to the concept (the reviewer's finding on SmolLM2)
    vs = out[out.model == "vs_random"].set_index("term")
    assert vs.loc["concept_vs_random_manifold", "p_value"] < 0.05
    assert vs.loc["concept_vs_random_manifold", "estimate"] > 0
    with pytest.raises(InputError, match="missing column"):
        steering_test(pd.DataFrame({"item": [1]}))
    with pytest.raises(InputError, match="kind 'random'"):
        steering_test(_steer_grid(2, 0.0).replace({"kind": {"random_isotropic": "random"}}))


def test_specificity_without_mismatched_cells_fails_with_its_reason():
    rows = _steer_grid(3, effect=0.5)
    own = rows[(rows.kind != "concept") | (rows.vector == rows.target)]   # a v1 grid
    rec = steering_test(own).query("role == 'record'").iloc[0]
    assert rec.status == "failed" and "mismatched" in rec.message and np.isnan(rec.p_value)


def test_attribute_rdms_match_scipy_pdist_and_the_study_helper():
    from scipy.spatial.distance import pdist

    from emostat.analysis.human.humanspace import attribute_rdms, load_shipped_human

    means = load_shipped_human().means
    ours = g.attribute_rdms(means)
    for a in ("valence", "arousal"):                                 # scipy pdist order
        np.testing.assert_allclose(ours[a], pdist(means[[a]].to_numpy(), "cityblock"))
    ref = attribute_rdms(means)                                      # the study-only helper
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), atol=1e-11)


def test_probe_groups_fall_back_to_none_when_a_column_has_one_value():
    # tests/spaces/user12 marks every situation source = "hand-written": one group, which
    # GroupKFold cannot split (the e2e run failed with "needs at least 2 groups, got 1"); the
    # stimulus ids were the next fallback, whose within-group shuffle could not move
    from emostat.collect.geometry_run import control_types, stimulus_groups

    st = pd.DataFrame({"id": [f"s{i}" for i in range(12)], "source": "hand-written",
                       "setting": [f"t{i % 6}" for i in range(12)]})
    groups, col = stimulus_groups(st)
    assert col == "setting" and len(set(groups)) == 6
    types, col = control_types(st)
    assert col == "setting" and list(types) == list(st["setting"])
    groups, col = stimulus_groups(st.assign(setting="home"))
    assert col == "none" and groups is None
    groups, col = stimulus_groups(st.assign(setting=st["id"]))     # one value per stimulus
    assert col == "none" and groups is None
    assert control_types(st.assign(setting="home"))[0] is None
