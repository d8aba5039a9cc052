"""Contextual calibration (emostat.collect.calibration): offsets and decisions on toys where the
right answers are known by construction."""

import numpy as np
import pandas as pd
import pytest

from emostat.collect.calibration import calibration_table, decide
from emostat.constants import EMOTIONS
from emostat.errors import InputError


def _rows(task, emotions, scores, condition="none"):
    return pd.DataFrame({"task": task, "emotion": emotions, "condition": condition,
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
    assert cal["emotion"].tolist() == list(EMOTIONS) and (cal["n"] == 135).all()


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
    assert cal.set_index("emotion").loc["joy", "offset"] == pytest.approx(-3.8)


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
    with pytest.raises(InputError, match="expected 27 logprobs"):
        calibration_table(_rows("choice", ["joy"], [[0.0, 1.0]]))
