"""Values, not only shapes (issue 21, item 6): each kind of broken concept space, built in
tmp_path from the hand-written space tests/spaces/user12 (or a copy of the study's), is refused
by `emostat space check`, `emostat collect --space` and `emostat run --space` with one line naming
file, row and field, exit code 2, and nothing of the run written."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest

from emostat.cli import main
from emostat.space import load_space
from emostat.space.rules import invisible, unsafe_id
from test_space_cli import SPACE, append, snapshot

STUDY = Path(__file__).resolve().parents[1] / "data" / "spaces" / "study"


def drop_scales(d: Path) -> None:
    """user12 without its [scales] table (a space that declares no scale)."""
    toml = (d / "space.toml").read_text(encoding="utf-8")
    toml = re.sub(r"\[scales\]\n(?:[^\[\n].*\n)*\n", "", toml)
    (d / "space.toml").write_text(toml, encoding="utf-8")


def write_similarity(d: Path, value=lambda k: 1 + k % 7, scale=None) -> None:
    """A full similarity.csv over user12's 66 pairs (value of pair k = ``value(k)``)."""
    concepts = [ln.split(",")[0] for ln in
                (d / "concepts.csv").read_text(encoding="utf-8").splitlines()[1:]]
    rows = [f"{a},{b},{value(k)}" for k, (a, b) in
            enumerate(itertools.combinations(concepts, 2))]
    (d / "similarity.csv").write_text("concept_a,concept_b,value\n" + "\n".join(rows) + "\n",
                                      encoding="utf-8")
    if scale is not None:
        toml = (d / "space.toml").read_text(encoding="utf-8")
        toml = toml.replace('human_data = false\n',
                            f'human_data = false\nsimilarity_scale = {scale}\n')
        (d / "space.toml").write_text(toml, encoding="utf-8")


def rename_field(d: Path, old: str, new: str) -> None:
    """Rename a concept id in every file of the space (whole CSV fields only)."""
    for name in ("concepts.csv", "ratings.csv", "stimuli.csv"):
        p = d / name
        lines = [",".join(new if f == old else f for f in ln.split(","))
                 for ln in p.read_text(encoding="utf-8").splitlines()]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- the broken spaces: each returns the one line the check must print -----------------------

def rating_above_scale(d):
    append(d / "ratings.csv", "delight,arousal,999,P5")              # row 146
    return [f"{d / 'ratings.csv'}, row 146, field 'value': 999 is outside the scale of "
            "'arousal' [1, 7] (space.toml [scales])"]


def rating_below_scale(d):
    append(d / "ratings.csv", "calm,pleasantness,-50,P5")
    return [f"{d / 'ratings.csv'}, row 146, field 'value': -50 is outside the scale of "
            "'pleasantness' [1, 7] (space.toml [scales])"]


def infinite_distances(d):
    # no declared scale: 1e308 and -1e308 are finite, their difference is not
    drop_scales(d)
    append(d / "ratings.csv", "delight,control,1e308,P5")
    append(d / "ratings.csv", "calm,control,-1e308,P5")
    return [f"{d / 'ratings.csv'}, row 146, field 'value': 1e+308 is too large: the distances "
            "or means of attribute 'control' overflow to infinity (rescale the values)"]


def negative_dissimilarity(d):
    write_similarity(d, value=lambda k: -3 if k == 4 else 1 + k % 7)   # pair 5: row 6
    return [f"{d / 'similarity.csv'}, row 6, field 'value': a dissimilarity must be >= 0, "
            "got -3"]


def dissimilarity_above_scale(d):
    write_similarity(d, value=lambda k: 1e6 if k == 10 else 1 + k % 7, scale="[1, 9]")
    return [f"{d / 'similarity.csv'}, row 12, field 'value': 1e+06 is outside the "
            "similarity_scale [1, 9] (space.toml)"]


