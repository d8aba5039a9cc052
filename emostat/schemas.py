"""Data contracts: the Parquet schema of every dataset and results table emostat writes.

One place for all of them. Writers pass ``schema(name)`` to :func:`emostat.io.write_table`;
readers call :func:`validate`. Extra columns are allowed (they are kept), missing or mistyped
required columns are an error naming the file and the column.

Conventions: emotion names are the GoEmotions names (``emostat.constants.EMOTIONS``); accuracies
and differences are proportions in [0, 1]; neurons are numbered ``layer * units + unit`` (0-based)
within a model; results tables use broom's column names (``estimate, std_error, statistic, df,
p_value, conf_low, conf_high``).
"""

from __future__ import annotations

import pyarrow as pa

from emostat.constants import ATTRIBUTES, EMOTIONS
from emostat.errors import InputError

S, F, I, B = pa.string(), pa.float64(), pa.int64(), pa.bool_()

BROOM = [("estimate", F), ("std_error", F), ("statistic", F), ("df", F), ("p_value", F),
         ("conf_low", F), ("conf_high", F)]

_PAIRED = [("q_value", F), ("q_value_bh", F), ("p_value_perm", F), ("p_method", S),
           ("p_method_perm", S), ("unit", S), ("role", S), ("test", S)]

_SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    # ---- human data (emostat import-release) -------------------------------------------------
    # One row per participant of each experiment, with the study's exclusion decision.
    "participants": [("experiment", S), ("participant_id", S), ("included", B),
                     ("exclusion_reason", S)],
    # Attribute ratings of included participants, long: experiment affective|physical.
    "ratings": [("experiment", S), ("participant_id", S), ("emotion", S), ("attribute", S),
                ("rating", F)],
    # Appraisal items (1..38) of included participants; response NaN = -99 / missing in source.
    "appraisal_responses": [("participant_id", S), ("emotion", S), ("item", I),
                            ("response", F)],
    # Per-participant dissimilarity judgments (1-9) of the 351 emotion pairs, study pair order.
    "similarity": [("participant_id", S), ("pair", I), ("emotion_a", S), ("emotion_b", S),
                   ("dissimilarity", F)],
    # The release's own attribute distances (dist_emotional_PCs.csv), kept so that reproducing
    # from an import-release folder gives the study's exact ties (see HumanSpace).
    "released_attribute_rdms": [("pair", I)] + [(a, F) for a in ATTRIBUTES],
    # ---- model data (import-release or emostat collect) ---------------------------------------
    # FFN neuron activations: one row per model x concept x template x layer.
    "activations": [("model", S), ("concept", S), ("template", S), ("layer", I),
                    ("values", pa.list_(pa.float32()))],
    # Prompt-level accuracy under a condition: none | attribute | random (draw = random draw id).
    "accuracy": [("model", S), ("emotion", S), ("template", S), ("condition", S),
                 ("attribute", S), ("k", I), ("draw", I), ("accuracy", F)],
    # Inference under ablation (emostat collect): one row per task x item x condition.
    # emotion = the emotion asked about (binary) or the item's emotion (choice, generate);
    # condition none | attribute | random; logprobs = candidate scores (binary [no, yes],
    # choice: the 27 emotions in EMOTIONS order); generated = text (generate task only).
    "inference": [("model", S), ("task", S), ("item_id", S), ("stimulus_id", S), ("emotion", S),
                  ("fold", I), ("condition_id", S), ("condition", S), ("attribute", S),
                  ("k", I), ("draw", I), ("label", S), ("prediction", S), ("correct", B),
                  ("logprobs", pa.list_(pa.float32())), ("generated", S)],
    # ---- results (emostat reproduce / analyse) --------------------------------------------------
    "attribute_importance": [("attribute", S)] + BROOM,
    "neuron_rsa": [("neuron", I), ("layer", I), ("unit", I), ("attribute", S), ("tau", F),
                   ("p_value", F), ("q_value", F), ("q_value_bh", F), ("rank", F)],
    # The study's paired tests (role study): estimate = accuracy(random) − accuracy(attribute
    # mask), positive = the attribute mask lowers accuracy more; H1 "greater" (the study's
    # one-sided "less" on ACC.diff: same p). p_value_perm: sign-flip test (p_method_perm).
    "masking_by_emotion": [("k", I), ("emotion", S)] + BROOM + _PAIRED,
    "masking_by_attribute": [("k", I), ("attribute", S)] + BROOM + _PAIRED,
    "masking_cells": [("k", I), ("emotion", S), ("attribute", S)] + BROOM + _PAIRED,
    "importance_link": [("k", I)] + BROOM,
    "dip_test": [("k", I), ("attribute", S), ("statistic", F), ("p_value", F)],
    "whole_model_rsa": [("estimate", F), ("conf_low", F), ("conf_high", F), ("p_value", F)],
    # Masking mixed models per k (and task for runs) x model (study | record | item-level):
    # estimate of term "attribute_vs_random" = accuracy(random) - accuracy(attribute mask)
    # (positive = the attribute mask lowers accuracy more; docs/inference.md).
    "masking_mixed_model": [("k", I), ("model", S), ("formula", S), ("family", S),
                            ("outcome", S), ("role", S), ("effect", S), ("group", S),
                            ("term", S), ("estimate", F), ("std_error", F), ("statistic", F),
                            ("df", F), ("p_value", F), ("p_method", S), ("status", S),
                            ("message", S)],
    "masking_mixed_glance": [("k", I), ("model", S), ("nobs", I), ("logLik", F),
                             ("converged", B), ("singular", B), ("optimizer", S),
                             ("status", S), ("message", S)],
    "importance_link_by_emotion": [("k", I), ("emotion", S), ("estimate", F)],
    "neuron_counts": [("attribute", S), ("n_significant", I), ("n_significant_bh", I),
                      ("n_selective", I)],
    "layer_distribution": [("attribute", S), ("k", I), ("layer", I), ("n_neurons", I)],
    "human_means": [("emotion", S), ("attribute", S), ("estimate", F)],
    "attribute_rdms": [("pair", I), ("emotion_a", S), ("emotion_b", S), ("attribute", S),
                       ("estimate", F)],
    "human_rdm": [("pair", I), ("emotion_a", S), ("emotion_b", S), ("estimate", F)],
    "appraisal_loadings": [("item", I), ("component", S), ("loading", F)],
    "rating_icc": [("experiment", S), ("attribute", S)],
    # ---- experiment (collected run) results -------------------------------------------------------
    "baseline_accuracy": [("task", S), ("emotion", S), ("estimate", F), ("n", I)],
    # One row per random mask (attribute null when the draw is shared by all attributes).
    "random_null": [("task", S), ("attribute", S), ("k", I), ("draw", I), ("estimate", F)],
    # Each attribute mask vs the random masks of its k (role record): estimate = its drop −
    # the random masks' mean drop; prediction-interval t on n_null − 1 df; rank p and its floor.
    "attribute_vs_null": [("k", I), ("attribute", S)] + BROOM + [
        ("q_value_bh", F), ("p_value_perm", F), ("p_min_perm", F), ("null_mean", F),
        ("n_null", I), ("p_method", S), ("p_method_perm", S), ("unit", S), ("role", S)],
    # Unmanipulated accuracy per task against chance (exact one-sided binomial).
    "task_chance": [("task", S), ("n_items", I), ("accuracy", F), ("chance", F),
                    ("p_value", F), ("p_method", S), ("interpretable", B), ("reason", S)],
    # What the masking design could detect (80% power, simulated at the mask level), the
    # smallest attainable permutation p and the effect the record estimate rules out.
    "power": [("k", I), ("n_attribute_masks", I), ("n_random_masks", I), ("sd_mask", F),
              ("detectable", F), ("power", F), ("alpha", F), ("p_min_rank", F),
              ("p_min_label", F), ("estimate", F), ("ruled_out", F)],
    "generation_examples": [("emotion", S), ("text", S), ("generated", S), ("condition", S)],
}

