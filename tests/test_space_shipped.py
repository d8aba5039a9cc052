"""The shipped spaces besides the study: VADER (real, per-rater valence) and de-example."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from emostat.space import load_space, shipped_spaces

def lexicon() -> Path:
    """vader_lexicon.txt of the installed vadersentiment 3.3.2 (the test extra), the file the
    shipped VADER spaces were built from (their README gives its SHA-256)."""
    from importlib.resources import files

    return Path(str(files("vaderSentiment") / "vader_lexicon.txt"))


def test_shipped_names():
    assert shipped_spaces() == ["de-example", "study", "vader", "vader-all"]


def test_vader_space_and_its_cross_check_with_the_study():
    v, s = load_space("vader-all"), load_space()
    assert (v.n_concepts, v.attributes, v.human_data) == (85, ("valence",), True)
    r = v.ratings
    assert len(r) == 850 and r.groupby("concept").size().eq(10).all()
    # `vader` is vader-all's subset of the study's concepts, ratings unchanged
    sub = load_space("vader")
    assert list(sub.concepts) == [c for c in v.concepts if c in s.concepts]
    assert sub.means.equals(v.means.loc[list(sub.concepts)])
    assert r["value"].between(-4, 4).all() and not v.has_similarity
    # VADER's own mean for "joy" in vader_lexicon.txt is 2.8; "love" 3.2; "anger" -2.7
    assert v.means.loc[["joy", "love", "anger"], "valence"].round(10).tolist() == [2.8, 3.2, -2.7]
    common = [c for c in s.concepts if c in v.concepts]
    assert len(common) == 24                                  # README: n = 24
    x, y = s.means.loc[common, "valence"], v.means.loc[common, "valence"]
    assert stats.pearsonr(x, y)[0] == pytest.approx(0.977, abs=5e-4)    # README: r = 0.977
    assert stats.spearmanr(x, y)[0] == pytest.approx(0.887, abs=5e-4)   # README: rho = 0.887


def test_vader_ratings_equal_the_lexicon():
    import hashlib

    path = lexicon()
    # the file named in data/spaces/vader*/space.toml's citation
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "1ec9c6e9ee19aade328f8beb393a6afa71a5bb3acf7d3cc22d4ef568df374bf5")
    lex = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        p = line.split("\t")
        lex[p[0]] = (float(p[1]), ast.literal_eval(p[3]))
    v = load_space("vader-all")
    for c in v.concepts:
        mean, raw = lex[c]
        got = v.ratings[v.ratings["concept"] == c].sort_values("participant")["value"]
        assert got.tolist() == raw
        assert abs(np.mean(raw) - mean) < 0.051                 # the lexicon rounds to 0.1


def test_de_example_is_marked_illustrative_and_german():
    d = load_space("de-example")
    assert not d.human_data and d.language == "de" and d.n_concepts == 6
    assert d.words["ueberraschung"] == "Überraschung"
    assert d.templates["answers"]["yes"] == " ja"
    assert d.stimuli.groupby("concept").size().eq(3).all()
    # no situation names its own emotion word
    for row in d.stimuli.itertuples():
        assert d.words[row.concept].lower() not in row.text.lower(), row.id
    assert d.mean_rdm().shape == (15,) and np.isfinite(d.mean_rdm()).all()
