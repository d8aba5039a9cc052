"""Knowledge or answer bias (emostat.analysis.masking.bias, biastest; issue 15 item 9), on synthetic
inference tables whose answers are known by construction. The run's decisions are made by the
collection's own code (emostat.collect.stages.decide_rows with offsets from the unmanipulated
condition); the references are that code refitted on one condition, brute-force counts and
scipy's t-tests."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emostat.analysis.masking.bias import (answer_bias, answer_shares, bias_knowledge, bias_summary,
                                   bias_tables, recalibrate)
from emostat.analysis.masking.biastest import bias_study_test, exact_limit
from emostat.collect.calibration import calibration_table, decide
from emostat.collect.stages import decide_rows
from emostat.errors import InputError

CONCEPTS = ["calm", "fear", "joy", "anger"]       # a small space of its own (not the study's)


def _choice_run(masks, n_per=10, n_folds=2, cal_folds=3, seed=0, knowledge=2.0):
    """Choice rows: every item's scores = prior + ``knowledge`` on its own concept + noise.
    ``masks``: {condition_id: (condition, attribute, draw, transform)}; transform(scores,
    label index) -> masked scores. Decided with offsets from condition none, as collected."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CONCEPTS)), n_per)
    n = len(labels)
    base = (np.array([0.5, -0.3, 0.2, 0.0]) + knowledge * np.eye(len(CONCEPTS))[labels]
            + rng.normal(0, 1.0, (n, len(CONCEPTS))))
    noise = {cid: rng.normal(0, 0.05, base.shape) for cid in masks}
    parts = []
    for cid, (cond, attr, draw, f) in {"none": ("none", None, None, None), **masks}.items():
        s = base if f is None else f(base, labels) + noise[cid]
        parts.append(pd.DataFrame({
            "model": "toy", "task": "choice", "item_id": [f"i{i:03d}" for i in range(n)],
            "stimulus_id": [f"s{i}" for i in range(n)],
            "concept": [CONCEPTS[j] for j in labels], "fold": np.arange(n) % n_folds,
            "condition_id": cid, "condition": cond, "attribute": attr,
            "k": None if cond == "none" else 5, "draw": draw,
            "label": [CONCEPTS[j] for j in labels], "logprobs": list(s),
            "prediction_raw": [CONCEPTS[j] for j in s.argmax(axis=1)],
            "cal_fold": (np.arange(n) // n_folds) % cal_folds}))
    df = pd.concat(parts, ignore_index=True)
    df["k"] = df["k"].astype("Int64")
    df["draw"] = df["draw"].astype("Int64")
    cal = calibration_table(df[df["condition"] == "none"], folds=True, candidates=CONCEPTS)
    return decide_rows(df, cal, CONCEPTS)


def _shift(j, c):          # add c to candidate j's log-prob in every item: a pure prior shift
    def f(s, labels):
        out = s.copy()
        out[:, j] += c
        return out
    return f


def _forget(s, labels):    # remove the knowledge bonus: the right answer is no longer favoured
    out = s.copy()
    out[np.arange(len(s)), labels] -= 2.0
    return out


def _reference_recal(rows: pd.DataFrame) -> list:
    """The collection's calibration (emostat.collect.calibration) fitted on this condition's
    own rows (relabelled 'none'), cross-fitted over cal_fold: the independent reference."""
    as_none = rows.assign(condition="none")
    cal = calibration_table(as_none, folds=True, candidates=CONCEPTS)
    return decide("choice", list(rows["logprobs"]), list(rows["concept"]), cal,
                  rows["cal_fold"].to_numpy(), CONCEPTS)


PRIOR_MASKS = {"attr:a": ("attribute", "a", None, _shift(0, 3.0)),
               "attr:b": ("attribute", "b", None, _shift(0, 2.5)),
               **{f"rand:{d}": ("random", None, d, _shift(1, 0.0)) for d in range(3)}}


def test_pure_prior_shift_lowers_accuracy_but_not_the_prior_free_outcome():
    inf = _choice_run(PRIOR_MASKS)
    know = bias_knowledge(recalibrate(inf, CONCEPTS)).set_index("condition_id")
    none = inf[inf["condition"] == "none"]
    a = inf[inf["condition_id"] == "attr:a"]
    # the run's accuracy under the shift: a brute count of its stored decisions
    assert know.loc["attr:a", "accuracy"] == pytest.approx(a["correct"].mean())
    assert know.loc["attr:a", "drop"] == pytest.approx(none["correct"].mean()
                                                      - a["correct"].mean())
    assert know.loc["attr:a", "drop"] > 0.2          # +3 nats on "calm": many answers move
    # per-condition calibration absorbs the constant: identical to the baseline's decisions
    # (by construction; the 0.05-nat mask noise flips no argmax here, checked row by row)
    rec = recalibrate(inf, CONCEPTS)
    ra = rec[rec["condition_id"] == "attr:a"]
    assert list(ra["prediction_recal"]) == list(none["prediction"])
    assert know.loc["attr:a", "accuracy_recal"] == pytest.approx(none["correct"].mean())
    assert know.loc["attr:a", "drop_recal"] == pytest.approx(0.0)
    assert know.loc["attr:a", "drop_prior"] == pytest.approx(know.loc["attr:a", "drop"])
    # the none condition re-fitted on itself is the run's own calibration
    assert know.loc["none", "accuracy_recal"] == pytest.approx(none["correct"].mean())
    # reference: the collection's calibration code fitted on that condition alone
    for cid in ("attr:a", "attr:b", "rand:0"):
        rows = inf[inf["condition_id"] == cid]
        got = rec.loc[rows.index, "prediction_recal"].tolist()
        assert got == _reference_recal(rows), cid
    # margins: right minus best other under the re-fitted offsets (brute force for one row)
    r = ra.iloc[0]
    cal = calibration_table(a[a["cal_fold"] != r["cal_fold"]].assign(condition="none"),
                            candidates=CONCEPTS)
    adj = np.asarray(r["logprobs"]) - cal.set_index("concept").loc[CONCEPTS, "offset"].to_numpy()
    j = CONCEPTS.index(r["label"])
    assert r["margin_recal"] == pytest.approx(adj[j] - np.delete(adj, j).max())


def test_knowledge_loss_lowers_both_outcomes():
    masks = {"attr:a": ("attribute", "a", None, _forget),
             **{f"rand:{d}": ("random", None, d, _shift(1, 0.0)) for d in range(3)}}
    inf = _choice_run(masks, n_per=20)
    rec = recalibrate(inf, CONCEPTS)
    know = bias_knowledge(rec).set_index("condition_id")
    a = inf[inf["condition_id"] == "attr:a"]
    ref = np.mean(np.array(_reference_recal(a)) == a["label"].to_numpy())   # collect's code
    none_acc = inf.loc[inf["condition"] == "none", "correct"].mean()
    assert know.loc["attr:a", "accuracy_recal"] == pytest.approx(ref)
    assert know.loc["attr:a", "drop_recal"] == pytest.approx(none_acc - ref)
    assert know.loc["attr:a", "drop"] > 0.3 and know.loc["attr:a", "drop_recal"] > 0.3
    # the random masks changed nothing but 0.05-nat noise: no drop under either outcome
    assert abs(know.loc["rand:0", "drop"]) < 0.05 and abs(know.loc["rand:0", "drop_recal"]) < 0.05
    s = bias_summary(know.reset_index(), answer_bias(answer_shares(rec, CONCEPTS)))
    s = s.set_index("condition")
    assert s.loc["attribute", "drop_recal"] == pytest.approx(none_acc - ref)
    assert s.loc["random", "n_masks"] == 3


def test_binary_prior_shift_is_absorbed_by_the_per_condition_threshold():
    # yes-no margin = +1 (label yes) / -1 (no) + noise; the mask adds +2.5 to every margin of
    # "fear": under the unmanipulated thresholds fear's "no" items turn "yes"
    rng = np.random.default_rng(4)
    rows = []
    for cid, cond, shift in (("none", "none", 0.0), ("attr:a", "attribute", 2.5),
                             ("rand:0", "random", 0.0)):
        for e in CONCEPTS:
            for i in range(12):
                lab = "yes" if i % 2 == 0 else "no"
                m = (1.0 if lab == "yes" else -1.0) + 0.4 * np.sin(7 * i + len(e))
                m += shift if e == "fear" else 0.0
                rows.append(dict(model="toy", task="binary", item_id=f"{e}{i}",
                                 stimulus_id=f"{e}{i}", concept=e, fold=0, condition_id=cid,
                                 condition=cond, attribute="a" if cond == "attribute" else None,
                                 k=None if cond == "none" else 5,
                                 draw=0 if cond == "random" else None, label=lab,
                                 logprobs=[0.0, m + 0.01 * rng.normal()],
                                 prediction_raw="yes" if m > 0 else "no", cal_fold=i % 3))
    df = pd.DataFrame(rows)
    cal = calibration_table(df[df["condition"] == "none"], folds=True)
    inf = decide_rows(df, cal, CONCEPTS)
    know = bias_knowledge(recalibrate(inf, CONCEPTS)).set_index("condition_id")
    fear = inf[(inf["condition_id"] == "attr:a") & (inf["concept"] == "fear")]
    # brute count: under the baseline thresholds all 12 fear items answer "yes" (6 wrong)
    assert (fear["prediction"] == "yes").all()
    assert know.loc["attr:a", "drop"] == pytest.approx(6 / 48)
    assert know.loc["attr:a", "accuracy_recal"] == pytest.approx(know.loc["none", "accuracy"])


def test_answer_shares_and_summary_against_brute_counts():
    inf = _choice_run(PRIOR_MASKS)
    rec = recalibrate(inf, CONCEPTS)
    shares = answer_shares(rec, CONCEPTS)
    bias = answer_bias(shares)
    for (cid, dec), g in shares.groupby(["condition_id", "decision"]):
        rows = rec[rec["condition_id"] == cid]
        count = Counter(rows[dec])                       # brute count
        assert list(g["concept"]) == CONCEPTS            # every candidate, zeros kept
        assert g.set_index("concept")["n"].to_dict() == {c: count.get(c, 0) for c in CONCEPTS}
        assert g["share"].sum() == pytest.approx(1.0)
    ct = pd.crosstab(rec["condition_id"], rec["prediction"], normalize="index")
    b = bias[bias["decision"] == "prediction"].set_index("condition_id")
    none = ct.loc["none"].reindex(CONCEPTS, fill_value=0)
    for cid in ct.index:
        p = ct.loc[cid].reindex(CONCEPTS, fill_value=0)
        assert b.loc[cid, "top_concept"] == p.idxmax()
        assert b.loc[cid, "top_share"] == pytest.approx(p.max())
        assert b.loc[cid, "entropy_bits"] == pytest.approx(stats.entropy(p[p > 0], base=2))
        assert b.loc[cid, "tv_from_none"] == pytest.approx(0.5 * np.abs(p - none).sum())
    # the +3 shift on "calm" makes it the most frequent run's answer under attr:a
    assert b.loc["attr:a", "top_concept"] == "calm" and b.loc["none", "tv_from_none"] == 0
    # per-condition calibration gives back the unmanipulated answers
    rb = bias[bias["decision"] == "prediction_recal"].set_index("condition_id")
    assert rb.loc["attr:a", "tv_from_none"] == pytest.approx(0.0)


def test_study_concept_t_against_the_shared_pool_is_scipys_paired_t():
    masks = {"attr:a": ("attribute", "a", None, _forget),
             "attr:b": ("attribute", "b", None, _shift(0, 2.0)),
             "attr:c": ("attribute", "c", None, _shift(2, 1.0)),
             **{f"rand:{d}": ("random", None, d, _shift(d, 0.5 * d)) for d in range(4)}}
    inf = _choice_run(masks, n_per=12, n_folds=2)
    rec = recalibrate(inf, CONCEPTS)
    out = bias_study_test(rec, n_perm=999, seed=1)
    assert set(out["role"]) == {"study"} and out["p_method"].str.contains("same random").all()
    for outcome, col in (("accuracy", "correct"), ("accuracy_recal", "correct_recal")):
        # by hand: prompt = emotion x fold; pool = mean over the 4 draws per prompt
        acc = (rec.groupby(["concept", "fold", "condition_id"])[col].mean()
               .unstack("condition_id"))
        pool = acc[[f"rand:{d}" for d in range(4)]].mean(axis=1)
        row = out[(out["outcome"] == outcome) & (out["test"] == "study_concept_t")]
        row = row.set_index("concept")
        for e in CONCEPTS:
            rnd = np.concatenate([pool.loc[e].to_numpy()] * 3)       # repeated per attribute
            att = np.concatenate([acc.loc[e, a].to_numpy() for a in ("attr:a", "attr:b",
                                                                     "attr:c")])
            r = row.loc[e]
            assert r["n"] == 6 and r["unit"] == "attribute × prompt (6)"
            assert r["n_random_comparisons"] == 2                   # one per prompt
            assert r["estimate"] == pytest.approx(np.mean(rnd - att))
            if np.std(rnd - att) > 0:
                ref = stats.ttest_rel(rnd, att, alternative="greater")   # the study's t
                assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
                assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
                assert r["df"] == 5
            assert r["se_random_rows"] == pytest.approx(stats.sem(rnd))
            per_draw = acc.loc[e, [f"rand:{d}" for d in range(4)]].mean(axis=0)
            assert r["se_random_pool"] == pytest.approx(stats.sem(per_draw))
            # sign flips: 2^6 = 64 < 999 draws, so all 64 are enumerated
            d = rnd - att
            signs = np.array(list(itertools.product([1, -1], repeat=6)))
            assert r["p_value_perm"] == pytest.approx(
                np.mean(signs @ d >= d.sum() - 1e-12))
    cells = out[out["test"] == "study_cell_t"]
    assert set(cells["n"]) == {2} and cells["attribute"].notna().all()


def test_sign_flips_are_exact_whenever_the_orderings_are_fewer_than_the_draws():
    assert exact_limit(10_000) == 16 and exact_limit(2 ** 17) == 17
    assert exact_limit(2 ** 17 - 1) == 16
    # 17 attribute masks x 1 prompt: n = 17; 2^17 = 131,072 orderings <= 131,072 draws
    masks = {f"attr:{i}": ("attribute", f"a{i}", None, _shift(i % 4, 0.3 * i))
             for i in range(17)}
    masks.update({f"rand:{d}": ("random", None, d, _shift(1, 0.2 * d)) for d in range(2)})
    inf = _choice_run(masks, n_per=6, n_folds=1, cal_folds=2)
    out = bias_study_test(recalibrate(inf, CONCEPTS), n_perm=2 ** 17, seed=2)
    r = out[(out["outcome"] == "accuracy") & (out["test"] == "study_concept_t")].iloc[1]
    acc = inf[inf["concept"] == r["concept"]].groupby("condition_id")["correct"].mean()
    d = (acc[["rand:0", "rand:1"]].mean() - acc[[f"attr:{i}" for i in range(17)]]).to_numpy()
    signs = 1 - 2 * ((np.arange(2 ** 17)[:, None] >> np.arange(17)) & 1)
    exact = np.mean(signs @ d >= d.sum() - 1e-9)                 # all 2^17 sign vectors
    assert r["n"] == 17 and r["p_value_perm"] == pytest.approx(exact, rel=1e-12)
    assert "n <= 17" in r["p_method_perm"]


def test_bad_input_names_the_field():
    inf = _choice_run(PRIOR_MASKS)
    bad = inf.copy()
    bad.at[3, "logprobs"] = [0.0, 1.0]
    with pytest.raises(InputError, match="logprobs"):
        recalibrate(bad, CONCEPTS)
    bad = inf.assign(label=inf["label"].replace("joy", "bliss"))
    with pytest.raises(InputError, match="'label'"):
        recalibrate(bad, CONCEPTS)
    with pytest.raises(InputError, match="'prediction'"):
        answer_shares(recalibrate(inf, CONCEPTS).assign(prediction="bliss"), CONCEPTS)
    with pytest.raises(InputError, match="'condition'"):
        bias_knowledge(recalibrate(inf[inf["condition"] != "none"], CONCEPTS))
    # no score-decided rows or no raw scores: no tables, not an error
    assert bias_tables(inf.drop(columns="logprobs"), CONCEPTS) == {}


def test_report_view_reads_the_numbers_and_is_empty_without_tables():
    from emostat.report import bias as view

    assert view.bias_table(None) == "" and view.bias_sentence(None) == ""
    assert view.study_test_sentence(pd.DataFrame()) == ""
    inf = _choice_run(PRIOR_MASKS)
    t = bias_tables(inf, CONCEPTS, n_perm=99, seed=0)
    s = t["bias_summary"].set_index("condition")
    text = view.bias_sentence(t["bias_summary"], 5)
    # attribute masks: the run's drop in points, 0.0 under per-condition calibration
    assert (f"attribute masks lower accuracy by {100 * s.loc['attribute', 'drop']:.1f} points "
            "under the run's decisions and by 0.0 with each condition") in text
    st = t["bias_study_test"]
    n_sig = int((st[(st["test"] == "study_concept_t") & (st["outcome"] == "accuracy")]
                 ["p_value"] < .05).sum())
    assert f"finds {n_sig} of 4 concepts at p < .05 on the run's accuracy" in (
        view.study_test_sentence(st, 5))
    assert "| Attribute masks | 2 |" in view.bias_table(t["bias_summary"], 5)
