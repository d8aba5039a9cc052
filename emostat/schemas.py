"""Data contracts: the Parquet schema of every dataset and results table emostat writes.

One place for all of them. Writers pass ``schema(name)`` to :func:`emostat.io.write_table`;
readers call :func:`validate`. Extra columns are allowed (they are kept), missing or mistyped
required columns are an error naming the file and the column.

Conventions: ``concept`` (``concept_a``, ``concept_b`` for pairs) holds a concept id of the run's
space (``emostat.space``) in every table, ``participant`` a participant id; accuracies
and differences are proportions in [0, 1]; neurons are numbered ``layer * units + unit`` (0-based)
within a model; results tables use broom's column names (``estimate, std_error, statistic, df,
p_value, conf_low, conf_high``).

Inference columns (``docs/inference.md``): ``p_method`` says which test gave ``p_value``,
``unit`` what it treats as exchangeable replicates (with their count), ``role`` whether the row
is the study's statistic (``study``), the design-correct test conclusions rest on (``record``)
or supplementary (``extra``), and ``test`` names the test where a table holds several per key.
Any other p in a row has its own method column (``p_value_asymptotic`` with
``p_method_asymptotic``). :func:`validate` enforces, for results tables, that ``conf_low <=
estimate <= conf_high`` wherever all three are present, and that a table with ``p_value`` has a
non-null ``p_method`` (for the tables in :data:`P_METHOD_REQUIRED`; see there).

In the neuron tables ``unit`` keeps its older meaning, the neuron's index within its layer
(``neuron_rsa``, whose only p is ``p_asymptotic``: Kendall tau-b normal approximation, one-sided,
tie-corrected, the 351 pair distances treated as independent - the study's test; they share
concepts, so it is anti-conservative). The permutation-calibrated neuron tables
(``neuron_mantel``, ``neuron_count_null``) carry the contract's ``unit`` (the concept labels).

Unit strings, one spelling per unit: ``concept label (n)`` (a permutation or bootstrap of the
concept labels), ``concept (n)``, ``participant (n)``, ``attribute (n)``, ``mask (n)``,
``item (n)``, ``prompt (n)``, ``stimulus (n)``, ``pair (n)``.
"""

from __future__ import annotations

import pyarrow as pa

from emostat.errors import InputError
from emostat.vocabulary import vocabulary_v2

S, F, I, B = pa.string(), pa.float64(), pa.int64(), pa.bool_()

BROOM = [("estimate", F), ("std_error", F), ("statistic", F), ("df", F), ("p_value", F),
         ("conf_low", F), ("conf_high", F)]

_RSA = [("term", S), ("role", S), ("test", S), ("comparator", S), ("estimand", S),
        ("inference", S)] + BROOM + [("ceiling_low", F), ("ceiling_high", F),
                                     ("ceiling_method", S), ("conf_method", S),
                                     ("p_method", S), ("unit", S), ("n_boot", I),
                                     ("n_raters", I), ("n_concepts", I)]

_PAIRED = [("q_value", F), ("q_value_bh", F), ("p_value_perm", F), ("p_method", S),
           ("p_method_perm", S), ("unit", S), ("role", S), ("test", S)]

# the inference columns of every geometry results table
_GEOM = [("test", S), ("role", S), ("estimate", F), ("conf_low", F), ("conf_high", F),
         ("statistic", F), ("p_value", F), ("p_method", S), ("unit", S),
         ("n_perm", F), ("p_floor", F), ("p_mc_low", F), ("p_mc_high", F)]

_MIXED = [("k", I), ("model", S), ("formula", S), ("family", S), ("outcome", S), ("role", S),
          ("effect", S), ("group", S), ("term", S), ("estimate", F), ("std_error", F),
          ("statistic", F), ("df", F), ("p_value", F), ("p_method", S), ("status", S),
          ("message", S)]
_GLANCE = [("k", I), ("model", S), ("nobs", I), ("logLik", F), ("converged", B),
           ("singular", B), ("optimizer", S), ("status", S), ("message", S), ("groups", S),
           ("r2_marginal", F), ("r2_conditional", F), ("icc_adjusted", F),
           ("icc_conditional", F), ("r2_method", S)]

_SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    # ---- human data (emostat import-release) -------------------------------------------------
    # One row per participant of each experiment, with the study's exclusion decision.
    "participants": [("experiment", S), ("participant", S), ("included", B),
                     ("exclusion_reason", S)],
    # Attribute ratings of included participants, long: experiment affective|physical.
    "ratings": [("experiment", S), ("participant", S), ("concept", S), ("attribute", S),
                ("rating", F)],
    # Appraisal items (1..38) of included participants; response NaN = -99 / missing in source.
    "appraisal_responses": [("participant", S), ("concept", S), ("item", I), ("response", F)],
    # Per-participant dissimilarity judgments (1-9) of the concept pairs, study pair order.
    "similarity": [("participant", S), ("pair", I), ("concept_a", S), ("concept_b", S),
                   ("dissimilarity", F)],
    # The release's own attribute distances (dist_emotional_PCs.csv), kept so that reproducing
    # from an import-release folder gives the study's exact ties (see HumanSpace).
    # (one float column per attribute of the study space; checked by the release reader)
    "released_attribute_rdms": [("pair", I)],
    # ---- model data (import-release or emostat collect) ---------------------------------------
    # FFN neuron activations: one row per model x concept x template x layer.
    "activations": [("model", S), ("concept", S), ("template", S), ("layer", I),
                    ("values", pa.list_(pa.float32()))],
    # Prompt-level accuracy under a condition: none | attribute | random (draw = random draw id).
    "accuracy": [("model", S), ("concept", S), ("template", S), ("condition", S),
                 ("attribute", S), ("k", I), ("draw", I), ("accuracy", F)],
    # Inference under ablation (emostat collect): one row per task x item x condition.
    # concept = the concept asked about (binary) or the item's concept (choice, generate);
    # condition none | attribute | random; logprobs = candidate scores (binary [no, yes],
    # choice: the space's concepts, in its order); generated = text (generate task only).
    # margin = calibrated score of the right answer minus the best other (binary: calibrated
    # yes-no margin signed toward the label), > 0 when correct; margin_raw the same uncalibrated;
    # null for generate rows (emostat.collect.calibration.margins).
    "inference": [("model", S), ("task", S), ("item_id", S), ("stimulus_id", S), ("concept", S),
                  ("fold", I), ("condition_id", S), ("condition", S), ("attribute", S),
                  ("k", I), ("draw", I), ("label", S), ("prediction", S), ("correct", B),
                  ("logprobs", pa.list_(pa.float32())), ("generated", S), ("margin", F),
                  ("margin_raw", F)],
    # ---- results (emostat reproduce / analyse) --------------------------------------------------
    # estimate: Kendall tau-b; p_value: Mantel; conf_*: BCa participant bootstrap;
    # boot_share_le0: share of bootstrap taus <= 0 (the study's "p").
    "attribute_importance": [("attribute", S)] + BROOM + [("boot_share_le0", F),
                                                          ("p_method", S), ("unit", S),
                                                          ("role", S)],
    # p_asymptotic: Kendall tau-b normal approximation over 351 pairs (the study's); q_value:
    # the study's p*N/rank(p) over all tests; q_value_bh: BH; rank: per attribute, of -tau.
    "neuron_rsa": [("neuron", I), ("layer", I), ("unit", I), ("attribute", S), ("tau", F),
                   ("p_asymptotic", F), ("q_value", F), ("q_value_bh", F), ("rank", F)],
    # concept-label permutation (Mantel) p per chosen neuron x attribute
    "neuron_mantel": [("neuron", I), ("layer", I), ("attribute", S), ("tau", F),
                      ("p_asymptotic", F), ("p_value", F), ("p_method", S), ("unit", S),
                      ("role", S), ("n_perm", I)],
    # Westfall-Young max-T over all neurons: per attribute the best neuron's tau, its
    # family-wise p over that attribute's neurons (Holm over attributes), and p_fwer_joint over
    # the joint family of all neurons x attributes (the neuron claim's record), the permutation
    # p's floor and Clopper-Pearson intervals (emostat.analysis.neurons.neuronnull)
    "neuron_max_t": [("attribute", S), ("neuron", I), ("layer", I), ("estimate", F),
                     ("n_above", I), ("p_value", F), ("p_adjusted", F), ("p_floor", F),
                     ("p_mc_low", F), ("p_mc_high", F), ("p_fwer_joint", F),
                     ("p_fwer_joint_mc_low", F), ("p_fwer_joint_mc_high", F), ("n_above_joint", I),
                     ("p_minp_joint", F), ("p_minp_floor", F), ("p_method", S), ("unit", S),
                     ("role", S), ("n_perm", I)],
    # permutation null of the count of selective neurons per attribute
    "neuron_count_null": [("attribute", S), ("count", S), ("statistic", F), ("null_mean", F),
                          ("null_sd", F), ("p_value", F), ("p_method", S), ("unit", S),
                          ("role", S), ("n_perm", I)],
    # The study's paired tests (role study): estimate = accuracy(random) − accuracy(attribute
    # mask), positive = the attribute mask lowers accuracy more; H1 "greater" (the study's
    # one-sided "less" on ACC.diff: same p). p_value_perm: sign-flip test (p_method_perm).
    "masking_by_emotion": [("k", I), ("concept", S)] + BROOM + _PAIRED,
    "masking_by_attribute": [("k", I), ("attribute", S)] + BROOM + _PAIRED,
    "masking_cells": [("k", I), ("concept", S), ("attribute", S)] + BROOM + _PAIRED,
    # one row per k x test (study_t, attribute_permutation, attribute_level_r); estimate: r of
    # accuracy DROP (random - attribute) with importance
    "importance_link": [("k", I), ("test", S), ("role", S)] + BROOM + [("p_method", S),
                                                                       ("unit", S)],
    "dip_test": [("k", I), ("attribute", S), ("statistic", F), ("p_value", F), ("p_method", S),
                 ("unit", S), ("role", S)],
    "whole_model_rsa": [("estimate", F), ("conf_low", F), ("conf_high", F), ("p_value", F),
                        ("p_method", S), ("unit", S), ("role", S), ("comparator", S),
                        ("estimand", S), ("ceiling_low", F), ("ceiling_high", F),
                        ("ceiling_method", S)],
    # RSA at the rater x concept unit (emostat.analysis.engines.rsaeval; issue 23): one row per
    # term (the whole model, or a model of a comparison) x comparator x estimand, with the
    # ceiling of that estimand; role record | study | extra; test rsa_<comparator>_<estimand>_
    # <inference>. Differences: every pair of models, paired on the same resamples.
    "rsa_evaluation": _RSA,
    "rsa_comparison": [("model", S)] + _RSA[1:],
    "rsa_comparison_differences": [("model_a", S), ("model_b", S), ("comparator", S),
                                   ("estimand", S), ("role", S)] + BROOM + [
        ("p_adjusted", F), ("p_method", S), ("conf_method", S), ("unit", S)],
    # split-half ceiling of the mean similarity RDM (the layer profile's human RDM)
    "rsa_ceiling": [("human_rdm", S), ("comparator", S), ("estimand", S), ("ceiling_low", F),
                    ("ceiling_high", F), ("n_raters", I), ("ceiling_method", S)],
    # Masking mixed models per k (and task for runs) x model (study | record | item-level):
    # estimate of term "attribute_vs_random" = accuracy(random) - accuracy(attribute mask)
    # (positive = the attribute mask lowers accuracy more; docs/inference.md).
    "masking_mixed_model": _MIXED,
    # one row per fit: lme4's groups ("item, 60; mask, 16"), Nakagawa R² and ICC (r2_method)
    "masking_mixed_glance": _GLANCE,
    # the knowledge claim's GLMM on the recalibrated outcome (emostat.analysis.masking.knowledge)
    "knowledge_mixed_model": [("task", S)] + _MIXED,
    "knowledge_mixed_glance": [("task", S)] + _GLANCE,
    # normal QQ points of each fit's residuals and random-effect modes (<= 100 per panel)
    "mixed_model_qq": [("k", I), ("model", S), ("panel", S), ("group", S), ("term", S),
                       ("n", I), ("theoretical", F), ("sample", F)],
    "importance_link_by_emotion": [("k", I), ("concept", S), ("estimate", F), ("p_value", F),
                                   ("p_method", S), ("unit", S), ("role", S)],
    "neuron_counts": [("attribute", S), ("n_significant", I), ("n_significant_bh", I),
                      ("n_selective", I)],
    "layer_distribution": [("attribute", S), ("k", I), ("layer", I), ("n_neurons", I)],
    "human_means": [("concept", S), ("attribute", S), ("estimate", F)],
    "attribute_rdms": [("pair", I), ("concept_a", S), ("concept_b", S), ("attribute", S),
                       ("estimate", F)],
    "human_rdm": [("pair", I), ("concept_a", S), ("concept_b", S), ("estimate", F)],
    "appraisal_loadings": [("item", I), ("component", S), ("loading", F)],
    "rating_icc": [("experiment", S), ("attribute", S), ("p_value", F), ("p_method", S)],
    # ---- experiment (collected run) results -------------------------------------------------------
    "baseline_accuracy": [("task", S), ("concept", S), ("estimate", F), ("n", I)],
    # One row per random mask (attribute null when the draw is shared by all attributes); drop =
    # mean over prompts of accuracy(none) - accuracy(mask), as ``drop`` in the bias tables.
    "random_null": [("task", S), ("attribute", S), ("k", I), ("draw", I), ("drop", F)],
    # An attribute mask vs its k's random masks: drop − their mean; Crawford & Howell's t.
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
    "design": [("task", S), ("k", I), ("label", S), ("chosen", B), ("feasible", B), ("rows", I),
               ("items_per_concept", I), ("n_attribute_masks", I), ("n_random_masks", I),
               ("n_items", I), ("n_k", I), ("gflop", F), ("test", S), ("role", S), ("scale", S),
               ("detectable", F), ("detectable_points", F), ("p_floor", F), ("method", S),
               ("alpha_corrected", F), ("can_decide", B), ("var_item", F),
               ("var_mask_attribute", F), ("var_mask_random", F)],
    "generation_examples": [("concept", S), ("text", S), ("generated", S), ("condition", S)],
    # ---- knowledge or answer bias (emostat.analysis.masking.bias, biastest): per task x condition ------
    # accuracy (the run's decisions, calibrated on condition none) beside accuracy_recal
    # (offsets re-fitted per condition: a shift of the answer prior leaves it unchanged);
    # drops vs none under each; drop_prior = drop - drop_recal.
    "bias_knowledge": [("task", S), ("condition_id", S), ("condition", S), ("attribute", S),
                       ("k", I), ("n_items", I), ("accuracy", F), ("accuracy_recal", F),
                       ("drop", F), ("drop_recal", F), ("drop_prior", F), ("margin", F),
                       ("margin_recal", F), ("calibration", S), ("role", S)],
    # share of each candidate answer per task x condition x decision (prediction | _raw | _recal)
    "answer_shares": [("task", S), ("condition_id", S), ("condition", S), ("decision", S),
                      ("concept", S), ("n", I), ("share", F)],
    # per task x condition x decision: top answer and share, entropy (bits), TV from none
    "answer_bias": [("task", S), ("condition_id", S), ("condition", S), ("decision", S),
                    ("n_items", I), ("top_concept", S), ("top_share", F), ("entropy_bits", F),
                    ("tv_from_none", F)],
    # per attribute mask of a collected run: its neurons against the analysis's own top-k
    # (emostat.analysis.neurons.selection)
    "mask_selection": [("attribute", S), ("k", I), ("n_neurons", I), ("n_shared", I),
                       ("jaccard", F), ("identical", B)],
    # means over the masks of each task x k x condition (attribute | random)
    "bias_summary": [("task", S), ("k", I), ("condition", S), ("accuracy_none", F),
                     ("accuracy_none_recal", F), ("n_masks", I), ("drop", F),
                     ("drop_recal", F), ("drop_prior", F), ("tv_from_none", F),
                     ("top_share", F), ("role", S)],
    # the study's paired t against the shared random pool (role study), per task x outcome
    # (accuracy | accuracy_recal) x test (study_concept_t | study_cell_t); estimate = pool -
    # attribute accuracy; p_method says the pool is shared (the rows are not independent).
    "bias_study_test": [("task", S), ("outcome", S), ("test", S), ("k", I), ("concept", S),
                        ("attribute", S)] + BROOM + [("n", I), ("q_value", F),
                                                     ("q_value_bh", F), ("p_value_perm", F),
                                                     ("se_random_rows", F), ("se_random_pool", F),
                                                     ("n_random_comparisons", I),
                                                     ("p_method", S), ("p_method_perm", S),
                                                     ("unit", S), ("role", S)],
    # One row per claim x task x k x role (docs/design.md section 2, emostat.analysis.claims.table):
    # the decision of each claim, made once; console and reports render these rows.
    "claims": [("claim", S), ("task", S), ("k", I), ("role", S), ("test", S),
               ("source_table", S), ("estimate", F), ("scale", S), ("conf_low", F),
               ("conf_high", F), ("conf_method", S), ("statistic", F), ("df", F),
               ("p_value", F), ("p_method", S), ("unit", S), ("p_floor", F), ("p_mc_low", F),
               ("p_mc_high", F), ("n_perm", I), ("alpha", F), ("headline", B),
               ("decision", S), ("reason", S)],
    "plan_deviations": [("field", S), ("stage", S), ("planned", S), ("given", S), ("reason", S)],
    "plan_claims": [("claim", S), ("planned_test", S), ("planned_table", S), ("run_test", S),
                    ("run_table", S), ("as_planned", B)],
    # ---- the layer-wise geometry (docs/geometry.md; collect stage, read by analyse) -------------
    # layer x concept: concept vector (mean over its stimuli minus the grand mean) and its norm.
    "geometry_vectors": [("site", S), ("layer", I), ("concept", S),
                         ("values", pa.list_(pa.float32())), ("norm", F), ("n_stimuli", I)],
    # layer x human RDM (test layer_mantel) + one max_over_layers row (role record) per RDM.
    "geometry_layer_rsa": [("layer", I), ("depth", F), ("attribute", S), ("scale", S)] + _GEOM,
    # layer x PC x attribute (pc_pearson) + one max_over_layers row per PC x attribute.
    "geometry_pca": [("layer", I), ("depth", F), ("component", S), ("attribute", S),
                     ("scale", S)] + _GEOM,
    # layer x concept: PC1, PC2 scores and explained shares (one attribute:<name> column each).
    "geometry_pca_scores": [("layer", I), ("concept", S), ("PC1", F), ("PC2", F),
                            ("explained1", F), ("explained2", F)],
    # layer (ridge_cv, logistic_cv) + one max_over_layers row; control task and chance beside;
    # the attribute probes: layer x attribute (ridge_r2, out-of-fold R^2) + max_over_layers rows.
    "geometry_probes": [("layer", I), ("depth", F), ("control_accuracy", F), ("chance", F),
                        ("scale", S)] + _GEOM,
    "geometry_probe_attributes": [("layer", I), ("depth", F), ("attribute", S),
                                  ("scale", S)] + _GEOM,
    # item x vector x scale x target word of the steering grid (kind concept | random_manifold
    # | random_isotropic; matched = a concept's vector on its own word).
    "geometry_steering": [("layer", I), ("item", S), ("vector", S), ("kind", S),
                          ("target", S), ("matched", B), ("scale", F), ("delta_logp", F),
                          ("delta_choice", I)],
    # steering mixed models (analysis.geometry.steering): specificity (record), component,
    # vs_random, at_scale, choice_at_scale; scale = an at_scale row's scale (null for slopes).
    "geometry_steering_test": [("layer", I), ("model", S), ("term", S), ("status", S),
                               ("scale", F)] + _GEOM,
}

