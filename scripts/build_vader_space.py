"""Build ``data/spaces/vader/`` from the VADER lexicon (run once; the CSVs are committed).

VADER (Hutto & Gilbert 2014; PyPI ``vadersentiment`` 3.3.2, MIT licence) ships
``vader_lexicon.txt``: per token, the mean valence, its SD and the 10 individual ratings
(-4 .. 4) of 10 raters. This keeps the emotion words of :data:`EMOTION_WORDS` the lexicon has
as single entries and writes them as a per-rater valence space (``participant`` = the position
of the rating in the lexicon's list, r01..r10).

    python -m pip install --target /tmp/vader --no-deps vadersentiment==3.3.2
    python scripts/build_vader_space.py /tmp/vader/vaderSentiment/vader_lexicon.txt
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT_ALL = ROOT / "data" / "spaces" / "vader-all"   # every emotion word the lexicon rates
OUT = ROOT / "data" / "spaces" / "vader"           # those among the study's 27 (runnable)
STUDY_WORDS = 27   # the first 27 of EMOTION_WORDS are the study's GoEmotions names

# The study's 27 GoEmotions names, then other common emotion nouns (one word each).
EMOTION_WORDS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise",
    "affection", "agony", "amazement", "anguish", "anxiety", "apathy", "apprehension", "awe",
    "bitterness", "bliss", "boredom", "cheerfulness", "compassion", "contempt", "contentment",
    "delight", "depression", "despair", "distrust", "dread", "ecstasy", "elation",
    "enthusiasm", "envy", "euphoria", "fright", "frustration", "fury", "gloom", "guilt",
    "happiness", "hate", "hatred", "helplessness", "hope", "hopelessness", "horror",
    "humiliation", "insecurity", "irritation", "jealousy", "loathing", "loneliness",
    "longing", "melancholy", "misery", "panic", "passion", "pity", "pleasure", "rage",
    "regret", "resentment", "satisfaction", "shame", "sorrow", "suffering", "sympathy",
    "tenderness", "terror", "triumph", "worry",
)


def read_lexicon(path: Path) -> dict[str, list[int]]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            out[parts[0]] = [int(x) for x in ast.literal_eval(parts[3])]
    return out


def main(lexicon: str) -> None:
    path = Path(lexicon)
    lex = read_lexicon(path)
    words = [w for w in EMOTION_WORDS if w in lex and len(lex[w]) == 10]
    for out, keep in ((OUT_ALL, words), (OUT, [w for w in words
                                               if w in EMOTION_WORDS[:STUDY_WORDS]])):
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"concept": keep, "word": keep}).to_csv(out / "concepts.csv", index=False)
        rows = [(w, "valence", v, f"r{k + 1:02d}") for w in keep for k, v in enumerate(lex[w])]
        pd.DataFrame(rows, columns=["concept", "attribute", "value", "participant"]).to_csv(
            out / "ratings.csv", index=False)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{len(words)} of {len(EMOTION_WORDS)} emotion words; lexicon sha256 {sha}")
    print("missing:", [w for w in EMOTION_WORDS if w not in words])


if __name__ == "__main__":
    main(sys.argv[1])
