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
    # the study's sign (older tables: estimate = attribute - random, no p_method)
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
    # the contract's sign (docs/inference.md): estimate = extra drop, t of opposite sign
    new = be.assign(estimate=-be["estimate"], statistic=-be["statistic"], p_method="paired t")
    s2 = text.masking_sentence(new, n_top=1)
    assert "remorse 8.1 points (t(167) = 3.56, p < .001)" in s2 and "for 1 of 3 emotions" in s2
    assert list(text.extra_drop(be)) == list(text.extra_drop(new))
    # a missing table: no sentence at all (the section is left out, said once in the method)
    assert text.masking_sentence(None) == "" and text.link_sentence(None) == ""
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


def test_no_variance_gets_a_reason_not_na():
    # one item per emotion and two masks: both paired differences equal -> SE 0, t undefined
    be = pd.DataFrame({"k": [10, 10], "emotion": ["joy", "fear"], "estimate": [0.0, 0.5],
                       "std_error": [0.0, 0.1], "statistic": [np.nan, 5.0], "df": [1.0, 1.0],
                       "p_value": [np.nan, 0.06], "q_value": [np.nan, 0.06], "n": [2, 2],
                       "p_method": "paired t"})
    s = text.masking_sentence(be)
    assert "NA" not in s
    assert "joy: its 2 paired differences are all equal: no variance" in s
    link = pd.DataFrame({"k": [10], "test": ["attribute_permutation"], "role": ["record"],
                         "estimate": [np.nan], "p_value": [np.nan], "df": [np.nan],
                         "statistic": [np.nan], "conf_low": [np.nan], "conf_high": [np.nan]})
    s = text.link_sentence(link, n_attributes=2)
    assert "NA" not in s and "only 2 attributes were masked" in s


def _link(p_perm, r=0.142):
    return pd.DataFrame({
        "k": [4000] * 3, "test": ["study_t", "attribute_permutation", "attribute_level_r"],
        "role": ["study", "record", "record"], "estimate": [r, r, 0.3],
        "statistic": [2.1, np.nan, 1.1], "df": [26.0, np.nan, 12.0],
        "p_value": [0.045, p_perm, 0.29], "conf_low": [0.01, np.nan, np.nan],
        "conf_high": [0.27, np.nan, np.nan]})


def test_link_wording_follows_the_test_of_record():
    s = text.link_sentence(_link(0.187))
    # r = .142, permutation p = .187: no claim that drops track importance
    assert s.startswith("The accuracy drops are not detectably related")
    assert "r = .142, 95% CI [.010, .270], p = .187 (attribute-label permutation)" in s
    assert "The study's test, which treats the 27 emotions as independent, gives " \
           "t(26) = 2.10, p = .045." in s
    assert "r(12) = .300, p = .290" in s
    assert "values of k" not in s          # one k: no "at 0 of 1 values of k"
    s = text.link_sentence(_link(0.003))
    assert s.startswith("Emotions lose more accuracy when the masked neurons track attributes "
                        "that matter more to humans")


def test_mixed_sentence_and_failed_fit():
    mm = pd.DataFrame({"k": [4000, 4000], "model": ["m", "m"], "role": ["record"] * 2,
                       "effect": ["fixed"] * 2, "term": ["(Intercept)", "attribute_vs_random"],
                       "estimate": [0.7, 0.029], "std_error": [0.02, 0.01],
                       "statistic": [35.0, 2.9], "df": [40.3, 40.3], "p_value": [1e-9, 0.006],
                       "conf_low": [np.nan, 0.009], "conf_high": [np.nan, 0.049],
                       "status": ["ok", "ok"], "message": ["", ""]})
    s = text.mixed_sentence(mm)
    assert ("lowers accuracy more than masking random neurons: extra drop 2.9 points, "
            "95% CI [0.9, 4.9], t(40.30) = 2.90, p = .006.") in s
    failed = mm.assign(estimate=np.nan, status="failed",
                       message="the model did not converge in 1000 iterations")
    s = text.mixed_sentence(failed)
    assert "gives no estimate: the model did not converge in 1000 iterations." in s
    assert "NA" not in s


