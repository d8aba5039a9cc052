"""The steering grid of ``emostat geometry`` (docs/geometry.md): which items are steered, along
which directions, and the table of every direction's effect on every concept's word.

- :func:`held_out_items`: the steering items, kept out of the concept vectors;
- :func:`steering_directions`: the concept vectors, random directions on the data manifold and
  isotropic Gaussian ones, unit length;
- :func:`steering_rows`: item x vector x scale x target word rows from
  :func:`emostat.collect.geometry.steering_scores` (one forward per condition scores every
  word, so the mismatched cells cost nothing);
- :func:`steering_grid`: all three on one layer of a loaded decoder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.geometry.layers import concept_vectors


def held_out_items(labels, concepts, n_items, seed) -> np.ndarray:
    """Boolean mask of the steering items: ``n_items`` stimuli taken round-robin over the
    concepts (seeded), kept out of the steering vectors."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in concepts}
    pick = []
    while len(pick) < n_items and any(len(p) > 1 for p in pools.values()):
        for c in concepts:
            if len(pick) < n_items and len(pools[c]) > 1:
                pick.append(pools[c].pop())
    mask = np.zeros(len(labels), dtype=bool)
    mask[pick] = True
    return mask


def steering_rows(base, steered, items, item_concepts, words, vector_names, kinds,
                  scales) -> pd.DataFrame:
    """Rows item x vector x scale x target word from :func:`steering_scores` (steered
    [n, S*K, W], scale major): every direction is scored on every word (``matched``: a concept's
    vector on its own word). Log-probabilities are renormalised over the concepts' words."""
    def norm(a):
        return a - np.logaddexp.reduce(a, axis=-1, keepdims=True)

    b = norm(np.asarray(base, float))
    n, W = b.shape
    K, S = len(vector_names), len(scales)
    s = norm(np.asarray(steered, float)).reshape(n, S, K, W)
    words = np.asarray(words, dtype=object)
    choice = s.argmax(-1)                                   # [n, S, K]
    chose = choice[..., None] == np.arange(W)               # [n, S, K, W]
    base_chose = (b.argmax(-1)[:, None] == np.arange(W))[:, None, None, :]
    own = np.array([list(words).index(c) for c in item_concepts])
    t, si, k, w = (a.ravel() for a in np.indices((n, S, K, W)))
    vec, kind = np.asarray(vector_names, dtype=object), np.asarray(kinds, dtype=object)
    return pd.DataFrame(dict(
        item=np.asarray(items, dtype=object)[t], item_concept=words[own][t], vector=vec[k],
        kind=kind[k], target=words[w], matched=(kind[k] == "concept") & (vec[k] == words[w]),
        scale=np.asarray(scales, float)[si], base_logp=b[t, w], logp=s.ravel(),
        delta_logp=(s - b[:, None, None, :]).ravel(), choice=words[choice.ravel()[
            np.ravel_multi_index((t, si, k), (n, S, K))]],
        chose_target=chose.ravel().astype(int),
        delta_choice=(chose.astype(int) - base_chose).ravel(),
        correct=(choice == own[:, None, None]).ravel()[
            np.ravel_multi_index((t, si, k), (n, S, K))].astype(int)))


def steering_directions(X_layer, labels, concepts, held, n_manifold, n_isotropic, seed):
    """The directions steered, unit length, with names and kinds: the concept vectors (from
    stimuli other than the steering items), ``n_manifold`` random directions on the data
    manifold (Gaussian-weighted sums of those stimuli's deviations from their mean: a draw
    from N(0, their covariance), the limit of a difference of means of a random split) and
    ``n_isotropic`` isotropic Gaussian ones (off the manifold)."""
    keep = ~np.asarray(held)
    Xv = np.asarray(X_layer)[keep]
    V = concept_vectors(Xv[None], np.asarray(labels)[keep], concepts)[0]
    rng = np.random.default_rng(seed)
    iso = rng.standard_normal((n_isotropic, Xv.shape[1]))
    dev = Xv.astype(float) - Xv.astype(float).mean(0)
    man = np.random.default_rng(seed + 1).standard_normal((n_manifold, len(Xv))) @ dev
    units = np.vstack([V, man, iso])
    units /= np.maximum(np.linalg.norm(units, axis=1, keepdims=True), 1e-30)
    names = (list(concepts) + [f"manifold-{k + 1:02d}" for k in range(n_manifold)]
             + [f"isotropic-{k + 1:02d}" for k in range(n_isotropic)])
    kinds = (["concept"] * len(concepts) + ["random_manifold"] * n_manifold
             + ["random_isotropic"] * n_isotropic)
    return units, names, kinds


def steering_grid(lm, X_layer, stimuli: pd.DataFrame, concepts, words: dict, layer: int, opt,
                  seed: int) -> pd.DataFrame:
    """The steering grid at ``layer``: ``X_layer`` [n_stimuli, d] the stimuli's residuals there
    (vectors from the non-steered stimuli), ``opt`` a GeometryOptions (``n_items``,
    ``n_random``, ``n_isotropic``, ``scales``); seeds ``seed + 3`` (items) and ``seed + 4``
    (random directions). Rows of :func:`steering_rows` with ``layer`` first."""
    from emostat.collect.geometry import steering_scores

    labels = stimuli["concept"].to_numpy()
    n_items = opt.n_items or 2 * len(concepts)
    held = held_out_items(labels, concepts, n_items, seed + 3)
    units, names, kinds = steering_directions(X_layer, labels, concepts, held, opt.n_random,
                                              opt.n_isotropic, seed + 4)
    scales = np.asarray(opt.scales, dtype=float)
    base, steered, _ = steering_scores(lm, stimuli.loc[held, "text"].tolist(),
                                       [words[c] for c in concepts], layer, units,
                                       scales=scales)
    st = steering_rows(base, steered, stimuli.loc[held, "id"].tolist(), labels[held].tolist(),
                       concepts, names, kinds, scales)
    st.insert(0, "layer", layer)
    return st
