"""The knowledge claim's test of record: do attribute masks lower accuracy more than random
masks once a shift of the answer prior cannot count?

The outcome is ``correct_recal`` (:func:`emostat.analysis.masking.bias.recalibrate`: every
condition calibrated on its own items, so a mask that only makes one answer more probable leaves
it unchanged). The model is the record GLMM of the masking claim with the same random structure
(:func:`emostat.analysis.masking.experiment.item_models`; items and masks crossed, a separate
variance for attribute and for random masks), fitted per task x k:

``knowledge_glmm``: ``correct_recal ~ attribute_vs_random + (1 | item) + (0 + is_attribute |
mask) + (0 + is_random | mask)``, binomial, Laplace, Wald z with lme4's default (Hessian) SE.

Its coefficient is random − attribute in log-odds of a correct answer under per-condition
calibration: positive = attribute masks remove more of what survives a re-fit of the prior.
``drop``, ``drop_recal`` and ``drop_prior`` (``bias_summary``) are bounds, not a decomposition:
a mask that removes the evidence for one answer only also moves that answer's re-fitted offset,
so part of a genuine knowledge loss is counted as prior (benchmarks/sim_asymmetric_loss.py; the
report's words: :data:`emostat.report.bias.ASYMMETRIC_LOSS`).
"""

from __future__ import annotations

import pandas as pd

from emostat.analysis.masking.experiment import item_models

__all__ = ["knowledge_models", "KNOWLEDGE_MODELS", "P_METHOD"]

KNOWLEDGE_MODELS = (("knowledge_glmm", "correct_recal", "binomial", "separate", "record"),)
P_METHOD = ("binomial GLMM of the recalibrated outcome (correct_recal: every condition "
            "calibrated on its own items), items x masks crossed, separate variances for "
            "attribute and random masks")


def knowledge_models(rec: pd.DataFrame, ks=None, diagnostics: bool = False
                     ) -> tuple[pd.DataFrame, ...]:
    """The knowledge GLMM per task x k on recalibrated inference rows.

    Parameters
    ----------
    rec : DataFrame
        Rows of :func:`emostat.analysis.masking.bias.recalibrate` (``task, item_id,
        condition_id, condition, k, correct_recal``).
    ks : iterable of int, optional
    diagnostics : bool
        Also return the QQ points of every fit.

    Returns
    -------
    (tidy, glance) or (tidy, glance, qq)
        As :func:`emostat.analysis.masking.experiment.item_models` (schemas
        ``knowledge_mixed_model``, ``knowledge_mixed_glance``, ``mixed_model_qq``); model
        ``knowledge_glmm``, role ``record``, outcome ``correct_recal``.
    """
    return item_models(rec, ks=ks, models=KNOWLEDGE_MODELS, diagnostics=diagnostics)