# Results tables (written by emostat reproduce / analyse): the inference rules apply to them.
RESULTS_TABLES = frozenset({
    "attribute_importance", "neuron_rsa", "neuron_mantel", "neuron_count_null", "neuron_max_t",
    "masking_by_emotion", "masking_by_attribute", "masking_cells", "importance_link",
    "importance_link_by_emotion", "dip_test", "whole_model_rsa", "masking_mixed_model",
    "masking_mixed_glance", "neuron_counts", "layer_distribution", "human_means",
    "attribute_rdms", "human_rdm", "appraisal_loadings", "rating_icc", "baseline_accuracy",
    "random_null", "attribute_vs_null", "generation_examples", "task_chance", "power",
    "claims", "geometry_vectors", "geometry_layer_rsa", "geometry_pca", "geometry_pca_scores",
    "geometry_probes", "geometry_probe_attributes", "geometry_steering",
    "geometry_steering_test", "bias_knowledge", "answer_shares", "answer_bias", "bias_summary",
    "bias_study_test", "mask_selection", "design", "knowledge_mixed_model",
    "knowledge_mixed_glance", "mixed_model_qq", "rsa_evaluation", "rsa_comparison",
    "rsa_comparison_differences", "rsa_ceiling", "plan_deviations", "plan_claims"})

