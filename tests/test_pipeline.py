"""End-to-end: `emostat reproduce` on the release writes every results table, valid and right.

Reference numbers are from ../shared/docs/reference-values.md (recomputed from the release with
the study's definitions); each assert names its source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emostat import io, schemas
from emostat.analysis.pipelines import RESULTS, reproduce
from emostat.cli import main

EXPECTED = ["attribute_importance", "neuron_rsa", "neuron_counts", "layer_distribution",
            "masking_by_emotion", "masking_by_attribute", "masking_cells", "importance_link",
            "importance_link_by_emotion", "dip_test", "whole_model_rsa", "masking_mixed_model",
            "masking_mixed_glance", "human_means", "attribute_rdms", "human_rdm",
            "appraisal_loadings", "rating_icc", "neuron_mantel", "neuron_count_null"]


@pytest.fixture(scope="module")
def study(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    # Fewer resamples than the CLI default (10,000) to keep CI short; estimates do not depend
    # on them, only bootstrap CIs and permutation p-values.
    reproduce(release, out, seed=11, n_boot=1000, n_perm=1000, quiet=True,
              searchlight={"mantel_top": 5, "n_perm_mantel": 999, "n_perm_count": 4})
    return out


@pytest.mark.slow
def test_every_results_table_is_written_and_valid(study):
    for name in EXPECTED:
        path = study / RESULTS / f"{name}.parquet"
        assert path.exists(), name
        schemas.validate(io.read_table(path, as_pandas=False), name, where=str(path))
        prov = io.read_provenance(path)
        assert prov["seed"] == 11 and prov["kind"] == "reproduction"
        assert "numpy" in prov["package_versions"]
    assert (study / RESULTS / "provenance.json").exists()


@pytest.mark.slow
def test_headline_numbers(study):
    res = lambda n: pd.read_parquet(study / RESULTS / f"{n}.parquet")  # noqa: E731
    imp = res("attribute_importance").set_index("attribute")["estimate"]
    # reference-values.md, human attribute importance
    assert imp["happy-face"] == pytest.approx(0.6052, abs=5e-5)
    assert imp["arousal"] == pytest.approx(-0.0027, abs=5e-5)
    emo = res("masking_by_emotion")
    k4 = emo[emo["k"] == 4000]
    # reference-values.md: 20 of 27 emotions drop significantly (study FDR q < .05)
    assert (k4["q_value"] < 0.05).sum() == 20
    link = res("importance_link").set_index(["k", "test"])
    # reference-values.md: k = 4000 mean r .474 [.424, .521], t(26) = 16.92
    assert link.loc[(4000, "study_t"), "estimate"] == pytest.approx(0.474, abs=5e-4)
    assert link.loc[(4000, "study_t"), "statistic"] == pytest.approx(16.92, abs=5e-3)
    # tests/r/link.R: attribute-level r .5271, t(12) = 2.149; permutation p .0532 (R, 1e5 draws)
    assert link.loc[(4000, "attribute_level_r"), "estimate"] == pytest.approx(0.52713, abs=1e-5)
    assert link.loc[(4000, "attribute_permutation"), "n_perm"] >= 10_000
    assert abs(link.loc[(4000, "attribute_permutation"), "p_value"] - 0.0532) < 0.01
    imp = res("attribute_importance").set_index("attribute")
    # reference-values.md: the study's bootstrap share: 12 of 14 below .05
    assert (imp["boot_share_le0"] < 0.05).sum() == 12
    assert imp["p_method"].str.startswith("Mantel").all()
    rsa = res("neuron_rsa")
    # reference-values.md: neuron 15512 (R's 1-based number; emostat's 0-based 15511, layer 5)
    # has tau(valence) = .522, tau(happy-face) = .463
    n15512 = rsa[(rsa["neuron"] == 15511)].set_index("attribute")["tau"]
    assert "p_asymptotic" in rsa.columns and "p_value" not in rsa.columns
    assert n15512["valence"] == pytest.approx(0.522, abs=5e-4)
    assert n15512["happy-face"] == pytest.approx(0.463, abs=5e-4)
    assert len(rsa) == 36_864 * 14
    mm = res("masking_mixed_model")
    assert set(mm["k"]) == {1500, 2000, 2500, 3000, 4000, 5000, 6000}
    assert set(mm["effect"]) == {"fixed", "ran_pars"}


@pytest.mark.slow
def test_same_seed_same_tables(study, release, tmp_path):
    """Rerunning from the import-release folder with the same seed gives identical tables
    (the import keeps the release's attribute distances, so even Kendall ties agree)."""
    out = tmp_path / "again"
    reproduce(study / "data", out, seed=11, n_boot=1000, n_perm=1000, quiet=True,
              searchlight={"mantel_top": 5, "n_perm_mantel": 999, "n_perm_count": 4})
    for name in EXPECTED:
        a = pd.read_parquet(study / RESULTS / f"{name}.parquet")
        b = pd.read_parquet(out / RESULTS / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


def test_reproduce_bad_release_is_a_clear_error(tmp_path, capsys):
    rc = main(["reproduce", "--release", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert rc == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduction_report_renders_from_real_results(study):
    """The reproduction report renders offline from the pipeline's own tables (HTML + PDF)."""
    import re

    from emostat.report.render import render_report

    files = render_report([study], to=["html", "pdf"], out=study / "report", quiet=True)
    html = files["html"].read_text()
    assert files["pdf"].stat().st_size > 50_000
    assert not re.search(r"<script[^>]+src=\"https?:", html)
    link = pd.read_parquet(study / RESULTS / "importance_link.parquet")
    link = link[link["test"] == "study_t"].set_index("k")
    # the text prints the k = 4000 link from the table (reference-values.md: .474)
    from emostat.format import fmt_stat

    assert fmt_stat(link.loc[4000, "estimate"], bounded=True, digits=3) in html or \
        fmt_stat(link.loc[4000, "estimate"], bounded=True) in html
