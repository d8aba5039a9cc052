"""Prompt templates: emotion-concept prompts (the study's "seeds") and task prompts.

Concept templates put one emotion word into a short frame; the activations they evoke are the
model's representation of that emotion concept. Twelve templates play the role of the study's
12 prompt-tuning seeds. Task prompts wrap a situation for the three inference tasks:

- binary: "does the person feel X?" answered by the next token " yes" / " no";
- choice: 27-way inference, scored by the log-probability of each emotion word as continuation
  (:func:`choice_prompt_short`, no option list, the default for decoders; or
  :func:`choice_prompt`, which lists the 27 options first);
- generation: free generation of one emotion word (decoders).

Decoder prompts end so that the answer is the very next word, written with a leading space
(" yes", " admiration"): :data:`BINARY_ANSWERS` and :func:`choice_continuation` give those
continuations. When a chat template wraps the prompt, the answer starts the assistant turn and
has no leading space; the runner strips it. MLM variants take the tokenizer's mask token.

Every function here is plain string formatting (no tokenizer, no torch).
"""

from __future__ import annotations

import re

import pandas as pd

from emostat.collect.stimuli import GOEMOTIONS_EMOTIONS
from emostat.constants import check_emotions

# Zero-shot concept templates; "{emotion}" is the slot. Ids t01..t12 stand for the study's seeds.
CONCEPT_TEMPLATES: dict[str, str] = {
    "t01": "The feeling of {emotion}",
    "t02": "A person who feels {emotion}",
    "t03": "This is a story about {emotion}.",
    "t04": "The emotion I feel right now is {emotion}",
    "t05": "She was overcome with {emotion}",
    "t06": "He tried to describe his {emotion} to a friend.",
    "t07": "The word {emotion} names an emotion.",
    "t08": "Think about what {emotion} is like.",
    "t09": "A moment of pure {emotion}",
    "t10": "What does {emotion} feel like?",
    "t11": "In that moment, they felt {emotion}.",
    "t12": "Emotion: {emotion}",
}

# Next-token answers of the binary task, in label order (1 = yes, 0 = no).
BINARY_ANSWERS: dict[int, str] = {1: " yes", 0: " no"}
# The study's verbalizer words for MLM encoders (RoBERTa: "positive"/"negative" at <mask>).
MLM_BINARY_ANSWERS: dict[int, str] = {1: "positive", 0: "negative"}

# Words that may not appear in a stimulus of that emotion (word-level, case-insensitive): the
# emotion's own name, its inflections and derivatives (adjective, adverb, verb forms), and the
# most obvious one-word synonyms that would give the answer away.
FORBIDDEN_WORDS: dict[str, frozenset[str]] = {e: frozenset(w) for e, w in {
    "admiration": ["admiration", "admire", "admired", "admires", "admiring", "admiringly",
                   "admirer", "admirers", "admirable", "admirably"],
    "amusement": ["amusement", "amusements", "amuse", "amused", "amuses", "amusing",
                  "amusingly"],
    "anger": ["anger", "angers", "angered", "angering", "angry", "angrier", "angriest",
              "angrily", "enraged", "rage", "raged", "raging", "furious", "furiously", "fury",
              "mad", "irate", "livid"],
    "annoyance": ["annoyance", "annoyances", "annoy", "annoyed", "annoying", "annoyingly",
                  "annoys", "irritated", "irritation", "irritating", "irritates"],
    "approval": ["approval", "approvals", "approve", "approved", "approves", "approving",
                 "approvingly"],
    "caring": ["caring", "caringly", "care", "cares", "cared", "uncaring", "caregiver"],
    "confusion": ["confusion", "confuse", "confused", "confuses", "confusing", "confusingly",
                  "confusedly"],
    "curiosity": ["curiosity", "curiosities", "curious", "curiously"],
    "desire": ["desire", "desires", "desired", "desiring", "desirous", "desirable"],
    "disappointment": ["disappointment", "disappointments", "disappoint", "disappointed",
                       "disappointing", "disappointingly", "disappoints"],
    "disapproval": ["disapproval", "disapprove", "disapproved", "disapproves", "disapproving",
                    "disapprovingly"],
    "disgust": ["disgust", "disgusted", "disgusting", "disgustingly", "disgusts",
                "disgustedly"],
    "embarrassment": ["embarrassment", "embarrassments", "embarrass", "embarrassed",
                      "embarrassing", "embarrassingly", "embarrasses"],
    "excitement": ["excitement", "excite", "excited", "excitedly", "excites", "exciting",
                   "excitingly"],
    "fear": ["fear", "fears", "feared", "fearing", "fearful", "fearfully", "afraid", "scared",
             "frightened"],
    "gratitude": ["gratitude", "grateful", "gratefully", "ungrateful", "thankful",
                  "thankfulness"],
    "grief": ["grief", "griefs", "grieve", "grieved", "grieves", "grieving", "grievous"],
    "joy": ["joy", "joys", "joyful", "joyfully", "joyous", "joyously", "joyless", "overjoyed",
            "enjoy", "enjoyed", "enjoying", "enjoys", "enjoyment"],
    "love": ["love", "loves", "loved", "loving", "lovingly", "lover", "lovers", "beloved",
             "lovely", "lovable", "loveable"],
    "nervousness": ["nervousness", "nervous", "nervously", "nerve", "nerves", "nervy"],
    "optimism": ["optimism", "optimist", "optimists", "optimistic", "optimistically"],
    "pride": ["pride", "prides", "prided", "prideful", "proud", "prouder", "proudest",
              "proudly"],
    "realization": ["realization", "realizations", "realisation", "realisations", "realize",
                    "realizes", "realized", "realizing", "realise", "realises", "realised",
                    "realising"],
    "relief": ["relief", "relieve", "relieved", "relieves", "relieving"],
    "remorse": ["remorse", "remorseful", "remorsefully", "remorseless"],
    "sadness": ["sadness", "sad", "sadly", "sadder", "saddest", "sadden", "saddened",
                "saddening", "saddens"],
    "surprise": ["surprise", "surprises", "surprised", "surprising", "surprisingly",
                 "surprisedly"],
}.items()}

