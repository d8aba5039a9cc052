"""Geometry on tiny random models: residual states, steering hooks, the end-to-end null."""

import numpy as np
import pandas as pd
import pytest
import torch

import tiny_models as tm
from emostat.collect import geometry as cg
from emostat.collect.hooks import count_hooks
from emostat.collect.tasks import DEFAULT_CHOICES, format_prompt, score_choices
from emostat.errors import InputError

WORDS = ["joy", "fear", "anger", "happy", "sad", "admiration", "surprise", "positive"]
VOCAB = "the a i you she he it was is this my friend when after today won lost game dog rain " \
        "sun day night gift letter old home work".split()


@pytest.fixture(scope="module")
def lm():
    lm = tm.tiny_lm("llama")
    with torch.no_grad():   # transformers installs its own hooks for output_hidden_states
        lm.model(input_ids=torch.tensor([[5, 6]]), output_hidden_states=True)
    lm.baseline_hooks = count_hooks(lm.model)
    return lm


def test_residual_states_match_hidden_states(lm):
    texts = ["i won the game today", "my dog was lost", "the sun"]
    R = cg.residual_states(lm, texts, position="mean")
    L = R.shape[0]
    for t, text in enumerate(texts):                 # one text alone: no padding at all
        ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hs = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
        # transformers: hidden_states[l + 1] is the output of block l (the last one is normed)
        for layer in range(L - 1):
            np.testing.assert_allclose(R[layer, t], hs[layer + 1][0].mean(0).numpy(), atol=1e-5)
    last = cg.residual_states(lm, texts, position="last", batch_size=2)
    ids = lm.tokenizer(texts[1], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        hs = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(last[0, 1], hs[1][0, -1].numpy(), atol=1e-5)
    assert count_hooks(lm.model) == lm.baseline_hooks


def test_unsteered_scores_equal_score_choices_and_steering_matches_a_full_forward(lm):
    texts = ["i won the game today", "my dog was lost after the rain"]
    base, steered, _ = cg.steering_scores(lm, texts, WORDS, 1, np.zeros((2, 16)))
    ref = score_choices(lm, texts, WORDS)                # the choice task's own scorer
    np.testing.assert_allclose(base, ref, atol=1e-5)
    np.testing.assert_allclose(steered, np.repeat(base[:, None], 2, 1), atol=1e-5)
    D = np.random.default_rng(0).normal(size=(3, 16))
    base, steered, _ = cg.steering_scores(lm, texts, WORDS, 1, D, chunk=2)
    first = [lm.tokenizer(" " + w, add_special_tokens=False)["input_ids"][0] for w in WORDS]
    block = cg.layer_modules(lm)[1]
    for t, text in enumerate(texts):
        p = format_prompt(lm, DEFAULT_CHOICES["causal"], None, text=text,
                          choices=", ".join(WORDS)).rstrip(" ")
        ids = torch.tensor(lm.tokenizer(p)["input_ids"])[None]
        with torch.no_grad():
            lp0 = torch.log_softmax(lm.model(ids).logits[0, -1], -1).numpy()[first]
        for k in range(3):
            def hook(module, args, out, k=k):            # reference: full forward, vector added
                h = (out[0] if isinstance(out, tuple) else out).clone()   # at the last
                h[:, -1] += torch.tensor(D[k], dtype=h.dtype)            # position only
                return (h,) + tuple(out[1:]) if isinstance(out, tuple) else h
            handle = block.register_forward_hook(hook)
            try:
                with torch.no_grad():
                    lp = torch.log_softmax(lm.model(ids).logits[0, -1], -1).numpy()[first]
            finally:
                handle.remove()
            np.testing.assert_allclose(steered[t, k] - base[t], lp - lp0, atol=1e-4)
    assert count_hooks(lm.model) == lm.baseline_hooks


def test_steer_hook_is_removed_after_an_error(lm):
    with pytest.raises(InputError, match="steer"):
        with cg.steer(lm, 0, np.zeros((3, 16))):
            ids = torch.tensor([[5, 6, 7]] * 2)
            lm.model(input_ids=ids)                       # 3 vectors for a batch of 2
    assert count_hooks(lm.model) == lm.baseline_hooks
    with pytest.raises(InputError, match="layer 9"):
        with cg.steer(lm, 9, np.zeros(16)):
            pass


def _null_space(seed, n_concepts=8, per=4):
    """Random word strings with random concept labels: no concept has any content."""
    rng = np.random.default_rng(seed)
    concepts = WORDS[:n_concepts]
    texts = [" ".join(rng.choice(VOCAB, size=6)) for _ in range(n_concepts * per)]
    stim = pd.DataFrame({"id": [f"s{k}" for k in range(len(texts))], "text": texts,
                         "concept": rng.permutation(np.repeat(concepts, per)),
                         "setting": np.resize(list("abcd"), len(texts))})
    means = pd.DataFrame({"valence": rng.normal(size=n_concepts),
                          "arousal": rng.normal(size=n_concepts)}, index=concepts)
    return stim, means


def test_null_model_end_to_end_tables_and_verdicts(lm, tmp_path):
    from emostat import io
    from emostat.collect.geometry_run import GeometryOptions, run_geometry
    from emostat.resultsdir import leftovers

    opt = GeometryOptions(n_perm=199, n_perm_probe=19, scales=(0.5, 1.0), n_random=4,
                          n_items=8, n_splits=4)
    assert GeometryOptions().n_random >= 20 and GeometryOptions().n_isotropic >= 1
    stim, means = _null_space(0)
    s = run_geometry(tmp_path, stimuli=stim, means=means, options=opt, seed=0, quiet=True,
                     lm=lm)
    res = tmp_path / "results"
    for name in ("vectors", "layer_rsa", "pca", "probes", "steering", "steering_test"):
        assert io.read_provenance(res / f"geometry_{name}.parquet")["model"]["name"]
    st = pd.read_parquet(res / "geometry_steering.parquet")
    assert len(st) == 8 * (8 + 4 + 5) * 2 * 8            # items x vectors x scales x words
    assert st.groupby("kind").vector.nunique().to_dict() == {
        "concept": 8, "random_manifold": 4, "random_isotropic": 5}
    assert st.matched.sum() == 8 * 8 * 2 and (st[st.matched].vector == st[st.matched].target).all()
    probes = pd.read_parquet(res / "geometry_probes.parquet")
    assert set(probes.group_by) == {"setting"}
    for df in (pd.read_parquet(res / "geometry_layer_rsa.parquet"), probes):
        tested = df[df.p_value.notna()]
        assert df.p_method.str.len().min() > 0 and (tested.p_floor > 0).all()
        assert (tested.p_value >= tested.p_floor - 1e-12).all()
    assert s["steering"]["status"] in ("ok", "singular")


def _steering_grid(beta, seed=0):
    """The steering grid (the collection's path, default directions: 20 on the manifold, 5
    isotropic) of a tiny llama whose concept words are raised by their concept vectors
    (``beta``; 0: no concept vector is tied to its word)."""
    from emostat.collect.geometry_run import GeometryOptions
    from emostat.collect.steering_grid import steering_grid

    lm = tm.tiny_lm("llama", seed=seed)
    stim, means = _null_space(seed, per=5)
    concepts = list(means.index)
    words = {c: c for c in concepts}
    tm.plant_steering(lm, stim.text.tolist(), stim.concept, concepts, words, layer=1, beta=beta)
    X = cg.residual_states(lm, stim.text.tolist(), layers=[1])[0]
    return steering_grid(lm, X, stim, concepts, words, 1,
                         GeometryOptions(scales=(0.5, 1.0), n_items=16), seed)


def test_planted_steering_direction_rejects_and_the_null_model_does_not():
    from emostat.analysis.geometry.steering import specificity, steering_test

    grid = _steering_grid(beta=4.0)
    assert grid.groupby("kind").vector.nunique().to_dict() == {
        "concept": 8, "random_manifold": 20, "random_isotropic": 5}
    test = steering_test(grid)
    rec = test[test.role == "record"].iloc[0]
    assert rec.term == "own_minus_other" and rec.unit == "item (16) x concept (8)"
    assert rec.p_value < 1e-3 and rec.conf_low > 0, rec.to_dict()
    # the specificity is where it was planted: own word up under the own vector
    comp = test[test.model == "component"].set_index("term").estimate
    assert comp["matched"] > comp["mismatched"] + rec.estimate / 2
    null = specificity(_steering_grid(beta=0.0))
    assert null["p_value"] > 0.05 and null["status"] in ("ok", "singular"), null


def test_null_model_verdicts_negative_at_the_nominal_rate(lm):
    from emostat.analysis.geometry.layers import (attribute_rdms, concept_rdms, concept_vectors,
                                           layer_rsa)
    from emostat.analysis.geometry.probes import probe_layers

    hits = []
    for seed in range(40):
        stim, means = _null_space(seed + 100, per=5)
        X = cg.residual_states(lm, stim.text.tolist())
        concepts = list(means.index)
        V = concept_vectors(X, stim.concept.to_numpy(), concepts)
        rsa = layer_rsa(concept_rdms(V), attribute_rdms(means), n_perm=199, seed=seed)
        probes = probe_layers(X, stim.concept, stim.setting, n_splits=4, n_perm=99, seed=seed,
                              logistic_layers=[])
        hits.append([(rsa.loc[rsa.test == "max_over_layers", "p_value"] <= .05).mean(),
                     probes.loc[probes.test == "max_over_layers", "p_value"].iloc[0] <= .05])
    rate = np.mean(hits, axis=0)
    # binomial(40, .05): P(X >= 7) = .0034; leakage (e.g. folds sharing a stimulus's group
    # or the best layer tested alone) pushes these rates far above .05
    assert (rate * 40 <= 6).all(), rate


def test_ffn_site_is_the_output_of_each_mlp(lm):
    texts = ["i won the game today", "my dog was lost", "the sun"]
    F = cg.residual_states(lm, texts, position="mean", site="ffn")
    got = {}
    mlps = [layer.mlp for layer in lm.model.model.layers]     # reference: torch hooks on mlp
    for t, text in enumerate(texts):
        handles = [m.register_forward_hook(lambda mod, a, out, i=i: got.__setitem__(i, out))
                   for i, m in enumerate(mlps)]
        try:
            with torch.no_grad():
                lm.model(**lm.tokenizer(text, return_tensors="pt"))
        finally:
            for h in handles:
                h.remove()
        for i in range(len(mlps)):
            np.testing.assert_allclose(F[i, t], got[i][0].mean(0).numpy(), atol=1e-5)
    assert count_hooks(lm.model) == lm.baseline_hooks
    with pytest.raises(InputError, match="site"):
        cg.residual_states(lm, texts, site="attention")


def test_geometry_prints_its_claims_in_words_and_stores_them(lm, tmp_path, capsys):
    from emostat import io
    from emostat.collect.geometry_run import GeometryOptions, run_geometry

    opt = GeometryOptions(n_perm=99, n_perm_probe=19, scales=(1.0,), n_random=2, n_items=4,
                          n_splits=4, sites=("residual", "ffn"))
    stim, means = _null_space(3, per=3)
    run_geometry(tmp_path, stimuli=stim.drop(columns="setting"), means=means, options=opt,
                 seed=0, lm=lm)
    text = capsys.readouterr().out
    text = text[text.index("Claims (alpha = .05)"):]
    assert "{" not in text                                                 # words, not JSON
    assert "A linear probe decodes a stimulus's concept" in text and "=> " in text
    claims = io.read_table(tmp_path / "results" / "claims.parquet", dataset="claims")
    assert set(claims["claim"]) == {"layer_rsa", "pc_attribute", "probe", "steering"}
    probe = claims[(claims.claim == "probe") & (claims.role == "record")].iloc[0]
    assert probe.decision != "failed" and "plain" not in probe.reason
    vec = io.read_table(tmp_path / "results" / "geometry_vectors.parquet")
    assert set(vec["site"]) == {"residual", "ffn"}
    rsa = io.read_table(tmp_path / "results" / "geometry_layer_rsa.parquet")
    assert set(rsa.loc[rsa.role == "record", "site"]) == {"residual"}       # one record
    pr = io.read_table(tmp_path / "results" / "geometry_probes.parquet")
    assert set(pr["scheme"]) == {"plain"} and set(pr["group_by"]) == {"none"}


def test_cli_geometry_options():
    from emostat.cli import build_parser

    a = build_parser().parse_args(["geometry", "--out", "x", "--quick", "--scales", "0.5,1",
                                   "--n-random", "3", "--n-isotropic", "2", "--space",
                                   "de-example", "--ffn"])
    assert (a.n_random, a.n_isotropic) == (3, 2)
    assert a.func.__name__ == "_cmd_geometry" and a.quick and a.scales == "0.5,1"
    assert a.space == "de-example" and a.ffn


def test_steering_rows_score_every_direction_on_every_word():
    from emostat.collect.steering_grid import steering_directions, steering_rows

    rng = np.random.default_rng(4)
    n, K, S, W = 3, 4, 2, 3                            # items, directions, scales, words
    base, steered = rng.normal(size=(n, W)), rng.normal(size=(n, S * K, W))
    words = ["joy", "fear", "anger"]
    kinds = ["concept"] * 3 + ["random_manifold"]
    rows = steering_rows(base, steered, ["a", "b", "c"], ["fear", "joy", "joy"], words,
                         words + ["manifold-01"], kinds, [0.5, 1.0])
    assert len(rows) == n * K * S * W
    r = rows[(rows.item == "b") & (rows.vector == "anger") & (rows.scale == 1.0)
             & (rows.target == "fear")].iloc[0]
    # by hand: condition index = scale index * K + direction index (scale major)
    lp = steered[1, 1 * K + 2] - np.logaddexp.reduce(steered[1, 1 * K + 2])
    lp0 = base[1] - np.logaddexp.reduce(base[1])
    assert r.delta_logp == pytest.approx(lp[1] - lp0[1]) and not r.matched
    assert r.choice == words[int(np.argmax(lp))] and r.correct == int(np.argmax(lp) == 0)
    assert r.delta_choice == int(np.argmax(lp) == 1) - int(np.argmax(lp0) == 1)
    assert rows.matched.sum() == n * 3 * S and (rows[rows.matched].vector ==
                                                rows[rows.matched].target).all()
    # directions: unit length; on-manifold ones lie in the span of the vector stimuli
    X = rng.normal(size=(12, 5))
    X[:, 4] = 7.0                                      # a constant coordinate: off the manifold
    labels = np.repeat(words, 4)
    held = np.zeros(12, bool)
    held[[0, 4, 8]] = True
    U, names, kinds = steering_directions(X, labels, words, held, 20, 5, seed=0)
    assert U.shape == (28, 5) and np.allclose(np.linalg.norm(U, axis=1), 1)
    assert kinds.count("random_manifold") == 20 and names[3] == "manifold-01"
    assert np.allclose(U[:23, 4], 0) and not np.allclose(U[23:, 4], 0)


def test_standalone_geometry_results_appear_whole(lm, tmp_path, monkeypatch):
    """`emostat geometry` writes into a staging folder: a run that fails after its first table
    leaves the earlier results untouched and no staging folder (emostat.resultsdir)."""
    from emostat.collect import geometry_run as gr
    from emostat.collect.geometry_run import GeometryOptions, run_geometry
    from emostat.resultsdir import leftovers

    opt = GeometryOptions(n_perm=19, n_perm_probe=9, scales=(1.0,), n_random=2, n_items=4,
                          n_splits=4)
    stim, means = _null_space(4, per=3)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "earlier.txt").write_text("kept")

    def fail(*a, **k):
        raise RuntimeError("stopped after three tables")
    monkeypatch.setattr(gr, "pca_scores", fail)
    with pytest.raises(RuntimeError, match="stopped"):
        run_geometry(tmp_path, stimuli=stim, means=means, options=opt, seed=0, quiet=True, lm=lm)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["earlier.txt"]
    assert leftovers(tmp_path) == []                  # no staging or set-aside folder
    monkeypatch.undo()
    run_geometry(tmp_path, stimuli=stim, means=means, options=opt, seed=0, quiet=True, lm=lm)
    names = {p.name for p in (tmp_path / "results").iterdir()}
    assert "earlier.txt" not in names and {"geometry_vectors.parquet",
                                           "claims.parquet"} <= names
