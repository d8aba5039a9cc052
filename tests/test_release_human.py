"""Readers of the study's human data: exclusions, item coding, PsychoPy files, bad input.

Fixtures are tiny hand-made files written in tmp_path; tests marked ``release`` read the study's
release from ``release_path.SHARED_RELEASE`` and skip when it is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat.constants import ANALYSIS_ORDER, EMOTIONS, pair_indices
from emostat.errors import InputError
from release_path import SHARED_RELEASE
from emostat.release import common
from emostat.release import human as rh

# the small hand-made fixtures below hold a few respondents: the readers warn that their counts
# differ from the study's release (tested in test_release_integrity.py)
pytestmark = pytest.mark.filterwarnings("ignore:.*the study.s release:UserWarning")

needs_release = pytest.mark.skipif(not (SHARED_RELEASE / "Data").is_dir(),
                                   reason="study release not in ../shared/data/model-emotion")


# ---------------------------------------------------------------------------------------------
# hand-made fixtures

def write_affective(root, rows):
    """rows: list of (id, check_arousal, check_valence, rating function (e, attr) -> str)."""
    cols = ["Finished", "UserLanguage", "Consent", "Prolific ID "]
    for item in range(1, 29):
        cols += [f"{item}_Arousal_1", f"{item}_Valence_1"]
    lines = [",".join(cols)]
    for pid, ca, cv, fn in rows:
        vals = ["TRUE", "EN", "I agree", pid]
        for item in range(1, 28):
            vals += [fn(item, "arousal"), fn(item, "valence")]
        vals += [ca, cv]
        lines.append(",".join(vals))
    path = root / common.AFFECTIVE_DIR / "rawdata.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_appraisal(root, rows):
    """rows: list of (id, EMOTION, event, item42, item43, item value)."""
    items = [f"{k}_Item_1" for k in range(4, 44)]
    cols = ["Duration (in seconds)", "Finished", "UserLanguage", "PROLIFIC_PID", "Consent",
            "EMOTION", "Recall", "Specific Event", *items]
    question = ["d", "f", "l", "p", "c", "E", "r", "s"] + [
        f"To what extent? - item text {k} - [Field-1]" for k in range(4, 44)]
    lines = [",".join(cols), ",".join(question), ",".join(["{}"] * len(cols))]
    for pid, emo, event, i42, i43, value in rows:
        vals = ["100", "True", "EN", pid, "I agree", emo, "story", event]
        vals += [value] * 38 + [i42, i43]
        lines.append(",".join(vals))
    path = root / common.APPRAISAL_DIR / "rawdata.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


WORDS = list(EMOTIONS) + ["neutral"]


def nchoosek_pairs():
    return [(a, b) for a in range(28) for b in range(a + 1, 28)]


def write_psychopy(path, response_of_pair, n_trials=378, seed=0):
    """A PsychoPy-like file: trials in shuffled order, thisIndex = nchoosek pair index."""
    order = np.random.default_rng(seed).permutation(378)[:n_trials]
    pairs = nchoosek_pairs()
    head = ("Rating.response,Rating.rt,EndTrial.keys,EndTrial.rt,trials.thisRepN,"
            "trials.thisTrialN,trials.thisN,trials.thisIndex,trials.ran,Pos1,Pos2,participant")
    lines = [head]
    for n, t in enumerate(order):
        r = response_of_pair(*pairs[t])
        lines.append(f"{r},1.0,space,1.0,0,{n},{n},{t},1,,,p1")
    path.write_text("\ufeff" + "\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# affective / appraisal fixtures

def test_affective_exclusion_and_coding(tmp_path):
    # item e holds emotion EMOTIONS[e-1]; arousal = e % 9 + 1, valence = 9 - e % 9
    fn = lambda e, a: str(e % 9 + 1) if a == "arousal" else str(9 - e % 9)  # noqa: E731
    write_affective(tmp_path, [("p1", "9", "9", fn), ("p2", "9", "4", fn), ("p3", "9", "9", fn)])
    part, ratings = rh.read_affective(tmp_path)
    assert part["included"].tolist() == [True, False, True]
    assert "28_Valence_1" in part["exclusion_reason"][1]
    assert len(ratings) == 2 * 27 * 2
    grief = ratings[(ratings.concept == "grief") & (ratings.participant == "p3")]
    e = EMOTIONS.index("grief") + 1                      # 17
    assert grief.set_index("attribute")["rating"].to_dict() == {"arousal": e % 9 + 1,
                                                               "valence": 9 - e % 9}


def test_affective_nan_rating_names_row_and_field(tmp_path):
    fn = lambda e, a: "" if (e, a) == (5, "valence") else "5"  # noqa: E731
    write_affective(tmp_path, [("p1", "9", "9", lambda e, a: "5"), ("p2", "9", "9", fn)])
    with pytest.raises(InputError, match=r"rawdata\.csv, row 3, field '5_Valence_1'"):
        rh.read_affective(tmp_path)


def test_excluded_rater_may_have_missing_ratings(tmp_path):
    fn = lambda e, a: "" if e == 5 else "5"  # noqa: E731
    write_affective(tmp_path, [("p1", "9", "9", lambda e, a: "5"), ("p2", "1", "9", fn)])
    part, ratings = rh.read_affective(tmp_path)
    assert part["included"].tolist() == [True, False] and len(ratings) == 54


def test_missing_file_and_missing_column(tmp_path):
    with pytest.raises(InputError, match=r"affective_features/rawdata\.csv: required release"):
        rh.read_affective(tmp_path)
    path = write_affective(tmp_path, [("p1", "9", "9", lambda e, a: "5")])
    df = pd.read_csv(path, dtype=str).drop(columns=["12_Arousal_1"])
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match="item 12, attribute 'arousal'"):
        rh.read_affective(tmp_path)


def test_appraisal_checks_na_and_item_text(tmp_path):
    write_appraisal(tmp_path, [("a", "JOY", "party", "4", "-99", "7"),
                               ("b", "GRIEF", "n/a", "4", "-99", "3"),     # event n/a
                               ("c", "FEAR", "dog", "5", "-99", "3"),      # item 42 != 4
                               ("d", "RELIEF", "exam", "4", "-99", "-99")])  # all n/a
    part, resp = rh.read_appraisal(tmp_path)
    assert part["included"].tolist() == [True, False, False, True]
    assert part["exclusion_reason"][1] == "specific event 'n/a'"
    assert sorted(resp["participant"].unique()) == ["a", "d"]
    assert resp.groupby("participant").size().tolist() == [38, 38]
    assert resp[resp.participant == "a"]["response"].eq(7).all()
    assert resp[resp.participant == "d"]["response"].isna().all()   # -99 -> NaN
    assert resp["concept"].unique().tolist() == ["joy", "relief"]
    assert resp.loc[resp["item"] == 1, "item_text"].iloc[0] == "item text 4"


def test_appraisal_unknown_emotion(tmp_path):
    write_appraisal(tmp_path, [("a", "JOY", "x", "4", "-99", "7"),
                               ("b", "HAPPINESS", "y", "4", "-99", "7")])
    with pytest.raises(InputError, match=r"row 5, field 'EMOTION': unknown emotion name"):
        rh.read_appraisal(tmp_path)


# ---------------------------------------------------------------------------------------------
# PsychoPy

def test_psychopy_pair_mapping(tmp_path):
    # response of nchoosek pair (a, b) of the 28 words = 1 + (a + 2b) % 9
    f = write_psychopy(tmp_path / "x_PRaM_1.csv", lambda a, b: 1 + (a + 2 * b) % 9)
    trials = rh.read_psychopy_file(f)
    assert trials["trial"].tolist() == list(range(378))
    d = rh.psychopy_dissimilarity(trials, WORDS)
    i, j = pair_indices()
    for p in (0, 1, 100, 350):
        a, b = sorted((EMOTIONS.index(ANALYSIS_ORDER[i[p]]), EMOTIONS.index(ANALYSIS_ORDER[j[p]])))
        assert d[p] == 10 - (1 + (a + 2 * b) % 9)      # merge.m: rating = 10 - response


def test_psychopy_empty_and_truncated(tmp_path):
    empty = tmp_path / "e_PRaM_1.csv"
    empty.write_bytes(b"\xef\xbb\xbf\n")               # like 4-byte files in the release
    with pytest.raises(InputError, match=r"e_PRaM_1\.csv: empty PsychoPy file"):
        rh.read_psychopy_file(empty)
    short = write_psychopy(tmp_path / "t_PRaM_1.csv", lambda a, b: 5, n_trials=2)
    with pytest.raises(InputError, match=r"t_PRaM_1\.csv, field 'trials.thisIndex': truncated "
                                         r"PsychoPy file: 2 of 378 trials"):
        rh.read_psychopy_file(short)
    with pytest.raises(InputError, match="not found"):
        rh.read_psychopy_file(tmp_path / "missing.csv")


def test_word_list_unknown_emotion(tmp_path):
    p = tmp_path / "emotions.txt"
    p.write_text("\n".join(["admiration", "amusment"] + list(EMOTIONS[2:]) + ["neutral"]))
    with pytest.raises(InputError, match=r"emotions\.txt, row 2: unknown emotion name 'amusment'"):
        rh.read_word_list(p)


# ---------------------------------------------------------------------------------------------
# the study's release

@needs_release
def test_release_valid_rater_counts():
    # reference-values.md / method.md: 30 affective raters, 299 appraisal responses; physical
    # gives 30 as well; each kept set equals the Prolific APPROVED list in subjects.csv
    expected = {"affective": (30, 35), "physical": (30, 36), "appraisal": (299, 329)}
    readers = {"affective": (rh.read_affective, common.AFFECTIVE_DIR),
               "physical": (rh.read_physical, common.PHYSICAL_DIR),
               "appraisal": (rh.read_appraisal, common.APPRAISAL_DIR)}
    for exp, (reader, folder) in readers.items():
        part, _ = reader(SHARED_RELEASE)
        assert (part["included"].sum(), len(part)) == expected[exp]
        subjects = pd.read_csv(SHARED_RELEASE / folder / "subjects.csv", dtype=str)
        approved = set(subjects.loc[subjects["status"] == "APPROVED", "participant_id"])
        assert set(part.loc[part["included"], "participant"]) == approved


@needs_release
def test_release_similarity_matches_raw_psychopy():
    part, sim, check = rh.read_similarity(SHARED_RELEASE)
    # 69 PsychoPy files: 61 = the study's subjects, 4 empty/truncated (SOURCE.md), 2 without
    # any response, 2 complete but not among the study's rows
    assert check["n_files"] == 69 and check["n_matched"] == 61
    assert len(check["unreadable"]) == 4
    assert part["included"].sum() == 61
    # raw files (10 - response, skipped pairs -> pair mean) rebuild the study's table
    assert check["max_abs_diff"] < 1e-12
    assert sim["participant"].nunique() == 61 and len(sim) == 61 * 351
    assert not sim["participant"].str.startswith("S").any()
    assert int(sim["imputed"].sum()) == 133


@needs_release
def test_import_human_writes_valid_tables(tmp_path):
    from emostat.io import file_sha256, read_provenance, read_table

    written = rh.import_human(SHARED_RELEASE, tmp_path, quiet=True)
    assert set(written) == {"participants", "ratings", "appraisal_responses", "similarity",
                            "released_attribute_rdms"}
    for name, path in written.items():
        read_table(path, dataset=name)                     # schema-valid
    ratings = read_table(written["ratings"])
    assert ratings.groupby("experiment").size().to_dict() == {"affective": 30 * 27 * 2,
                                                              "physical": 30 * 27 * 6}
    assert len(read_table(written["appraisal_responses"])) == 299 * 38
    prov = read_provenance(written["ratings"])
    rel = str(common.AFFECTIVE_DIR / "rawdata.csv")
    assert prov["files"][rel] == file_sha256(SHARED_RELEASE / rel)


@needs_release
def test_shipped_summaries_are_current(tmp_path):
    from emostat.paths import DATA_DIR

    paths = rh.write_shipped_human(SHARED_RELEASE, tmp_path)
    for name, path in paths.items():
        fresh = pd.read_csv(path)
        shipped = pd.read_csv(DATA_DIR / "spaces" / "study" / path.name)
        pd.testing.assert_frame_equal(fresh, shipped, check_exact=False, rtol=0, atol=1e-12)
    # the mean RDM equals the release's avg_dist_subjective_comparison.csv
    avg = pd.read_csv(SHARED_RELEASE / common.MEAN_DIST).iloc[:, 0].to_numpy()
    assert np.abs(pd.read_csv(paths["similarity"])["value"] - avg).max() < 1e-12


def test_release_vocabulary_is_the_study_spaces():
    # release/vocab.py reads the names from data/spaces/study; they must equal the study's
    # constants the release was written with (constants.py, from the release's emotions.txt)
    from emostat.constants import AFFECTIVE, ANALYSIS_ORDER, ATTRIBUTES, EMOTIONS, FACES
    from emostat.release import vocab

    assert vocab.RELEASE_EMOTIONS == EMOTIONS
    assert vocab.RELEASE_ANALYSIS_ORDER == ANALYSIS_ORDER
    assert vocab.RELEASE_ATTRIBUTES == ATTRIBUTES
    assert (vocab.RELEASE_AFFECTIVE, vocab.RELEASE_FACES) == (AFFECTIVE, FACES)
