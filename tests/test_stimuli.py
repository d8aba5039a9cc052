"""Stimuli: the shipped situations, the readers' checks, GoEmotions reading, balanced sets.

Counts on the release's GoEmotions dev.csv are checked against an independent count made here
with the csv module on the raw file.
"""

import csv
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from emostat.collect.stimuli import (
    SETTINGS, balanced_binary, default_stimuli_path, multiclass_items, read_goemotions,
    read_stimuli)
from emostat.collect.templates import FORBIDDEN_WORDS, forbidden_hits, words
from emostat.constants import EMOTIONS
from emostat.errors import InputError
from release_path import SHARED_RELEASE

DEV = SHARED_RELEASE / "Data" / "goemotions" / "dev.csv"
FIRST_PERSON = {"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "myself", "we", "we're",
                "we'll", "we've", "us", "our", "ours"}


def raw_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def shipped():
    return read_stimuli()


@pytest.fixture(scope="module")
def dev():
    if not DEV.is_file():
        pytest.skip(f"release GoEmotions dev.csv not found at {DEV} (../shared absent)")
    return read_goemotions(DEV)


@pytest.fixture(scope="module")
def dev_raw():
    if not DEV.is_file():
        pytest.skip(f"release GoEmotions dev.csv not found at {DEV} (../shared absent)")
    return raw_rows(DEV)


# ------------------------------------------------------------------ the shipped situations

def test_shipped_file_validates_and_covers_27_emotions(shipped):
    raw = raw_rows(default_stimuli_path())            # independent count with the csv module
    assert len(shipped) == len(raw) == 405
    counts = Counter(r["concept"] for r in raw)       # the space file names it concept
    assert set(counts) == set(EMOTIONS)
    assert min(counts.values()) >= 12                 # the floor
    assert all(n == 15 for n in counts.values())       # as written: 15 per emotion
    assert shipped["id"].is_unique and shipped["text"].is_unique
    assert list(shipped.columns[:5]) == ["id", "emotion", "text", "person", "setting"]


def test_no_situation_names_its_emotion_or_a_derivative(shipped):
    hits = {r.id: forbidden_hits(r.text, r.emotion) for r in shipped.itertuples()}
    assert {k: v for k, v in hits.items() if v} == {}
    # nor the plain name of any of the 27 emotions
    named = {r.id: sorted(set(words(r.text)) & set(EMOTIONS)) for r in shipped.itertuples()}
    assert {k: v for k, v in named.items() if v} == {}


def test_forbidden_check_catches_names_case_insensitively():
    # the check above can fail: it finds the name, inflections, possessives, any case
    assert forbidden_hits("She was ANGRY, then Anger's grip loosened.", "anger") == \
        ["angry", "anger"]
    assert forbidden_hits("I was so proud of her.", "pride") == ["proud"]
    assert forbidden_hits("He felt grateful.", "anger") == []
    assert forbidden_hits("We enjoyed it.", "joy") == ["enjoyed"]


def test_forbidden_words_contain_each_name_and_are_disjoint():
    assert list(FORBIDDEN_WORDS) == list(EMOTIONS)
    for emo, ws in FORBIDDEN_WORDS.items():
        assert emo in ws
    seen = Counter(w for ws in FORBIDDEN_WORDS.values() for w in ws)
    assert [w for w, n in seen.items() if n > 1] == []


def test_lengths_persons_and_settings_vary(shipped):
    n_words = shipped["text"].str.split().str.len()
    assert n_words.between(8, 40).all()
    assert n_words.min() <= 10 and n_words.max() >= 30     # short and long ones
    for r in shipped.itertuples():                          # person label matches the text
        has_first = bool(FIRST_PERSON & set(words(r.text)))
        assert has_first == (r.person == "first"), r.id
    assert set(shipped["setting"]) <= set(SETTINGS)
    per = shipped.groupby("emotion").agg(settings=("setting", "nunique"),
                                         persons=("person", "nunique"))
    assert (per["settings"] >= 5).all()
    assert (per["persons"] == 2).all()                     # first and third person each


# ------------------------------------------------------------------ reader errors

def write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = "id,emotion,text\na1,anger,Someone stole my bike.\na2,joy,The sun came out.\n"


def test_reader_accepts_minimal_file_and_fills_optional_columns(tmp_path):
    df = read_stimuli(write(tmp_path, GOOD.replace("joy", " Joy ")))
    assert df["emotion"].tolist() == ["anger", "joy"]
    assert df["person"].tolist() == ["", ""]


