"""emostat.summary: R-style summaries of hand-made results tables.

Each table is small and made by hand, so the expected strings below follow from the numbers in
it and the formatting rules (tests/test_format.py); the masking and link numbers are the study's
(reference-values.md), the mixed-model numbers lme4's (tests/r/masking_lmm_k4000.json).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat.errors import InputError
from emostat.schemas import names
from emostat.summary import fmt_pval_r, headline, summarize, text_table


def _importance():
    return pd.DataFrame({
        "attribute": ["valence", "arousal", "happy-face"],
        "estimate": [0.5860, -0.0027, 0.6052], "std_error": [0.030, 0.020, 0.031],
        "statistic": np.nan, "df": np.nan, "p_value": [0.0002, 0.5, 0.0001],
        "conf_low": [0.52, -0.04, 0.54], "conf_high": [0.64, 0.035, 0.66],
        "boot_share_le0": [0.0001, 0.56, 0.0], "p_method": "Mantel test",
        "conf_method": "BCa", "extra": "ignored"})


def _neurons():
    return pd.DataFrame({
        "neuron": [15512, 1, 2, 15512, 1, 2], "layer": [5, 0, 0, 5, 0, 0],
        "unit": [320, 1, 2, 320, 1, 2], "attribute": ["valence"] * 3 + ["happy-face"] * 3,
        "tau": [.522, .1, .3, .463, .2, -.1],
        "p_asymptotic": [1e-9, .1, 1e-4, 1e-8, .05, .9],
        "q_value": [1e-8, .2, .005, 1e-7, .1, 1], "q_value_bh": [1e-8, .2, .02, 1e-7, .1, 1],
        "rank": [1, 3, 2, 1, 2, 3]})


def _by_emotion():
    # k = 4000 rows: remorse and annoyance as in the study (8.1 and 5.8 points, t(167)); relief 0
    return pd.DataFrame({
        "k": [4000] * 3 + [1500] * 3, "emotion": ["remorse", "annoyance", "relief"] * 2,
        "estimate": [-0.081, -0.058, 0.0, -0.01, -0.02, 0.01], "std_error": 0.01,
        "statistic": [-3.56, -6.08, 0.0, -1.0, -2.0, 1.0], "df": 167.0,
        "p_value": [2.4e-4, 4e-9, 0.5, .16, .02, .84],
        "conf_low": [-0.126, -0.077, -.02, -.03, -.04, -.01],
        "conf_high": [-0.036, -0.039, .02, .01, 0.0, .03],
        "q_value": [0.001, 1e-7, 0.6, .3, .04, .9], "q_value_bh": [0.001, 1e-7, 0.6, .3, .06, .9],
        "p_value_perm": [1e-4, 1e-4, .5, .2, .03, .8],
        "acc_none": [.892, .8, .685, .892, .8, .685], "acc_random": [.724, .7, .542, .7, .7, .5],
        "acc_attribute": [.643, .642, .542, .69, .68, .51]})


def _drops():
    """_by_emotion in emostat's masking sign (estimate = random − attribute; t flipped)."""
    t = _by_emotion()
    t["estimate"], t["statistic"] = -t["estimate"], -t["statistic"]
    t["conf_low"], t["conf_high"] = -_by_emotion()["conf_high"], -_by_emotion()["conf_low"]
    return t.assign(unit="attribute × template (168)", role="study")


def _link():
    # reference-values.md rows for k = 1500 and 4000 (study_t); k = 4000 attribute-level rows
    # from tests/r/link.R (perm p .0532, r .527 [-.005, .827], t(12) = 2.149, p .0528)
    return pd.DataFrame({
        "k": [1500, 4000, 4000, 4000],
        "test": ["study_t", "study_t", "attribute_permutation", "attribute_level_r"],
        "role": ["study", "study", "record", "record"],
        "estimate": [.165, .474, .474, .527], "std_error": .01,
        "statistic": [5.81, 16.92, .515, 2.149], "df": [26.0, 26.0, np.nan, 12.0],
        "p_value": [4.0e-6, 1.5e-15, .0532, .0528],
        "conf_low": [.107, .424, np.nan, -.005], "conf_high": [.222, .521, np.nan, .827],
        "p_method": ["t", "t", "perm", "r"], "n_perm": [0, 0, 10000, 0],
        "n_attributes": 14})