# Results tables whose p_value must come with a non-null p_method: all of them.
P_METHOD_REQUIRED = RESULTS_TABLES

# Columns that name a concept of the run's space.
_CONCEPT_COLUMNS = ("concept", "concept_a", "concept_b")


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


def validate(table: pa.Table, name: str, where: str = "<table>", concepts=None) -> pa.Table:
    """Check that ``table`` has the required columns of ``name`` with compatible types.

    ``concepts``: the space's concept ids; when given, the concept-name columns (``concept``,
    ``concept_a``, ``concept_b``) may hold only these. Raises :class:`~emostat.errors.InputError` naming ``where`` and the first bad column.
    """
    for field in schema(name):
        col, wanted = field.name, field.type
        if col not in table.column_names:
            hint = ("; a results table from before the results contract? re-run the "
                    "analysis" if name in RESULTS_TABLES else "")
            raise InputError(f"{where}: dataset {name!r} lacks required column {col!r} "
                             f"(has {table.column_names}){hint}")
        actual = table.schema.field(col).type
        if not _compatible(actual, wanted):
            raise InputError(f"{where}: column {col!r} of dataset {name!r} has type {actual}, "
                             f"expected {wanted}")
    for col in _CONCEPT_COLUMNS if concepts is not None else ():
        if col in table.column_names:
            seen = set(table.column(col).drop_null().unique().to_pylist())
            bad = sorted(seen - set(concepts))
            if bad:
                raise InputError(f"{where}: column {col!r} holds concept name(s) {bad} that "
                                 "are not in the space")
    if name in RESULTS_TABLES:
        check_inference(table, name, where)
    return table


