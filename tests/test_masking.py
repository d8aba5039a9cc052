"""Tests of the masking reader (emostat.release.masking) and statistics (emostat.analysis.masking).

Reference numbers come from the study's released files (../shared/data/model-emotion) and from
docs/reference-values.md (recomputed from those files with the study's definitions); t-tests are
checked against scipy.stats.ttest_1samp and pingouin.
"""

import json

import numpy as np
import pandas as pd
import pytest

from emostat.constants import ATTRIBUTES, K_VALUES, OLD_ATTRIBUTE_KEYS
from emostat.errors import InputError
from emostat.paths import SHARED_RELEASE
from emostat.release.common import MASK_RANDOM_DIR, MASK_TOP_DIR
from emostat.release.masking import (check_base_accuracy, read_base_accuracy,
                                     read_masking_accuracy)

needs_release = pytest.mark.skipif(
    not (SHARED_RELEASE / "Result").is_dir(),
    reason=f"the study's released data is not at {SHARED_RELEASE} (see docs: shared data)")


@pytest.fixture(scope="module")
def accuracy():
    if not (SHARED_RELEASE / "Result").is_dir():
        pytest.skip(f"the study's released data is not at {SHARED_RELEASE}")
    return read_masking_accuracy(SHARED_RELEASE)


# ---- reader: real release ------------------------------------------------------------------

def test_reader_shape_and_values(accuracy):
    counts = accuracy["condition"].value_counts()
    assert counts["none"] == 324                      # 27 emotions x 12 seeds
    assert counts["attribute"] == 324 * 14 * 7        # keys <attr>_top<k>, 7 k
    assert counts["random"] == 324 * 14 * 9           # keys <attr>_random<k>, k 500..6000
    assert sorted(accuracy.loc[accuracy.condition == "random", "k"].unique()) == \
        [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000]
    none = accuracy[accuracy.condition == "none"]
    assert none["attribute"].isna().all() and none["k"].isna().all()
    assert (accuracy.loc[accuracy.condition == "random", "draw"] == 0).all()
    assert set(accuracy["attribute"].dropna()) == set(ATTRIBUTES)
    # values copied from admiration-1.json: "best", "arousal_top1500", "happy_random6000"
    a1 = accuracy[(accuracy.emotion == "admiration") & (accuracy.template == "1")]
    assert a1.loc[a1.condition == "none", "accuracy"].item() == 0.9010667204856873
    pick = a1[(a1.condition == "attribute") & (a1.attribute == "arousal") & (a1.k == 1500)]
    assert pick["accuracy"].item() == 0.9120526313781738
    pick = a1[(a1.condition == "random") & (a1.attribute == "happy-face") & (a1.k == 6000)]
    assert pick["accuracy"].item() == 0.7120526432991028


def test_base_accuracy_agrees_with_best(accuracy):
    base = read_base_accuracy(SHARED_RELEASE)
    assert len(base) == 324
    # accuracy.csv and the JSON "best" differ only in float printing (max 1.1e-16 here)
    assert check_base_accuracy(accuracy, base) < 1e-12


# ---- reader: bad input ----------------------------------------------------------------------

def _fake_release(tmp_path, top=None, rnd=None, name="joy-1.json"):
    (tmp_path / "Data").mkdir()
    td, rd = tmp_path / MASK_TOP_DIR, tmp_path / MASK_RANDOM_DIR
    td.mkdir(parents=True)
    rd.mkdir(parents=True)
    if top is None:
        top = {"sentiment": "joy", "seed": 1, "best": 0.9}
        top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    if rnd is None:
        rnd = {"sentiment": "joy", "seed": 1, "best": 0.9}
        rnd.update({f"{o}_random{k}": 0.7 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    (td / name).write_text(top if isinstance(top, str) else json.dumps(top))
    (rd / name).write_text(rnd if isinstance(rnd, str) else json.dumps(rnd))
    return tmp_path


def test_reader_fake_release_ok(tmp_path):
    df = read_masking_accuracy(_fake_release(tmp_path))
    assert len(df) == 1 + 2 * 14 * 7
    assert df.loc[df.condition == "none", "accuracy"].item() == 0.9
    assert set(df.loc[df.attribute.notna(), "attribute"]) == set(ATTRIBUTES)


def test_reader_malformed_json(tmp_path):
    with pytest.raises(InputError, match=r"joy-1\.json.*malformed JSON"):
        read_masking_accuracy(_fake_release(tmp_path, top='{"best": 0.9,'))


def test_reader_missing_key(tmp_path):
    top = {"sentiment": "joy", "seed": 1, "best": 0.9}
    top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    del top["non-novelty_top4000"]
    with pytest.raises(InputError, match="non-novelty_top4000"):
        read_masking_accuracy(_fake_release(tmp_path, top=top))


def test_reader_unknown_attribute_key(tmp_path):
    rnd = {"sentiment": "joy", "seed": 1, "best": 0.9, "pride_random4000": 0.5}
    rnd.update({f"{o}_random{k}": 0.7 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    with pytest.raises(InputError, match="pride_random4000"):
        read_masking_accuracy(_fake_release(tmp_path, rnd=rnd))


def test_reader_unknown_emotion(tmp_path):
    with pytest.raises(InputError, match="unknown emotion 'joyful'"):
        read_masking_accuracy(_fake_release(tmp_path, name="joyful-1.json"))


def test_reader_non_numeric_accuracy(tmp_path):
    top = {"sentiment": "joy", "seed": 1, "best": "high"}
    top.update({f"{o}_top{k}": 0.8 for o in OLD_ATTRIBUTE_KEYS for k in K_VALUES})
    with pytest.raises(InputError, match="best"):
        read_masking_accuracy(_fake_release(tmp_path, top=top))
