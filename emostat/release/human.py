"""Read the study's human rating data and write emostat's human datasets.

The readers live in :mod:`emostat.release.ratings` (affective, physical, appraisal) and
:mod:`emostat.release.similarity` (PsychoPy); this module loads the human space from a release
(:func:`load_human`), imports it (:func:`import_human`) and writes the study space's summaries
(:func:`write_shipped_human`). It imports :mod:`emostat.analysis.human.humanspace`, never the reverse.

The four experiments and the study's exclusions are described in :mod:`emostat.release.ratings`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emostat.analysis.human.humanspace import HumanSpace, human_space, study_space
from emostat.constants import pair_indices
from emostat.errors import InputError, input_error
from emostat.io import file_sha256, provenance, write_table
import emostat.release.common as common
from emostat.release.ratings import (EXPECTED, N_ITEMS, check_counts, read_affective,
                                     read_appraisal, read_physical)
from emostat.release.similarity import (N_TRIALS, psychopy_dissimilarity, read_psychopy_file,
                                        read_similarity, read_word_list)
from emostat.schemas import schema

__all__ = ["EXPECTED", "N_ITEMS", "N_TRIALS", "SHIPPED_N_BOOT", "SHIPPED_SEED", "check_counts",
           "import_human", "load_human", "psychopy_dissimilarity", "read_affective",
           "read_appraisal", "read_physical", "read_psychopy_file", "read_released_attribute_rdms",
           "read_similarity", "read_word_list", "write_shipped_human"]
# ---------------------------------------------------------------------------------------------
# the human space of a release

def read_released_attribute_rdms(root, space=None) -> pd.DataFrame:
    """``Data/preprocessed/emotional_features/dist_emotional_PCs.csv`` (351 x 14).

    Its columns and row count are checked against ``space`` (default: the study's space).
    """
    from emostat.space import load_space

    sp = load_space(space)
    attributes, n_pairs = sp.attributes, sp.n_pairs
    path = common.find(root, common.ATTRIBUTE_DIST)
    df = pd.read_csv(path)
    if list(df.columns) != list(attributes) or len(df) != n_pairs:
        raise input_error(path, f"expected {n_pairs} rows x columns {list(attributes)}")
    df.index.name = "pair"
    return df.astype(float)


def load_human(path) -> HumanSpace:
    """The human space from a release root (``Data/`` inside) or an import-release folder.

    From a release root the raw files are read directly (nothing is written). In both cases
    ``released_attribute_rdms`` holds the release's ``dist_emotional_PCs.csv`` (an
    import-release folder keeps it as ``released_attribute_rdms.parquet``).
    """
    from emostat import io

    path = Path(path)
    if (path / "Data").is_dir():
        _, r_aff = read_affective(path)
        _, r_phy = read_physical(path)
        _, responses = read_appraisal(path)
        _, similarity, _ = read_similarity(path)
        ratings = pd.concat([r_aff, r_phy], ignore_index=True)
        try:
            released = read_released_attribute_rdms(path)
        except InputError:
            released = None
        return human_space(ratings, responses, similarity, released)
    if (path / "ratings.parquet").exists():
        ratings = io.read_table(path / "ratings.parquet", dataset="ratings")
        responses = io.read_table(path / "appraisal_responses.parquet",
                                  dataset="appraisal_responses")
        similarity = io.read_table(path / "similarity.parquet", dataset="similarity")
        released = None
        if (path / "released_attribute_rdms.parquet").exists():
            released = (io.read_table(path / "released_attribute_rdms.parquet",
                                      dataset="released_attribute_rdms")
                        .set_index("pair")[list(study_space().attributes)])
        return human_space(ratings, responses, similarity, released)
    raise InputError(f"{path}: neither the study's release (no Data/ folder) nor an "
                     "`emostat import-release` output (no ratings.parquet)")


# ---------------------------------------------------------------------------------------------
# import-release and the shipped summaries

def _hashes(root: Path, paths) -> dict[str, str]:
    return {str(Path(p).relative_to(root)): file_sha256(p) for p in paths}


def import_human(root, out, quiet: bool = False) -> dict[str, Path]:
    """Write the human datasets of the release at ``root`` under ``out``.

    Files: ``participants.parquet``, ``ratings.parquet`` (affective + physical),
    ``appraisal_responses.parquet``, ``similarity.parquet`` (schemas in
    :mod:`emostat.schemas`; extra columns ``item_text`` and ``imputed``). Each carries a
    provenance record with the source folder and the SHA-256 of every file read.

    Returns
    -------
    dict
        dataset name -> written path.
    """
    root = common.check_release(root)
    out = Path(out)
    pa_aff, r_aff = read_affective(root)
    pa_phy, r_phy = read_physical(root)
    pa_app, responses = read_appraisal(root)
    pa_sim, similarity, check = read_similarity(root)
    raw_dir = root / common.SIMILARITY_RAW_DIR
    src = {
        "ratings": [root / common.AFFECTIVE_DIR / "rawdata.csv",
                    root / common.PHYSICAL_DIR / "rawdata.csv"],
        "appraisal_responses": [root / common.APPRAISAL_DIR / "rawdata.csv"],
        "similarity": [common.find(root, common.SUBJECT_DIST),
                       *sorted(raw_dir.glob("*_PRaM_*.csv"))],
    }
    src["participants"] = src["ratings"] + src["appraisal_responses"] + src["similarity"]
    tables = {
        "participants": pd.concat([pa_aff, pa_phy, pa_app, pa_sim], ignore_index=True),
        "ratings": pd.concat([r_aff, r_phy], ignore_index=True),
        "appraisal_responses": responses,
        "similarity": similarity,
    }
    src["released_attribute_rdms"] = [common.find(root, common.ATTRIBUTE_DIST)]
    tables["released_attribute_rdms"] = read_released_attribute_rdms(root).reset_index()
    written = {}
    for name, table in tables.items():
        prov = provenance(source=str(root), dataset=name, files=_hashes(root, src[name]))
        if name == "similarity":
            prov["raw_check"] = check
        written[name] = write_table(table, out / f"{name}.parquet", prov=prov,
                                    schema=_with_extras(name, table))
    if not quiet:
        inc = tables["participants"].groupby("experiment")["included"].agg(["sum", "size"])
        for exp, row in inc.iterrows():
            want = EXPECTED.get(exp)
            print(f"{exp}: {row['sum']} of {row['size']} participants included"
                  + (f" (the study's release: {want[1]} of {want[0]})" if want else ""))
    return written


def _with_extras(name: str, table: pd.DataFrame):
    """The dataset's schema plus any extra columns of ``table`` (types inferred)."""
    import pyarrow as pa

    base = schema(name)
    extra = [c for c in table.columns if c not in base.names]
    inferred = pa.Schema.from_pandas(table[extra], preserve_index=False) if extra else None
    fields = list(base) + ([inferred.field(c) for c in extra] if extra else [])
    return pa.schema(fields)


