"""Condition sets: ids, top-k sets, seeded random draws (uniform and layer-matched), masks."""

from __future__ import annotations

import numpy as np
import pytest

from emostat.collect.conditions import (ConditionSet, attr_id, build_conditions, layer_of,
                                        rand_id, random_set)
from emostat.errors import InputError

SIZES = [10, 20, 30]          # 60 neurons, layer-major
N = sum(SIZES)


def _rankings():
    rng = np.random.default_rng(0)
    return {"valence": rng.permutation(N), "arousal": rng.permutation(N)}


def test_ids_are_deterministic_strings():
    assert attr_id("valence", 400) == "attr:valence:k=400"
    assert rand_id("valence", 400, 3) == "rand:valence:k=400:d=03"
    assert rand_id(None, 400, 12) == "rand:k=400:d=12"


def test_layer_of_layer_major_numbering():
    # neurons 0..9 are layer 0, 10..29 layer 1, 30..59 layer 2 (by construction of SIZES)
    assert layer_of(np.array([0, 9, 10, 29, 30, 59]), SIZES).tolist() == [0, 0, 1, 1, 2, 2]


def test_uniform_draw_is_seeded_distinct_and_order_free():
    a = random_set(N, 7, seed=5, attribute="valence", draw=2)
    b = random_set(N, 7, seed=5, attribute="valence", draw=2)
    c = random_set(N, 7, seed=5, attribute="valence", draw=3)
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 7 and a.min() >= 0 and a.max() < N
    assert a.tolist() != c.tolist()


def test_layer_matched_draw_has_same_per_layer_counts():
    match = np.array([1, 2, 15, 31, 32, 33, 40])          # 2 in layer 0, 1 in layer 1, 4 in layer 2
    r = random_set(N, 7, seed=1, attribute="valence", draw=0, layer_sizes=SIZES, match=match)
    assert np.bincount(layer_of(r, SIZES), minlength=3).tolist() == [2, 1, 4]
    assert len(set(r.tolist())) == 7


def test_build_conditions_order_and_content():
    ranks = _rankings()
    conds = build_conditions(ranks, [5, 8], SIZES, n_draws=3, scheme="uniform",
                             shared_random=False, seed=9)
    # 1 none + per k: 2 attribute sets + 2 x 3 random draws
    assert len(conds) == 1 + 2 * (2 + 6)
    assert conds[0].id == "none" and len(conds[0].neurons) == 0
    top = {c.id: c for c in conds}
    assert top["attr:valence:k=5"].neurons.tolist() == sorted(ranks["valence"][:5].tolist())
    assert len(top["rand:arousal:k=8:d=02"].neurons) == 8
    # adding draws leaves existing draws unchanged (seeded per attribute, k, draw)
    more = build_conditions(ranks, [5, 8], SIZES, n_draws=5, shared_random=False, seed=9)
    more_ids = {c.id: c for c in more}
    assert more_ids["rand:arousal:k=8:d=02"].neurons.tolist() == \
        top["rand:arousal:k=8:d=02"].neurons.tolist()


def test_shared_random_pool_and_layer_matched_scheme():
    ranks = _rankings()
    shared = build_conditions(ranks, [5], SIZES, n_draws=4, scheme="uniform", seed=1)
    assert [c.id for c in shared if c.condition == "random"] == [f"rand:k=5:d=0{d}" for d in range(4)]
    assert all(c.attribute is None for c in shared if c.condition == "random")
    lm = build_conditions(ranks, [5], SIZES, n_draws=2, scheme="layer_matched", seed=1)
    by = {c.id: c for c in lm}
    for a in ranks:
        want = np.bincount(layer_of(by[f"attr:{a}:k=5"].neurons, SIZES), minlength=3)
        got = np.bincount(layer_of(by[f"rand:{a}:k=5:d=01"].neurons, SIZES), minlength=3)
        assert want.tolist() == got.tolist()


def test_k_larger_than_neurons_is_an_error():
    with pytest.raises(InputError, match="larger than"):
        build_conditions(_rankings(), [N + 1], SIZES, n_draws=1)


def test_masks_and_table_roundtrip():
    conds = build_conditions(_rankings(), [4], SIZES, n_draws=2, seed=3)
    cs = ConditionSet(conds, N, "mean")
    ids = ["none", "attr:valence:k=4", "rand:k=4:d=01", "attr:valence:k=4"]
    m = cs.masks(ids)
    assert m.shape == (4, N) and m.dtype == bool
    assert m.sum(axis=1).tolist() == [0, 4, 4, 4]
    assert np.flatnonzero(m[1]).tolist() == cs.by_id["attr:valence:k=4"].neurons.tolist()
    back = ConditionSet.from_table(cs.table(), N)
    assert back.ids == cs.ids and back.mode == "mean"
    assert np.array_equal(back.masks(ids), m)
    with pytest.raises(InputError, match="unknown condition"):
        cs.masks(["attr:nope:k=1"])