# Columns that name an emotion and must hold one of the 27.
_EMOTION_COLUMNS = ("emotion", "emotion_a", "emotion_b")


def names() -> list[str]:
    """Names of all known datasets and results tables."""
    return sorted(_SCHEMAS)


def schema(name: str) -> pa.Schema:
    """The Arrow schema (required columns) of dataset ``name``."""
    try:
        return pa.schema(_SCHEMAS[name])
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {names()}") from None


def _compatible(actual: pa.DataType, wanted: pa.DataType) -> bool:
    if actual == wanted or pa.types.is_null(actual):
        return True
    groups = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    for g in groups:
        if g(wanted):
            # ints are accepted where floats are required (e.g. df), not the reverse
            return g(actual) or (pa.types.is_floating(wanted) and pa.types.is_integer(actual))
    if pa.types.is_string(wanted):
        return (pa.types.is_string(actual) or pa.types.is_large_string(actual)
                or (pa.types.is_dictionary(actual) and pa.types.is_string(actual.value_type)))
    if pa.types.is_list(wanted) or pa.types.is_fixed_size_list(wanted):
        return ((pa.types.is_list(actual) or pa.types.is_fixed_size_list(actual)
                 or pa.types.is_large_list(actual))
                and pa.types.is_floating(actual.value_type))
    return False


def validate(table: pa.Table, name: str, where: str = "<table>") -> pa.Table:
    """Check that ``table`` has the required columns of ``name`` with compatible types.

    Raises :class:`~emostat.errors.InputError` naming ``where`` and the first bad column.
    """
    for field in schema(name):
        col, wanted = field.name, field.type
        if col not in table.column_names:
            raise InputError(f"{where}: dataset {name!r} lacks required column {col!r} "
                             f"(has {table.column_names})")
        actual = table.schema.field(col).type
        if not _compatible(actual, wanted):
            raise InputError(f"{where}: column {col!r} of dataset {name!r} has type {actual}, "
                             f"expected {wanted}")
    for col in _EMOTION_COLUMNS:
        if col in table.column_names:
            seen = set(table.column(col).drop_null().unique().to_pylist())
            bad = sorted(seen - set(EMOTIONS))
            if bad:
                raise InputError(f"{where}: column {col!r} holds unknown emotion name(s) {bad}")
    return table
