"""End-to-end analyses: ``reproduce`` (the study's release) and ``analyse_run`` (a collected run).

Both write tidy Parquet tables under ``<out>/results/`` (one file per table, names and columns in
:mod:`emostat.schemas`) plus ``<out>/results/provenance.json``. Same inputs and seed give identical
tables. Nothing here imports torch.

The code lives in :mod:`emostat.analysis.pipelines.steps` (the tables both share and the results writer),
:mod:`emostat.analysis.pipelines.reproduce` and :mod:`emostat.analysis.pipelines.analyse`; this module keeps
the historical import path.
"""

from emostat.analysis.pipelines.analyse import analyse_run, check_out_dir
from emostat.analysis.pipelines.reproduce import reproduce
from emostat.analysis.pipelines.runspace import (importance_from_mean, importance_tables, run_space,
                                       with_shipped_bootstrap)
from emostat.analysis.pipelines.steps import (LINK_MIN_PERM, RESULTS, SEARCHLIGHT_PERM, human_tables,
                                    link_tables, masking_tables, searchlight_tables,
                                    write_results)
from emostat.checks import package_versions

__all__ = ["LINK_MIN_PERM", "RESULTS", "SEARCHLIGHT_PERM", "analyse_run", "check_out_dir",
           "human_tables", "importance_from_mean", "importance_tables", "link_tables",
           "masking_tables", "package_versions", "reproduce", "run_space", "searchlight_tables",
           "with_shipped_bootstrap", "write_results"]
