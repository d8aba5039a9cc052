"""Contextual calibration (emostat.collect.calibration): offsets and decisions on toys where the
right answers are known by construction."""

import numpy as np
import pandas as pd
import pytest

from emostat.collect.calibration import calibration_table as _table, decide as _decide
from emostat.constants import EMOTIONS
from emostat.errors import InputError


def calibration_table(*a, **k):       # the choice task is scored over the study's 27 emotions
    return _table(*a, candidates=list(EMOTIONS), **k)


def decide(*a, **k):
    return _decide(*a, candidates=list(EMOTIONS), **k)


def _rows(task, emotions, scores, condition="none"):
    return pd.DataFrame({"task": task, "concept": emotions, "condition": condition,
                         "logprobs": [list(map(float, s)) for s in scores]})


def test_choice_toy_raw_argmax_one_class_calibrated_right():
    # 27 classes x 5 items; every item's scores carry a prior that makes "joy" win by 10 nats,
    # and +1 for the true class; noise < 0.5. Raw argmax: always joy (1/27 right);
    # after subtracting each candidate's mean the true class wins on every item.
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(27), 5)
    prior = np.zeros(27)
    prior[EMOTIONS.index("joy")] = 10.0
    s = prior + np.eye(27)[labels] + rng.uniform(-0.25, 0.25, size=(len(labels), 27))
    emo = [EMOTIONS[i] for i in labels]
    cal = calibration_table(_rows("choice", emo, s))
    raw = decide("choice", s, emo, None)
    assert set(raw) == {"joy"}
    assert np.mean(np.array(raw) == np.array(emo)) == pytest.approx(1 / 27)
    assert decide("choice", s, emo, cal) == emo
    # the offsets are the column means (numpy), one per candidate in EMOTIONS order
    np.testing.assert_allclose(cal["offset"].to_numpy(), s.mean(axis=0))
    assert cal["concept"].tolist() == list(EMOTIONS) and (cal["n"] == 135).all()


def test_binary_toy_never_yes_raw_calibrated_right():
    # 2 emotions x balanced set of 6 (3 yes, 3 no); margin = -5 + 2*y + noise: never "yes" raw
    y = np.array([1, 1, 1, 0, 0, 0] * 2)
    emo = ["joy"] * 6 + ["fear"] * 6
    margin = -5 + 2 * y + np.array([0.1, 0.2, 0.3, 0.1, 0.2, 0.3] * 2)
    s = np.stack([np.zeros(12), margin], axis=1)
    cal = calibration_table(_rows("binary", emo, s))
    assert set(decide("binary", s, emo, None)) == {"no"}
    got = decide("binary", s, emo, cal)
    assert got == ["yes" if v else "no" for v in y]
    # the threshold is the median margin, between the highest "no" (-4.7) and the lowest
    # "yes" (-2.9): median of {-2.9,-2.8,-2.7,-4.9,-4.8,-4.7} = (-4.7 + -2.9) / 2 = -3.8
    assert cal.set_index("concept").loc["joy", "offset"] == pytest.approx(-3.8)


def test_offsets_ignore_manipulated_rows():
    s_none = np.array([[0.0, 1.0], [0.0, 3.0]])
    s_abl = np.array([[0.0, -50.0], [0.0, -40.0]])
    df = pd.concat([_rows("binary", ["joy"] * 2, s_none),
                    _rows("binary", ["joy"] * 2, s_abl, condition="attribute")])
    cal = calibration_table(df)
    assert cal["offset"].tolist() == [2.0] and cal["n"].tolist() == [2]
    # applied unchanged to the manipulated rows: both fall below the none threshold
    assert decide("binary", s_abl, ["joy"] * 2, cal) == ["no", "no"]


def test_errors():
    with pytest.raises(InputError, match="no row under condition 'none'"):
        calibration_table(_rows("binary", ["joy"], [[0.0, 1.0]], condition="random"))
    cal = calibration_table(_rows("binary", ["joy"], [[0.0, 1.0]]))
    with pytest.raises(InputError, match="fear"):
        decide("binary", [[0.0, 1.0]], ["fear"], cal)
    with pytest.raises(InputError, match="has 2 scores, expected 27"):
        calibration_table(_rows("choice", ["joy"], [[0.0, 1.0]]))


