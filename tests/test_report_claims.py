"""Reports render the claims table (docs/design.md §2) and never decide: the same claims rows
give the same decision, k and units in the experiment report's sentences and in the comparison
report's table; p and bounds never round across alpha or 0; the provenance appendix is short."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emostat.analysis.claims.decision import decide
from emostat.report import compare, findings, method, published, tables, view
from emostat.report.load import load_run

sys.path.insert(0, str(Path(__file__).parent))
import report_fixtures  # noqa: E402


def glmm_claims(p=0.329, estimate=0.141, lo=-0.141, hi=0.423, decision="not supported"):
    """A binomial GLMM row of record (log-odds), as the issue's example: 0.14 in log-odds."""
    return pd.DataFrame([report_fixtures.claim_row(
        claim="masking", task="choice", k=2304, role="record", test="item_glmm",
        source_table="masking_mixed_model", estimate=estimate, scale="log-odds",
        conf_low=lo, conf_high=hi, conf_method="Wald interval, item level (27 concepts)",
        statistic=0.98, df=np.nan, p_value=p, p_method="Wald z", unit="item (27 concepts)",
        p_floor=0.0, alpha=0.05, headline=True, decision=decision,
        reason=decide(p, alpha=0.05)[1])], columns=report_fixtures.CLAIM_COLUMNS)


def write_run(root, claims, model="m"):
    root = Path(root)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "provenance.json").write_text(json.dumps({"model": model}))
    report_fixtures.write_claims(root, claims)
    return load_run(root)


def test_same_claims_same_decision_k_and_units_in_both_reports(tmp_path):
    c = glmm_claims()
    run = write_run(tmp_path / "a", c, model="model-a")
    sentence = findings.claim_sentence(findings.record(findings.claims_of(run), "masking"))
    table = compare.masking_table([run])
    # experiment sentence: decision, k, estimate in log-odds; exp(-0.141) = 0.8685: the odds of
    # a correct answer under attribute masks relative to random masks (extra drop 0.141)
    assert sentence.startswith("**Not supported (choice task, k = 2,304):**")
    assert "0.14 in log-odds (odds ratio attribute / random masks 0.87)" in sentence
    # one APA sentence: the interval's and the p's methods are in the table note and Method
    assert sentence.endswith("95% CI [-0.14, 0.42], z = 0.98, p = .329.")
    # the comparison report prints the same row: same decision, k and units, never "points"
    row = table.iloc[0]
    assert (row["Model"], row["Decision"], row["k"]) == ("model-a", "Not supported", "2,304")
    assert row["Estimate"] == ("0.14 in log-odds (odds ratio attribute / random masks "
                               "0.87)") and row["p"] == ".329"
    assert row["95% CI"] == "[-0.14, 0.42]"
    assert "points" not in sentence and "points" not in " ".join(table.astype(str).values.ravel())


def test_decision_is_rendered_never_recomputed(tmp_path):
    # claim 1 of the issue: 19 permutations (floor p = .05), p = .05: the analysis says "too
    # coarse to decide"; a renderer testing p <= .05 would say "supported"
    c = glmm_claims(p=0.05, decision="too coarse to decide").assign(
        claim="neurons", scale="count", estimate=3.0, conf_low=np.nan, conf_high=np.nan,
        p_floor=0.05, n_perm=19, task=None, k=np.nan, statistic=np.nan,
        p_method="max-T over neurons, 19 emotion-label permutations",
        reason="the smallest attainable p (.05) is not below alpha")
    c["k"] = pd.array([None] * len(c), dtype="Int64")   # no k: a null int, as build_claims
    run = write_run(tmp_path / "b", c)
    s = findings.claim_paragraph(findings.claims_of(run), "neurons")
    assert s.startswith("**Too coarse to decide:**") and "supported" not in s.lower().split(
        "decide")[1]
    assert "The smallest attainable p (.05) is not below alpha." in s
    assert compare.claims_rows([run]).iloc[0]["Decision"] == "Too coarse to decide"


