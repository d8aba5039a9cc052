"""Probes that can reject and can fail their control (issue 22, item 1), their floors and
intervals. References: scikit-learn fits (ridge per penalty, nested penalty choice by explicit
loops), brute-force enumeration with itertools, statsmodels' Clopper-Pearson."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.engines.relabel import n_orderings, orderings
from emostat.analysis.engines.ridge import NestedRidge, fold_solver
from emostat.analysis.geometry import probes as pr
from emostat.analysis.geometry.attribute_probes import attribute_probes


def _sk_ridge(alpha):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=alpha))


@pytest.mark.parametrize("n,d", [(30, 50), (60, 8)])      # dual (n <= d) and primal paths
def test_fold_solver_equals_sklearn_ridge_for_every_penalty(n, d):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    Y = rng.normal(size=(n, 3))
    tr, te = np.arange(n) % 4 != 0, np.arange(n) % 4 == 0
    alphas = [0.1, 3.0, 200.0]
    P = fold_solver(X, np.flatnonzero(tr), np.flatnonzero(te)).predict(Y[tr], alphas)
    for k, a in enumerate(alphas):
        ref = _sk_ridge(a).fit(X[tr], Y[tr]).predict(X[te])          # scikit-learn Ridge
        np.testing.assert_allclose(P[k], ref, atol=1e-9)


@pytest.mark.parametrize("n,d", [(30, 50), (60, 8)])
def test_fold_solver_chosen_penalty_per_column_equals_sklearn(n, d):
    # the outer folds compute each column at its own chosen penalty only
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    Y = rng.normal(size=(n, 5))
    tr, te = np.flatnonzero(np.arange(n) % 3 != 0), np.flatnonzero(np.arange(n) % 3 == 0)
    alphas = [0.1, 3.0, 200.0]
    chosen = np.array([2, 0, 2, 1, 0])
    sv = fold_solver(X, tr, te)
    P = sv.predict_chosen(Y[tr], alphas, chosen)
    for j, k in enumerate(chosen):
        ref = _sk_ridge(alphas[k]).fit(X[tr], Y[tr, j]).predict(X[te])   # scikit-learn Ridge
        np.testing.assert_allclose(P[:, j], ref, atol=1e-9)
    no_icpt = sv.predict_chosen(Y[tr], alphas, chosen, intercept=False)
    np.testing.assert_allclose(no_icpt + Y[tr].mean(axis=0), P, atol=1e-12)


def _sk_equal_priors(alpha, Xtr, ytr, Xte, n_classes):
    """Reference: scikit-learn's Ridge on {-1, 1} one-hot codes (RidgeClassifier's targets),
    the largest score without the intercept's class share (equal priors)."""
    T = 2.0 * (ytr[:, None] == np.arange(n_classes)) - 1.0
    scores = _sk_ridge(alpha).fit(Xtr, T).predict(Xte) - T.mean(axis=0)
    return scores.argmax(axis=1)


def _sk_nested_classifier(X, y, outer, inner, alphas):
    """Reference: the nested choice by explicit scikit-learn fits (most inner-fold correct
    predictions; ties: the larger penalty), then the refit on the outer training fold."""
    C = int(y.max()) + 1
    pred = np.empty(len(y), dtype=y.dtype)
    for (tr, te), folds in zip(outer, inner):
        correct = [sum((_sk_equal_priors(a, X[tr][a_], y[tr][a_], X[tr][b_], C)
                        == y[tr][b_]).sum() for a_, b_ in folds) for a in alphas]
        best = max(k for k in range(len(alphas)) if correct[k] == max(correct))
        pred[te] = _sk_equal_priors(alphas[best], X[tr], y[tr], X[te], C)
    return pred


def test_equal_priors_is_ridge_classifier_with_balanced_classes():
    # with every class equally often in training the intercept is the same for all classes,
    # so the decision is scikit-learn's RidgeClassifier's
    rng = np.random.default_rng(9)
    y = np.repeat(np.arange(3), 8)
    X = rng.normal(size=(24, 6)) + rng.normal(size=(3, 6))[y]
    Xte = rng.normal(size=(10, 6))
    ref = pr.make_ridge(5.0).fit(X, y).predict(Xte)
    np.testing.assert_array_equal(_sk_equal_priors(5.0, X, y, Xte, 3), ref)