_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters and inner apostrophes; "'s" possessives dropped)."""
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.replace("’", "'")
        out.append(w[:-2] if w.endswith("'s") else w)
    return out


def forbidden_hits(text: str, emotion: str) -> list[str]:
    """The words of ``text`` that name ``emotion`` or a derivative (see :data:`FORBIDDEN_WORDS`)."""
    banned = FORBIDDEN_WORDS[emotion]
    return [w for w in words(text) if w in banned]


# ---------------------------------------------------------------- concept prompts

def concept_prompts(emotions=GOEMOTIONS_EMOTIONS, templates=None,
                    mask_token: str | None = None) -> pd.DataFrame:
    """All concept prompts: each emotion word placed in each template.

    Parameters
    ----------
    emotions : sequence of str
        Emotion names (GoEmotions); the word placed in the slot is the name itself.
    templates : dict of str to str, optional
        Template id -> template text with one ``{emotion}`` slot. Default
        :data:`CONCEPT_TEMPLATES`.
    mask_token : str, optional
        For MLM encoders read at the mask position: prepend ``mask_token + " "`` to every prompt
        (the study's layout puts ``<mask>`` first).

    Returns
    -------
    pandas.DataFrame
        One row per emotion x template, emotions in the given order then templates:
        ``concept`` (emotion), ``template`` (id), ``prompt`` (text), ``word`` (the emotion word
        as it appears), ``word_start``/``word_end`` (character span of the word in ``prompt``,
        for reading activations at the emotion word with a tokenizer's offset mapping).
    """
    emotions = check_emotions(emotions, "concept_prompts")
    templates = dict(CONCEPT_TEMPLATES if templates is None else templates)
    if not templates:
        raise ValueError("concept_prompts: no templates given")
    rows = []
    for tid, tpl in templates.items():
        if tpl.count("{emotion}") != 1:
            raise ValueError(f"concept template {tid!r} must contain exactly one {{emotion}} "
                             f"slot: {tpl!r}")
    for emo in emotions:
        for tid, tpl in templates.items():
            prefix = "" if mask_token is None else mask_token + " "
            head = prefix + tpl[:tpl.index("{emotion}")]
            prompt = prefix + tpl.replace("{emotion}", emo)
            rows.append({"concept": emo, "template": tid, "prompt": prompt, "word": emo,
                         "word_start": len(head), "word_end": len(head) + len(emo)})
    return pd.DataFrame(rows, columns=["concept", "template", "prompt", "word", "word_start",
                                       "word_end"])


# ---------------------------------------------------------------- task prompts

def _situation(text: str) -> str:
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("task prompt: empty situation text")
    return text


def binary_prompt(text: str, emotion: str) -> str:
    """Decoder prompt for the binary task; the next token is " yes" or " no".

    >>> print(binary_prompt("I lost my keys.", "anger"))
    Situation: I lost my keys.
    Question: Does the person in this situation feel anger? Answer yes or no.
    Answer:
    """
    check_emotions([emotion], "binary_prompt")
    return (f"Situation: {_situation(text)}\n"
            f"Question: Does the person in this situation feel {emotion}? Answer yes or no.\n"
            f"Answer:")


def choice_prompt(text: str, options=GOEMOTIONS_EMOTIONS) -> str:
    """Decoder prompt for 27-way inference; the next words are one emotion word.

    Score each option by the summed log-probability of :func:`choice_continuation` (option)
    after this prompt.

    >>> print(choice_prompt("I lost my keys.", options=("anger", "joy")))
    Situation: I lost my keys.
    Options: anger, joy
    Question: Which one emotion from the options does the person in this situation feel?
    Emotion:
    """
    options = check_emotions(options, "choice_prompt")
    return (f"Situation: {_situation(text)}\n"
            f"Options: {', '.join(options)}\n"
            f"Question: Which one emotion from the options does the person in this situation "
            f"feel?\nEmotion:")


def choice_prompt_short(text: str) -> str:
    """Short decoder prompt for 27-way inference, without the option list (a completion prompt).

    The next word is the emotion; score each option by the summed log-probability of
    :func:`choice_continuation` (option), then calibrate (:mod:`emostat.collect.calibration`).
    On SmolLM2-135M-Instruct (4 situations x 27 emotions, sent raw) it reached 0.33 calibrated /
    0.17 raw accuracy where :func:`choice_prompt` (options listed, chat-wrapped) stayed near chance
    (0.04-0.07), and it is about 3x faster (a shorter prompt, no chat wrapper).

    >>> print(choice_prompt_short("I lost my keys."))
    Situation: I lost my keys.
    The emotion this person feels is
    """
    return f"Situation: {_situation(text)}\nThe emotion this person feels is"


def choice_continuation(emotion: str) -> str:
    """The continuation scored for ``emotion`` after :func:`choice_prompt`: ``" " + emotion``."""
    check_emotions([emotion], "choice_continuation")
    return " " + emotion


def generation_prompt(text: str) -> str:
    """Decoder prompt asking for one emotion word, for free (greedy) generation.

    >>> print(generation_prompt("I lost my keys."))
    Situation: I lost my keys.
    Question: In one word, which emotion does the person in this situation feel?
    Answer:
    """
    return (f"Situation: {_situation(text)}\n"
            f"Question: In one word, which emotion does the person in this situation feel?\n"
            f"Answer:")


def binary_prompt_mlm(text: str, emotion: str, mask_token: str = "<mask>") -> str:
    """MLM prompt for the binary task: the mask is filled with "yes" or "no".

    >>> binary_prompt_mlm("I lost my keys.", "anger")
    'I lost my keys. Does the person feel anger? <mask>.'
    """
    check_emotions([emotion], "binary_prompt_mlm")
    return f"{_situation(text)} Does the person feel {emotion}? {mask_token}."


def choice_prompt_mlm(text: str, mask_token: str = "<mask>") -> str:
    """MLM prompt for 27-way inference: the mask is filled with an emotion word.

    Multi-token emotion words need one mask per token: pass ``mask_token`` repeated
    (e.g. ``"<mask><mask>"``) and score each option with as many masks as it has tokens.

    >>> choice_prompt_mlm("I lost my keys.")
    'I lost my keys. The person in this situation feels <mask>.'
    """
    return f"{_situation(text)} The person in this situation feels {mask_token}."


def study_layout_mlm(text: str, mask_token: str = "<mask>") -> str:
    """The study's prompt-tuning layout without the soft prompt: ``<mask>`` first, then text.

    The runner inserts the learnt soft-prompt vectors between the mask and the text; the
    verbalizer reads :data:`MLM_BINARY_ANSWERS` at the mask.
    """
    return f"{mask_token} {_situation(text)}"


def parse_emotion(generated: str, options=GOEMOTIONS_EMOTIONS) -> str | None:
    """The first emotion word found in generated text, or None.

    Matches option names and their common forms (e.g. "angry" -> anger, "sad" -> sadness)
    word by word, from the start of ``generated``.

    >>> parse_emotion(" Sad, because she lost.")
    'sadness'
    >>> parse_emotion(" I don't know") is None
    True
    """
    options = check_emotions(options, "parse_emotion")
    lookup = {}
    for emo in options:
        for w in FORBIDDEN_WORDS[emo]:
            lookup.setdefault(w, emo)
        lookup[emo] = emo
    for w in words(generated):
        if w in lookup:
            return lookup[w]
    return None