def test_p_never_rounds_onto_alpha_and_bounds_keep_their_sign():
    # .049995 at 3 decimals would print ".050" (= alpha); 5 decimals are the first that
    # keep it below .05 (the binary double of .049995 is 0.0499949999..., so .04999)
    assert view.p_text(0.049995) == "p = .04999"
    assert view.p_text(0.0504) == "p = .0504"        # ".050" would also read as alpha
    assert view.p_text(0.023) == "p = .023" and view.p_text(2e-5) == "p < .001"
    assert view.ci_text(-0.0002, 0.31, 3, True) == "[-.0002, .310]"   # not ".000"
    assert view.ci_text(0.1, np.inf, 1) == "[0.1, ∞]"
    row = glmm_claims(p=0.049995, decision="supported").iloc[0]
    assert findings.test_part(row) == "z = 0.98, p = .04999"
    assert findings.claims_table(glmm_claims(p=0.049995)).iloc[0]["p"] == ".04999"


def test_ci_beside_p_only_when_its_unit_matches():
    # the example: the study's emotion-level CI beside the attribute-level p
    row = glmm_claims().iloc[0].copy()
    row.update({"claim": "link", "scale": "r", "estimate": 0.474, "conf_low": 0.424,
                "conf_high": 0.521, "conf_method": "Fisher z over emotions (27)",
                "unit": "attribute (14)", "p_value": 0.052, "statistic": np.nan,
                "p_method": "attribute-label permutation, 10,000 draws"})
    s = findings.claim_sentence(row)
    assert "— r = .474, p = .052." in s
    assert ".424" not in s
    row["conf_method"] = "attribute bootstrap (14 attributes)"
    assert "— r = .474, 95% CI [.424, .521], p = .052." in findings.claim_sentence(row)


def test_no_na_in_any_rendered_claim():
    c = pd.concat([glmm_claims(), glmm_claims(p=np.nan, estimate=np.nan, lo=np.nan, hi=np.nan,
                                              decision="failed").assign(
        reason="the fit failed: the optimiser did not converge")])
    for _, r in c.iterrows():
        s = findings.claim_sentence(r)
        assert "NA" not in s.split() and "nan" not in s.lower()
    failed = findings.claim_sentence(c.iloc[1])
    assert failed.startswith("**Failed (choice task, k = 2,304):**")
    assert failed.endswith("The fit failed: the optimiser did not converge.")
    cells = findings.claims_table(c)
    assert "NA" not in cells.values.ravel() and cells.iloc[1]["p"] == "–"


def test_fixture_claims_have_exactly_the_design_columns(tmp_path):
    run = report_fixtures.make_run(tmp_path / "r", "experiment", ks=[2000, 4000])
    c = pd.read_parquet(run / "results" / "claims.parquet")
    assert list(c.columns) == view.CLAIM_COLUMNS == report_fixtures.CLAIM_COLUMNS
    # one record row per claim x task x k (docs/design.md §2)
    rec = c[c["role"] == "record"]
    assert not rec.duplicated(["claim", "task", "k"]).any()


def test_provenance_appendix_is_a_summary_not_the_manifest():
    files = {f"activations/part-t{i:03d}.parquet": {"rows": 810, "sha256": f"{i:064x}"}
             for i in range(300)}
    manifest = {"emostat_version": "0.1.0", "seed": 7, "files": files,
                "model": {"name": "tiny", "dtype": "float32"},
                "package_versions": {"numpy": "2.0"}}
    p = method.provenance_summary({}, manifest)
    assert len(p) <= 12                                   # one page, not a row per shard
    val = dict(p.values.tolist())["Collected files"]
    # 300 files x 810 rows = 243,000; one digest over the sorted (path, record) items
    digest = hashlib.sha256(json.dumps(sorted(files.items()), sort_keys=True).encode())
    assert val == f"300 files, 243,000 rows; SHA-256 of the record {digest.hexdigest()[:16]}…"


