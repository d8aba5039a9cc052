"""INTERIM (removed when the `space` branch is merged): the study's space built from the
constants and shipped files, for :func:`emostat.space.load_space` before it exists here.

Only ``load_space(None)`` / ``load_space("study")`` work; a folder needs the real loader.
"""

from __future__ import annotations

from emostat.errors import InputError

TEMPLATES = {
    "binary": "Situation: {text}\nQuestion: Does the person in this situation feel {word}? "
              "Answer yes or no.\nAnswer:",
    "choice": "Situation: {text}\nThe emotion this person feels is",
    "choice_options": "Situation: {text}\nOptions: {options}\nQuestion: Which one emotion from "
                      "the options does the person in this situation feel?\nEmotion:",
    "continuation": " {word}",
    "generate": "Situation: {text}\nQuestion: In one word, which emotion does the person in "
                "this situation feel?\nAnswer:",
    "binary_mlm": "{text} Does the person feel {word}? {mask}.",
    "choice_mlm": "{text} The person in this situation feels {mask}.",
    "study_mlm": "{mask} {text}",
    "answers": {"yes": " yes", "no": " no", "mlm_yes": "positive", "mlm_no": "negative"},
}


def load_space(spec=None):
    if spec not in (None, "study"):
        raise InputError(f"space {spec!r}: reading a space folder needs emostat.space.load_space "
                         f"(the space branch)")
    from emostat.analysis.human import load_shipped_human
    from emostat.collect.stimuli import read_stimuli
    from emostat.collect.templates import CONCEPT_TEMPLATES
    from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES
    from emostat.space import ConceptSpace

    human = load_shipped_human()
    means = human.means.loc[list(ANALYSIS_ORDER), list(ATTRIBUTES)]
    stim = read_stimuli().rename(columns={"emotion": "concept"})
    concept = {k: v.replace("{emotion}", "{word}") for k, v in CONCEPT_TEMPLATES.items()}
    return ConceptSpace(name="study", concepts=tuple(ANALYSIS_ORDER),
                        words={c: c for c in ANALYSIS_ORDER}, attributes=tuple(ATTRIBUTES),
                        means=means, stimuli=stim, templates={**TEMPLATES, "concept": concept})