def test_nested_ridge_equals_explicit_sklearn_loops():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 9)
    X = rng.normal(size=(36, 12)) + 0.8 * rng.normal(size=(4, 12))[y]
    groups = np.tile(np.arange(6), 6)
    sch = pr.probe_scheme(y, groups, n_splits=3)
    alphas = np.array([0.5, 12.0, 120.0, 1200.0])
    shuffles = np.column_stack([y, rng.permutation(y), rng.permutation(y)])
    acc, chosen = pr.nested_accuracy(X, shuffles, sch.folds, sch.inner, alphas, 4)
    for b in range(3):
        ref = _sk_nested_classifier(X, shuffles[:, b], sch.folds, sch.inner, alphas)
        assert acc[b] == pytest.approx((ref == shuffles[:, b]).mean(), abs=1e-12)
    assert len(set(chosen[:, 0])) >= 1 and chosen.shape == (3, 3)


def test_class_sums_decide_as_sklearn_ridge_on_one_hot_codes():
    """NestedRidge.predict_classes (class sums of the hat matrix, no product with one-hot
    targets) against explicit scikit-learn fits on {-1, 1} one-hot codes (the nested penalty
    choice included): 27 unbalanced classes, two of them absent from the training rows of one
    outer fold, shuffled label vectors."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 25, size=120)
    y[[0, 5, 10, 15]] = [25, 26, 25, 26]             # in outer fold 0 only (rows i mod 5 == 0)
    X = rng.normal(size=(120, 40)) + 0.7 * rng.normal(size=(27, 40))[y]
    sch = pr.probe_scheme(y, None, n_splits=5)
    alphas = pr.grid(40)
    nr = NestedRidge.build(X, sch.folds, sch.inner, alphas)
    codes = np.column_stack([y, rng.permutation(y), rng.permutation(y)])
    pred, chosen = nr.predict_classes(codes, 27)
    for b in range(codes.shape[1]):
        ref = _sk_nested_classifier(X, codes[:, b], sch.folds, sch.inner, alphas)
        np.testing.assert_array_equal(pred[:, b], ref)
    assert 0.05 < (pred[:, 0] == y).mean() < 1 and chosen.shape == (5, 3)


def test_orderings_are_the_distinct_shuffles_within_groups():
    codes = np.array([0, 0, 1, 2, 1, 1, 0, 2])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    brute = set()                                                  # itertools over positions
    for p0 in itertools.permutations(range(4)):
        for p1 in itertools.permutations(range(4, 8)):
            brute.add(tuple(codes[list(p0) + list(p1)]))
    assert n_orderings(codes, groups) == len(brute) == 12 * 12
    got, exact = orderings(codes, groups, n_perm=500)
    assert exact and {tuple(c) for c in got.T} == brute and got.shape[1] == len(brute)
    drawn, exact = orderings(codes, groups, n_perm=50, seed=3)
    assert not exact and drawn.shape == (8, 50)
    for c in drawn.T:                                            # labels stay in their group
        for g in (0, 1):
            assert sorted(c[groups == g]) == sorted(codes[groups == g])
    assert n_orderings(codes, np.arange(8)) == 1                  # singletons: cannot move


def _de_example_like(seed, strength=1.2, C=6, per=3, L=3, d=10):
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"c{k}" for k in range(C)], per)
    X = rng.normal(size=(L, C * per, d))
    X[1] += strength * rng.normal(size=(C, d))[np.repeat(np.arange(C), per)]
    return X, labels


def test_singleton_groups_fall_back_to_plain_folds_and_reject_a_planted_signal():
    # de-example / user12: no source or setting, so the groups were the stimulus ids, every
    # group a singleton, the within-group shuffle the identity and p = 1 whatever the data
    X, labels = _de_example_like(0)
    ids = [f"s{i}" for i in range(len(labels))]
    out = pr.probe_layers(X, labels, ids, n_perm=199, seed=0, logistic_layers=[])
    rec = out[out.test == "max_over_layers"].iloc[0]
    assert rec.scheme == "plain" and rec.layer == 1 and rec.p_value < 0.05
    assert rec.p_floor == pytest.approx(1 / 200)
    # the plain folds deal stimulus i to fold i mod 5 and the labels move within folds: the
    # orderings are the product over folds of the distinct orderings (itertools, per fold)
    fold = np.arange(18) % 5
    D = math.prod(len(set(itertools.permutations(labels[fold == f]))) for f in range(5))
    assert rec.n_orderings == D == 24 ** 3 * 6 * 6
    sch = pr.probe_scheme(labels, ids)
    codes = np.unique(labels, return_inverse=True)[1]
    drawn, _ = orderings(codes, sch.groups, 50, seed=0)
    for f in range(5):                                  # every fold keeps its class counts
        assert (np.sort(drawn[fold == f], axis=0) == np.sort(codes[fold == f])[:, None]).all()
    for j, (tr, _) in enumerate(sch.folds):             # inner folds: the other outer folds
        assert sorted(tuple(tr[b]) for _, b in sch.inner[j]) == sorted(
            tuple(np.flatnonzero(fold == f)) for f in range(5) if f != j)
    # chance is the null's mean at that layer (not 1 / C)
    chance = out[(out.test == "ridge_cv") & (out.layer == 1)].chance.iloc[0]
    assert rec.chance == chance and 0.05 < chance < 0.3
    # a single-source space (user12: source = "hand-written" for all) is the same case
    X, labels = _de_example_like(1, C=12, per=3)
    out = pr.probe_layers(X, labels, None, n_perm=199, seed=1, logistic_layers=[])
    assert out[out.test == "max_over_layers"].p_value.iloc[0] < 0.05


def test_a_null_that_cannot_move_is_not_tested():
    from emostat.analysis.claims.table import build_claims

    X, labels = _de_example_like(2)
    out = pr.probe_layers(X, labels, labels, n_perm=99, logistic_layers=[])   # group = concept
    rec = out[out.test == "max_over_layers"].iloc[0]
    assert np.isnan(rec.p_value) and "cannot reorder" in rec.note
    claims = build_claims({"geometry_probes": out}, {"kind": "experiment", "ks": [],
                                                     "tasks": []})
    row = claims[(claims.claim == "probe") & (claims.role == "record")].iloc[0]
    assert row.decision == "not tested" and "cannot reorder" in row.reason


def test_control_task_fails_when_the_probe_can_memorise_the_type():
    # activations carry the stimulus's setting (a surface feature) strongly and the concept
    # not at all; a random label per setting is learnable, a label per stimulus is not
    rng = np.random.default_rng(4)
    C, S, per = 5, 10, 4
    setting = np.repeat(np.arange(S), per)                       # 40 stimuli, 10 settings
    labels = rng.permutation(np.tile(np.arange(C), S * per // C)).astype(str)
    X = rng.normal(size=(2, S * per, 12)) + 4 * rng.normal(size=(S, 12))[setting]
    out = pr.probe_layers(X, labels, None, n_perm=19, logistic_layers=[], types=setting)
    r = out[out.test == "ridge_cv"].iloc[0]
    assert r.control_accuracy > 0.8                             # memorised: the gap shows
    assert r.selectivity < -0.5
    # the old control (labels shuffled per stimulus) stays at chance: it could not fail
    per_stim = rng.permutation(labels)
    old = pr.probe_layers(X, per_stim, None, n_perm=19, logistic_layers=[])
    assert old[old.test == "ridge_cv"].estimate.iloc[0] < 0.45
    # no recurring type: no control, and the table says why
    out = pr.probe_layers(X, labels, None, n_perm=19, logistic_layers=[])
    assert np.isnan(out.control_accuracy.iloc[0]) and out.control.iloc[0].startswith("none")


def test_exact_enumeration_p_and_chance_equal_brute_force():
    # 3 groups of 3 stimuli, labels (a, a, b), (a, b, b), (a, a, b): 3 x 3 x 3 = 27 orderings
    rng = np.random.default_rng(5)
    y = np.array([0, 0, 1, 0, 1, 1, 0, 0, 1])
    groups = np.repeat([0, 1, 2], 3)
    X = rng.normal(size=(1, 9, 4)) + 1.5 * np.array([[-1.0], [1.0]])[y][None]
    alphas = [0.5, 50.0]
    out = pr.probe_layers(X, y.astype(str), groups, n_perm=100, alphas=alphas,
                          logistic_layers=[])
    rec = out[out.test == "max_over_layers"].iloc[0]
    sch = pr.probe_scheme(y, groups)
    accs = []
    per_group = [sorted(set(itertools.permutations(y[groups == g]))) for g in range(3)]
    for a, b, c in itertools.product(*per_group):                  # every distinct ordering
        lab = np.array(a + b + c)
        accs.append((_sk_nested_classifier(X[0], lab, sch.folds, sch.inner, alphas)
                     == lab).mean())
    accs = np.array(accs)
    assert len(accs) == 27 and rec.n_perm == 27
    assert rec.p_value == pytest.approx((accs >= rec.estimate - 1e-12).mean(), abs=1e-12)
    assert rec.p_floor == pytest.approx(1 / 27)
    assert rec.chance == pytest.approx(accs.mean(), abs=1e-12)
    # the record's interval: +/- the 95% quantile ("higher") of |acc* - mean| (one layer)
    h = np.quantile(np.abs(accs - accs.mean()), 0.95, method="higher")
    assert rec.conf_low == pytest.approx(max(0, rec.estimate - h), abs=1e-12)
    assert rec.conf_high == pytest.approx(min(1, rec.estimate + h), abs=1e-12)


def test_record_interval_is_simultaneous_over_layers():
    from statsmodels.stats.proportion import proportion_confint

    X, labels = _de_example_like(6, L=4)
    out = pr.probe_layers(X, labels, None, n_perm=99, logistic_layers=[])
    rec = out[out.test == "max_over_layers"].iloc[0]
    assert "simultaneous over 4 layers" in rec.conf_method
    assert rec.conf_low <= rec.estimate <= rec.conf_high
    layer = out[(out.test == "ridge_cv") & (out.layer == rec.layer)].iloc[0]
    k = round(layer.estimate * 18)                                  # statsmodels' CP, one layer
    assert (layer.conf_low, layer.conf_high) == pytest.approx(
        proportion_confint(k, 18, alpha=0.05, method="beta"))
    assert rec.conf_high - rec.conf_low > 0


def test_attribute_probe_r2_equals_sklearn_and_rejects_a_planted_attribute():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(7)
    C, per, L, d = 8, 5, 3, 10
    concepts = [f"c{k}" for k in range(C)]
    labels = np.repeat(concepts, per)
    means = pd.DataFrame({"valence": rng.normal(size=C), "noise": rng.normal(size=C)},
                         index=concepts)
    X = rng.normal(size=(L, C * per, d))
    u = rng.normal(size=d)
    X[2] += 1.5 * means.valence.to_numpy()[np.repeat(np.arange(C), per)][:, None] * u
    groups = np.tile(np.arange(per), C)
    out = attribute_probes(X, labels, means, groups, n_perm=99, alphas=[10.0])
    sch = pr.probe_scheme(np.repeat(np.arange(C), per), groups)
    yv = means.valence.to_numpy()[np.repeat(np.arange(C), per)]
    pred = np.empty_like(yv)
    for tr, te in sch.folds:                                      # scikit-learn, one penalty
        pred[te] = _sk_ridge(10.0).fit(X[2][tr], yv[tr]).predict(X[2][te])
    row = out[(out.test == "ridge_r2") & (out.layer == 2) & (out.attribute == "valence")]
    assert row.estimate.iloc[0] == pytest.approx(r2_score(yv, pred), abs=1e-10)
    rec = out[out.test == "max_over_layers"].set_index("attribute")
    assert rec.loc["valence", "layer"] == 2 and rec.loc["valence", "p_value"] == \
        pytest.approx(0.01)
    assert (rec["p_fwer_joint"] >= rec["p_value"] - 1e-12).all()   # max over more tests
    one = attribute_probes(X, labels, means[["valence"]], groups, n_perm=99, alphas=[10.0])
    one = one[one.test == "max_over_layers"].iloc[0]                # one attribute: the same
    assert one.p_fwer_joint == one.p_value


@pytest.mark.parametrize("space", ["de-example", "user12"])
def test_planted_signal_rejects_on_the_shipped_and_single_source_spaces(space):
    # the spaces' own stimuli tables decide the scheme (geometry_run.stimulus_groups): de-example
    # has no source or setting, user12 one source for all; activations: noise plus a concept
    # offset at one layer
    from pathlib import Path

    from emostat.collect.geometry_run import control_types, stimulus_groups
    from emostat.space import load_space

    where = Path(__file__).parent / "spaces" / "user12" if space == "user12" else space
    st = load_space(where).stimuli
    groups, by = stimulus_groups(st)
    assert groups is None and by == "none"
    rng = np.random.default_rng(8)
    concepts, code = np.unique(st["concept"], return_inverse=True)
    X = rng.normal(size=(3, len(st), 10))
    X[2] += 1.0 * rng.normal(size=(len(concepts), 10))[code]
    out = pr.probe_layers(X, st["concept"], groups, n_perm=99, logistic_layers=[],
                          types=control_types(st)[0])
    rec = out[out.test == "max_over_layers"].iloc[0]
    assert rec.layer == 2 and rec.p_value < 0.05 and rec.scheme == "plain"
    null = pr.probe_layers(X[:2], st["concept"], groups, n_perm=99, logistic_layers=[])
    assert null[null.test == "max_over_layers"].p_value.iloc[0] > 0.05   # noise layers only
