"""The config keys of ``--backend slurm`` (:mod:`emostat.collect.slurm_backend`), validated
without importing submitit. Every key is optional; none enters the run's identity (they choose
where shards run, not what they compute).

=========================  =========================================================
``slurm_cluster``          ``"slurm"`` (sbatch job arrays) or ``"local"`` (submitit's
                           LocalExecutor: the same jobs as local processes, no Slurm)
``slurm_partition``        ``--partition`` (default: the cluster's)
``slurm_account``          ``--account``
``slurm_qos``              ``--qos``
``slurm_time_min``         time limit of one job, minutes (default 60)
``slurm_mem_gb``           memory of one job, GB (default: the partition's)
``slurm_gpus``             GPUs of one job (default 0; set ``device = "cuda"`` with it)
``slurm_cpus``             CPUs of one job (default: ``threads``)
``slurm_array_parallelism`` jobs of an array running at once (default 32)
``slurm_shards_per_job``   shards one job runs, its model loaded once (default 1)
``slurm_retries``          resubmissions of shards a finished array left without a
                           file (a job killed, pre-empted, out of time; default 1)
``slurm_setup``            shell lines run before each job (``module load ...``)
``slurm_extra``            other sbatch options, ``"KEY=VALUE"`` (e.g.
                           ``"constraint=a100"``)
``slurm_folder``           submitit's folder (scripts, logs, job ids; default
                           ``<out>/slurm``)
=========================  =========================================================
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from emostat.errors import InputError


@dataclass
class SlurmFields:
    """The ``slurm_*`` fields of :class:`emostat.collect.config.CollectConfig` (its base)."""

    slurm_cluster: str = "slurm"
    slurm_partition: str | None = None
    slurm_account: str | None = None
    slurm_qos: str | None = None
    slurm_time_min: int = 60
    slurm_mem_gb: int | None = None
    slurm_gpus: int = 0
    slurm_cpus: int | None = None
    slurm_array_parallelism: int = 32
    slurm_shards_per_job: int = 1
    slurm_retries: int = 1
    slurm_setup: list[str] | None = None
    slurm_extra: list[str] | None = None
    slurm_folder: str | None = None


DEFAULTS = {f.name: f.default for f in dataclasses.fields(SlurmFields)}
CLUSTERS = ("slurm", "local")
_NAME = re.compile(r"^[A-Za-z0-9_.,:+-]+$")         # partition, account, qos names
_EXTRA = re.compile(r"^[a-z][a-z0-9_-]*=\S.*$")


def _int(v, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def validate_slurm(cfg, where: str) -> None:
    """Raise :class:`InputError` naming the first bad ``slurm_*`` field of ``cfg``."""
    def bad(key, problem):
        raise InputError(f"{where}: config field {key!r}: {problem}")

    if cfg.slurm_cluster not in CLUSTERS:
        bad("slurm_cluster", f"{cfg.slurm_cluster!r} not in {CLUSTERS}")
    for key in ("slurm_partition", "slurm_account", "slurm_qos"):
        v = getattr(cfg, key)
        if v is not None and not (isinstance(v, str) and _NAME.match(v)):
            bad(key, f"{v!r} is not a Slurm name (letters, digits, _.,:+-)")
    for key, lo in (("slurm_time_min", 1), ("slurm_gpus", 0), ("slurm_array_parallelism", 1),
                    ("slurm_shards_per_job", 1), ("slurm_retries", 0)):
        v = getattr(cfg, key)
        if not _int(v, lo):
            bad(key, f"expected an integer >= {lo}, got {v!r}")
    for key in ("slurm_mem_gb", "slurm_cpus"):
        v = getattr(cfg, key)
        if v is not None and not _int(v, 1):
            bad(key, f"expected a positive integer (or omit it), got {v!r}")
    for key in ("slurm_setup", "slurm_extra"):
        v = getattr(cfg, key)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            bad(key, f"expected a list of strings, got {v!r}")
    for x in cfg.slurm_extra or ():
        if not _EXTRA.match(x):
            bad("slurm_extra", f"{x!r} is not KEY=VALUE (an sbatch long option without '--')")
    if cfg.slurm_folder is not None and not (isinstance(cfg.slurm_folder, str)
                                             and cfg.slurm_folder):
        bad("slurm_folder", f"expected a folder path, got {cfg.slurm_folder!r}")
    if cfg.slurm_gpus and cfg.device == "cpu":
        bad("slurm_gpus", f"{cfg.slurm_gpus} GPU(s) per job with device = \"cpu\": set "
                          f"device = \"cuda\" (or slurm_gpus = 0)")
