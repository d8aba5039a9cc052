"""Write tests/r/knowledge_inference.csv: a small seeded choice task for the knowledge GLMM.

48 items (6 concepts x 8) under no manipulation, 6 attribute masks and 10 random masks (one k),
two calibration folds. Each row holds the 6 candidates' log-probs (columns ``lp_<concept>``):
the right answer's evidence (item strength - the mask's knowledge loss) plus Gumbel noise, plus
a per-condition shift of the answer prior (one log-prob offset per candidate and condition),
which per-condition calibration removes. Attribute masks lose more knowledge on average.
``tests/r/knowledge.R`` re-calibrates every condition on its own rows and fits lme4's glmer;
tests/test_knowledge.py runs emostat on the same rows.
Run from the repository root: python tests/r/knowledge_data.py (numpy only; deterministic).
"""
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20261207)
concepts = ["anger", "fear", "joy", "love", "pride", "sadness"]
per, n_att, n_rand, k = 8, 6, 10, 50
items = [(f"{c}_i{i}", c, i % 2) for c in concepts for i in range(per)]
strength = rng.normal(2.2, 1.0, len(items))
conditions = ([("none", "none", "", "")]
              + [(f"attribute:a{a}", "attribute", f"a{a}", "") for a in range(n_att)]
              + [(f"random:{r}", "random", "", str(r)) for r in range(n_rand)])
loss = {cid: (rng.normal(1.0, 0.5) if kind == "attribute" else rng.normal(0.5, 0.25)
              if kind == "random" else 0.0) for cid, kind, _, _ in conditions}
lines = ["task,item_id,concept,label,condition,condition_id,attribute,k,draw,cal_fold,"
         + ",".join(f"lp_{c}" for c in concepts)]
for cid, kind, attribute, draw in conditions:
    prior = rng.normal(0, 0.8, len(concepts)) if kind != "none" else np.zeros(len(concepts))
    for (item, concept, fold), s in zip(items, strength):
        lp = prior + rng.gumbel(0, 1, len(concepts))
        lp[concepts.index(concept)] += max(s - loss[cid] + rng.normal(0, 0.3), 0.0)
        kk = "" if kind == "none" else str(k)
        lines.append(f"choice,{item},{concept},{concept},{kind},{cid},{attribute},{kk},{draw},"
                     f"{fold}," + ",".join(f"{x:.6f}" for x in lp))
Path(__file__).with_name("knowledge_inference.csv").write_text("\n".join(lines) + "\n")