def check_inference(table, name: str, where: str = "<table>") -> None:
    """The contract's rules for a results table (``docs/inference.md``).

    ``conf_low <= estimate <= conf_high`` in every row where all three are present (any results
    table), and a non-null ``p_method`` wherever ``p_value`` is not null (tables named in
    :data:`P_METHOD_REQUIRED`). Raises :class:`~emostat.errors.InputError` naming the row.
    """
    import numpy as np

    cols = table.column_names
    if {"estimate", "conf_low", "conf_high"} <= set(cols):
        est, lo, hi = (np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
                       for c in ("estimate", "conf_low", "conf_high"))
        tol = 1e-12 * np.maximum(1.0, np.abs(est))
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
                                 & ((lo > est + tol) | (est > hi + tol)))
        if bad.size:
            r = int(bad[0])
            raise InputError(f"{where}: row {r} of {name!r} has estimate {est[r]} outside its "
                             f"interval [{lo[r]}, {hi[r]}] ({bad.size} such rows)")
    if name in P_METHOD_REQUIRED and "p_value" in cols:
        p = table.column("p_value")
        if "p_method" not in cols:
            raise InputError(f"{where}: {name!r} has p_value but no p_method column")
        m = table.column("p_method")
        missing = [i for i, (pv, pm) in enumerate(zip(p.to_pylist(), m.to_pylist()))
                   if pv is not None and pv == pv and not pm]
        if missing:
            raise InputError(f"{where}: row {missing[0]} of {name!r} has a p_value without "
                             f"p_method ({len(missing)} such rows)")


