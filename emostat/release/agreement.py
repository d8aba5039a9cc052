"""Agreement of a reproduction with the study's own result files.

- ``Result/search_light_analysis/RoBERTa_neurons_rank.csv``: per attribute the rank of every
  neuron (row = neuron ``layer * 3072 + unit``, 1 = most attribute-like, ties averaged).
- ``Result/masking/RoBERTa/RSA_tau_14property/Unimodality_of_causal_effect.csv``: Hartigan's
  dip test of the emotions' drops per attribute and k.

:func:`write_agreement` writes the tables ``release_rank_agreement`` and
``release_unimodality`` into a reproduction's ``results/`` so that the report, which reads
tables only, can show them. Call it after ``neuron_rsa`` and ``dip_test`` are written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat.errors import InputError

RANK_FILE = Path("Result/search_light_analysis/RoBERTa_neurons_rank.csv")
DIP_FILE = Path("Result/masking/RoBERTa/RSA_tau_14property/Unimodality_of_causal_effect.csv")


def rank_agreement(neuron_rsa: pd.DataFrame, release_ranks: pd.DataFrame,
                   top_k: int = 4000) -> pd.DataFrame:
    """Per attribute: Spearman correlation of emostat's ranks with the release's, the share
    of neurons with an identical rank, and the overlap of the two top-``top_k`` sets.

    Parameters
    ----------
    neuron_rsa : DataFrame
        neuron, attribute, rank (emostat's ``neuron_rsa`` table).
    release_ranks : DataFrame
        The release's rank file: one column per attribute, row i = neuron i.
    """
    from scipy.stats import spearmanr

    out = []
    for a in release_ranks.columns:
        d = neuron_rsa.loc[neuron_rsa["attribute"] == a, ["neuron", "rank"]]
        if d.empty:
            continue
        ours = d.set_index("neuron")["rank"].sort_index().to_numpy(float)
        theirs = release_ranks[a].to_numpy(float)
        if len(ours) != len(theirs):
            raise InputError(f"{RANK_FILE}: {len(theirs)} neurons for {a!r}, the reproduction "
                             f"has {len(ours)}")
        top_ours = set(np.argsort(ours, kind="stable")[:top_k])
        top_theirs = set(np.argsort(theirs, kind="stable")[:top_k])
        out.append({"attribute": a, "spearman": float(spearmanr(ours, theirs)[0]),
                    "identical_share": float(np.mean(ours == theirs)), "top_k": top_k,
                    "top_k_overlap": len(top_ours & top_theirs), "n_neurons": len(ours)})
    return pd.DataFrame(out)


def unimodality_agreement(dip_test: pd.DataFrame, release_dip: pd.DataFrame) -> pd.DataFrame:
    """The release's dip statistics beside emostat's (``dip_test``: k, attribute, statistic,
    p_value), one row per attribute and k."""
    r = release_dip.rename(columns={"Number of Manipulated Neurons": "k",
                                    "Conceptual Attribute": "attribute", "D": "statistic_release",
                                    "p.value": "p_value_release"})
    r = r[["k", "attribute", "statistic_release", "p_value_release"]]
    ours = dip_test[["k", "attribute", "statistic", "p_value"]]
    return r.merge(ours, on=["k", "attribute"], how="inner").sort_values(["k", "attribute"])


def write_agreement(release_root, results_dir, top_k: int = 4000,
                    prov: dict | None = None) -> list[str]:
    """Write ``release_rank_agreement`` / ``release_unimodality`` into ``results_dir`` where the
    release folder has the files (an import-release copy has not: nothing is written); returns
    the names written. ``prov``: the provenance record stored in the files' metadata."""
    from emostat import io

    root, res = Path(release_root), Path(results_dir)
    written = []
    rank_file, dip_file = root / RANK_FILE, root / DIP_FILE
    if rank_file.exists() and (res / "neuron_rsa.parquet").exists():
        rsa = pd.read_parquet(res / "neuron_rsa.parquet", columns=["neuron", "attribute", "rank"])
        t = rank_agreement(rsa, pd.read_csv(rank_file), top_k)
        t["source"] = str(RANK_FILE)
        io.write_table(t, res / "release_rank_agreement.parquet", prov=prov)
        written.append("release_rank_agreement")
    if dip_file.exists() and (res / "dip_test.parquet").exists():
        t = unimodality_agreement(pd.read_parquet(res / "dip_test.parquet"), pd.read_csv(dip_file))
        t = t.assign(source=str(DIP_FILE),
                     p_method="Hartigan's dip test of the emotions' drops (release: its file; "
                              "emostat: dip_test's p_method)")
        io.write_table(t, res / "release_unimodality.parquet", prov=prov)
        written.append("release_unimodality")
    return written