def test_method_numbers_come_from_the_tables(tmp_path):
    run = report_fixtures.make_run(tmp_path / "r", "experiment", ks=[4000])
    imp = pd.read_parquet(run / "results" / "attribute_importance.parquet")
    report_fixtures.io.write_table(imp.assign(n_boot=10000),
                                   run / "results" / "attribute_importance.parquet")
    r = load_run(run)
    counts = method.resampling_counts(r)
    s = method.settings_list(r.provenance, r.manifest, [4000], counts)
    # the provenance says n_boot = 1000 (fixture); the table used 10,000: the table wins
    assert "Bootstrap resamples: 10,000 (attribute_importance)" in s
    assert "Permutations: 10,000 (neuron_mantel); 199 (neuron_count_null)" in s


def test_differences_are_read_from_the_configuration(tmp_path):
    run = report_fixtures.make_run(tmp_path / "r", "experiment", ks=[4000])
    man = json.loads((run / "manifest.json").read_text())
    man["config"] = {"tasks": ["choice", "generate"], "stimuli": "shipped",
                     "representation": "zero_shot", "n_random_draws": 50}
    man["space"] = {"name": "vader", "human_data": False}
    (run / "manifest.json").write_text(json.dumps(man))
    s = method.differences(load_run(run), 27, 14)
    assert "this run uses fixture-model (float32) (zero_shot representation)" in s
    assert "this run scores choice, generate" in s
    # "shipped" = the space's own stimuli.csv (collect/items.py), named as such
    assert "items are the stimuli.csv of the space `vader`" in s
    assert "27 concepts × 14 attributes from the space `vader`; illustrative ratings" in s
    assert "this run draws 50" in s
    # a run without tasks (a space without situations) says so and names no situations
    man["config"]["tasks"] = []
    (run / "manifest.json").write_text(json.dumps(man))
    s = method.differences(load_run(run), 85, 1)
    assert "this run has no tasks (concept activations only: no masking)" in s
    assert "Situations" not in s


def test_reproduction_reference_column_names_its_source(tmp_path):
    run = load_run(report_fixtures.make_run(tmp_path / "r", "reproduction"))
    rows = published.comparison_rows(run)
    assert "Published" not in rows.columns and "Reference" in rows.columns
    # every reference value of this table is recomputed from the release, and says so
    assert rows["Source"].str.startswith("recomputed from release: ").all()
    assert "not numbers printed in the paper" in published.source_note(
        rows["Source"].str.split(":").str[0])
    # the fixture's acc_none at k = 4000 differs from 83.18: the difference is not 0 by
    # construction
    be = pd.read_parquet(tmp_path / "r" / "results" / "masking_by_emotion.parquet")
    got = 100 * be.loc[be["k"] == 4000, "acc_none"].mean()
    row = rows.set_index("Quantity").loc["Accuracy without manipulation, k = 4,000 (%)"]
    assert row["Difference"] == f"{got - 83.18:.2f}"


def test_interval_without_conf_method_is_from_the_same_fit():
    # analysis.claims keeps an interval without conf_method only when it comes from the fit
    # that gave the p: it is printed, with no empty "()" after it
    row = glmm_claims().iloc[0].copy()
    row["conf_method"] = None
    s = findings.claim_sentence(row)
    assert "95% CI [-0.14, 0.42], z = 0.98" in s and "()" not in s
    row.update({"scale": "count", "estimate": 7.0, "conf_low": np.nan, "conf_high": np.nan})
    assert "count 7, " in findings.claim_sentence(row)


def test_floating_point_noise_of_zero_prints_as_zero():
    # a GLMM's estimate of an exact zero came back as -7.1e-17 and printed "0.00000000"
    assert view.num_text(-7.104604453979605e-17, 2) == "0.00"
    assert view.num_text(-0.0002, 2) == "-0.0002"             # a real small value keeps a digit


