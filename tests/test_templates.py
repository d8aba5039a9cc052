"""Prompt templates: concept prompts and task prompts fill their slots as documented."""

import doctest

import pytest

from emostat.collect import templates as T
from emostat.constants import EMOTIONS
from emostat.errors import InputError


def test_docstring_examples():
    res = doctest.testmod(T)
    assert res.attempted >= 7 and res.failed == 0


def test_concept_templates_are_twelve_seeds_with_one_slot():
    assert list(T.CONCEPT_TEMPLATES) == [f"t{i:02d}" for i in range(1, 13)]
    assert all(t.count("{emotion}") == 1 for t in T.CONCEPT_TEMPLATES.values())
    assert len(set(T.CONCEPT_TEMPLATES.values())) == 12


def test_concept_prompts_fill_every_emotion_into_every_template():
    df = T.concept_prompts()
    assert list(df.columns) == ["concept", "template", "prompt", "word", "word_start",
                                "word_end"]
    assert len(df) == 27 * 12
    assert df["concept"].tolist() == [e for e in EMOTIONS for _ in range(12)]
    assert (df["word"] == df["concept"]).all()
    spans = [p[s:e] for p, s, e in zip(df["prompt"], df["word_start"], df["word_end"])]
    assert spans == df["word"].tolist()
    row = df[(df["concept"] == "grief") & (df["template"] == "t02")].iloc[0]
    assert row["prompt"] == "A person who feels grief"
    assert "{" not in "".join(df["prompt"])


def test_concept_prompts_mask_prefix_and_custom_templates():
    df = T.concept_prompts(["joy", "fear"], {"a": "I feel {emotion} now."}, mask_token="<mask>")
    assert df["prompt"].tolist() == ["<mask> I feel joy now.", "<mask> I feel fear now."]
    assert [p[s:e] for p, s, e in zip(df["prompt"], df["word_start"], df["word_end"])] == \
        ["joy", "fear"]
    with pytest.raises(InputError, match="unknown emotion"):
        T.concept_prompts(["happiness"])
    with pytest.raises(ValueError, match="exactly one"):
        T.concept_prompts(["joy"], {"bad": "no slot here"})


def test_binary_prompt():
    p = T.binary_prompt("  I  lost\nmy keys. ", "annoyance")
    assert p == ("Situation: I lost my keys.\nQuestion: Does the person in this situation feel "
                 "annoyance? Answer yes or no.\nAnswer:")
    assert p + T.BINARY_ANSWERS[1] == p + " yes"
    with pytest.raises(InputError):
        T.binary_prompt("x", "happiness")
    with pytest.raises(ValueError, match="empty"):
        T.binary_prompt("   ", "anger")


def test_choice_prompt_lists_all_27_options_in_order():
    p = T.choice_prompt("My dog died.")
    opts = p.split("\n")[1]
    assert opts == "Options: " + ", ".join(EMOTIONS)
    assert p.endswith("\nEmotion:")
    assert T.choice_continuation("grief") == " grief"


def test_generation_and_mlm_prompts():
    g = T.generation_prompt("My dog died.")
    assert g.startswith("Situation: My dog died.\n") and g.endswith("Answer:")
    b = T.binary_prompt_mlm("My dog died.", "grief", mask_token="[MASK]")
    assert b == "My dog died. Does the person feel grief? [MASK]."
    c = T.choice_prompt_mlm("My dog died.", mask_token="[MASK]")
    assert c.count("[MASK]") == 1 and c.endswith("[MASK].")
    assert T.study_layout_mlm("Hi.") == "<mask> Hi."
    assert T.MLM_BINARY_ANSWERS == {1: "positive", 0: "negative"}


@pytest.mark.parametrize("text, expected", [
    (" Anger.", "anger"),
    ("I think she feels embarrassed", "embarrassment"),
    (" grateful and relieved", "gratitude"),
    (" Happiness", None),
    ("", None),
])
def test_parse_emotion(text, expected):
    assert T.parse_emotion(text) == expected


def test_short_choice_prompt_has_no_option_list():
    p = T.choice_prompt_short("  I lost\nmy keys. ")
    assert p == "Situation: I lost my keys.\nThe emotion this person feels is"
    assert not any(e in p for e in EMOTIONS)          # no option names it could copy
    assert all(e in T.choice_prompt("x") for e in EMOTIONS)   # the old prompt lists all 27
