"""A user's hand-written concept space end to end (issue 16, Done when): `emostat run --space DIR
--quick` on the embedded model renders the HTML and PDF experiment report, and the searchlight
taus it wrote equal scipy's Kendall tau-b recomputed from the written activations Parquet and
the space's ratings.csv (no emostat code in the recomputation).

The space (tests/spaces/user12/) is written by hand: 12 English emotion words, 3 attributes,
4 made-up participants, 3 situations per word, no similarity judgments. About a minute on
2 CPU cores.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SPACE = Path(__file__).parent / "spaces" / "user12"
ATTRS = ["pleasantness", "arousal", "control"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    from emostat.workflow import run

    out = tmp_path_factory.mktemp("e2e") / "user12"
    files = run(out, quick=True, space=str(SPACE), to=("html", "pdf"), quiet=True)
    return out, files


def pdf_text(pdf: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler) not installed")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_user_space_renders_html_and_pdf(user_run):
    from emostat.report import pdfcheck

    out, files = user_run
    assert sorted(files) == ["html", "pdf"]
    assert all(Path(p).stat().st_size > 10_000 for p in files.values())
    text = pdf_text(files["pdf"])
    flat = " ".join(text.split())
    # names and counts come from the space: 12 concepts x 3 attributes, its attribute names
    assert "over the 12 concepts is compared with the 3 human attribute RDMs" in flat
    assert "12 concepts × 3 attributes from the space user12" in flat
    assert all(a in text for a in ATTRS)
    for study_only in ("27 emotions", "14 attributes", "27 concepts", "GoEmotions emotions",
                       "Record table", "record table", "0.00000000", " NA "):
        assert study_only not in flat, study_only
    # without similarity.csv: importance, link and whole-model RSA are "not tested", once
    # each with the reason, never "failed"
    claims = pd.read_parquet(out / "results" / "claims.parquet")
    rec = claims[claims["role"] == "record"].set_index("claim")
    assert set(rec.loc[["importance", "link", "whole_model"], "decision"]) == {"not tested"}
    assert "failed" not in set(rec["decision"])
    assert "has no similarity judgments" in flat
    assert not (out / "results" / "attribute_importance.parquet").exists()
    # situations: the space's stimuli.csv, not the study's
    assert "this run’s items are the stimuli.csv of the space user12" in flat
    if pdfcheck.available():
        assert pdfcheck.problems(files["pdf"]) == []


def test_searchlight_equals_scipy_kendall_tau_b(user_run):
    """neuron_rsa's tau (and its asymptotic p) for 40 sampled neurons x 3 attributes equal
    scipy.stats.kendalltau (tau-b; p one-sided 'greater', the study's direction) between the
    neuron's RDM (mean over templates of |a_i - a_j|, read from activations/*.parquet) and the
    attribute's RDM (|mean_i - mean_j| of the participants' ratings, from ratings.csv)."""
    from scipy.stats import kendalltau

    out, _ = user_run
    concepts = pd.read_csv(SPACE / "concepts.csv")["concept"].tolist()
    ratings = pd.read_csv(SPACE / "ratings.csv")
    act = pd.concat([pd.read_parquet(f) for f in sorted((out / "activations").glob("*.parquet"))],
                    ignore_index=True)
    sizes = act.groupby("layer")["values"].first().map(len)          # units per layer
    offsets = np.concatenate([[0], np.cumsum(sizes.to_numpy())])
    rsa = pd.read_parquet(out / "results" / "neuron_rsa.parquet").set_index(
        ["neuron", "attribute"])
    assert len(rsa) == offsets[-1] * len(ATTRS)                     # every neuron x attribute
    i, j = np.triu_indices(len(concepts), 1)                         # 66 pairs
    human = {}
    for a in ATTRS:
        m = ratings[ratings["attribute"] == a].groupby("concept")["value"].mean()
        h = m.reindex(concepts).to_numpy(float)
        human[a] = np.round(np.abs(h[i] - h[j]), 12)                 # exact ties stay ties
    templates = sorted(act["template"].unique())
    rng = np.random.default_rng(16)
    for n in rng.choice(int(offsets[-1]), 40, replace=False):
        layer = int(np.searchsorted(offsets, n, side="right") - 1)
        unit = int(n - offsets[layer])
        part = act[act["layer"] == sizes.index[layer]].set_index(["template", "concept"])
        A = np.array([[part.loc[(t, c), "values"][unit] for c in concepts] for t in templates],
                     dtype=np.float64)                               # templates x concepts
        D = np.abs(A[:, i] - A[:, j]).mean(axis=0)
        for a in ATTRS:
            want = kendalltau(D, human[a], alternative="greater")
            got = rsa.loc[(int(n), a)]
            assert got["tau"] == pytest.approx(want.statistic, abs=1e-9), (n, a)
            assert got["p_asymptotic"] == pytest.approx(want.pvalue, abs=1e-9), (n, a)