def masking_claims():
    """The masking claim's rows as a quick run writes them (choice task, headline k 2,304):
    the item GLMM of record, the study's LMM, five supporting tests, one failed (no estimate,
    no p), one too coarse to decide; a supporting row at another k and a binary-task record."""
    base = dict(claim="masking", task="choice", k=2304, source_table="masking_mixed_model",
                p_floor=0.0, alpha=0.05, headline=True, unit="item (54) x mask (5)")
    wald = ("95% Wald z interval, estimate ± quantile × SE (same fit as the p, random units "
            "item (54) x mask (5))")
    satt = wald.replace("Wald z", "Satterthwaite t")
    rows = [
        dict(base, role="record", test="item_glmm", estimate=-0.625331, scale="log-odds",
             conf_low=-1.532331, conf_high=0.281668, conf_method=wald, statistic=-1.351298,
             p_value=0.1766, p_method="Wald z (SE from the Hessian), two-sided",
             decision="not supported", reason="p = .177 > alpha 0.05"),
        dict(base, role="study", test="study", estimate=-8.024691, scale="points",
             statistic=-1.517751, df=107.000008, p_value=0.132026, unit="prompt (27)",
             p_method="Satterthwaite t, two-sided", decision="not supported",
             reason="p = .132 > alpha 0.05; the fit was singular"),
        dict(base, role="supporting", test="record", estimate=-8.024691, scale="points",
             statistic=-0.989181, df=1.438078, p_value=0.459618, unit="mask (5)",
             p_method="Satterthwaite t, two-sided", decision="not supported",
             reason="p = .460 > alpha 0.05"),
        dict(base, role="supporting", test="item_glmm_equal", estimate=-0.641347,
             scale="log-odds", conf_low=-1.495283, conf_high=0.212589, conf_method=wald,
             statistic=-1.472028, p_value=0.141013, p_method="Wald z (SE), two-sided",
             decision="not supported", reason="p = .141 > alpha 0.05"),
        dict(base, role="supporting", test="item_lmm", estimate=-0.178081, scale="margin",
             conf_low=-0.727290, conf_high=0.371129, conf_method=satt, statistic=-1.149656,
             df=2.528897, p_value=0.347332, p_method="Satterthwaite t, two-sided",
             decision="not supported", reason="p = .347 > alpha 0.05"),
        dict(base, role="supporting", test="item_lmm_equal", decision="failed",
             reason="the fit failed: singular Hessian"),
        dict(base, role="supporting", test="attribute_vs_null_bh", estimate=0.0, scale="count",
             source_table="attribute_vs_null", p_value=0.05, p_floor=0.05, unit="mask (3)",
             p_method="smallest BH q over attributes x k", decision="too coarse to decide",
             reason="the smallest attainable p (.05) is not below alpha"),
        dict(base, role="supporting", test="item_glmm", k=1152, headline=False,
             estimate=-0.3, scale="log-odds", p_value=0.5, p_method="Wald z"),
        dict(base, role="record", task="binary", estimate=0.9, scale="log-odds",
             test="item_glmm", p_value=0.01, p_method="Wald z"),
    ]
    out = pd.DataFrame([report_fixtures.claim_row(**r) for r in rows],
                       columns=report_fixtures.CLAIM_COLUMNS)
    out["k"] = pd.array([int(x) for x in out["k"]], dtype="Int64")
    out["headline"] = out["headline"].astype(bool)
    return out