def test_mixed_sentence_glmm_in_log_odds():
    # the item-level GLMM of a collected run: its contrast is in log-odds, not accuracy points;
    # exp(-0.141) = 0.8685 (odds of a correct answer under attribute masks vs random masks)
    mm = pd.DataFrame({"k": [2304], "model": ["item_glmm"], "role": ["record"],
                       "family": ["binomial"], "effect": ["fixed"],
                       "term": ["attribute_vs_random"], "estimate": [0.141],
                       "std_error": [0.144], "statistic": [0.98], "df": [np.nan],
                       "p_value": [0.329], "conf_low": [-0.141], "conf_high": [0.423],
                       "status": ["ok"], "message": [""]})
    s = text.mixed_sentence(mm)
    assert ("does not lower accuracy detectably more than masking random neurons: extra drop "
            "0.14 in log-odds of a correct answer (odds x 0.87 under attribute masks), 95% CI "
            "[-0.14, 0.42], z = 0.98, p = .329.") in s
    assert "points" not in s


def test_chance_sentence_is_the_terminals():
    from emostat.analysis.experiment import chance_statement

    row = pd.DataFrame({"task": ["binary"], "n_items": [54], "accuracy": [0.37],
                        "chance": [0.5], "p_value": [0.98], "interpretable": [False]}).iloc[0]
    s = text.chance_sentence(row)
    assert s == chance_statement(row.to_dict())          # one builder, report and terminal
    assert "not interpretable" in s and "*" not in s and "`" not in s


def test_compact_provenance_and_model_line():
    assert text.compact_list([1536] * 30) == "1536 × 30"
    assert text.compact_list(list(range(12))) == "0–11"
    assert text.compact_list([1, 1, 2]) == "1, 1, 2"
    manifest = {"model": {"name": "SmolLM2-135M-Instruct", "dtype": "float32",
                          "source": "/x/SmolLM2-135M-Instruct.Q4_1.gguf"},
                "config": {"representation": "zero_shot", "pt_steps": 300, "pt_lr": 0.03,
                           "device": "cpu"},
                "layer_sizes": [1536] * 30}
    assert text.model_line({}, manifest) == \
        "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised to float32)"
    rows = text.provenance_rows(manifest)
    values = dict(rows.values.tolist())
    assert values["layer sizes"] == "1536 × 30"
    assert "pt" not in values["config"] and values["config"] == "representation zero_shot; device cpu"
    assert text.breakable("a" * 64) == "a" * 16 + "…"


def test_left_out_line():
    class R:
        def has(self, t):
            return t == "a"

    items = text.left_out(R(), {"the A part": ("a",), "the null": ("random_null", "b")})
    assert text.left_out_line(items) == ("Left out for lack of their results tables: the null "
                                         "(this run has no `random_null` or `b` table).")
    assert text.left_out_line([]) == ""


def test_count_null_and_mantel_sentences():
    cn = pd.DataFrame({"attribute": ["valence", "valence", "arousal", "arousal"],
                       "count": ["significant", "selective"] * 2,
                       "statistic": [900.0, 40.0, 10.0, 0.0], "null_mean": [300.0, 20, 12, 1],
                       "null_sd": [50.0, 5, 4, 1], "p_value": [0.005, 0.01, 0.6, 0.9],
                       "n_perm": 199})
    counts = pd.DataFrame({"attribute": ["valence", "arousal"], "n_significant": [900, 10],
                           "n_significant_bh": [880, 9], "n_selective": [40, 0]})
    s = text.searchlight_sentence(counts, 36864, cn)
    # 199 permutations: the smallest attainable p is 1/200 = .005
    assert ("1 of 2 attributes have more significant neurons than relabelled emotions give "
            "(valence); 1 of 2 attributes have more selective neurons") in s
    assert "no p can fall below .005" in s
    md = tables.count_null_table(cn)
    assert "| valence | 900 | 300.0 ± 50.0 | .005 | 40 | 20.0 ± 5.0 | .010 |" in md
    nm = pd.DataFrame({"neuron": [1, 2, 3], "attribute": ["valence", "valence", "arousal"],
                       "p_value": [0.01, 0.2, 0.03], "p_asymptotic": [1e-5, 0.01, 0.02],
                       "n_perm": 10000})
    s = text.neuron_mantel_sentence(nm)
    assert "2 of the 3 chosen neuron × attribute pairs (1–2 per attribute) have p < .05" in s
    assert "is below .05 for 3." in s
