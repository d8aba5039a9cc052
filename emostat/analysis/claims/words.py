"""The words a reader gets for the claims table's rows (console and reports share them).

:func:`emostat.analysis.claims.decision.decide` writes its reason as an audit trail (``p = .043
<= alpha 0.05, in the claimed direction``); a reader needs only what the decision and the
numbers do not already say: why a claim could not be decided, that an estimate is against the
claimed direction, a fit's note. :func:`reader_clause` gives that; :func:`test_name` names a
test in prose instead of its machine name.
"""

from __future__ import annotations

import re

__all__ = ["TEST_NAMES", "test_name", "reader_clause", "AGAINST"]

AGAINST = "the estimate is against the claimed direction"

# the machine names of the claims' tests (emostat.analysis.claims, masking.link,
# masking.experiment) -> prose; a name not here is shown with spaces for underscores
TEST_NAMES = {
    "max_t_joint": "max-T over all neurons × attributes",
    "max_t_holm": "max-T per attribute, Holm",
    "study_fdr": "the study's q over neuron × attribute tests",
    "mantel_holm": "Mantel per attribute, Holm",
    "study_t": "t over concepts",
    "attribute_permutation": "mean Fisher z over concepts, attribute permutation",
    "attribute_level_r": "attribute-level r",
    "attribute_permutation_pooled": "mean Fisher z over concepts, attribute permutation "
                                    "(pooled random masks)",
    "attribute_level_r_pooled": "attribute-level r (pooled random masks)",
    "mask_lmm": "mask-level linear mixed model",
    "record": "mask-level linear mixed model",
    "study": "concept/prompt linear mixed model",
    "item_glmm": "item-level logistic mixed model",
    "item_glmm_equal": "item-level logistic mixed model, one mask variance",
    "item_lmm": "item-level linear mixed model of the margin",
    "item_lmm_equal": "item-level linear mixed model of the margin, one mask variance",
    "knowledge_glmm": "item-level logistic mixed model, recalibrated answers",
    "attribute_vs_null_bh": "attribute masks against the random-mask population, BH",
    "exact_binomial": "exact binomial test against chance",
    "max_over_layers": "maximum over layers",
    "max_t_minp": "min-P over attributes",
    "mantel": "Mantel test over concept labels",
    # geometry (emostat.analysis.geometry.claims)
    "max_over_layers_holm": "each attribute's maximum over layers, Holm",
    "max_over_layers_pc1_holm": "PC1 against each attribute, maximum over layers, Holm",
    "max_over_layers_pc2_holm": "PC2 against each attribute, maximum over layers, Holm",
    "attribute_r2_holm": "attribute probes' R², maximum over layers, Holm",
    "attribute_r2_max_t": "attribute probes' R², max-T over layers × attributes",
    "steering_specificity": "own against other concepts' vectors, linear mixed model",
}

_RSA_PARTS = {"tau_b": "Kendall τb", "tau_a": "Kendall τa", "rho_a": "Spearman ρa",
              "spearman": "Spearman ρ", "pearson": "Pearson r", "cosine": "cosine",
              "whitened_cosine": "whitened cosine", "per_rater": "per rater",
              "mean_rdm": "with the mean RDM", "both": "two-factor (raters and concepts)",
              "both_schutt": "two-factor bootstrap", "concepts": "concept bootstrap",
              "raters": "rater bootstrap", "permutation": "concept-label permutation"}


def _rsa_name(rest: str) -> str:
    """``rho_a_per_rater_both`` -> ``RSA, Spearman ρa per rater, two-factor (raters and
    concepts)``; the row's p_method names the variance (jackknife or bootstrap)."""
    words, parts = rest.split("_"), []
    while words:                                     # longest known name first
        for n in range(len(words), 0, -1):
            key = "_".join(words[:n])
            if key in _RSA_PARTS:
                parts.append(_RSA_PARTS[key])
                words = words[n:]
                break
        else:
            parts.append(words.pop(0))
    if len(parts) < 2:
        return "RSA, " + " ".join(parts)
    return "RSA, " + " ".join(parts[:-1]) + ", " + parts[-1]

# the rule clauses decide() writes (decision.py): the p-against-alpha arithmetic, and why a
# test is too coarse to decide
_RULE = re.compile(r"p (?:= |[<>] )?[.\d]+ (?:<=|>) alpha [\d.e+-]+"
                   r"(?P<against>, but the estimate is against the claimed direction)?"
                   r"(?:, in the claimed direction)?")
# the count's threshold in a claim's own reason ("(Holm-adjusted p <= alpha; smallest at ...")
_THRESHOLD = re.compile(r"(?:Holm-adjusted |joint max-T |BH )?[pq] <= alpha(?:; )?")
_COARSE = re.compile(r"the (?:smallest attainable p|Monte-Carlo 95% interval of p)[^;]*")


def test_name(test) -> str:
    """``attribute_level_r_pooled`` -> ``attribute-level r (pooled random masks)``."""
    if not isinstance(test, str) or not test:
        return ""
    if test.startswith("rsa_"):                      # rsa_{comparator}_{estimand}_{inference}
        return _rsa_name(test[4:])
    if test.startswith("count_null_") and test.endswith("_holm"):
        return f"count of {test[len('count_null_'):-len('_holm')]} neurons against relabelled " \
               "concepts, Holm"
    return TEST_NAMES.get(test, test.replace("_", " "))


def reader_clause(decision, reason, own: bool = True) -> str:
    """What a reader needs beside the decision and the numbers, as sentences ('' when nothing):
    the whole reason of a ``failed`` or ``not tested`` claim; what the claim's own rows found
    (``3 of 14 attributes ...; smallest at valence``) without its threshold; why a claim is
    ``too coarse to decide``; that a ``not supported`` estimate is against the claimed
    direction; a fit's note after the rule (``own=False``: without what the rows found). Never
    the p-against-alpha arithmetic; a reason not in decide()'s words is given whole.

    >>> reader_clause("supported", "3 of 14 attributes relate (Holm-adjusted p <= alpha); "
    ...               "p = .043 <= alpha 0.05, in the claimed direction")
    '3 of 14 attributes relate.'
    >>> reader_clause("supported", "p = .043 <= alpha 0.05, in the claimed direction")
    ''
    >>> reader_clause("not supported", "p = .01 <= alpha 0.05, but the estimate is against "
    ...               "the claimed direction; singular fit")
    'The estimate is against the claimed direction. Singular fit.'
    """
    reason = reason if isinstance(reason, str) else ""
    if decision in ("failed", "not tested"):
        return _sentences([reason])
    m = (_COARSE if decision == "too coarse to decide" else _RULE).search(reason)
    if m is None:
        return _sentences([reason])
    core = (m.group(0) if decision == "too coarse to decide" else
            AGAINST if m.group("against") else "")
    why = _THRESHOLD.sub("", reason[:m.start()].rstrip("; ")).replace(" ()", "") if own else ""
    return _sentences([why, core, reason[m.end():].lstrip("; ")])


def _sentences(parts) -> str:
    out = [p.strip().rstrip(".") for p in parts if p and p.strip()]
    # a symbol keeps its case ("p = ...")
    return " ".join((p if p[:2] in ("p ", "q ", "p(") else p[0].upper() + p[1:]) + "." for p in out)
