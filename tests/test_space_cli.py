"""`emostat space check` and `emostat collect --space` on broken copies of a hand-written space
(tests/spaces/user12): each problem is one line naming file, row and field; exit code 2; the
space folder is left as it was and `collect` leaves no --out folder (issue 16, Done when)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emostat.cli import main

SPACE = Path(__file__).parent / "spaces" / "user12"


def append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def missing_ratings(d):
    (d / "ratings.csv").unlink()
    return [f"{d / 'ratings.csv'}: required file missing"]


def unknown_concept_in_ratings(d):
    append(d / "ratings.csv", "joyful,arousal,3,P1")                 # row 146
    return [f"{d / 'ratings.csv'}, row 146, field 'concept': unknown concept 'joyful' "
            "(not in concepts.csv)"]


def unknown_concept_in_stimuli(d):
    append(d / "stimuli.csv", "x-1,fury,The printer jammed again.,hand-written")   # row 38
    return [f"{d / 'stimuli.csv'}, row 38, field 'concept': unknown concept 'fury' "
            "(not in concepts.csv)"]


def duplicate_rating(d):
    append(d / "ratings.csv", "delight,pleasantness,5,P1")           # P1 rated it at row 2
    return [f"{d / 'ratings.csv'}, row 146, field 'participant': duplicate rating "
            "(delight, pleasantness, P1) (first at row 2)"]


def non_numeric_value(d):
    lines = (d / "ratings.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = "delight,pleasantness,very,P4"                        # row 5
    (d / "ratings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"{d / 'ratings.csv'}, row 5, field 'value': not a number: 'very'"]


def partial_similarity(d):
    (d / "similarity.csv").write_text("concept_a,concept_b,value\ndelight,calm,2\n"
                                      "rage,dread,3\n", encoding="utf-8")
    return [f"{d / 'similarity.csv'}, field 'concept_a': not a full set of pairs: 64 of the 66 "
            "unordered concept pairs have no judgment, e.g. ('delight', 'pride')"]


CASES = [missing_ratings, unknown_concept_in_ratings, unknown_concept_in_stimuli,
         duplicate_rating, non_numeric_value, partial_similarity]


def snapshot(d: Path) -> dict:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(d.iterdir())}


@pytest.mark.parametrize("breaks", CASES, ids=[c.__name__ for c in CASES])
def test_broken_space_is_one_line_and_writes_nothing(tmp_path, capsys, breaks):
    d = tmp_path / "mine"
    shutil.copytree(SPACE, d)
    want = breaks(d)
    before = snapshot(d)
    assert main(["space", "check", str(d)]) == 2
    io = capsys.readouterr()
    assert io.out == ""
    # exactly one line per problem: "emostat: error: <file>, row N, field 'x': problem"
    assert io.err.splitlines() == [f"emostat: error: {ln}" for ln in want], io.err
    assert snapshot(d) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    # collect refuses the same space before --out exists
    out = tmp_path / "run"
    assert main(["collect", "--space", str(d), "--quick", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"emostat: error: {ln}" for ln in want]
    assert not out.exists() and snapshot(d) == before


def test_the_unbroken_copy_checks_clean(tmp_path, capsys):
    d = tmp_path / "mine"
    shutil.copytree(SPACE, d)
    assert main(["space", "check", str(d)]) == 0
    out = capsys.readouterr().out
    assert "12 concepts, 3 attributes, 66 pairs" in out
    assert "ratings: 144 rows, 4 participants" in out
    assert "stimuli: 36 (3-3 per concept)" in out


def test_a_space_without_stimuli_collects_activations_only(capsys):
    # vader ships no stimuli.csv: nothing to infer, so the run is activations only (one line)
    from emostat.collect.config import load_config
    from emostat.collect.driver import tasks_for_space
    from emostat.space import load_space

    cfg = load_config(None, quick=True, space="vader")
    assert cfg.tasks                                          # the profile's tasks
    assert tasks_for_space(cfg, load_space("vader")).tasks == []
    assert capsys.readouterr().err == (
        "emostat: space 'vader' has no stimuli.csv: no inference tasks (activations only); "
        "give a situations file with the config field 'stimuli' for the tasks\n")
    mine = load_config(None, quick=True, space=str(SPACE))
    assert tasks_for_space(mine, load_space(SPACE)) is mine   # has stimuli: unchanged
    given = load_config(None, quick=True, space="vader", stimuli=str(SPACE / "stimuli.csv"))
    assert tasks_for_space(given, load_space("vader")).tasks == given.tasks
