"""The collection profiles (``default``, ``quick``, ``full``) and what each was measured at.

The masking designs of the default and quick profiles are the analysis's design table's
(:mod:`emostat.analysis.masking.design`, docs/inference.md "The design table").
"""

from __future__ import annotations

from emostat.analysis.masking.design import DEFAULT_DESIGN, QUICK_DESIGN

__all__ = ["PROFILES", "QUICK_ITEMS"]

QUICK_ITEMS = "auto"     # quick: items per concept chosen for the space (resolve_quick_items)

PROFILES: dict[str, dict] = {
    # The experiment on the embedded model: the 27-way choice task (short prompt, cross-fitted
    # calibration, raw prompts: chat = false), all 14 attributes at k = 5% of the neurons
    # (2,304), two worker processes, oneDNN fp32 kernels; its masking design (items per concept x
    # random masks) is DEFAULT_DESIGN (docs/inference.md, "The design table"): 10 situations
    # per concept x 30 shared random masks = 270 x (1 + 44) = 12,150 item x condition rows
    # (until Dec 7 all 405 x 20 = 14,175 rows, collected in 357 s on a quiet 2-core CPU at
    # 42 rows/s, 1,375 s of inference at load 4-5 on Dec 7). The binary task
    # is not in the default: its balanced items double the rows (~2.6x the choice task's tokens)
    # and on SmolLM2-135M it is at chance (37% calibrated); tasks = ["binary", "choice"] adds it.
    # Raw prompts: on SmolLM2-135M the chat wrapper made the binary task 1.6x slower and no more
    # accurate (0.54 vs 0.57 calibrated, 27 x 8 items). Geometry stage (8 steering items x 32
    # vectors x 3 scales, 405 stimuli, 10 probed layers, 199 shuffles): 106 s measured at load
    # 4-5, 1-thread matmul 35-54 GFLOPS; the quick profile's (108 stimuli, 6 items): 28 s inside
    # `emostat run --quick` at load 2-3. Since Dec 7 the grid has 52 directions (20 on the
    # manifold, 5 isotropic): steering 1.34 x the above. dtype auto: bfloat16 where the CPU
    # (or GPU) computes it natively and it decides like float32 on 54 of the run's items
    # (emostat.collect.precision); on the embedded model 0.60x float32's time per row, 394 of
    # 405 decisions equal (benchmarks/results/precision.json). Float32 elsewhere.
    "default": {"tasks": ["choice"], "dtype": "auto",
                "items_per_emotion": DEFAULT_DESIGN["items_per_concept"],
                "n_folds": min(3, DEFAULT_DESIGN["items_per_concept"] or 3), "ks": [0.05],
                "n_random_draws": DEFAULT_DESIGN["n_random"], "chat": False, "workers": 2,
                "items_per_shard": 27, "conditions_per_shard": 17, "geometry_items": 8},
    # Smaller: the choice task, 2 attributes, 3 draws, and the situations per concept the
    # chance test needs to detect 15 points above chance (resolve_quick_items; 2 of the
    # study's 15).
    "quick": {"tasks": ["choice"], "items_per_emotion": QUICK_ITEMS, "n_folds": 1,
              "ks": [0.05], "n_random_draws": QUICK_DESIGN["n_random"],
              "attributes": list(QUICK_DESIGN["attributes"]), "chat": False,
              "geometry_items": 6, "geometry_per_concept": 4, "geometry_probe_perm": 99},
    # Everything (for GPUs / clusters): all items, binary and 27-way choice, two k, 20 draws.
    "full": {},
}
