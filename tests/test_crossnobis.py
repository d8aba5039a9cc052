"""Cross-validated distances (issue 23 item 3) against rsatoolbox 0.3.2's calc_rdm_crossnobis
and against what they are for: no noise bias, a zero that means no difference."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.engines import crossnobis
from emostat.analysis.engines.crossnobis import (crossval_attribute_rdms, crossval_neuron_rdms,
                                                 crossval_rdms, rater_folds, stratified_folds)
from emostat.errors import InputError

rsatoolbox = pytest.importorskip("rsatoolbox")


def _rsatoolbox_crossnobis(X, labels, folds, noise=None):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    ds = Dataset(X, obs_descriptors={"conds": labels, "fold": folds})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calc_rdm(ds, method="crossnobis", descriptor="conds", cv_descriptor="fold",
                        noise=noise).get_vectors()[0]


def test_doctest():
    assert doctest.testmod(crossnobis).failed == 0


def test_matches_rsatoolbox_crossnobis_with_unbalanced_folds_and_a_precision():
    rng = np.random.default_rng(0)
    labels = np.repeat(list("abcdef"), 5)                  # 5 observations into 3 folds
    folds = stratified_folds(labels, 3, seed=1)
    X = rng.normal(size=(30, 20))
    # rsatoolbox sorts the patterns by label: "abcdef" is that order
    np.testing.assert_allclose(crossval_rdms(X, labels, folds),
                               _rsatoolbox_crossnobis(X, labels, folds), atol=1e-12)
    Lam = np.linalg.inv(np.cov(rng.normal(size=(40, 20)).T))
    np.testing.assert_allclose(crossval_rdms(X, labels, folds, precision=Lam),
                               _rsatoolbox_crossnobis(X, labels, folds, Lam), atol=1e-12)
    # a leading axis (layers) is mapped over
    two = crossval_rdms(np.stack([X, 2 * X]), labels, folds)
    np.testing.assert_allclose(two[1], 4 * two[0], atol=1e-12)


def test_unbiased_where_the_mean_distance_is_not():
    # 8 concepts with one true pattern: no distance. Means of 4 noisy stimuli are all apart;
    # the cross-validated distance averages to zero (over 200 data sets, within 4 SE).
    rng = np.random.default_rng(1)
    labels = np.repeat(list("abcdefgh"), 4)
    folds = stratified_folds(labels, 4, seed=0)
    cv, plain = [], []
    for _ in range(200):
        X = rng.normal(size=(32, 30))
        cv.append(crossval_rdms(X, labels, folds).mean())
        m = np.stack([X[labels == c].mean(axis=0) for c in "abcdefgh"])
        plain.append(((m[:, None] - m[None]) ** 2).sum(-1)[np.triu_indices(8, 1)].mean() / 30)
    cv = np.asarray(cv)
    assert abs(cv.mean()) < 4 * cv.std() / np.sqrt(len(cv))
    assert np.mean(plain) == pytest.approx(0.5, rel=0.05)     # 2 sigma^2 / 4 stimuli
    # a precision from residuals within concept x fold (8 stimuli, 2 per fold): still unbiased
    labels8 = np.repeat(list("abcdefgh"), 8)
    folds8 = stratified_folds(labels8, 4, seed=0)
    for precision in ("diag", "shrinkage"):
        d = [crossval_rdms(rng.normal(size=(64, 30)), labels8, folds8, precision=precision).mean()
             for _ in range(60)]
        assert abs(np.mean(d)) < 4 * np.std(d) / np.sqrt(len(d))
    with pytest.raises(InputError, match="two observations of a concept"):
        crossval_rdms(rng.normal(size=(32, 30)), labels, folds, precision="diag")


def test_neuron_rdms_are_the_general_function_per_neuron():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 6, 7))                      # templates, concepts, neurons
    obs = A.reshape(24, 7)
    labels, folds = np.tile(np.arange(6), 4), np.repeat(np.arange(4), 6)
    ref = np.stack([crossval_rdms(obs[:, [k]], labels, folds, concepts=list(range(6)))
                    for k in range(7)], axis=1)
    np.testing.assert_allclose(crossval_neuron_rdms(A, chunk=3), ref, atol=1e-13)
    from emostat.analysis.neurons.searchlight import neuron_rdms, searchlight

    np.testing.assert_allclose(neuron_rdms(A, "crossval"), ref, atol=1e-13)
    attr = pd.DataFrame({"a": ref[:, 0]})
    out = searchlight(A, attr, distance="crossval")
    assert out.loc[out.neuron == 0, "tau"].iloc[0] == pytest.approx(1.0)


def test_attribute_distances_over_rater_folds():
    # 40 raters, each rates 3 of 6 concepts; the true means are 0, 1, ..., 5
    rng = np.random.default_rng(3)
    concepts = list("abcdef")
    rows = []
    for p in range(40):
        for c in rng.choice(6, 3, replace=False):
            rows.append((p, concepts[c], "x", c + rng.normal()))
    ratings = pd.DataFrame(rows, columns=["participant", "concept", "attribute", "value"])
    folds = rater_folds(ratings, 2, seed=0)
    r = ratings.assign(fold=ratings["participant"].astype(str).map(folds))
    assert (r.groupby("concept")["fold"].nunique() == 2).all()   # every concept in both folds
    assert (r.groupby("participant")["fold"].nunique() == 1).all()   # a rater in one fold
    d = crossval_attribute_rdms(ratings, concepts, n_folds=2, seed=0)
    from emostat.constants import pair_indices

    i, j = pair_indices(6)
    truth = (i - j) ** 2.0
    assert np.corrcoef(d["x"], truth)[0, 1] > 0.95
    with pytest.raises(InputError, match="no observation in fold"):
        crossval_attribute_rdms(ratings.iloc[:20], concepts, n_folds=5)


def test_geometry_layer_rdms_option():
    from emostat.collect.geometry_run import GeometryOptions, layer_rdms

    rng = np.random.default_rng(4)
    labels = np.repeat(list("abcde"), 6)
    X = rng.normal(size=(2, 30, 8))
    opt = GeometryOptions(metric="crossval", crossval_folds=3)
    got = layer_rdms(X, labels, list("abcde"), None, opt, seed=5)
    want = crossval_rdms(X, labels, stratified_folds(labels, 3, 5), list("abcde"))
    np.testing.assert_allclose(got, want)
