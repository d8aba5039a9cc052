"""``emostat collect`` under its historical name: the driver is :mod:`emostat.collect.driver`.

The collection is split into modules that import one another in one direction only:
``items`` (items, concept prompts) <- ``stages`` (decisions, baseline, calibration,
conditions, accuracy) <- ``manifest`` (provenance, plan, manifest) <- ``worker`` (the model,
shards) <- ``backends``/``ray_backend``/``slurm_backend`` (where workers run) <- ``driver`` (:func:`collect`).
"""

from emostat.collect.driver import build_config, collect
from emostat.collect.items import build_items, concept_prompt_table, stimuli_api, stimuli_table
from emostat.collect.manifest import package_versions, run_fingerprint, run_provenance
from emostat.collect.stages import (NONE, accuracy_table, activation_array, decide_rows,
                                    inference_table, make_conditions, neuron_rankings)
from emostat.collect.worker import KILL_ENV, Worker, default_api

__all__ = ["KILL_ENV", "NONE", "Worker", "accuracy_table", "activation_array", "build_config",
           "build_items", "collect", "concept_prompt_table", "decide_rows", "default_api",
           "inference_table", "make_conditions", "neuron_rankings", "package_versions",
           "run_fingerprint", "run_provenance", "stimuli_api", "stimuli_table"]
