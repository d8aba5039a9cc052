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
from emostat.summary import fmt_pval_r, headline, summarize, text_table  # kept importable


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
        "k": [4000] * 3 + [1500] * 3, "concept": ["remorse", "annoyance", "relief"] * 2,
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
        "group": ["", "", "concept", "template:concept", "Residual"],
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
    t = _drops().rename(columns={"concept": "attribute"})
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
    assert "4000 t over concepts study .474 [.424, .521] 16.92 26 < .001" in lines
    assert "1500 t over concepts study .165 [.107, .222] 5.81 26 < .001" in lines
    # the table's own role column is shown (the old layout labelled both "record")
    assert "4000 attribute permutation record .474 0.52 .053" in lines
    assert "4000 attribute-level r record .527 [-.005, .827] 2.15 12 .053" in lines


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
    assert "concept (Intercept) 0.010607 0.10299" in lines        # lme4: 0.010607 0.10299
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
    s = summarize("human_means", pd.DataFrame({"concept": ["joy"], "attribute": ["valence"],
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
            row[f.name] = ("joy" if f.name in ("concept", "concept_a", "concept_b") else
                           "valence" if t == "string" else 0.5 if t == "double" else
                           1 if t == "int64" else True if t == "bool" else [0.1])
        out = summarize(name, pd.DataFrame([row]))
        assert isinstance(out, str) and out


def _claims_rows():
    """A hand-made claims table (schema ``claims``): the console renders what it says."""
    from emostat.analysis.claims.table import COLUMNS

    rows = [dict(claim="masking", task="choice", k=4000, role="record", test="item_glmm",
                 source_table="masking_mixed_model", estimate=0.2, scale="log-odds",
                 statistic=0.98, p_value=0.0100, p_method="Wald z", unit="item x mask",
                 p_floor=0.0, alpha=0.05, headline=True,
                 # deliberately not the rule's decision: the console must not re-decide
                 decision="not supported", reason="a reason from the claims table"),
            dict(claim="masking", task="choice", k=4000, role="study", test="study",
                 source_table="masking_mixed_model", estimate=2.87, scale="points",
                 conf_low=2.4, conf_high=3.3, statistic=12.88, p_value=5.6e-38,
                 p_method="Wald z", alpha=0.05, headline=True, decision="supported",
                 reason="r"),
            dict(claim="masking", task="choice", k=2000, role="record", test="item_glmm",
                 estimate=0.1, scale="log-odds", p_value=0.5, alpha=0.05, headline=False,
                 decision="not supported", reason="r"),
            dict(claim="whole_model", role="record", test="mantel", estimate=0.151,
                 scale="tau", p_value=0.049995, p_method="Mantel", n_perm=9999,
                 p_floor=1e-4, alpha=0.05, headline=True, decision="supported",
                 reason="p <= alpha")]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_headline_renders_the_claims_rows_and_never_decides():
    lines = headline(_claims_rows()).splitlines()
    assert lines[0] == "Claims (alpha = .05; k = 4000)"
    assert lines[1] == ("1. Masking attribute neurons hurts more than masking random neurons "
                        "(task choice, k = 4000): not supported")
    # exp(-0.2) = 0.8187: the odds ratio of a correct answer, attribute / random masks
    # issue 25: prose test names, no method after the p (the report's words)
    assert lines[2] == ("   of record, item-level logistic mixed model: 0.20 log-odds (odds "
                        "ratio attribute / random masks 0.82), z = 0.98, p = .010")
    assert lines[3].startswith("   the study's, concept/prompt linear mixed model: 2.9 points, "
                               "95% CI [2.4, 3.3], z = 12.88")
    assert "   => A reason from the claims table." in lines   # not in decide()'s words: whole
    assert "k = 2000" not in "\n".join(lines)         # not the headline k
    # p = .049995 <= .05 never prints as ".050"
    assert any("tau = .151, p = .04999" in x for x in lines)
    assert "k = 2000" in headline(_claims_rows(), all_k=True)
    assert headline(_claims_rows().iloc[:0]) == "Claims: (no claims)"
    assert summarize("claims", _claims_rows()).startswith("Claims (alpha = .05")


def test_fmt_pval_r_like_format_pval():
    # R 4.2, element by element (as printCoefmat shows them):
    # format.pval(p, digits = 3, eps = .Machine$double.eps)
    assert [fmt_pval_r(p) for p in (0.0234, 5.62e-38, 1.23e-5, 0.000123, 0.12345)] == \
        ["0.0234", "<2e-16", "1.23e-05", "0.000123", "0.123"]


def test_text_table_alignment():
    t = text_table(["name", "x"], [["a", "1.5"], ["bbb", "10.25"]])
    assert t.splitlines() == [" name      x", " a       1.5", " bbb   10.25"]