def test_cross_fitting_leaves_each_items_own_fold_out():
    # 27 classes x 10 items, 5 calibration folds. Perturbing the none-scores of the items of
    # fold 2 changes fold 2's own scores but not the offsets that decide fold 2 (fitted on
    # folds 0, 1, 3, 4): the decisions of fold 2 under another condition stay the same, and
    # the other folds' offsets move.
    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(27), 10)
    s = rng.normal(size=(len(labels), 27)) + 2.0 * np.eye(27)[labels]
    emo = [EMOTIONS[i] for i in labels]
    folds = np.arange(len(labels)) % 5
    rows = _rows("choice", emo, s).assign(cal_fold=folds)
    cal = calibration_table(rows, folds=True)
    assert sorted(set(cal["fold"])) == [0, 1, 2, 3, 4] and set(cal["n"]) == {216}
    # offsets of fold 2 = mean over the rows of the other folds (numpy by hand)
    np.testing.assert_allclose(cal[cal["fold"] == 2]["offset"], s[folds != 2].mean(0))
    bumped = s.copy()
    bumped[folds == 2] += rng.normal(scale=5.0, size=((folds == 2).sum(), 27))
    cal2 = calibration_table(_rows("choice", emo, bumped).assign(cal_fold=folds), folds=True)
    pd.testing.assert_frame_equal(cal[cal["fold"] == 2].reset_index(drop=True),
                                  cal2[cal2["fold"] == 2].reset_index(drop=True))
    assert not np.allclose(cal[cal["fold"] == 0]["offset"], cal2[cal2["fold"] == 0]["offset"])
    ablated = s[folds == 2] - 0.3                     # another condition's scores of fold 2
    f2 = folds[folds == 2]
    e2 = [e for e, f in zip(emo, folds) if f == 2]
    assert decide("choice", ablated, e2, cal, f2) == decide("choice", ablated, e2, cal2, f2)
    # in-sample offsets (the old scheme) do move with fold 2's own scores
    assert not np.allclose(calibration_table(rows)["offset"],
                           calibration_table(_rows("choice", emo, bumped))["offset"])
    with pytest.raises(InputError, match="calibration fold"):
        decide("choice", ablated, e2, cal)


def test_binary_cross_fitting_and_margins_by_hand():
    # one emotion, balanced set of 4 (yes, yes, no, no), 2 folds by position: fold 0 = rows
    # 0, 2; fold 1 = rows 1, 3. Margins yes-no: 3, 1, -1, 0.5.
    m = np.array([3.0, 1.0, -1.0, 0.5])
    rows = _rows("binary", ["joy"] * 4, np.stack([np.zeros(4), m], 1)).assign(
        cal_fold=[0, 1, 0, 1])
    cal = calibration_table(rows, folds=True).set_index("fold")
    # fold 0 decided by the median of rows 1 and 3: (1 + 0.5) / 2; fold 1 by rows 0, 2: 1
    assert cal.loc[0, "offset"] == pytest.approx(0.75) and cal.loc[1, "offset"] == 1.0
    lab = ["yes", "yes", "no", "no"]
    got = decide("binary", rows["logprobs"], ["joy"] * 4, cal.reset_index(), [0, 1, 0, 1])
    assert got == ["yes", "no", "no", "no"]
    from emostat.collect.calibration import margins

    mg = margins("binary", rows["logprobs"], ["joy"] * 4, lab, cal.reset_index(), [0, 1, 0, 1])
    np.testing.assert_allclose(mg, [3 - 0.75, 1 - 1, -(-1 - 0.75), -(0.5 - 1)])
    np.testing.assert_allclose(margins("binary", rows["logprobs"], ["joy"] * 4, lab, None),
                               [3, 1, 1, -0.5])


def test_choice_margin_is_right_minus_best_other():
    from emostat.collect.calibration import margins

    s = np.zeros((2, 27))
    s[0, [3, 5]] = [2.0, 1.5]                # label 3: right by 0.5
    s[1, [3, 5]] = [2.0, 1.5]                # label 5: wrong by 0.5
    lab = [EMOTIONS[3], EMOTIONS[5]]
    np.testing.assert_allclose(margins("choice", s, lab, lab, None, candidates=list(EMOTIONS)), [0.5, -0.5])
    cal = pd.DataFrame({"task": "choice", "fold": -1, "concept": list(EMOTIONS),
                        "offset": np.eye(27)[3] * 1.0, "n": 2, "method": "x"})
    np.testing.assert_allclose(margins("choice", s, lab, lab, cal, candidates=list(EMOTIONS)), [-0.5, 0.5])
