"""Issue 25 item 4, the reader's stumbles: one APA sentence per claim (no method details, no
decision arithmetic), p never printed below its floor, prose test names with their role and
the headline k in the link table; the console's claim block in the same words. Fast: the
text-producing functions are called on claims rows whose reasons come from the package's own
decision rule (:func:`emostat.analysis.claims.decision.decide`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from emostat import format as fmt
from emostat.analysis.claims.decision import decide
from emostat.console.headline import headline
from emostat.report import findings, tables

sys.path.insert(0, str(Path(__file__).parent))
import report_fixtures  # noqa: E402

FLOOR = 1 / 750          # 749 permutations: the smallest attainable p is 1/750 = .001333


def link_row(p=0.043, estimate=0.53, role="record", test="attribute_level_r_pooled", k=4000,
             headline_=True, p_floor=FLOOR, statistic=1.98, df=12.0):
    """A link claims row with the decide() reason the analysis stores."""
    decision, reason = decide(p, alpha=0.05, p_floor=p_floor, in_direction=estimate > 0)
    return report_fixtures.claim_row(
        claim="link", task=None, k=k, role=role, test=test, source_table="importance_link",
        estimate=estimate, scale="r", conf_low=0.04, conf_high=0.82,
        conf_method="Fisher z over 14 attributes (scipy pearsonr)", statistic=statistic,
        df=df, p_value=p, p_method="Pearson r of the attributes' mean drop with importance; "
        "attribute-label permutation, two-sided", unit="attribute (14)", p_floor=p_floor,
        n_perm=749, alpha=0.05, headline=headline_, decision=decision,
        reason=reason)


def frame(*rows) -> pd.DataFrame:
    out = pd.DataFrame(list(rows), columns=report_fixtures.CLAIM_COLUMNS)
    out["k"] = pd.array([None if pd.isna(x) else int(x) for x in out["k"]], dtype="Int64")
    out["headline"] = out["headline"].astype(bool)
    return out


def test_claim_sentence_is_one_apa_sentence_without_method_or_arithmetic():
    row = pd.Series(link_row())
    # the analysis stores the arithmetic (decide's audit trail) ...
    assert "p = .043 <= alpha 0.05, in the claimed direction" in row["reason"]
    s = findings.claim_sentence(row)
    # ... the reader gets the decision, the claim and r, CI, p in APA form, nothing else
    assert s == ("**Supported (k = 4,000):** concepts lose more accuracy when the masked "
                 "neurons track attributes that matter more to humans — r = .530, 95% CI "
                 "[.040, .820], p = .043.")
    # the p is a permutation p: the t (12 df) of the same r is not printed beside it
    assert "t(12)" not in s and "alpha" not in s and "scipy" not in s and "<=" not in s


def test_not_supported_says_nothing_but_the_numbers_and_against_direction_is_said():
    plain = findings.claim_sentence(pd.Series(link_row(p=0.244)))
    assert plain.endswith(" — r = .530, 95% CI [.040, .820], p = .244.")
    assert "> alpha" not in plain and "alpha 0.05" not in plain
    against = findings.claim_sentence(pd.Series(link_row(p=0.01, estimate=-0.53)))
    assert against.startswith("**Not supported (k = 4,000):**")
    assert against.endswith("p = .010. The estimate is against the claimed direction.")


def test_too_coarse_keeps_its_reason():
    # 15 permutations: floor 1/16 = .0625 (decide: "the smallest attainable p (.062) ...")
    row = pd.Series(link_row(p=0.0625, p_floor=0.0625))
    s = findings.claim_sentence(row)
    assert s.startswith("**Too coarse to decide (k = 4,000):**")
    assert s.endswith("p = .062. The smallest attainable p (.062) is above alpha (0.05): the "
                      "test cannot "
                      "reject at this level.")


def test_p_is_never_printed_below_its_floor():
    # p = 1/750 = .001333 at 3 decimals prints ".001", below the floor .0013 it sits on
    assert fmt.fmt_p(FLOOR) == "p = .001"
    assert fmt.fmt_p_floor(FLOOR, FLOOR, 0.05) == "p = .0013"
    assert fmt.fmt_p_floor(0.00134, FLOOR, None, name=None) == ".0013"
    assert fmt.fmt_p_floor(0.0002, 1 / 10001) == "p < .001"     # floor .0001: "< .001" holds
    assert fmt.fmt_p_floor(0.244, FLOOR, 0.05) == "p = .244"     # far from the floor: as APA
    assert fmt.fmt_p_floor(0.049995, FLOOR, 0.05) == "p = .04999"  # never onto alpha
    row = pd.Series(link_row(p=FLOOR))
    assert findings.test_part(row) == "p = .0013"
    assert findings.claims_table(frame(link_row(p=FLOOR)))["p"].iloc[0] == ".0013"
    assert "p = .0013" in headline(frame(link_row(p=FLOOR)))


def test_console_block_has_the_report_wording_and_no_record_label_on_a_supporting_row():
    sup = link_row(p=0.3, role="supporting", test="record", headline_=True)
    sup.update(claim="link")
    text = headline(frame(link_row(), sup))
    lines = text.splitlines()
    assert lines[1].startswith("1. ") and lines[1].endswith(": supported")
    assert lines[2] == ("   of record, attribute-level r (pooled random masks): r = .530, "
                        "95% CI [.040, .820], p = .043")
    # the mixed model named "record" of a supporting row is named in prose, never "record"
    assert lines[3].startswith("   supporting, mask-level linear mixed model: ")
    assert "supporting  record" not in text and "alpha 0.05" not in text and "<=" not in text
    assert "scipy" not in text and len(lines) == 4           # no "=> supported: p <= alpha"
    against = headline(frame(link_row(p=0.01, estimate=-0.53)))
    assert against.splitlines()[-1] == "   => The estimate is against the claimed direction."


def test_link_table_names_tests_in_prose_marks_record_and_headline_and_labels_statistics():
    link = pd.DataFrame([
        dict(k=k, test=t, role=r, estimate=.5, conf_low=.1, conf_high=.8, statistic=s, df=df,
             p_value=p, p_floor=f, p_method=m)
        for k in (2000, 4000)
        for t, r, s, df, p, f, m in (
            ("study_t", "study", 2.5, 26.0, .019, np.nan, "one-sample t of the concepts' "
             "Fisher-z r against 0, two-sided"),
            ("attribute_permutation_pooled", "extra", 0.31, np.nan, .2, FLOOR,
             "attribute-label permutation of importance of the mean Fisher-z r"),
            ("attribute_level_r_pooled", "record", 2.1, 12.0, FLOOR, FLOOR,
             "Pearson r; attribute-label permutation"))])
    claims = frame(
        *[link_row(k=k, test="attribute_level_r_pooled", role=role, headline_=k == 4000)
          for k, role in ((2000, "supporting"), (4000, "record"))],
        *[link_row(k=k, test=t, role=role, headline_=k == 4000)
          for k in (2000, 4000)
          for t, role in (("study_t", "study"), ("attribute_permutation_pooled", "supporting"))])
    md = str(tables.link_table(link, claims))
    assert "_" not in md                                     # no machine names
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()
            if line.startswith("|") and "---" not in line]
    assert rows[0] == ["k", "Test", "Role", "r", "95% CI", "Statistic", "p"]
    body = {(r[0], r[1]): r for r in rows[1:]}
    rec = body[("4,000 (headline)", "attribute-level r (pooled random masks)")]
    # its p is the permutation p of r: the t of r (another p) is not its statistic
    assert rec[2] == "of record" and rec[5] == "–" and rec[6] == ".0013"
    assert body[("2,000", "attribute-level r (pooled random masks)")][2] == "supporting"
    assert body[("2,000", "t over concepts")][2:] == ["the study's", ".500", "[.100, .800]",
                                                     "t(26) = 2.50", ".019"]
    perm = body[("4,000 (headline)", "mean Fisher z over concepts, attribute permutation "
                                     "(pooled random masks)")]
    assert perm[5] == "mean z = 0.31" and perm[2] == "supporting"


def test_summary_states_every_claim_of_record_from_the_claims_table():
    # issue 25: page 1 stated masking and link; neurons and importance only in Table 1
    def rec(claim, scale="count", task=None, k=None, p=0.001, est=3.0):
        r = link_row(p=p, estimate=est, k=k, headline_=True)
        r.update(claim=claim, task=task, scale=scale, conf_low=None, conf_high=None)
        return r
    claims = frame(rec("neurons"), rec("importance"), rec("above_chance", "proportion",
                                                           "choice", est=0.8),
                   rec("masking", "points", "choice", 4000), rec("link", "r", "choice", 4000,
                                                                 est=.4),
                   rec("knowledge", "log-odds", "choice", 4000, est=.2),
                   rec("layer_rsa", "r", est=.3), link_row(role="study"))
    said = findings.summary_sentences(claims, "choice", skip=("above_chance",))
    names = ("neurons", "importance", "masking", "link", "knowledge", "layer_rsa")
    assert len(said) == len(names)
    assert all(s.split(":** ")[1].startswith(findings.STATEMENTS[c]) for s, c in zip(said, names))
    assert all(s.startswith("**Supported") for s in said)


def test_table_note_keeps_formulas_literal_in_markdown():
    # issue 25: "(1 + #{|T*| >= |T|})" in a p_method lost its stars to italics in the note
    row = link_row(p=0.01)
    row["p_method"] = "Mantel, (1 + #{|T*| >= |T|}) / (1 + n_perm), tau*"
    note = findings.claims_note(frame(row))
    assert r"(1 + #{\|T\*\| >= \|T\|}) / (1 + n\_perm), tau\*" in note
    assert findings.literal("a*b_c|d") == r"a\*b\_c\|d"


def test_templates_name_their_placeholder_plainly():
    # issue 25: templates printed as "{concept}" (a format string, unfilled, to a reader)
    from emostat.report import method

    out = method.settings_list({}, {"templates": {"t1": "I feel joy today.",
                                                  "t2": "Someone feels {concept}."}},
                               first_concept="joy")
    assert "t1: “I feel [concept] today.”" in out and "t2: “Someone feels [concept].”" in out
    assert "{" not in out and "the concept's word shown as [concept]" in out


def test_another_language_names_concepts_by_their_word_and_no_fixed_attribute():
    # issue 25: a Spanish space's baseline sentence and PCA map showed ids ("alegria") and the
    # RSA panel highlighted a fixed "valence" the space does not have
    from emostat.report import geometry, text

    words = {"alegria": "alegría", "tristeza": "tristeza"}
    base = pd.DataFrame({"task": "choice", "concept": ["alegria", "tristeza"],
                         "estimate": [.9, .4]})
    s = text.baseline_sentence(base, words)
    assert "best alegría 90.0%" in s and "alegria" not in s
    scores = pd.DataFrame({"layer": 0, "concept": ["alegria", "tristeza"], "PC1": [1, -1],
                           "PC2": [0, 1], "explained1": .6, "explained2": .3})
    fig = geometry.pca_map(scores, None, 0, words)
    assert [t.get_text() for t in fig.axes[0].texts] == ["alegría", "tristeza"]
    # the RSA panel highlights the space's own attribute with the smallest p, and similarity
    rsa = pd.DataFrame({"test": "layer_mantel", "role": ["record", "record", "record", "extra"],
                        "attribute": ["valencia", "dominancia", "similarity", "valencia"],
                        "p_value": [1.0, .2, .01, .001], "layer": 0, "depth": 0.0,
                        "estimate": [.1, .2, .3, .4]})
    assert geometry.highlighted(rsa) == ("dominancia", "similarity")
    fig = geometry.layer_profiles(rsa, None)
    drawn = [ln.get_label() for ln in fig.axes[0].lines if not ln.get_label().startswith("_")]
    assert drawn == ["dominancia", "similarity"]         # the lines given a label: highlighted


def test_resampling_counts_come_from_one_source():
    # issue 25: the provenance said 2,000 bootstrap resamples where the Method said 10,000;
    # the Method states the tables' own counts, and the provenance summary states none
    from emostat.report import method

    out = method.settings_list({"n_boot": 1000, "n_perm": 1000}, {},
                               counts={"n_boot": {2000: ["rsa_evaluation"]},
                                       "n_perm": {10000: ["neuron_mantel"]}})
    assert "Bootstrap resamples: 2,000 (rsa_evaluation)" in out
    assert "Permutations: 10,000 (neuron_mantel)" in out and "1,000" not in out
    prov = method.provenance_summary({"n_boot": 1000, "n_perm": 1000, "seed": 1})
    assert not prov["Value"].str.contains("1000|1,000").any()


def test_results_tables_print_p_at_the_floor_of_its_row():
    d = pd.DataFrame({"attribute": ["a", "b"], "p_value": [FLOOR, 0.3], "p_floor": FLOOR})
    md = str(tables.apa_table(d, ["attribute", "p_value"]))
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in md.splitlines()
             if ln.startswith("|") and "---" not in ln]
    assert cells[1:] == [["a", ".0013"], ["b", ".300"]]       # not ".001", below its floor


def test_a_supporting_row_with_the_records_numbers_is_named_not_printed_again():
    # issue 25: the one-variance GLMM, identical to the record when the random-mask variance
    # is zero, was printed again with the same numbers
    rec = link_row(p=0.02)
    rec.update(claim="masking", test="item_glmm", scale="log-odds", estimate=0.2,
               conf_low=-0.1, conf_high=0.5, statistic=1.3, df=None, p_method="Wald z")
    twin = dict(rec, role="supporting", test="item_glmm_equal", decision="supported")
    other = dict(rec, role="supporting", test="item_lmm", estimate=0.5, scale="points")
    para = findings.claim_paragraph(frame(rec, twin, other), "masking", k=4000)
    assert para.count("95% CI [-0.10, 0.50]") == 1                 # the record's, once
    assert para.endswith("Same numbers as the test of record: item-level logistic mixed "
                         "model, one mask variance.")
    assert "Supporting test, item-level linear mixed model of the margin: 0.5" in para


def test_rsa_and_min_p_tests_have_prose_names():
    # the names rsasteps writes (rsa_{comparator}_{estimand}_{inference}) and the min-P row
    from emostat.analysis.claims.words import test_name

    assert test_name("rsa_rho_a_per_rater_both") == (
        "RSA, Spearman ρa per rater, two-factor (raters and concepts)")
    assert test_name("rsa_tau_b_mean_rdm_permutation") == (
        "RSA, Kendall τb with the mean RDM, concept-label permutation")
    assert test_name("max_t_minp") == "min-P over attributes"
    assert "_" not in test_name("rsa_whitened_cosine_per_rater_both_schutt")


def test_console_names_the_steering_scale_in_words():
    # the console printed "0.333 (delta_logp)" for the steering claim's estimate
    from emostat.console.headline import effect_text

    row = {"estimate": 0.3331, "scale": "delta_logp", "conf_low": -0.164, "conf_high": 0.831}
    text = effect_text(row)
    assert text.startswith("change of log p = 0.333") and "delta_logp" not in text
    assert "95% CI [-0.164, 0.831]" in text


def test_mixed_models_are_listed_by_prose_name():
    # the list of mixed models read "record (supplementary)" for the mask-level LMM, whose id
    # is 'record' while the item GLMM is the test of record
    import pandas as pd

    from emostat.report.text import mixed_method

    mm = pd.DataFrame({"k": 2304, "model": ["study", "record", "item_glmm"],
                       "role": ["study", "extra", "record"],
                       "formula": ["accuracy ~ a + (1 | concept/prompt)", "accuracy ~ a",
                                   "correct ~ a + (1 | item)"],
                       "p_method": "Wald z"})
    text = str(mixed_method(mm, 2304))
    assert "**mask-level linear mixed model** (supplementary)" in text
    assert "**item-level logistic mixed model** (the test of record)" in text
    assert "**concept/prompt linear mixed model** (the study's model)" in text
    assert "**record**" not in text