def test_manipulation_tests_are_a_table_built_from_the_claims_rows(tmp_path):
    # issue 25: the manipulation section printed its six supporting tests as one paragraph of
    # nested parentheses; now one row per claims row, the cells the rows' own values
    claims = findings.claims_of(write_run(tmp_path / "m", masking_claims()))
    t = findings.tests_table(claims, "masking", "choice")
    assert list(t.columns) == ["Test", "Role", "Estimate", "95% CI", "Interval", "Statistic",
                               "p", "Unit"]
    # record first, then the others of the same task and k in the claims table's order; the
    # failed row (no estimate, no p) left out; the other k and the other task not there
    assert list(t["Test"]) == [
        "item-level logistic mixed model", "concept/prompt linear mixed model",
        "mask-level linear mixed model", "item-level logistic mixed model, one mask variance",
        "item-level linear mixed model of the margin",
        "attribute masks against the random-mask population, BH"]
    assert list(t["Role"]) == ["record", "study's"] + ["supporting"] * 4
    rows = claims[(claims["task"] == "choice") & (claims["k"] == 2304)].set_index("test")
    equal = t.set_index("Test").loc["item-level logistic mixed model, one mask variance"]
    src = rows.loc["item_glmm_equal"]
    assert equal["Estimate"] == f"{src['estimate']:.2f} log-odds" == "-0.64 log-odds"
    assert equal["95% CI"] == f"[{src['conf_low']:.2f}, {src['conf_high']:.2f}]"
    assert equal["Interval"] == "Wald z" and equal["Statistic"] == "z = -1.47"
    assert equal["p"] == f"{src['p_value']:.3f}".lstrip("0") and equal["Unit"] == (
        "item (54) × mask (5)")
    margin = t.set_index("Test").loc["item-level linear mixed model of the margin"]
    assert (margin["Estimate"], margin["Interval"], margin["Statistic"]) == (
        "-0.178 margin", "Satterthwaite t", "t(2.53) = -1.15")
    # no interval in the row: a dash, never NA; a permutation-free count without statistic
    study = t.set_index("Test").loc["concept/prompt linear mixed model"]
    assert (study["95% CI"], study["Interval"], study["Statistic"]) == ("–", "–",
                                                                         "t(107.00) = -1.52")
    coarse = t.iloc[-1]
    assert coarse["Estimate"] == "count 0" and coarse["Statistic"] == "–"
    assert coarse["p"] == ".050 (too coarse to decide)"
    cells = " ".join(t.astype(str).values.ravel())
    assert "NA" not in cells.split() and "nan" not in cells and "_" not in cells
    # the prose keeps only the finding of record (and why a row could not decide)
    s = findings.claim_finding(claims, "masking", "choice")
    assert s.startswith("**Not supported (choice task, k = 2,304):**")
    assert "Supporting test" not in s and "concept/prompt" not in s
    assert s.endswith("Too coarse to decide, attribute masks against the random-mask "
                      "population, BH: the smallest attainable p (.05) is not below alpha.")
    # as a pipe table: one line per row under the header and its rule
    md = str(tables.pipe_table(t, widths=findings.TEST_WIDTHS))
    assert len(md.strip().splitlines()) == 2 + len(t)
    assert findings.tests_table(None, "masking").empty
    assert findings.tests_table(claims, "neurons").empty


def test_manipulation_section_renders_the_tests_table_not_the_paragraph():
    from emostat.paths import REPORTS_DIR

    qmd = (REPORTS_DIR / "_manipulation.qmd").read_text(encoding="utf-8")
    assert 'claim("masking", "tbl-masking-tests")' in qmd
    assert 'claim_tests("masking")' in qmd and "#| label: tbl-masking-tests" in qmd


def test_no_section_writes_a_claim_as_a_paragraph_of_supporting_sentences():
    # every claim a report states reads as its finding and, where it has several tests, a
    # table of them (labelled, captioned, referenced from the finding): no section calls the
    # paragraph of "Supporting test, ..." sentences any more
    from emostat.paths import REPORTS_DIR

    text = {p.name: p.read_text(encoding="utf-8") for p in REPORTS_DIR.glob("*.qmd")}
    every = "\n".join(text.values())
    assert "claim_paragraph" not in every and "study_sentence" not in every
    calls = re.findall(r'\("(\w+)", "(tbl-[\w-]+)"', every)   # claim(n, l) or (n, l)
    assert {c for c, _ in calls} >= {"neurons", "whole_model", "importance", "masking",
                                     "knowledge", "layer_rsa", "pc_attribute", "probe",
                                     "steering"}
    for name, label in calls:
        if label == "tbl-link":          # the link's table: every test at every k
            continue
        chunk = re.search(rf"#\| label: {label}\n#\| tbl-cap: \"([^\"]+)\"\n(.*?)```",
                          every, re.S)
        assert chunk, label
        assert f'claim_tests("{name}")' in chunk.group(2)
        assert "Estimate:" in chunk.group(1) and "Unit" in chunk.group(1)
    for report in ("experiment.qmd", "reproduction.qmd"):    # labels unique in a report
        whole = re.sub(r"\{\{< include (\S+) >\}\}", lambda m: text[m.group(1)],
                       text[report])
        labels = re.findall(r"#\| label: (tbl-[\w-]+)", whole)
        assert len(labels) == len(set(labels)), report