def zero_width_space_in_word(d):
    p = d / "concepts.csv"
    p.write_text(p.read_text(encoding="utf-8").replace("delight,delight", "delight,del\u200bight"),
                 encoding="utf-8")
    # the message writes the character as an escape: it is what the eye cannot see
    return [f"{d / 'concepts.csv'}, row 2, field 'word': 'del\\u200bight' holds an invisible "
            "character (U+200B ZERO WIDTH SPACE); remove it"]


def constant_attribute(d):
    p = d / "ratings.csv"
    lines = p.read_text(encoding="utf-8").splitlines()
    lines = [re.sub(r",control,\d+,", ",control,4,", ln) for ln in lines]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"{d / 'ratings.csv'}, row 10, field 'value': attribute 'control' has the same mean "
            "(4) for every concept: its RDM is constant and cannot be compared (remove it)"]


def unsafe_concept_id(d):
    rename_field(d, "delight", "../x")
    return [f"{d / 'concepts.csv'}, row 2, field 'concept': concept id '../x' must not start "
            "with '.'"]


def slash_in_concept_id(d):
    rename_field(d, "awe", "a/we")
    return [f"{d / 'concepts.csv'}, row 7, field 'concept': concept id 'a/we' must not contain "
            "/ (concept ids name files)"]


def name_bootstrap(d: Path, name: str) -> None:
    """user12 with similarity judgments and ``importance_bootstrap = name``."""
    write_similarity(d)
    toml = (d / "space.toml").read_text(encoding="utf-8")
    (d / "space.toml").write_text(toml.replace(
        '[options]\n', f'[options]\nimportance_bootstrap = "{name}"\n'), encoding="utf-8")


def bootstrap_outside_folder(d):
    name_bootstrap(d, "../../etc/hostname")
    return [f"{d / 'space.toml'}, field 'options.importance_bootstrap': '../../etc/hostname' is "
            "outside the space folder (give a path inside it)"]


def bootstrap_missing(d):
    name_bootstrap(d, "boot.csv")
    return [f"{d / 'space.toml'}, field 'options.importance_bootstrap': file 'boot.csv' not "
            "found in the space folder"]


def bad_scale(d):
    toml = (d / "space.toml").read_text(encoding="utf-8")
    (d / "space.toml").write_text(toml.replace("arousal = [1, 7]", "arousal = [7, 1]"),
                                  encoding="utf-8")
    return [f"{d / 'space.toml'}, field 'scales.arousal': must be [low, high], two finite "
            "numbers with low < high, got [7, 1]"]


CASES = [rating_above_scale, rating_below_scale, infinite_distances, negative_dissimilarity,
         dissimilarity_above_scale, zero_width_space_in_word, constant_attribute,
         unsafe_concept_id, slash_in_concept_id, bootstrap_outside_folder, bootstrap_missing,
         bad_scale]


def refused_everywhere(d: Path, want: list[str], tmp_path: Path, capsys) -> None:
    """`space check`, `collect --space` and `run --space`: exactly ``want`` on stderr, rc 2,
    the space untouched and no output folder."""
    before = snapshot(d)
    assert main(["space", "check", str(d)]) == 2
    io = capsys.readouterr()
    assert io.out == ""
    assert io.err.splitlines() == [f"emostat: error: {ln}" for ln in want], io.err
    for cmd in (["collect", "--space", str(d), "--quick", "--out", str(tmp_path / "run"),
                 "--quiet"],
                ["run", "--space", str(d), "--quick", "--out", str(tmp_path / "out"),
                 "--quiet"]):
        assert main(cmd) == 2
        assert capsys.readouterr().err.splitlines() == [f"emostat: error: {ln}" for ln in want]
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()
    assert snapshot(d) == before


@pytest.mark.parametrize("breaks", CASES, ids=[c.__name__ for c in CASES])
def test_broken_space_is_one_line_and_writes_nothing(tmp_path, capsys, breaks):
    d = tmp_path / "mine"
    shutil.copytree(SPACE, d)
    want = breaks(d)
    refused_everywhere(d, want, tmp_path, capsys)