def test_unknown_emotion_names_file_row_and_field(tmp_path):
    p = write(tmp_path, GOOD.replace("a2,joy", "a2,happiness"))
    with pytest.raises(InputError) as e:
        read_stimuli(p)
    msg = str(e.value)
    assert str(p) in msg and "row 3" in msg and "'emotion'" in msg and "happiness" in msg


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_stimuli(write(tmp_path, ""))
    with pytest.raises(InputError, match="no data rows"):
        read_stimuli(write(tmp_path, "id,emotion,text\n"))


def test_missing_column(tmp_path):
    with pytest.raises(InputError, match=r"missing column\(s\) \['text'\]"):
        read_stimuli(write(tmp_path, "id,emotion\na1,anger\n"))


def test_empty_text(tmp_path):
    with pytest.raises(InputError, match=r"row 2, field 'text': empty text"):
        read_stimuli(write(tmp_path, "id,emotion,text\na1,anger,   \n"))


def test_duplicate_id_bad_person_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"row 3, field 'id': duplicate id 'a1'"):
        read_stimuli(write(tmp_path, GOOD.replace("a2", "a1")))
    with pytest.raises(InputError, match=r"row 2, field 'person'"):
        read_stimuli(write(tmp_path, "id,emotion,text,person\na1,anger,x y,second\n"))
    with pytest.raises(InputError, match="file not found"):
        read_stimuli(tmp_path / "nope.csv")


def test_malformed_csv(tmp_path):
    with pytest.raises(InputError, match="malformed CSV"):
        read_stimuli(write(tmp_path, 'id,emotion,text\na1,anger,"never closed\n'))
    with pytest.raises(InputError, match=r"row 2: malformed CSV: 4 fields, the header has 3"):
        read_stimuli(write(tmp_path, "id,emotion,text\na1,anger,Oh, no\n"))


# ------------------------------------------------------------------ GoEmotions

def test_read_goemotions_dev_counts_match_raw_file(dev, dev_raw):
    assert len(dev) == len(dev_raw) == 5426
    assert dev["id"].tolist() == [r["ids"] for r in dev_raw]
    # per-emotion label counts from the one-hot columns of the raw file
    raw_counts = {e: sum(r[e] == "1" for r in dev_raw) for e in EMOTIONS}
    got = Counter(lab for labs in dev["labels"] for lab in labs)
    assert {e: got[e] for e in EMOTIONS} == raw_counts
    assert raw_counts["admiration"] == 488 and raw_counts["grief"] == 13
    # ... and from the 'classes' index encoding (16 = grief, 27 = neutral)
    assert sum("16" in r["classes"].split(",") for r in dev_raw) == 13
    n_neutral = sum("27" in r["classes"].split(",") for r in dev_raw)
    assert int(dev["neutral"].sum()) == n_neutral == 1766
    neutral_only = sum(r["classes"] == "27" for r in dev_raw)
    assert int((dev["labels"].str.len() == 0).sum()) == neutral_only == 1592


def test_read_goemotions_classes_only_encoding(tmp_path):
    p = write(tmp_path, 'text,classes,id\nHello there,"4,27",x1\nSo sad,25,x2\nwow,surprise,x3\n')
    df = read_goemotions(p)
    assert df["labels"].tolist() == [["approval"], ["sadness"], ["surprise"]]
    assert df["neutral"].tolist() == [True, False, False]
    with pytest.raises(InputError, match=r"row 2, field 'classes': label index 28"):
        read_goemotions(write(tmp_path, "text,classes,id\nhi,28,x1\n"))
    with pytest.raises(InputError, match="no label columns"):
        read_goemotions(write(tmp_path, "text,id\nhi,x1\n"))


def test_read_goemotions_onehot_and_classes_must_agree(tmp_path):
    cols = ",".join(EMOTIONS)
    hot = ["0"] * 27
    hot[EMOTIONS.index("anger")] = "1"
    good = f"text,classes,ids,{cols}\nGrr,2,x1,{','.join(hot)}\n"
    assert read_goemotions(write(tmp_path, good))["labels"].tolist() == [["anger"]]
    with pytest.raises(InputError, match=r"row 2, field 'classes'.*disagrees"):
        read_goemotions(write(tmp_path, good.replace("Grr,2,", "Grr,3,")))


# ------------------------------------------------------------------ balanced binary sets

