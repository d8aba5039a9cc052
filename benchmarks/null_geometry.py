"""Null calibration of the geometry tests of record (registered in :mod:`nullcal`).

Each replication simulates activations [layers, stimuli, features] of pure Gaussian noise (the
null) or with a planted signal at one layer, and runs the test of record as emostat does:

- ``probe``: the ridge concept probe, max over layers, 99 within-group shuffles (8 concepts x 6
  stimuli in 3 settings, 4 layers); planted: a concept offset at layer 2;
- ``probe_plain``: the same without groups (the ``de-example`` design: 6 concepts x 3 stimuli,
  no source or setting): plain folds, shuffles over all stimuli;
RSA and PCA are cheap and run 1000 replications; the probes 200.

- ``layer_rsa``: Spearman RSA of the concept-vector RDM with an attribute RDM, max over 6
  layers, 199 concept-label permutations (12 concepts); ``ci_excludes``: the record row's
  simultaneous lower bound is above 0;
- ``layer_rsa_exact``: the same with 6 concepts (999 draws asked for: all 720 enumerated);
- ``pca``: PC1 of the concept vectors against an attribute, max |r| over 6 layers (12
  concepts); ``ci_excludes``: the record row's simultaneous interval excludes 0;
  ``fisher_excludes``: the best layer's own Fisher-z interval excludes 0 (what the tables
  printed before: not adjusted for the choice of layer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nullcal import register


def _stimuli(rng, C, per, L, d):
    labels = np.repeat(np.arange(C), per)
    return labels, rng.normal(size=(L, C * per, d))


def _probe(seed, planted, C, per, groups_of, strength):
    from emostat.analysis.geometry.probes import probe_layers

    rng = np.random.default_rng(seed)
    L, d = 4, 16
    labels, X = _stimuli(rng, C, per, L, d)
    if planted:
        X[2] += strength * rng.normal(size=(C, d))[labels]
    groups = groups_of(labels, per)
    out = probe_layers(X, labels.astype(str), groups, n_perm=99, seed=seed,
                       logistic_layers=[])
    rec = out[out.test == "max_over_layers"].iloc[0]
    return {"p": rec.p_value, "ci_above_chance": rec.conf_low > rec.chance}


@register("probe", "ridge concept probe, max over 4 layers, 99 within-group shuffles")
def probe(seed, planted):
    return _probe(seed, planted, 8, 6, lambda labels, per: np.tile(np.arange(3), len(labels) // 3),
                  strength=0.35)


@register("probe_plain", "ridge concept probe without groups (de-example design)", reps=600)
def probe_plain(seed, planted):
    return _probe(seed, planted, 6, 3, lambda labels, per: None, strength=0.7)


def _geometry(seed, planted, C, strength, n_perm):
    from emostat.analysis.geometry import layers as g

    rng = np.random.default_rng(seed)
    L, per, d = 6, 4, 12
    labels, X = _stimuli(rng, C, per, L, d)
    attr = rng.normal(size=C)
    if planted:
        u = rng.normal(size=d)
        X[3] += strength * attr[labels][:, None] * u / np.linalg.norm(u)
    concepts = [str(c) for c in range(C)]
    V = g.concept_vectors(X, labels.astype(str), concepts)
    means = pd.DataFrame({"a": attr}, index=concepts)
    return g, V, means, n_perm


def _rsa(seed, planted, C, strength, n_perm):
    g, V, means, n_perm = _geometry(seed, planted, C, strength, n_perm)
    out = g.layer_rsa(g.concept_rdms(V), g.attribute_rdms(means), n_perm=n_perm, seed=seed)
    rec = out[out.test == "max_over_layers"].iloc[0]
    return {"p": rec.p_value, "ci_excludes": rec.conf_low > 0}


@register("layer_rsa", "Spearman RSA, max over 6 layers, 199 concept-label permutations",
          reps=1000)
def layer_rsa(seed, planted):
    return _rsa(seed, planted, 12, 1.2, 199)


@register("layer_rsa_exact", "Spearman RSA with 6 concepts: all 720 relabellings", reps=1000)
def layer_rsa_exact(seed, planted):
    return _rsa(seed, planted, 6, 2.0, 999)


@register("pca", "PC1 vs an attribute, max |r| over 6 layers, 199 concept-label permutations",
          reps=1000)
def pca(seed, planted):
    g, V, means, n_perm = _geometry(seed, planted, 12, 1.0, 199)
    out = g.pca_attributes(V, means, n_components=1, n_perm=n_perm, seed=seed)
    rec = out[out.test == "max_over_layers"].iloc[0]
    own = out[(out.test == "pc_pearson") & (out.layer == rec.layer)].iloc[0]
    return {"p": rec.p_value, "ci_excludes": rec.conf_low > 0 or rec.conf_high < 0,
            "fisher_excludes": own.conf_low > 0 or own.conf_high < 0}
