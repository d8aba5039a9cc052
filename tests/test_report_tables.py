"""Report tables: pipe tables that pandoc parses, APA cells, lme4's summary layout."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from emostat.report import tables, text


def _pandoc_html(md: str) -> str:
    import pypandoc

    return subprocess.run([pypandoc.get_pandoc_path(), "-f", "markdown", "-t", "html"],
                          input=md, capture_output=True, text=True, check=True).stdout


def test_pipe_table_parses_in_pandoc_with_escaped_pipes_and_caption():
    df = pd.DataFrame({"name": ["a|b", "c"], "value": ["1.00", "< .001"]})
    md = tables.pipe_table(df, caption="Cap", label="tbl-x")
    assert md._repr_markdown_() == str(md)
    html = _pandoc_html(md)
    assert "<table" in html and "<caption>Cap</caption>" in html
    assert "<td style=\"text-align: left;\">a|b</td>" in html
    assert "<td style=\"text-align: right;\">&lt; .001</td>" in html   # numbers right-aligned
    with pytest.raises(ValueError):
        tables.pipe_table(df, align="l")


def test_apa_table_cells():
    df = pd.DataFrame({"attribute": ["valence"], "estimate": [0.58601], "conf_low": [0.5012],
                       "conf_high": [0.66], "p_value": [0.00002], "df": [26.0], "k": [4000]})
    md = tables.apa_table(df, ["attribute", "k", "estimate", "ci", "df", "p_value"],
                          formats={"estimate": lambda x: f"{x:.3f}"}, ci_bounded=True)
    row = md.strip().splitlines()[2]
    assert row == "| valence | 4,000 | 0.586 | [.50, .66] | 26 | < .001 |"
    assert md.splitlines()[0] == "| attribute | k | Estimate | 95% CI | df | p |"


def test_mixed_model_table_lme4_layout():
    # lme4 (R 4.2), Weight ~ Time + (1 + Time | Pig), REML, statsmodels' dietox data
    # (reference-values.md): fixed [15.738650, 6.939014], SE [0.5501253, 0.0798254],
    # residual variance 6.03745, var(Pig) 19.4934552, var(Time) 0.4160620, cov .2938323
    sd0, sd1 = np.sqrt(19.4934552), np.sqrt(0.4160620)
    tidy = pd.DataFrame({
        "k": 0, "effect": ["fixed", "fixed", "ran_pars", "ran_pars", "ran_pars", "ran_pars"],
        "group": ["", "", "Pig", "Pig", "Pig", "Residual"],
        "term": ["(Intercept)", "Time", "sd__(Intercept)", "sd__Time", "cor__(Intercept).Time",
                 "sd__Observation"],
        "estimate": [15.738650, 6.939014, sd0, sd1, 0.2938323 / (sd0 * sd1), np.sqrt(6.03745)],
        "std_error": [0.5501253, 0.0798254] + [np.nan] * 4,
        "statistic": [15.738650 / 0.5501253, 6.939014 / 0.0798254] + [np.nan] * 4,
        "p_value": [1e-50, 1e-50] + [np.nan] * 4,
        "p_method": ["Wald z", "Wald z", "", "", "", ""]})
    glance = pd.DataFrame({"k": [0], "nobs": [861], "logLik": [-2217.047], "converged": [True],
                           "boundary": [False], "optimizer": ["cg"]})
    md = tables.mixed_model_table(tidy, glance, k=0)
    # variances as lme4 reports them; Std.Dev. = their square roots (sqrt(19.4934552) = 4.41514)
    assert "| Pig | (Intercept) | 19.49346 | 4.4151 |  |" in md
    assert "|  | Time | 0.41606 | 0.6450 | .10 |" in md
    assert "| Residual |  | 6.03745 | 2.4571 |  |" in md
    # 15.738650 is stored as 15.73864999..., so 4 decimals give 15.7386
    assert "| (Intercept) | 15.7386 | 0.5501 | 28.61 | < .001 |" in md
    assert "| Time | 6.9390 | 0.0798 | 86.93 | < .001 |" in md
    assert "z value" in md and "Number of obs: 861" in md and "log-likelihood -2217.0" in md
    assert md.index("Random effects") < md.index("Fixed effects")


def test_sentences_and_missing_tables():
    be = pd.DataFrame({"k": [4000] * 3, "emotion": ["remorse", "joy", "fear"],
                       "estimate": [-0.081, -0.02, 0.01], "statistic": [-3.56, -1.2, 0.5],
                       "df": [167.0] * 3, "p_value": [0.00024, 0.12, 0.7],
                       "q_value": [0.001, 0.2, 0.7], "acc_none": [0.892, 0.9, 0.8],
                       "acc_random": [0.724, 0.8, 0.7], "acc_attribute": [0.643, 0.78, 0.71]})
    s = text.masking_sentence(be, n_top=1)
    # remorse in the study: 8.1 points, t(167) = -3.56 (reference-values.md)
    assert "remorse 8.1 points (t(167) = -3.56, p < .001)" in s
    assert "for 1 of 3 emotions" in s and "Not significant: joy and fear." in s
    assert "is 86.40% without manipulation" in s        # (89.2 + 90 + 80) / 3
    assert "not available" in text.masking_sentence(None)
    assert "`masking_by_emotion`" in text.masking_sentence(None)
    assert text.listing(["a", "b", "c"]) == "a, b and c"
    prov = text.provenance_rows({"n_perm": 1, "source_files": {"a.csv": "ff"}, "ks": [1, 2]})
    assert prov.values.tolist() == [["n perm", "1"], ["source files: a.csv", "ff"],
                                    ["ks", "1, 2"]]
    many = {f"f{i}.csv": "ab" for i in range(20)}
    # sha256sum-style listing of the 20 files, sorted by name, hashed once
    import hashlib

    listing = "".join(f"{k}  ab\n" for k in sorted(many))
    row = text.provenance_rows({"files": many}).iloc[0]
    assert row["Value"] == ("20 files; SHA-256 over their sorted hashes: "
                            + hashlib.sha256(listing.encode()).hexdigest())