def test_balanced_binary_on_dev(dev, dev_raw):
    pos_ids = [r["ids"] for r in dev_raw if r["grief"] == "1"]
    b = balanced_binary(dev, "grief", seed=7, draw="study")
    assert len(b) == 2 * len(pos_ids) == 26
    assert b.loc[b["part"] == "positive", "id"].tolist() == pos_ids
    assert (b.loc[b["part"] == "positive", "label"] == 1).all()
    assert set(b["emotion"]) == {"grief"}
    # the study's draw: np.random.seed(seed); np.random.choice(data.index, n_pos)
    np.random.seed(7)
    study = np.random.choice(pd.RangeIndex(len(dev_raw)), len(pos_ids))
    assert b.loc[b["part"] == "sampled", "id"].tolist() == [dev_raw[i]["ids"] for i in study]
    # sampled rows keep their true label
    sampled_true = [int(dev_raw[i]["grief"] == "1") for i in study]
    assert b.loc[b["part"] == "sampled", "label"].tolist() == sampled_true


def test_balanced_binary_seeds(dev):
    a1 = balanced_binary(dev, "admiration", seed=1, draw="study")
    a2 = balanced_binary(dev, "admiration", seed=1, draw="study")
    a3 = balanced_binary(dev, "admiration", seed=2, draw="study")
    assert len(a1) == 2 * 488
    pd.testing.assert_frame_equal(a1, a2)
    assert a1["id"].tolist() != a3["id"].tolist()
    # drawn with replacement from all 5426 rows: about 488/5426 of the draws are positives
    share = a1.loc[a1["part"] == "sampled", "label"].mean()
    assert 0.05 < share < 0.14


def test_balanced_binary_distinct_has_no_repeated_stimulus(dev, shipped):
    # issue 15 item 8: the study's draw repeats stimuli; the default draws distinct negatives
    study = balanced_binary(dev, "admiration", seed=1, draw="study")
    assert study["id"].duplicated().sum() > 0                 # the study's draw repeats rows
    for df, emo in ((dev, "admiration"), (shipped, "anger")):
        b = balanced_binary(df, emo, seed=1)
        n = int((b["part"] == "positive").sum())
        assert len(b) == 2 * n and not b["id"].duplicated().any()
        assert b["label"].tolist() == [1] * n + [0] * n        # exactly balanced
        # the drawn rows: RandomState(1).choice over the rows lacking the emotion, no replacement
        flag = np.array([emo in lab for lab in (df["labels"] if "labels" in df else
                                                [[e] for e in df["emotion"]])])
        want = np.sort(np.random.RandomState(1).choice(np.flatnonzero(~flag), n, replace=False))
        assert b["id"].iloc[n:].tolist() == df.iloc[want]["id"].tolist()
    few = shipped[shipped["emotion"].isin(["anger"]) | (shipped.index < 3)]
    with pytest.raises(InputError, match="only 3 items without it"):
        balanced_binary(few, "anger", seed=0)


def test_balanced_binary_on_situations(shipped):
    b = balanced_binary(shipped, "anger", seed=0)
    assert len(b) == 30 and b["label"].iloc[:15].eq(1).all()
    assert b["id"].iloc[:15].str.startswith("anger-").all()
    with pytest.raises(InputError, match="unknown emotion"):
        balanced_binary(shipped, "happiness")
    with pytest.raises(InputError, match="no item carries"):
        balanced_binary(shipped[shipped["emotion"] != "joy"], "joy")


def test_balanced_binary_keeps_stimulus_id_name_and_mixed_tables(shipped, dev):
    mixed = pd.concat([shipped, dev], ignore_index=True).rename(columns={"id": "stimulus_id"})
    b = balanced_binary(mixed, "grief", seed=3)
    assert "stimulus_id" in b.columns
    assert int((b["part"] == "positive").sum()) == 15 + 13


# ------------------------------------------------------------------ 27-way items

def test_multiclass_items(shipped, dev, dev_raw):
    m = multiclass_items(shipped)
    assert list(m.columns) == ["id", "text", "emotion"] and len(m) == 405
    md = multiclass_items(dev)
    single = [r for r in dev_raw if sum(r[e] == "1" for e in EMOTIONS) == 1]
    assert len(md) == len(single) == 3122
    assert md["emotion"].tolist() == [next(e for e in EMOTIONS if r[e] == "1") for r in single]


def test_goemotions_vocabulary_is_the_study_spaces_emotions():
    # the GoEmotions files' label order, written out in collect.stimuli, is the study's 27
    # emotions alphabetically (constants.EMOTIONS and data/spaces/study/concepts.csv) + neutral
    from emostat.collect.stimuli import GOEMOTIONS_EMOTIONS, GOEMOTIONS_LABELS
    from emostat.space import load_space

    assert GOEMOTIONS_EMOTIONS == EMOTIONS
    assert GOEMOTIONS_EMOTIONS == tuple(sorted(load_space("study").concepts))
    assert GOEMOTIONS_LABELS[27] == "neutral" and len(GOEMOTIONS_LABELS) == 28