def _mixed():
    # lme4 at k = 4000 (tests/r/masking_lmm_k4000.json), as a tidy table
    return pd.DataFrame({
        "k": [4000] * 5, "effect": ["fixed"] * 2 + ["ran_pars"] * 3,
        "group": ["", "", "emotion", "template:emotion", "Residual"],
        "term": ["(Intercept)", "conditionattribute", "sd__(Intercept)", "sd__(Intercept)",
                 "sd__Observation"],
        "estimate": [0.728022, -0.0287375, 0.10299, 0.07976, 0.10623],
        "std_error": [0.0203713, 0.00223068, np.nan, np.nan, np.nan],
        "statistic": [35.7376, -12.8829, np.nan, np.nan, np.nan],
        "p_value": [1e-280, 5.6e-38, np.nan, np.nan, np.nan],
        "p_method": ["Wald z"] * 2 + [""] * 3})


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_attribute_importance():
    s = summarize("attribute_importance", _importance())
    assert ("Mantel p < .05: 2 of 3 attributes (study's bootstrap share <= 0 below .05: 2 of 3)"
            in s)
    lines = _lines(s)
    assert "happy-face .605 [.540, .660] 0.031 < .001 < .001" in lines
    assert "arousal -.003 [-.040, .035] 0.020 .500 .560" in lines
    assert "p: Mantel test. CI: BCa." in s
    # sorted by importance, strongest first
    assert s.index("happy-face") < s.index("valence") < s.index("arousal")
    assert "ignored" not in s


def test_neuron_rsa_counts_and_top_neurons():
    s = summarize("neuron_rsa", _neurons())
    assert "3 neurons x 2 attributes = 6 tests" in s
    lines = _lines(s)
    assert "valence 2 1 15512 (.52), 2 (.30), 1 (.10)" in lines      # q .005 < .01, BH .02 not
    assert "happy-face 1 1 15512 (.46), 1 (.20), 2 (-.10)" in lines
    assert "p * N / rank(p)" in s


def test_masking_by_emotion():
    s = summarize("masking_by_emotion", _drops())
    lines = _lines(s)
    assert "1500 1/3 0/3 0.67" in lines       # annoyance q .04 (study) but .06 (BH)
    assert "4000 2/3 2/3 4.63" in lines
    assert "remorse 8.1 [3.6, 12.6] 3.56 167 < .001 .001 .001 < .001" in lines
    assert "relief 0.0 [-2.0, 2.0] 0.00 167 .500 .600 .600 .500" in lines
    order = [line.split()[0] for line in lines if line.split()[:1] and
             line.split()[0] in ("remorse", "annoyance", "relief")]
    assert order == ["remorse", "annoyance", "relief"]      # largest drop first
    assert "positive = the attribute mask hurts more" in s and "attribute × template rows" in s
    s1500 = summarize("masking_by_emotion", _drops(), k=1500)
    assert "k = 1500:" in s1500


def test_masking_by_attribute_uses_attribute_key():
    t = _drops().rename(columns={"emotion": "attribute"})
    t["attribute"] = t["attribute"].map({"remorse": "valence", "annoyance": "fairness",
                                         "relief": "novelty"})
    s = summarize("masking_by_attribute", t)
    assert "valence 8.1 [3.6, 12.6] 3.56 167 < .001 .001 .001 < .001" in _lines(s)
    with pytest.raises(InputError, match="attribute"):
        summarize("masking_by_attribute", _drops())


def test_masking_cells_significant_only():
    t = _drops().assign(attribute="valence")
    s = summarize("masking_cells", t)
    lines = _lines(s)
    assert "4000 remorse valence 8.1 3.56 167 < .001 .001" in lines
    assert "1500 annoyance valence 2.0 2.00 167 .020 .040" in lines
    assert "relief" not in s                     # not significant
    assert "4000 2/3" in lines and "1500 1/3" in lines
    short = summarize("masking_cells", t, max_rows=1)
    assert "... and 2 more" in short