def test_renamed_attribute_with_a_stale_bootstrap_file(tmp_path, capsys):
    """The study's space with `arousal` renamed everywhere but in attribute_importance.csv (the
    importance_bootstrap file): one line naming the file's row, not a KeyError traceback."""
    d = tmp_path / "study2"
    shutil.copytree(STUDY, d)
    for name in ("space.toml", "ratings.csv"):
        p = d / name
        p.write_text(p.read_text(encoding="utf-8").replace("arousal", "arousal2"),
                     encoding="utf-8")
    want = [f"{d / 'attribute_importance.csv'}, row 2, field 'attribute': attribute 'arousal' "
            "is not an attribute of the space (no row for 'arousal2')"]
    refused_everywhere(d, want, tmp_path, capsys)


def test_bootstrap_estimates_must_be_the_spaces(tmp_path, capsys):
    """An importance_bootstrap estimate that is not the space's Kendall tau-b (scipy) of the
    mean dissimilarity RDM with the attribute RDM is named; the shipped file passes."""
    from scipy.stats import kendalltau

    sp = load_space("study")
    tau = kendalltau(sp.mean_rdm(), sp.attribute_rdms()["valence"], variant="b").statistic
    assert tau == pytest.approx(0.5865052986155, abs=1e-12)  # attribute_importance.csv row 3
    d = tmp_path / "study2"
    shutil.copytree(STUDY, d)
    p = d / "attribute_importance.csv"
    p.write_text(p.read_text(encoding="utf-8").replace("valence,0.58650529861550171",
                                                       "valence,0.5"), encoding="utf-8")
    want = [f"{p}, row 3, field 'estimate': estimate 0.5 is not the space's importance of "
            "'valence' (0.586505); regenerate the file"]
    refused_everywhere(d, want, tmp_path, capsys)


@pytest.mark.parametrize("name", ["study", "vader", "vader-all", "de-example"])
def test_shipped_spaces_declare_scales_and_pass(name):
    sp = load_space(name)
    want = {"study": {**{a: (1.0, 9.0) for a in ("arousal", "valence")},
                      **{f"{f}-face": (1.0, 9.0) for f in ("happy", "anger", "sad", "fear",
                                                           "surprise", "disgust")}},
            "vader": {"valence": (-4.0, 4.0)}, "vader-all": {"valence": (-4.0, 4.0)},
            "de-example": {"valenz": (1.0, 9.0), "erregung": (1.0, 9.0)}}[name]
    assert dict(sp.scales) == want
    assert sp.similarity_scale == ((1.0, 9.0) if name in ("study", "de-example") else None)
    r = sp.ratings
    for a, (lo, hi) in sp.scales.items():
        v = r.loc[r["attribute"] == a, "value"]
        assert v.between(lo, hi).all()


def test_invisible_and_unsafe_names():
    assert invisible("joy") is None and invisible("Überraschung") is None
    assert invisible("joy\u200b") == "U+200B ZERO WIDTH SPACE"
    assert invisible("\ufeffjoy") == "U+FEFF ZERO WIDTH NO-BREAK SPACE"
    assert invisible("joy\u00a0ful") == "U+00A0 NO-BREAK SPACE"
    assert invisible("rage\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    # Persian writes a zero-width non-joiner between letters (دل‌تنگی, longing): allowed there
    assert invisible("دل\u200cتنگی") is None
    assert invisible("\u200cjoy") == "U+200C ZERO WIDTH NON-JOINER"
    assert unsafe_id("romantic love") is None and unsafe_id("freude") is None
    assert unsafe_id("..") and unsafe_id(".hidden") and unsafe_id("a\\b") and unsafe_id("a:b")
    assert unsafe_id("x" * 101)
