"""Read the study's released masking accuracies into the ``accuracy`` dataset (long format).

Sources (relative to the release root):

- ``Result/masking/RoBERTa/RSA_tau_14property/Acc_perSeed_JSON/<emotion>-<seed>.json``: keys
  ``<oldattr>_top<k>`` (top-k attribute neurons zeroed) and ``best`` (unmanipulated);
- ``Result/masking/RoBERTa/random/Acc_perSeed_JSON/<emotion>-<seed>.json``: keys
  ``<oldattr>_random<k>``: the same number of random neurons, ONE random set per (attribute, k)
  shared by all prompts (the release has k = 500 and 1000 too; all k present are kept);
- ``Data/raw_data/PLM/prompt_tuning_RoBERTa/accuracy.csv``: unmanipulated accuracy per prompt
  (checked against ``best`` by :func:`check_base_accuracy`).

Old attribute keys (``happy``, ``self-related``, ``non-novelty``...) are mapped to
:data:`~emostat.release.vocab.RELEASE_ATTRIBUTES` through
:data:`~emostat.constants.OLD_ATTRIBUTE_KEYS`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emostat.constants import K_VALUES, OLD_ATTRIBUTE_KEYS
from emostat.errors import input_error
from emostat.release.common import (BASE_ACCURACY, MASK_RANDOM_DIR, MASK_TOP_DIR, check_release,
                                    find, read_text)
from emostat.release.vocab import RELEASE_ATTRIBUTES, RELEASE_EMOTIONS

__all__ = ["MODEL", "read_masking_accuracy", "read_base_accuracy", "check_base_accuracy"]

MODEL = "roberta-base-prompt-tuned"
_OLD_TO_NEW = dict(zip(OLD_ATTRIBUTE_KEYS, RELEASE_ATTRIBUTES))
_KEY = re.compile(r"^(?P<attr>.+)_(?P<kind>top|random)(?P<k>\d+)$")
_COLUMNS = ["model", "concept", "template", "condition", "attribute", "k", "draw", "accuracy"]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise input_error(path, f"malformed JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise input_error(path, "expected a JSON object of accuracies")
    return data


def _accuracy(path: Path, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise input_error(path, f"accuracy is not a number: {value!r}", field=key)
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise input_error(path, f"accuracy {value} outside [0, 1]", field=key)
    return value


def _parse_name(path: Path) -> tuple[str, int]:
    stem, _, seed = path.stem.rpartition("-")
    if not stem or not seed.isdigit():
        raise input_error(path, "file name must be <emotion>-<seed>.json")
    if stem not in RELEASE_EMOTIONS:
        raise input_error(path, f"unknown emotion {stem!r}; expected one of the 27 GoEmotions "
                                "emotions")
    return stem, int(seed)


def _check_header(path: Path, data: dict, emotion: str, seed: int) -> None:
    if "sentiment" in data and data["sentiment"] != emotion:
        raise input_error(path, f"'sentiment' is {data['sentiment']!r} but the file name says "
                                f"{emotion!r}", field="sentiment")
    if "seed" in data and str(data["seed"]) != str(seed):
        raise input_error(path, f"'seed' is {data['seed']!r} but the file name says {seed}",
                          field="seed")


def _condition_rows(path: Path, data: dict, kind: str) -> list[tuple[str, int, float]]:
    """(attribute, k, accuracy) for every ``<oldattr>_<kind><k>`` key; checks completeness."""
    rows = []
    for key, value in data.items():
        if key in ("sentiment", "seed", "best"):
            continue
        m = _KEY.match(key)
        if m is None or m["kind"] != kind:
            raise input_error(path, f"unexpected key (expected <attribute>_{kind}<k>)", field=key)
        if m["attr"] not in _OLD_TO_NEW:
            raise input_error(path, f"unknown attribute key {m['attr']!r}; expected one of "
                                    f"{list(OLD_ATTRIBUTE_KEYS)}", field=key)
        rows.append((_OLD_TO_NEW[m["attr"]], int(m["k"]), _accuracy(path, key, value)))
    have = {(a, k) for a, k, _ in rows}
    for old, attr in _OLD_TO_NEW.items():
        for k in K_VALUES:
            if (attr, k) not in have:
                raise input_error(path, "missing key", field=f"{old}_{kind}{k}")
    if "best" not in data:
        raise input_error(path, "missing key (unmanipulated accuracy)", field="best")
    return rows


def read_masking_accuracy(root) -> pd.DataFrame:
    """The release's per-prompt masking accuracies as the ``accuracy`` dataset.

    Parameters
    ----------
    root : path
        The release folder (a clone of thunlp/Model_Emotion or the shared copy).

    Returns
    -------
    DataFrame
        Columns (schema ``accuracy``): ``model`` ("roberta-base-prompt-tuned"), ``concept``,
        ``template`` (the prompt-tuning seed as a string), ``condition`` ("none" |
        "attribute" | "random"), ``attribute`` (null for "none"), ``k`` (Int64, null for
        "none"), ``draw`` (Int64: 0 for "random", null otherwise), ``accuracy`` (0-1).
        One "none" row per prompt (``best``), 14 × 7 "attribute" rows and 14 × 9 "random"
        rows (all k in the files). Sorted by emotion, seed, condition, attribute, k.

    Raises
    ------
    InputError
        Missing folder or file, malformed JSON, a missing or unknown key, an unknown emotion,
        a prompt present in one folder but not the other, or ``best`` differing between them.
    """
    root = check_release(root)
    top_dir, rnd_dir = root / MASK_TOP_DIR, root / MASK_RANDOM_DIR
    for d in (top_dir, rnd_dir):
        if not d.is_dir():
            raise input_error(d, "masking results folder not found")
    top_files = sorted(top_dir.glob("*.json"))
    if not top_files:
        raise input_error(top_dir, "no <emotion>-<seed>.json files")
    rnd_names = {p.name for p in rnd_dir.glob("*.json")}
    extra = rnd_names - {p.name for p in top_files}
    if extra:
        raise input_error(rnd_dir, f"random-masking files without an attribute-masking twin: "
                                   f"{sorted(extra)[:5]}")
    records = []
    for tp in top_files:
        emotion, seed = _parse_name(tp)
        rp = rnd_dir / tp.name
        if tp.name not in rnd_names:
            raise input_error(rp, "random-masking file missing for this prompt")
        top, rnd = _read_json(tp), _read_json(rp)
        _check_header(tp, top, emotion, seed)
        _check_header(rp, rnd, emotion, seed)
        top_rows = _condition_rows(tp, top, "top")
        rnd_rows = _condition_rows(rp, rnd, "random")
        best = _accuracy(tp, "best", top["best"])
        if abs(best - _accuracy(rp, "best", rnd["best"])) > 1e-9:
            raise input_error(rp, f"'best' {rnd['best']} differs from {best} in {tp}",
                              field="best")
        t = str(seed)
        records.append((emotion, seed, t, "none", None, None, None, best))
        records += [(emotion, seed, t, "attribute", a, k, None, acc) for a, k, acc in top_rows]
        records += [(emotion, seed, t, "random", a, k, 0, acc) for a, k, acc in rnd_rows]
    df = pd.DataFrame.from_records(records, columns=["concept", "seed", "template", "condition",
                                                     "attribute", "k", "draw", "accuracy"])
    df["_e"] = df["concept"].map({e: i for i, e in enumerate(RELEASE_EMOTIONS)})
    df["_c"] = df["condition"].map({"none": 0, "attribute": 1, "random": 2})
    df["_a"] = df["attribute"].map({a: i for i, a in enumerate(RELEASE_ATTRIBUTES)})
    df = df.sort_values(["_e", "seed", "_c", "_a", "k"], na_position="first", kind="stable")
    df["model"] = MODEL
    df["k"] = df["k"].astype("Int64")
    df["draw"] = df["draw"].astype("Int64")
    return df[_COLUMNS].reset_index(drop=True)


def read_base_accuracy(root) -> pd.DataFrame:
    """``accuracy.csv``: unmanipulated accuracy per prompt.

    Returns
    -------
    DataFrame
        Columns ``concept``, ``template`` (seed as string), ``accuracy``.
    """
    path = find(check_release(root), BASE_ACCURACY)
    lines = read_text(path).strip().splitlines()
    if not lines or [c.strip() for c in lines[0].split(",")] != ["sentiment", "random_seed",
                                                                  "accuracy"]:
        raise input_error(path, "expected header 'sentiment,random_seed,accuracy'", row=1)
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        parts = [c.strip() for c in line.split(",")]
        if len(parts) != 3:
            raise input_error(path, f"expected 3 fields, got {len(parts)}", row=i)
        emotion, seed, acc = parts
        if emotion not in RELEASE_EMOTIONS:
            raise input_error(path, f"unknown emotion {emotion!r}", row=i, field="sentiment")
        try:
            rows.append((emotion, str(int(seed)), float(acc)))
        except ValueError:
            raise input_error(path, f"bad seed or accuracy {seed!r}, {acc!r}", row=i) from None
    return pd.DataFrame(rows, columns=["concept", "template", "accuracy"])


def check_base_accuracy(masking: pd.DataFrame, base: pd.DataFrame) -> float:
    """Largest |accuracy.csv − best| over prompts (NaN-free; raises if prompts differ).

    Parameters
    ----------
    masking : DataFrame from :func:`read_masking_accuracy`
    base : DataFrame from :func:`read_base_accuracy`

    Returns
    -------
    float
        Maximum absolute difference (the release: 1.1e-16, i.e. identical up to rounding).
    """
    none = masking[masking["condition"] == "none"].set_index(["concept", "template"])["accuracy"]
    b = base.set_index(["concept", "template"])["accuracy"]
    if set(none.index) != set(b.index):
        missing = sorted(set(none.index) ^ set(b.index))[:5]
        raise input_error(BASE_ACCURACY, f"prompts differ from the masking files: {missing}")
    return float(np.max(np.abs(none.sort_index() - b.sort_index())))