def test_importance_link():
    lines = _lines(summarize("importance_link", _link()))
    assert "4000 study: t over emotions .474 [.424, .521] 16.92 26 < .001" in lines
    assert "1500 study: t over emotions .165 [.107, .222] 5.81 26 < .001" in lines
    assert "4000 record: attribute permutation .474 0.52 .053" in lines
    assert "4000 record: attribute-level r .527 [-.005, .827] 2.15 12 .053" in lines


def test_dip_test_and_whole_model():
    dip = pd.DataFrame({"k": [4000, 4000, 1500], "attribute": ["valence", "arousal", "valence"],
                        "statistic": [0.081, 0.05, 0.06], "p_value": [0.012, 0.6, 0.3]})
    lines = _lines(summarize("dip_test", dip))
    assert "4000 1/2 valence" in lines and "1500 0/1 -" in lines
    assert "4000 valence 0.0810 .012" in lines
    wm = pd.DataFrame({"estimate": [0.2345], "conf_low": [0.18], "conf_high": [0.29],
                       "p_value": [1e-4]})
    assert "tau = .234, 95% CI [.180, .290], p < .001" in summarize("whole_model_rsa", wm)


def test_masking_mixed_model_lme4_like():
    # lmerTest at k = 4000 (tests/r/masking_models_lme4.json), emostat's sign
    t = _mixed().assign(model="record", role="record", status="ok", message="",
                        formula="accuracy ~ attribute_vs_random + ...",
                        df=[36.71, 12.9985, np.nan, np.nan, np.nan],
                        p_method=["Satterthwaite t"] * 2 + [""] * 3)
    t.loc[1, ["term", "estimate", "std_error", "statistic", "p_value"]] = [
        "attribute_vs_random", 0.0287375, 0.0235332, 1.22115, 0.24372]
    s = summarize("masking_mixed_model", t)
    lines = _lines(s)
    assert "record 4000 attribute_vs_random 0.02874 0.02353 1.22 13.00 0.244 Satterthwaite t ok" \
        in lines
    assert "emotion (Intercept) 0.010607 0.10299" in lines        # lme4: 0.010607 0.10299
    assert "Residual 0.011285 0.10623" in lines                   # lme4: 0.011285 0.10623
    assert "record [record]: accuracy ~ attribute_vs_random + ..." in lines
    assert "Satterthwaite" in s and "positive = the attribute mask hurts more" in s


def test_attribute_vs_null_task_chance_power():
    vs = pd.DataFrame({"k": 4000, "attribute": ["happy-face", "arousal"],
                       "estimate": [0.1743, -0.0140], "statistic": [3.48, -0.28], "df": 13.0,
                       "p_value": [0.0020, 0.61], "q_value_bh": [0.025, 0.89],
                       "p_value_perm": [1 / 15, 8 / 15], "p_min_perm": 1 / 15, "n_null": 14})
    lines = _lines(summarize("attribute_vs_null", vs))
    assert "happy-face 17.4 3.48 13 .002 .025 .067" in lines
    assert "4000 1/2" in lines and "(14 random masks)" in " ".join(lines)
    ch = pd.DataFrame({"task": ["binary"], "n_items": [54], "accuracy": [20 / 54],
                       "chance": [0.5], "p_value": [0.9798882], "interpretable": [False]})
    assert "The binary task is not interpretable" in summarize("task_chance", ch)
    pw = pd.DataFrame({"k": [4000], "n_attribute_masks": [14], "n_random_masks": [14],
                       "detectable": [0.0632], "p_min_rank": [1 / 15],
                       "p_min_label": [0.5 ** 14], "ruled_out": [0.0796]})
    assert "4000 14 14 6.3 .067 < .001 8.0" in _lines(summarize("power", pw))


def test_generic_and_errors():
    s = summarize("human_means", pd.DataFrame({"emotion": ["joy"], "attribute": ["valence"],
                                               "estimate": [7.123456]}))
    assert "human_means: 1 rows x 3 columns" in s and "7.123" in s
    assert summarize("dip_test", pd.DataFrame()) == "dip_test: empty table"
    with pytest.raises(InputError, match=r"lacks column\(s\) \['p_value'\]"):
        summarize("whole_model_rsa", pd.DataFrame({"estimate": [.1], "conf_low": [0],
                                                   "conf_high": [.2]}))


