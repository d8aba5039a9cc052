"""The task registry (emostat.tasks): one definition per task, following the concept space."""

from __future__ import annotations

import pytest

from emostat.errors import InputError
from emostat.tasks import TASKS, task


def test_candidates_and_chance_follow_the_space():
    concepts = [f"c{i}" for i in range(12)]
    assert TASKS["binary"].candidates(concepts) == ["no", "yes"]       # logprobs [no, yes]
    assert TASKS["choice"].candidates(concepts) == concepts
    assert TASKS["choice"].chance(concepts) == pytest.approx(1 / 12)
    assert TASKS["choice"].chance(27) == pytest.approx(1 / 27)         # a count works too
    assert TASKS["binary"].chance(concepts) == 0.5
    assert TASKS["generate"].chance(concepts) == pytest.approx(1 / 12)
    assert TASKS["choice"].width(concepts) == 12 and TASKS["binary"].width(concepts) == 2
    assert TASKS["generate"].width(concepts) is None                   # no scores stored


def test_the_study_space_gives_the_study_chance_rates():
    from emostat.space import load_space

    s = load_space()
    assert TASKS["choice"].chance(s) == pytest.approx(1 / 27)
    assert TASKS["choice"].candidates(s) == list(s.concepts)


def test_properties_used_instead_of_names():
    assert [t for t, s in TASKS.items() if s.decoder_only] == ["generate"]
    assert [t for t, s in TASKS.items() if s.per_concept] == ["binary"]
    from emostat.collect.calibration import METHOD
    from emostat.collect.config import TASKS as CONFIG_TASKS

    assert set(METHOD) == {"binary", "choice"} and CONFIG_TASKS == tuple(TASKS)
    with pytest.raises(InputError, match="unknown task 'dance'"):
        task("dance")
