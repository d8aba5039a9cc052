"""Shared helpers for reading the study's release layout (a clone of thunlp/Model_Emotion or
the shared copy). Files may be ``.csv`` or ``.csv.gz``."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from emostat.errors import InputError, input_error

# Paths inside the release, relative to its root.
RAW = Path("Data/raw_data")
AFFECTIVE_DIR = RAW / "emotional_featuers/affective_features"   # authors' spelling
PHYSICAL_DIR = RAW / "emotional_featuers/physical_features"
APPRAISAL_DIR = RAW / "emotional_featuers/appraisal_features"
SIMILARITY_RAW_DIR = RAW / "subjective_comparison"
PREPROCESSED = Path("Data/preprocessed")
ATTRIBUTE_DIST = PREPROCESSED / "emotional_features/dist_emotional_PCs.csv"
SUBJECT_DIST = PREPROCESSED / "subjective_comparison/ind_dist_subjective_comparison.csv"
MEAN_DIST = PREPROCESSED / "subjective_comparison/avg_dist_subjective_comparison.csv"
REORDERED = PREPROCESSED / "reordered_emotions.csv"
ACTIVATIONS_DIR = RAW / "PLM/prompt_tuning_RoBERTa/neurons_activation_before_relu"
BASE_ACCURACY = RAW / "PLM/prompt_tuning_RoBERTa/accuracy.csv"
RANKS = Path("Result/search_light_analysis/RoBERTa_neurons_rank.csv")
MASK_TOP_DIR = Path("Result/masking/RoBERTa/RSA_tau_14property/Acc_perSeed_JSON")
MASK_RANDOM_DIR = Path("Result/masking/RoBERTa/random/Acc_perSeed_JSON")
GOEMOTIONS_DIR = Path("Data/goemotions")
AGREEMENTS = Path("Data/emotion_agreements.csv")


def check_release(root) -> Path:
    """Return ``root`` as a Path if it looks like the release, else raise a clear InputError."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: release folder not found (expected a clone of "
                         "github.com/thunlp/Model_Emotion)")
    if not (root / "Data").is_dir():
        raise InputError(f"{root}: no Data/ folder; this is not the study's release layout")
    return root


def find(root, rel) -> Path:
    """The file ``root/rel``, or ``root/rel.gz`` if only the compressed one exists."""
    p = Path(root) / rel
    if p.exists():
        return p
    gz = p.with_name(p.name + ".gz")
    if gz.exists():
        return gz
    raise InputError(f"{p}: required release file not found (nor {gz.name})")


def read_text(path) -> str:
    """Text of a ``.csv`` or ``.csv.gz`` file (UTF-8, BOM stripped)."""
    path = Path(path)
    try:
        raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    return raw.decode("utf-8-sig")


def read_cells(path: Path) -> pd.DataFrame:
    """All cells as stripped strings ('' for empty); column names stripped."""
    if not path.exists():
        raise input_error(path, "required release file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise input_error(path, f"not a readable CSV file ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df.apply(lambda s: s.str.strip())