def test_every_schema_name_summarizes():
    # a one-row table with the schema's columns: every results table prints without error
    from emostat.schemas import schema

    for name in names():
        row = {}
        for f in schema(name):
            t = str(f.type)
            row[f.name] = ("joy" if f.name in ("emotion", "emotion_a", "emotion_b") else
                           "valence" if t == "string" else 0.5 if t == "double" else
                           1 if t == "int64" else True if t == "bool" else [0.1])
        out = summarize(name, pd.DataFrame([row]))
        assert isinstance(out, str) and out


def test_headline_block():
    h = headline({"attribute_importance": _importance(), "neuron_rsa": _neurons(),
                  "masking_by_emotion": _drops(), "importance_link": _link(),
                  "masking_mixed_model": _mixed()})
    lines = h.splitlines()
    assert lines[0] == "Headline results (k = 4000)"
    assert ("Attribute-specific vs random masking (k = 4000): 2/3 emotions drop significantly "
            "(study's paired t, FDR q < .05); largest drop: remorse 8.1 points, t(167) = 3.56, "
            "p < .001"
            ) in lines
    # means of the per-emotion means (.892 .8 .685 / .724 .7 .542 / .643 .642 .542)
    assert ("Mean accuracy (k = 4000): unmanipulated 79.2%, random 65.5%, "
            "attribute-specific 60.9%") in lines
    assert any(line.startswith("Human attribute importance: 2/3 attributes with Mantel p < .05")
               for line in lines)
    assert "Neuron searchlight: 3 of 6" in h
    # claim 3: the study's t(26) beside the attribute-level tests, verdict from the numbers
    assert "   study:  mean r = .47, t(26) = 16.92, p < .001 (emotions as replicates)" in lines
    assert ("   record: attribute-level r = .53, 95% CI [-.01, .83], t(12) = 2.15, p = .053"
            in lines)
    assert ("  => the claim that the hurt tracks human importance (k = 4000) does not survive: "
            "the study's test supports it, the design-correct test does not (with the 14 "
            "attributes as replicates: permutation p = .053).") in lines
    # claim 2 from an old-style table (no role): the study's Wald z, sign turned to "extra drop"
    assert "   study:  extra drop 2.9 points, z = 12.88, p < .001; Wald z" in lines
    assert headline({}) == "Headline results (k = 4000)\n(no results tables)"


def _mixed_contract(p_record=0.24, est_record=0.029):
    """The masking_mixed_model contract (docs/inference.md): role study/record, term
    attribute_vs_random, estimate positive = attribute masks hurt more. Numbers: issue 8 (lme4
    with (1 + condition | attribute): t ~ 1.2 on ~13 df, p ~ .24; study-style z = 12.9)."""
    return pd.DataFrame({
        "k": [4000, 4000, 4000], "effect": "fixed", "group": "",
        "term": ["(Intercept)", "attribute_vs_random", "attribute_vs_random"],
        "role": ["study", "study", "record"],
        "model": ["study", "study: (1 | emotion/prompt)", "mask: (1 + condition | attribute)"],
        "estimate": [0.73, 0.0287, est_record], "std_error": [0.02, 0.00223, 0.024],
        "statistic": [35.7, 12.88, est_record / 0.024], "df": [np.nan, np.nan, 13.2],
        "p_value": [0.0, 5.6e-38, p_record],
        "p_method": ["Wald z", "Wald z", "Satterthwaite t"]})


def _vs_null(n_sig=1):
    q = [0.01] * n_sig + [0.5] * (3 - n_sig)
    return pd.DataFrame({"task": "choice", "attribute": ["valence", "arousal", "novelty"],
                         "k": 4000, "estimate": [0.05, 0.01, -0.01], "p_value": q,
                         "q_value_bh": q, "role": "record", "p_method": "prediction"})


