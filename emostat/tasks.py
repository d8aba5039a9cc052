"""The inference tasks, defined once (torch-free; docs/design.md §4).

Config validation, collection (the worker's scoring, what needs a decoder or the model's head),
calibration and the analysis's chance table look a task up in :data:`TASKS` instead of
branching on its name. Candidates and chance rates follow the concept space: a choice over
the space's concepts, a yes/no question per concept.

A ``space`` argument may be a :class:`emostat.space.ConceptSpace`, a sequence of concept ids
or a number of concepts (the analysis knows only what its tables hold).
"""

from __future__ import annotations

from dataclasses import dataclass

from emostat.errors import InputError

__all__ = ["TASKS", "TaskSpec", "concept_ids", "n_concepts", "task", "task_names"]

YES_NO = ("no", "yes")            # binary candidates in score order: logprobs = [no, yes]


def concept_ids(space) -> list[str]:
    """The concept ids of ``space`` (a ConceptSpace or a sequence of ids), in its order."""
    if isinstance(space, int):
        raise InputError("the concept ids are needed here, not only their number")
    return list(getattr(space, "concepts", space))


def n_concepts(space) -> int:
    """How many concepts ``space`` has (a ConceptSpace, a sequence of ids or a count)."""
    if isinstance(space, int) and not isinstance(space, bool):
        return space
    return len(concept_ids(space))


@dataclass(frozen=True)
class TaskSpec:
    """One inference task.

    Attributes
    ----------
    name : str
    decoder_only : bool
        Needs a causal decoder (free generation); an MLM encoder cannot run it.
    needs_head : bool
        Scored with the model's language-model head.
    template : str
        Key of its prompt template in a space's ``[templates]``.
    per_concept : bool
        One yes/no question per concept (binary) rather than one question over all concepts.
    calibration : str or None
        How its decisions are calibrated (:mod:`emostat.collect.calibration`); None = not.
    outcome : tuple of str
        The inference columns holding its outcome.
    """

    name: str
    decoder_only: bool
    needs_head: bool
    template: str
    per_concept: bool
    calibration: str | None
    outcome: tuple[str, ...]

    def candidates(self, space) -> list[str]:
        """What one prompt is scored over: ``["no", "yes"]`` per concept (binary), or the
        space's concept ids (choice; generate parses its answer to one of them)."""
        return list(YES_NO) if self.per_concept else concept_ids(space)

    def width(self, space) -> int | None:
        """Length of a row's ``logprobs`` (None: the task stores no scores)."""
        if not self.calibration:
            return None
        return len(YES_NO) if self.per_concept else n_concepts(space)

    def chance(self, space) -> float:
        """Accuracy of a random answer: 1/2 (yes/no), else 1 / number of concepts."""
        return 1 / len(YES_NO) if self.per_concept else 1 / n_concepts(space)


OUTCOME = ("prediction", "correct", "margin", "prediction_raw", "correct_raw", "margin_raw")

TASKS: dict[str, TaskSpec] = {
    "binary": TaskSpec(
        "binary", decoder_only=False, needs_head=True, template="binary", per_concept=True,
        calibration="median of logit_yes - logit_no over the concept's balanced set "
                    "(condition none)", outcome=OUTCOME),
    "choice": TaskSpec(
        "choice", decoder_only=False, needs_head=True, template="choice", per_concept=False,
        calibration="mean log-prob of each candidate concept over all items (condition none)",
        outcome=OUTCOME),
    "generate": TaskSpec(
        "generate", decoder_only=True, needs_head=True, template="generate", per_concept=False,
        calibration=None, outcome=("prediction", "correct", "prediction_raw", "correct_raw",
                                   "generated")),
}


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def task(name: str) -> TaskSpec:
    """The spec of task ``name`` (an InputError naming the known tasks otherwise)."""
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"unknown task {name!r}; known: {list(TASKS)}") from None
