"""Write tests/r/glmm_mode.csv: a seeded item x mask design where mixedlm 1.3's native (Rust)
Laplace evaluation stops short of the maximum likelihood (emostat.analysis.engines.laplace_path).

60 items crossed with 16 masks (6 attribute, 10 random), ``correct`` Bernoulli from a logit
model shaped like the default run's item GLMM: intercept -2.33, item SD 1.77, mask SD .33,
``attribute_vs_random`` (1 = random mask) .11. Run from the repository root:
python tests/r/glmm_mode_data.py (numpy only; deterministic).
"""
from pathlib import Path

import numpy as np

rng = np.random.default_rng(3)
n_items, n_att, n_rnd = 60, 6, 10
masks = [f"a{i}" for i in range(n_att)] + [f"r{i}" for i in range(n_rnd)]
is_random = np.array([0] * n_att + [1] * n_rnd)
u_item = rng.normal(0, 1.77, n_items)
u_mask = rng.normal(0, 0.33, len(masks))
lines = ["item,mask,attribute_vs_random,correct"]
for i in range(n_items):
    for m, mask in enumerate(masks):
        eta = -2.33 + 0.11 * is_random[m] + u_item[i] + u_mask[m]
        y = int(rng.random() < 1 / (1 + np.exp(-eta)))
        lines.append(f"i{i},{mask},{is_random[m]},{y}")
Path(__file__).with_name("glmm_mode.csv").write_text("\n".join(lines) + "\n")