# ---- schema versions -------------------------------------------------------------------------
# The version of each table's format that this emostat writes. Version 1 is the format of the
# results contract (docs/inference.md) as written before versions were recorded, so a file
# without a version is version 1. Tables from before the contract (no p_method, role or test
# column) are not version 1 and are refused by validate() (they lack required columns): no
# current writer produces them, and readers never guess a format from its columns.
VERSIONS: dict[str, int] = {name: 1 for name in _SCHEMAS}

# Upgrade steps: UPGRADES[(name, v)] turns a version-v table of ``name`` (a DataFrame) into a
# version v + 1 table. A new format of a table adds its step here and bumps VERSIONS[name].
UPGRADES: dict[tuple[str, int], object] = {}


VERSIONS["neuron_max_t"] = 3     # v2 added p_minp_joint, v3 p_minp_floor (unknown before)
UPGRADES[("neuron_max_t", 1)] = lambda df: df.assign(p_minp_joint=float("nan"))
UPGRADES[("neuron_max_t", 2)] = lambda df: df.assign(p_minp_floor=float("nan"))

VOCABULARY_V2 = ("participants", "ratings", "appraisal_responses", "similarity", "accuracy",
                 "inference", "masking_by_emotion", "masking_cells", "importance_link",
                 "importance_link_by_emotion", "human_means", "attribute_rdms", "human_rdm",
                 "baseline_accuracy", "generation_examples", "bias_study_test",
                 "masking_mixed_model", "random_null")
