"""Do the masks a run collected with equal the analysis's own top-k neurons?

Collection ranks neurons by a searchlight of its activations against the space's attribute
RDMs and silences each attribute's top k (``conditions.parquet``); the analysis reruns the
searchlight from the stored activations against the human tables it loads. The two should pick
the same sets: when they do not (other ratings, other RDMs, another tie rule), the masking
statistics test sets that the analysis's searchlight tables do not describe. This table says
which, per attribute mask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emostat.analysis.neurons.searchlight import top_k
from emostat.checks import require_columns


def mask_selection(conditions: pd.DataFrame, neuron_rsa: pd.DataFrame) -> pd.DataFrame:
    """Per attribute mask of ``conditions`` (a run's ``conditions.parquet``): ``attribute, k,
    n_neurons, n_shared`` (with the analysis's top-k of that attribute in ``neuron_rsa``),
    ``jaccard`` and ``identical`` (the same set of neurons)."""
    require_columns(conditions, ["condition", "attribute", "k", "neurons"], "conditions.parquet")
    masks = conditions[conditions["condition"] == "attribute"]
    known = set(neuron_rsa["attribute"].unique())
    rows = []
    for k, part in masks.groupby("k", sort=True):
        best = top_k(neuron_rsa, int(k))
        for _, r in part.iterrows():
            if r["attribute"] not in known:
                rows.append((r["attribute"], int(k), len(r["neurons"]), 0, 0.0, False))
                continue
            mine = np.asarray(r["neurons"], dtype=np.int64)
            theirs = best[r["attribute"]]
            shared = len(np.intersect1d(mine, theirs))
            union = len(np.union1d(mine, theirs))
            rows.append((r["attribute"], int(k), len(mine), shared,
                         shared / union if union else 1.0, shared == len(mine) == len(theirs)))
    return pd.DataFrame(rows, columns=["attribute", "k", "n_neurons", "n_shared", "jaccard",
                                       "identical"])
