"""Cost of each geometry analysis against a plain forward pass over the same stimuli.

On the embedded SmolLM2-135M, one thread, a subset of the shipped situations (``--per``
stimuli per concept):
  forward      plain model forward over the stimuli (batch 16, no hooks, next-token logits
               only, batches of similar length as in residual_states): the unit
  residuals    residual_states over the same stimuli (hooks on every block, mean over tokens)
  rsa, pca     layer_rsa / pca_attributes with ``--n-perm`` concept-label permutations
  probes       ridge probe with ``--n-perm-probe`` within-group shuffles on every layer, plus
               the logistic probe on one layer
  steering     steering_scores for ``--items`` items x (27 concept + 20 on-manifold + 5
               isotropic directions, the default) x 3 scales, against ``choice_forward``: one
               plain forward of the same items' choice prompts, and against ``steering_v1``:
               the v1 grid (27 concept + 5 random directions) on the same items
Single-thread fp32 matmul GFLOPS is measured in the same run (absolute times depend on it).
Writes benchmarks/results/geometry.json.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_geometry.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch


def gflops(n=1024, repeats=5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9


def main(argv=None):
    from emostat.analysis.geometry.layers import (attribute_rdms, concept_rdms, concept_vectors,
                                           layer_rsa, pca_attributes)
    from emostat.analysis.human.humanspace import load_shipped_human
    from emostat.analysis.geometry.probes import probe_layers
    from emostat.collect.geometry import residual_states, steering_scores
    from emostat.collect.models import load_model
    from emostat.collect.stimuli import read_stimuli
    from emostat.collect.tasks import DEFAULT_CHOICES, format_prompt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per", type=int, default=4)
    ap.add_argument("--n-perm", type=int, default=999)
    ap.add_argument("--n-perm-probe", type=int, default=199)
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" /
                    "geometry.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    lm = load_model(None)
    hs = load_shipped_human()
    concepts = list(hs.means.index)
    d = read_stimuli().groupby("emotion").head(a.per).reset_index(drop=True)
    texts, labels = d["text"].tolist(), d["emotion"].to_numpy()
    rate = gflops()
    times = {}

    def plain(tx):
        """Forward only, next-token logits only, batches of similar length (as residuals)."""
        tok = lm.tokenizer
        tok.padding_side = "right"
        tx = sorted(tx, key=lambda x: len(tok(x)["input_ids"]))
        with torch.no_grad():
            for lo in range(0, len(tx), 16):
                enc = tok(tx[lo:lo + 16], return_tensors="pt", padding=True)
                lm.model(**enc, logits_to_keep=1)

    t = time.perf_counter()
    plain(texts)
    times["forward"] = time.perf_counter() - t
    t = time.perf_counter()
    X = residual_states(lm, texts)
    times["residuals"] = time.perf_counter() - t
    V = concept_vectors(X, labels, concepts)
    H = attribute_rdms(hs.means)
    t = time.perf_counter()
    layer_rsa(concept_rdms(V), H, n_perm=a.n_perm)
    times["rsa"] = time.perf_counter() - t
    t = time.perf_counter()
    pca_attributes(V, hs.means, n_perm=a.n_perm)
    times["pca"] = time.perf_counter() - t
    t = time.perf_counter()
    probe_layers(X, labels, d["setting"], n_perm=a.n_perm_probe, logistic_layers=[X.shape[0] // 2])
    times["probes"] = time.perf_counter() - t
    items = texts[:a.items]
    prompts = [format_prompt(lm, DEFAULT_CHOICES["causal"], None, text=x,
                             choices=", ".join(concepts)) for x in items]
    t = time.perf_counter()
    plain(prompts)
    times["choice_forward"] = time.perf_counter() - t
    n_dir = {"steering_v1": len(concepts) + 5, "steering": len(concepts) + 20 + 5}
    for name, k in n_dir.items():
        units = np.random.default_rng(0).standard_normal((k, X.shape[2]))
        t = time.perf_counter()
        steering_scores(lm, items, concepts, X.shape[0] // 2, units, scales=(0.25, 0.5, 1.0))
        times[name] = time.perf_counter() - t
    ratios = {k: v / times["forward"] for k, v in times.items()
              if k not in ("forward", "choice_forward", "steering", "steering_v1")}
    ratios["steering_vs_choice_forward"] = times["steering"] / times["choice_forward"]
    ratios["steering_v1_vs_choice_forward"] = times["steering_v1"] / times["choice_forward"]
    ratios["steering_vs_steering_v1"] = times["steering"] / times["steering_v1"]
    out = dict(model=lm.name, n_stimuli=len(texts), n_layers=int(X.shape[0]),
               n_perm=a.n_perm, n_perm_probe=a.n_perm_probe, steering_items=a.items,
               steering_conditions={k: v * 3 for k, v in n_dir.items()},
               matmul_gflops_1thread=rate,
               seconds=times, ratio_to_forward=ratios, threads=torch.get_num_threads(),
               load_average=os.getloadavg(), python=platform.python_version(),
               torch=torch.__version__)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