for _name in VOCABULARY_V2:
    VERSIONS[_name] = 2
    UPGRADES[(_name, 1)] = vocabulary_v2
UPGRADES[("random_null", 1)] = lambda df: vocabulary_v2(df).rename(columns={"estimate": "drop"})


# masking_mixed_glance 1 -> 2: lme4's groups, Nakagawa R² and ICC were added (not computed before)
_NAN = float("nan")
_GLANCE_V2 = dict(groups="", r2_marginal=_NAN, r2_conditional=_NAN, icc_adjusted=_NAN,
                  icc_conditional=_NAN, r2_method="not computed: results written before emostat "
                  "reported R² and ICC (re-run the analysis)")
VERSIONS["masking_mixed_glance"] = 2
UPGRADES[("masking_mixed_glance", 1)] = lambda df: vocabulary_v2(df.assign(
    **{c: v for c, v in _GLANCE_V2.items() if c not in df}))


def _whole_model_v2(df):
    """whole_model_rsa 1 -> 2: the estimand and comparator were named and the ceiling of that
    estimand added (issue 23); version 1 was tau-b on the mean RDM without a ceiling."""
    return vocabulary_v2(df).assign(comparator="tau_b", estimand="mean_rdm",
                                     ceiling_low=float("nan"), ceiling_high=float("nan"),
                                     ceiling_method="not computed (a version-1 table)")


VERSIONS["whole_model_rsa"] = 2
UPGRADES[("whole_model_rsa", 1)] = _whole_model_v2


def _steering_v2(df):
    """geometry_steering 1 -> 2: v1 scored a direction on one word only (a concept's vector on
    its own, a random one on a drawn word); its random directions were isotropic."""
    kind = df["kind"].replace({"random": "random_isotropic"})
    return df.assign(kind=kind, matched=(kind == "concept") & (df["vector"] == df["target"]))


# geometry_steering_test 1 -> 2: v1's record (the dose model against isotropic directions, one
# vector variance) becomes a supporting row; a v1 table has no specificity test of record
VERSIONS.update(geometry_steering=2, geometry_steering_test=2)
UPGRADES[("geometry_steering", 1)] = _steering_v2
UPGRADES[("geometry_steering_test", 1)] = lambda df: df.assign(
    role=df["role"].replace({"record": "supporting"}))


def version(name: str) -> int:
    """The version of table ``name`` that this emostat writes."""
    schema(name)
    return VERSIONS[name]


def upgrade(table, name: str, from_version: int, where: str = "<table>"):
    """Bring a version-``from_version`` table of ``name`` to :func:`version` step by step.

    ``table`` is a DataFrame (steps are pandas functions). A version newer than this emostat's,
    or an older one without a step, is an :class:`~emostat.errors.InputError` naming ``where``.

    >>> import pandas as pd
    >>> upgrade(pd.DataFrame({"x": [1]}), "claims", 1).shape
    (1, 1)
    """
    current = version(name)
    v = int(from_version)
    if v > current:
        raise InputError(f"{where}: {name!r} is schema version {v}, newer than this emostat "
                         f"reads ({current}); update emostat")
    if v < 1:
        raise InputError(f"{where}: {name!r} has invalid schema version {v}")
    while v < current:
        step = UPGRADES.get((name, v))
        if step is None:
            raise InputError(f"{where}: no upgrade of {name!r} from schema version {v}")
        table = step(table)
        v += 1
    return table
