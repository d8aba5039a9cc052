"""Write tests/r/item_mask.csv: a small seeded item x mask design for the GLMM/LMM references.

60 items (12 emotions x 5) crossed with 16 masks: 6 attribute masks and 10 random masks (the
shared random draws). ``correct`` is Bernoulli from a logit model with item and mask random
intercepts; ``margin`` is Gaussian with the same structure. ``attribute_vs_random`` = 1 for a
random mask, 0 for an attribute mask (so its coefficient is random − attribute, emostat's sign).
Run from the repository root: python tests/r/item_mask_data.py (numpy only; deterministic).
"""
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20241201)
n_emotion, per, n_att, n_rand = 12, 5, 6, 10
items = [f"e{e:02d}_i{i}" for e in range(n_emotion) for i in range(per)]
emotion = [f"e{e:02d}" for e in range(n_emotion) for _ in range(per)]
masks = [f"attr{a}" for a in range(n_att)] + [f"rand{r}" for r in range(n_rand)]
is_random = np.array([0] * n_att + [1] * n_rand)
u_item = rng.normal(0, 1.0, len(items))
u_mask = rng.normal(0, 0.35, len(masks))
v_item = rng.normal(0, 0.6, len(items))
v_mask = rng.normal(0, 0.25, len(masks))
lines = ["item,emotion,mask,attribute_vs_random,correct,margin"]
for m, mask in enumerate(masks):
    for i, item in enumerate(items):
        eta = 0.2 + 0.45 * is_random[m] + u_item[i] + u_mask[m]
        y = int(rng.random() < 1 / (1 + np.exp(-eta)))
        margin = -0.3 + 0.3 * is_random[m] + v_item[i] + v_mask[m] + rng.normal(0, 0.8)
        lines.append(f"{item},{emotion[i]},{mask},{is_random[m]},{y},{margin:.6f}")
Path(__file__).with_name("item_mask.csv").write_text("\n".join(lines) + "\n")