def write_shipped_human(root, out_dir) -> dict[str, Path]:
    """Write the study space's human files (``data/spaces/study/``) from the release.

    ``ratings.csv``: long ``concept, attribute, value``, 27 x 14 rows (analysis order, then
    attribute order): the per-concept means derived by emostat from the raw ratings
    (appraisal: mean varimax component scores); no participants (the raw ratings stay out of
    the repository). ``similarity.csv``: 351 rows ``concept_a, concept_b, value``, the mean
    dissimilarity over the study's 61 participants, in the study's pair order.
    ``attribute_importance.csv``: per attribute, Kendall tau-b of the mean human RDM with
    emostat's attribute RDM and its participant bootstrap (10,000 resamples, seeded): SD, BCa
    interval and the share of resamples with tau <= 0 (``boot_share_le0``, the study's "p").

    Returns
    -------
    dict
        file stem -> path.
    """
    from emostat.analysis.human.humanspace import attribute_importance

    space = load_human(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    means = space.means
    concepts, attributes = list(means.index), list(means.columns)
    ratings = pd.DataFrame({"concept": np.repeat(concepts, len(attributes)),
                            "attribute": attributes * len(concepts),
                            "value": means.to_numpy(float).ravel()})
    i, j = pair_indices(len(concepts))
    mean = pd.DataFrame({"concept_a": np.asarray(concepts)[i],
                         "concept_b": np.asarray(concepts)[j], "value": space.mean_rdm})
    # participant bootstrap of importance against emostat's own attribute RDMs (the ones a
    # collected run is linked to), so experiments can show CIs without the participants
    imp = attribute_importance(space.subject_rdms, space.attribute_rdms, n_boot=SHIPPED_N_BOOT,
                               n_perm=0, seed=SHIPPED_SEED)
    imp = imp[["attribute", "estimate", "std_error_participants", "conf_low_participants",
               "conf_high_participants", "conf_method_participants", "boot_share_le0",
               "n_boot"]].assign(seed=SHIPPED_SEED)
    paths = {"ratings": out_dir / "ratings.csv", "similarity": out_dir / "similarity.csv",
             "attribute_importance": out_dir / "attribute_importance.csv"}
    ratings.to_csv(paths["ratings"], index=False, float_format="%.17g")
    mean.to_csv(paths["similarity"], index=False, float_format="%.17g")
    imp.to_csv(paths["attribute_importance"], index=False, float_format="%.17g")
    return paths


SHIPPED_N_BOOT = 10_000
SHIPPED_SEED = 20241201