def test_headline_masking_claim_follows_the_numbers():
    h = headline({"masking_mixed_model": _mixed_contract(), "attribute_vs_null": _vs_null(0)})
    lines = h.splitlines()
    assert ("   record: extra drop 2.9 points, t(13.20) = 1.21, p = .240 (mask: (1 + condition | "
            "attribute)); Satterthwaite t") in lines
    assert "   record: 0 of 3 attribute masks lower accuracy more than the population of random " \
        "masks (BH q <= .05)" in lines
    verdict = [x for x in lines if x.startswith("  => the claim that masking")][0]
    assert "does not survive" in verdict and "p = .240" in verdict
    # the same tables with a significant mask-level effect: the sentence changes with them
    h2 = headline({"masking_mixed_model": _mixed_contract(p_record=0.01),
                   "attribute_vs_null": _vs_null(1)})
    verdict2 = [x for x in h2.splitlines() if x.startswith("  => the claim that masking")][0]
    assert "survives: the design-correct test agrees" in verdict2
    assert "1 of 3 single attribute masks beat the random masks" in verdict2
    # a negative mask-level estimate never supports the claim, whatever its p
    h3 = headline({"masking_mixed_model": _mixed_contract(p_record=0.01, est_record=-0.02)})
    assert "does not survive" in [x for x in h3.splitlines() if x.startswith("  =>")][0]


def test_headline_neuron_claim_from_count_null():
    null = pd.DataFrame({"attribute": ["valence", "valence", "arousal", "arousal"],
                         "count": ["significant", "selective"] * 2,
                         "statistic": [4528.0, 97, 3261, 839], "p_value": [0.05, 0.05, 0.15, .75],
                         "n_perm": 19})
    h = headline({"neuron_rsa": _neurons(), "neuron_count_null": null})
    lines = h.splitlines()
    assert ("   record: the count of significant neurons exceeds its emotion-label permutation "
            "null for 1 of 2 attributes (p <= .05; 19 permutations, smallest p .050)") in lines
    assert lines[-1] == ("  => the claim that attribute neurons exist survives: the "
                         "design-correct test agrees with the study's (1 of 2 attributes have "
                         "more attribute-tracking neurons than relabelled emotions give).")
    none = null.assign(p_value=0.5)
    assert "does not survive" in headline({"neuron_rsa": _neurons(),
                                           "neuron_count_null": none}).splitlines()[-1]


def test_fmt_pval_r_like_format_pval():
    # R 4.2, element by element (as printCoefmat shows them):
    # format.pval(p, digits = 3, eps = .Machine$double.eps)
    assert [fmt_pval_r(p) for p in (0.0234, 5.62e-38, 1.23e-5, 0.000123, 0.12345)] == \
        ["0.0234", "<2e-16", "1.23e-05", "0.000123", "0.123"]


def test_text_table_alignment():
    t = text_table(["name", "x"], [["a", "1.5"], ["bbb", "10.25"]])
    assert t.splitlines() == [" name      x", " a       1.5", " bbb   10.25"]


def test_headline_glmm_effect_in_log_odds_and_whole_model_without_ci():
    # a collected run: the record model is the item-level binomial GLMM (log-odds, Wald z);
    # exp(-0.2) = 0.8187 (odds of a correct answer under attribute masks, relative to random)
    mm = _mixed_contract().assign(family="gaussian", outcome="accuracy")
    mm.loc[2, ["model", "family", "outcome", "estimate", "statistic", "p_value", "df",
               "p_method"]] = ["item_glmm", "binomial", "correct", 0.2, 0.98, 0.329, np.nan,
                               "Wald z"]
    wm = pd.DataFrame({"estimate": [0.151], "conf_low": [np.nan], "conf_high": [np.nan],
                       "p_value": [1e-4], "p_method": ["Mantel"]})
    lines = headline({"masking_mixed_model": mm, "whole_model_rsa": wm}).splitlines()
    assert ("   record: extra drop 0.20 log-odds (odds of a correct answer x 0.82 under "
            "attribute masks), z = 0.98, p = .329 (item_glmm); Wald z") in lines
    assert "Whole-model RSA: tau = .151, no CI (no participants to resample), p < .001 " \
           "(Mantel)" in lines
    assert "NA" not in "\n".join(lines)