def other_claims():
    """Rows of the neurons, whole-model and layer RSA claims as a quick run writes them."""
    perm = dict(p_floor=1 / 797, unit="concept label (27)", alpha=0.05, headline=True,
                n_perm=796, p_method="Westfall-Young max-T over concept-label permutations")
    jack = ("concept jackknife: concepts as a U-statistic of their pairs (leave-one-out and "
            "all 351 leave-two-out sets), every rater kept; estimate +- t(Satterthwaite df) x SE")
    coarse = "the Monte-Carlo 95% interval of p [0, 0.06473] contains alpha (0.05)"
    rows = [
        dict(perm, claim="neurons", role="record", test="max_t_joint", estimate=5.0,
             scale="count", p_value=1 / 797, decision="supported", reason="5 of 14; ok"),
        dict(perm, claim="neurons", role="supporting", test="max_t_holm", estimate=4.0,
             scale="count", p_value=0.0175659, p_floor=0.0175659, p_mc_low=0.0,
             p_mc_high=0.06473, decision="too coarse to decide", reason=coarse),
        dict(perm, claim="neurons", role="supporting", test="max_t_minp", estimate=4.0,
             scale="count", p_value=0.0125470, p_floor=0.0125470, decision="supported",
             reason="4 of 14"),
        dict(perm, claim="neurons", role="supporting", test="count_null_selective_holm",
             estimate=2.0, scale="count", p_value=0.0175659, p_floor=0.0175659,
             decision="too coarse to decide", reason=coarse),
        dict(perm, claim="neurons", role="study", test="study_fdr", estimate=43196.0,
             scale="count", p_value=5.8e-57, p_floor=0.0, unit="pair (645120 tests)",
             p_method="the study's q", decision="supported", reason="43196 pairs"),
        dict(perm, claim="whole_model", role="record", test="rsa_rho_a_mean_rdm_permutation",
             estimate=0.225584, scale="rho", conf_low=0.054626, conf_high=0.396542,
             conf_method=jack, p_value=9.999e-05, p_floor=9.999e-05,
             p_method="concept-label permutation of each model RDM, one-sided (greater)",
             decision="supported", reason="ok"),
        dict(perm, claim="whole_model", role="study", test="rsa_tau_b_mean_rdm_permutation",
             estimate=0.151491, scale="tau", conf_low=0.035293, conf_high=0.267689,
             conf_method=jack, p_value=9.999e-05, p_floor=9.999e-05,
             p_method="concept-label permutation of each model RDM, one-sided (greater)",
             decision="supported", reason="ok"),
        dict(perm, claim="whole_model", role="supporting", test="mantel", estimate=0.151491,
             scale="tau", p_value=1.9998e-04, p_floor=9.999e-05, decision="supported",
             p_method="Mantel: concept-label permutation of the model RDM", reason="ok"),
        dict(perm, claim="layer_rsa", role="record", test="max_over_layers", estimate=0.048994,
             scale="rho", conf_low=-0.14451, conf_high=1.0, statistic=0.048994,
             conf_method="one-sided 95% lower bound, simultaneous over 30 layers: Fisher z "
                         "under the concept-label permutations",
             p_value=0.499, p_floor=0.001, p_method="max over 30 layers of the Mantel "
             "Spearman rho, one-sided, 999 concept-label permutations",
             decision="not supported", reason="p = .499 > alpha 0.05"),
        dict(perm, claim="layer_rsa", role="supporting", test="max_over_layers_holm",
             estimate=0.0, scale="count", p_value=0.294, p_floor=0.014,
             decision="not supported", reason="p = .294 > alpha 0.05"),
        dict(perm, claim="steering", role="record", test="steering_specificity",
             estimate=0.40062, scale="delta_logp", conf_low=-0.04949, conf_high=0.85073,
             conf_method="95% Satterthwaite t interval, estimate ± quantile × SE (same fit "
                         "as the p, random units item (6) x concept (27))", statistic=1.8295,
             df=25.999996, p_value=0.0788, p_floor=0.0, unit="item (6) x concept (27)",
             p_method="Satterthwaite t, two-sided", decision="not supported",
             reason="p = .079 > alpha 0.05"),
    ]
    out = pd.DataFrame([report_fixtures.claim_row(**r) for r in rows],
                       columns=report_fixtures.CLAIM_COLUMNS)
    out["headline"] = out["headline"].astype(bool)
    return out


