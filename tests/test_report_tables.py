"""Report tables: pipe tables that pandoc parses, APA cells, lme4's summary layout."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from emostat.report import method, tables, text, view


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


def test_mixed_model_block_lme4_layout():
    # lme4 (R 4.2), Weight ~ Time + (1 + Time | Pig), REML, statsmodels' dietox data
    # (reference-values.md): fixed [15.738650, 6.939014], SE [0.5501253, 0.0798254],
    # residual variance 6.03745, var(Pig) 19.4934552, var(Time) 0.4160620, cov .2938323;
    # Satterthwaite df 71.0 (tests/r/dietox_lme4.json); CI bounds = estimate ± t(.975, 71) × SE
    from scipy import stats

    from emostat.report import mixedblock

    sd0, sd1 = np.sqrt(19.4934552), np.sqrt(0.4160620)
    est, se = np.array([15.738650, 6.939014]), np.array([0.5501253, 0.0798254])
    half = stats.t.ppf(.975, 71) * se
    tidy = pd.DataFrame({
        "k": 0, "effect": ["fixed", "fixed", "ran_pars", "ran_pars", "ran_pars", "ran_pars"],
        "group": ["", "", "Pig", "Pig", "Pig", "Residual"],
        "term": ["(Intercept)", "Time", "sd__(Intercept)", "sd__Time", "cor__(Intercept).Time",
                 "sd__Observation"],
        "estimate": [*est, sd0, sd1, 0.2938323 / (sd0 * sd1), np.sqrt(6.03745)],
        "std_error": [*se] + [np.nan] * 4, "statistic": [*(est / se)] + [np.nan] * 4,
        "df": [71.0, 71.0] + [np.nan] * 4, "p_value": [1e-50, 1e-50] + [np.nan] * 4,
        "conf_low": [*(est - half)] + [np.nan] * 4, "conf_high": [*(est + half)] + [np.nan] * 4,
        "p_method": ["Satterthwaite t, two-sided"] * 2 + [""] * 4,
        "formula": "Weight ~ Time + (1 + Time | Pig)", "status": "ok", "message": ""})
    glance = pd.DataFrame({"k": [0], "nobs": [861], "logLik": [-2217.047], "converged": [True],
                           "singular": [False], "optimizer": ["cg"], "groups": ["Pig, 72"],
                           "r2_marginal": [.8], "r2_conditional": [.99], "icc_adjusted": [.95],
                           "icc_conditional": [.19], "status": ["ok"], "message": [""],
                           "fitted_formula": ["Weight ~ Time + (1 + Time | Pig)"]})
    md = mixedblock.block(tidy, glance, k=0, qq=pd.DataFrame({"k": [0], "sample": [0.0]}),
                          qq_ref="fig-qq")
    # variances as lme4 reports them; Std.Dev. = their square roots (sqrt(19.4934552) = 4.41514)
    assert "| Pig | (Intercept) | 19.49346 | 4.4151 |  |" in md
    assert "|  | Time | 0.41606 | 0.6450 | .10 |" in md
    assert "| Residual |  | 6.03745 | 2.4571 |  |" in md
    # 15.738650 is stored as 15.73864999..., so 4 decimals give 15.7386; CI from the t(71)
    lo, hi = est - half
    assert (f"| (Intercept) | 15.7386 | 0.5501 | [{lo:.4f}, {15.738650 + half[0]:.4f}] | 71 "
            "| 28.61 | < .001 |") in md
    assert "| Time | 6.9390 | 0.0798 |" in md and "| 86.93 | < .001 |" in md
    assert "t value" in md and "Number of obs: 861; groups: Pig, 72" in md
    assert "log-likelihood -2217.05" in md and "Formula.** `Weight ~ Time + (1 + Time | Pig)`" in md
    assert md.index("Random effects") < md.index("Fixed effects")
    assert "df method: Satterthwaite" in md and "R²m = .800" in md and "ICC adjusted = .950" in md
    assert "@fig-qq (appendix)" in md and "converged, not singular" in md
    assert md.startswith("<!-- caption: Linear mixed model at k = 0, in lme4's layout. -->")
    assert all(item in md for item in mixedblock.ITEMS)


def test_sentences_and_missing_tables():
    # the contract's sign (docs/inference.md): estimate = extra drop = random - attribute
    be = pd.DataFrame({"k": [4000] * 3, "concept": ["remorse", "joy", "fear"],
                       "estimate": [0.081, 0.02, -0.01], "statistic": [3.56, 1.2, -0.5],
                       "df": [167.0] * 3, "p_value": [0.00024, 0.12, 0.7],
                       "q_value": [0.001, 0.2, 0.7], "acc_none": [0.892, 0.9, 0.8],
                       "acc_random": [0.724, 0.8, 0.7], "acc_attribute": [0.643, 0.78, 0.71],
                       "p_method": "paired t"})
    s = text.masking_sentence(be, n_top=1)
    # remorse in the study: 8.1 points, t(167) = 3.56 in the contract's sign (reference-values.md)
    assert "remorse 8.1 points (t(167) = 3.56, p < .001)" in s
    assert "for 1 of 3 concepts" in s and "Not significant: joy and fear." in s
    assert "is 86.40% without manipulation" in s        # (89.2 + 90 + 80) / 3
    # alpha comes from the run (claims), not a module constant: at .0001 none is significant
    assert "for none of the 3 concepts" in text.masking_sentence(be, alpha=.0001)
    assert "q < .0001" in text.masking_sentence(be, alpha=.0001)
    # a missing table: no sentence at all (the section is left out, said once in the method)
    assert text.masking_sentence(None) == ""
    assert view.listing(["a", "b", "c"]) == "a, b and c"


def test_no_variance_gets_a_reason_not_na():
    # one item per emotion and two masks: both paired differences equal -> SE 0, t undefined
    be = pd.DataFrame({"k": [10, 10], "concept": ["joy", "fear"], "estimate": [0.0, 0.5],
                       "std_error": [0.0, 0.1], "statistic": [np.nan, 5.0], "df": [1.0, 1.0],
                       "p_value": [np.nan, 0.06], "q_value": [np.nan, 0.06], "n": [2, 2],
                       "p_method": "paired t"})
    s = text.masking_sentence(be)
    assert "NA" not in s
    assert "joy: its 2 paired differences are all equal: no variance" in s


def test_mixed_model_block_glmm_is_titled_by_its_family():
    from emostat.report import mixedblock

    tidy = pd.DataFrame({"k": 2304, "model": "item_glmm", "role": "record",
                         "family": "binomial",
                         "formula": "correct ~ attribute_vs_random + (1 | emotion)",
                         "effect": ["fixed", "fixed", "ran_pars"], "group": ["", "", "concept"],
                         "term": ["(Intercept)", "attribute_vs_random", "sd__(Intercept)"],
                         "estimate": [0.9, 0.141, 0.5], "std_error": [0.2, 0.144, np.nan],
                         "statistic": [4.5, 0.98, np.nan], "p_value": [1e-5, 0.329, np.nan],
                         "df": np.nan, "status": "singular",
                         "message": "singular: dropped (1 | mask) (variance 0)",
                         "p_method": ["Wald z (SE from the Hessian), two-sided"] * 2 + [None]})
    md = mixedblock.block(tidy, None, k=2304)
    assert md.startswith("<!-- caption: Binomial GLMM (logit link) item_glmm, the model of "
                         "record, at k = 2,304, in lme4's layout. -->")
    assert "Linear mixed model" not in md and "z value" in md
    assert "df method: none, Wald z" in md and "Laplace maximum likelihood" in md
    # what was done about the singular fit is said in the block
    assert "**singular fit** (singular: dropped (1 | mask) (variance 0))" in md
    # an old run without glance rows: said, never "NA"
    assert "not in this run's tables" in md and "NA" not in md


def test_chance_sentence_is_the_terminals():
    from emostat.analysis.masking.experiment import chance_statement

    row = pd.DataFrame({"task": ["binary"], "n_items": [54], "accuracy": [0.37],
                        "chance": [0.5], "p_value": [0.98], "interpretable": [False]}).iloc[0]
    s = text.chance_sentence(row)
    assert s == chance_statement(row.to_dict())          # one builder, report and terminal
    assert "not interpretable" in s and "*" not in s and "`" not in s


def test_compact_provenance_and_model_line():
    assert method.compact_list([1536] * 30) == "1536 × 30"
    assert method.compact_list(list(range(12))) == "0–11"
    assert method.compact_list([1, 1, 2]) == "1, 1, 2"
    manifest = {"model": {"name": "SmolLM2-135M-Instruct", "dtype": "float32",
                          "source": "/x/SmolLM2-135M-Instruct.Q4_1.gguf"},
                "config": {"representation": "zero_shot", "pt_steps": 300, "pt_lr": 0.03,
                           "device": "cpu"},
                "layer_sizes": [1536] * 30}
    assert method.model_line({}, manifest) == \
        "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised to float32)"
    rows = method.provenance_rows(manifest)
    values = dict(rows.values.tolist())
    assert values["layer sizes"] == "1536 × 30"
    assert "pt" not in values["config"] and values["config"] == "representation zero_shot; device cpu"
    assert method.breakable("a" * 64) == "a" * 16 + "…"


def test_left_out_line():
    class R:
        def has(self, t):
            return t == "a"

    items = method.left_out(R(), {"the A part": ("a",), "the null": ("random_null", "b")})
    assert method.left_out_line(items) == ("Left out for lack of their results tables: the null "
                                         "(this run has no `random_null` or `b` table).")
    assert method.left_out_line([]) == ""


def test_count_null_and_mantel_sentences():
    cn = pd.DataFrame({"attribute": ["valence", "valence", "arousal", "arousal"],
                       "count": ["significant", "selective"] * 2,
                       "statistic": [900.0, 40.0, 10.0, 0.0], "null_mean": [300.0, 20, 12, 1],
                       "null_sd": [50.0, 5, 4, 1], "p_value": [0.005, 0.01, 0.6, 0.9],
                       "n_perm": 199})
    counts = pd.DataFrame({"attribute": ["valence", "arousal"], "n_significant": [900, 10],
                           "n_significant_bh": [880, 9], "n_selective": [40, 0]})
    s = text.searchlight_sentence(counts, 36864)
    assert "valence has the most significant neurons (900 of 36,864 neurons)" in s
    # the count null decides nothing here: its decision is the neurons claims row
    assert "too coarse" not in s and "relabelled" not in s
    md = tables.count_null_table(cn)
    # attributes in the table's order (no module constant)
    assert "| valence | 900 | 300.0 ± 50.0 | .005 | 40 | 20.0 ± 5.0 | .010 |" in md
    assert md.index("valence") < md.index("arousal")
    # the max-T table prints the neuron_max_t row's own numbers, min-P only when computed
    mt = pd.DataFrame({"attribute": ["valence", "arousal"], "estimate": [0.522, 0.3211],
                       "layer": [5, 7], "n_above_joint": [4, 0], "p_adjusted": [0.0351, 1.0],
                       "p_fwer_joint": [0.0050, 0.98], "p_fwer_joint_mc_low": [0.0001, 0.95],
                       "p_fwer_joint_mc_high": [0.0139, 0.99], "p_minp_joint": [0.0049, 0.9]})
    md = tables.max_t_table(mt)
    assert "| valence | 0.522 | 5 | 4 | .035 | .005 | [0.000, 0.014] | .005 |" in md
    assert "| arousal | 0.321 | 7 | 0 | > .999 | .980 | [0.950, 0.990] | .900 |" in md
    assert "min-P" not in tables.max_t_table(mt.assign(p_minp_joint=np.nan))
    nm = pd.DataFrame({"neuron": [1, 2, 3], "attribute": ["valence", "valence", "arousal"],
                       "p_value": [0.01, 0.2, 0.03], "p_asymptotic": [1e-5, 0.01, 0.02],
                       "n_perm": 10000})
    s = text.neuron_mantel_sentence(nm, 5)
    assert "2 of the 3 chosen neuron × attribute pairs (1–2 per attribute) have p < .05" in s
    # 5 concepts: 5 * 4 / 2 = 10 pairs, from the space's size, not "351"
    assert "treats the 10 concept pairs as independent, is below .05 for 3." in s


def test_importance_table_has_a_ci_column_only_where_there_is_an_interval():
    # a space without individual raters has no interval: no column of dashes (issue 25)
    import numpy as np
    import pandas as pd

    from emostat.report import tables

    d = pd.DataFrame({"attribute": ["valence", "arousal"], "estimate": [0.587, -0.003],
                      "conf_low": [np.nan, np.nan], "conf_high": [np.nan, np.nan],
                      "p_value": [0.001, 0.48]})
    assert "95% CI" not in str(tables.importance_table(d))
    d[["conf_low", "conf_high"]] = [[0.41, 0.70], [-0.2, 0.19]]
    text = str(tables.importance_table(d))
    assert "95% CI" in text and "[.410, .700]" in text