def test_every_claim_with_several_tests_is_a_table_of_its_claims_rows(tmp_path):
    # issue 25: the neuron, whole-model and geometry claims printed their supporting tests as
    # "Supporting test, ..." sentences; now the tests table of the manipulation section
    claims = findings.claims_of(write_run(tmp_path / "o", other_claims()))
    src = claims.set_index(["claim", "test"])

    neurons = findings.shown_tests(claims, "neurons")
    # a count has no interval and a permutation p no statistic: those columns are left out
    # rather than shown as dashes
    assert list(neurons.columns) == ["Test", "Role", "Estimate", "p", "Unit"]
    assert list(neurons["Test"]) == [
        "max-T over all neurons × attributes", "max-T per attribute, Holm",
        "min-P over attributes", "count of selective neurons against relabelled concepts, Holm",
        "the study's q over neuron × attribute tests"]
    assert list(neurons["Role"]) == ["record"] + ["supporting"] * 3 + ["study's"]
    row = neurons.set_index("Test")
    study = src.loc[("neurons", "study_fdr")]
    assert row.loc["the study's q over neuron × attribute tests", "Estimate"] == (
        f"count {int(study['estimate']):,}") == "count 43,196"
    assert row.loc["the study's q over neuron × attribute tests", "Unit"] == study["unit"]
    minp = src.loc[("neurons", "max_t_minp")]
    assert row.loc["min-P over attributes", "p"] == f"{minp['p_value']:.3f}".lstrip("0")
    assert row.loc["max-T per attribute, Holm", "p"] == ".018 (too coarse to decide)"
    assert row.loc["max-T over all neurons × attributes", "p"] == ".0013"   # at its floor

    whole = findings.shown_tests(claims, "whole_model").set_index("Test")
    assert list(whole.columns) == ["Role", "Estimate", "95% CI", "Interval", "p", "Unit"]
    rec = src.loc[("whole_model", "rsa_rho_a_mean_rdm_permutation")]
    cell = whole.loc["RSA, Spearman ρa with the mean RDM, concept-label permutation"]
    assert cell["Estimate"] == f"ρ = {rec['estimate']:.3f}".replace("0.", ".")
    assert cell["95% CI"] == (f"[{rec['conf_low']:.3f}, {rec['conf_high']:.3f}]"
                              .replace("0.", "."))
    assert cell["Interval"] == "concept jackknife" and cell["Role"] == "record"
    mantel = whole.loc["Mantel test over concept labels"]
    assert (mantel["Estimate"], mantel["95% CI"], mantel["Interval"]) == ("τ = .151", "–", "–")

    layer = findings.shown_tests(claims, "layer_rsa").set_index("Test")
    assert layer.loc["maximum over layers", "Estimate"] == "ρ = .049"
    assert layer.loc["each attribute's maximum over layers, Holm", "Estimate"] == "count 0"
    assert layer.loc["maximum over layers", "Interval"] == "one-sided 95% lower bound"

    # one test: its sentence, no table and no reference to one
    assert findings.shown_tests(claims, "steering").empty
    s = findings.claim_lead(claims, "steering", label="tbl-steering-tests")
    assert "@tbl" not in s and "Δ log p = 0.401, 95% CI [-0.049, 0.851]" in s
    assert "delta_logp" not in s
    # several: the finding of record, one sentence for the tests too coarse, the reference
    s = findings.claim_lead(claims, "neurons", label="tbl-neuron-tests")
    assert s.startswith("**Supported:**") and s.endswith("Every test of the claim: "
                                                          "@tbl-neuron-tests.")
    assert "Supporting test" not in s and s.count("Too coarse to decide") == 1
    assert "max-T per attribute, Holm; count of selective neurons" in s
    for t in (neurons, whole, layer):
        cells = " ".join(t.astype(str).values.ravel())
        assert "NA" not in cells.split() and "nan" not in cells and "_" not in cells
