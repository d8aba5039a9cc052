"""The Slurm backend: each phase's shards as one job array, submitted and awaited with submitit.

``emostat collect --backend slurm`` runs on a login node (or anywhere ``sbatch`` works): it
checks the model on the CPU, then for each phase (activations, baseline, inference) submits one
job array whose jobs each load the model once and run ``slurm_shards_per_job`` shards
(:class:`~emostat.collect.worker.Worker`, which writes each shard's file atomically into the run
folder: it must be on storage the nodes share), waits for the array, and runs the small steps
between phases itself (searchlight and conditions, calibration, accuracy). The geometry stage
is one more job. A shard is done exactly when its file exists, so a finished array that left
shards without a file (a job pre-empted, out of time, killed) has them resubmitted
(``slurm_retries``), and a rerun of the same command skips every finished shard.

If the submitting process dies, the jobs it submitted go on and write their shards; their ids
are in ``<slurm_folder>/jobs.json``. Rerunning the same command waits for those still queued or
running (Slurm only) and then submits only the shards that have no file. The options are config
keys (:mod:`emostat.collect.slurm_options`). submitit is an optional extra:
``pip install 'emostat[slurm]'``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from emostat import io
from emostat.errors import EmostatError, InputError
from emostat.progress import progress

INSTALL_HINT = ("--backend slurm needs the submitit package, which is not installed; install "
                "the optional extra with: pip install 'emostat[slurm]'")
POLL_S = 2.0


class SubmititMissingError(EmostatError, ImportError):
    """submitit is not installed."""


def import_submitit():
    """``import submitit``, or a clear error saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise SubmititMissingError(INSTALL_HINT) from None
    return submitit


def run_shards(cfg_dict: dict, out: str, shards, api=None, sapi=None) -> list[str]:
    """One job: load the model once, run ``shards`` (those with a file are skipped)."""
    from emostat.collect.worker import Worker

    w = Worker(cfg_dict, out, api=api, sapi=sapi)
    done = []
    for s in shards:
        w.run(s)
        done.append(s.id)
    return done


def identity_job(cfg_dict: dict, out: str, api=None) -> dict:
    """One job: the worker's model identity (:meth:`Worker.identity`)."""
    from emostat.collect.worker import Worker

    return Worker(cfg_dict, out, api=api).identity()


def run_geometry_job(cfg_dict: dict, out: str, run_prov: dict, fingerprint: str,
                     api=None) -> dict:
    """One job: the geometry stage on a model loaded in the job (its phase times)."""
    from emostat.collect.config import CollectConfig, run_space
    from emostat.collect.geometry_stage import geometry_phase
    from emostat.collect.worker import Worker

    cfg = CollectConfig(**cfg_dict)
    lm = Worker(cfg_dict, out, api=api).lm
    return geometry_phase(cfg, Path(out), lm, run_space(cfg), run_prov, fingerprint, quiet=True)


def executor_parameters(cfg) -> dict:
    """submitit AutoExecutor parameters of a config's ``slurm_*`` keys."""
    p = {"timeout_min": int(cfg.slurm_time_min), "gpus_per_node": int(cfg.slurm_gpus),
         "cpus_per_task": int(cfg.slurm_cpus or cfg.threads), "nodes": 1, "tasks_per_node": 1,
         "name": "emostat", "slurm_array_parallelism": int(cfg.slurm_array_parallelism)}
    if cfg.slurm_mem_gb:
        p["mem_gb"] = int(cfg.slurm_mem_gb)
    for key in ("partition", "account", "qos"):
        if getattr(cfg, f"slurm_{key}"):
            p[f"slurm_{key}"] = getattr(cfg, f"slurm_{key}")
    if cfg.slurm_setup:
        p["slurm_setup"] = list(cfg.slurm_setup)
    if cfg.slurm_extra:
        p["slurm_additional_parameters"] = dict(x.split("=", 1) for x in cfg.slurm_extra)
    return p


class SlurmBackend:
    """Runs shards as job arrays (``run``), and the geometry stage as a job (``geometry``)."""

    def __init__(self, cfg, out, *, api=None, sapi=None, quiet=False):
        self.submitit = import_submitit()
        self.cfg, self.out, self.api, self.sapi, self.quiet = cfg, Path(out), api, sapi, quiet
        self.folder = Path(cfg.slurm_folder) if cfg.slurm_folder else self.out / "slurm"
        self.times: dict[str, float] = {}
        try:
            self.executor = self.submitit.AutoExecutor(folder=self.folder / "logs",
                                                       cluster=cfg.slurm_cluster)
        except RuntimeError as exc:               # submitit: "Could not detect srun"
            raise EmostatError(f"--backend slurm: no Slurm on this machine ({exc}); run it "
                               f"where sbatch works (a login node), or set slurm_cluster = "
                               f"\"local\" to run the jobs as local processes") from None
        # jobs inherit this process's environment (sbatch's default --export=ALL, or the local
        # cluster's processes): emostat settings travel with them; threads come from the config
        try:
            self.executor.update_parameters(**executor_parameters(cfg))
        except (NameError, AssertionError, ValueError) as exc:
            raise InputError(f"slurm_* config fields: submitit refused them ({exc})") from None
        self.wait_for_earlier()

    # -- job ids, for a rerun after the submitting process died ----------------------------------
    @property
    def jobs_file(self) -> Path:
        return self.folder / "jobs.json"

    def _record(self, jobs) -> None:
        ids = [j.job_id for j in jobs]
        old = json.loads(self.jobs_file.read_text()) if self.jobs_file.is_file() else []
        io.write_text(self.jobs_file, json.dumps(old + ids))

    def wait_for_earlier(self) -> None:
        """Wait for the jobs of an earlier submission of this run still queued or running
        (Slurm only: a local job's process cannot be found again)."""
        if not self.jobs_file.is_file() or self.cfg.slurm_cluster != "slurm":
            return
        ids = json.loads(self.jobs_file.read_text())
        jobs = [self.submitit.SlurmJob(folder=self.folder / "logs", job_id=str(i)) for i in ids]
        live = [j for j in jobs if not j.done()]
        if live:
            if not self.quiet:
                print(f"slurm: waiting for {len(live)} job(s) of an earlier submission of this "
                      f"run ({', '.join(j.job_id for j in live[:3])}...)", flush=True)
            while any(not j.done() for j in live):
                time.sleep(POLL_S * 5)
        self.jobs_file.unlink()

    # -- the backend interface -------------------------------------------------------------------
    def identity(self) -> dict:
        """The model identity as a job sees it (one short job)."""
        return self.executor.submit(identity_job, self.cfg.to_dict(), str(self.out),
                                    self.api).result()

    def run(self, shards, desc: str = "shards") -> None:
        t0 = time.perf_counter()
        try:
            todo = list(shards)
            for _ in range(int(self.cfg.slurm_retries) + 1):
                failed = self._run_array(todo, desc)
                todo = [s for s in todo if not s.path(self.out).exists()]
                if not todo:
                    return
            raise EmostatError(f"slurm: {len(todo)} {desc} shard(s) still have no file after "
                               f"{self.cfg.slurm_retries + 1} submission(s) (e.g. {todo[0].id}); "
                               f"{failed or 'see the job logs'} (logs: {self.folder / 'logs'}); "
                               f"rerun the same command to resume")
        finally:
            self.times[desc] = self.times.get(desc, 0.0) + time.perf_counter() - t0

    def _run_array(self, shards, desc: str) -> str | None:
        """Submit one array over ``shards``, wait for it; returns the first job error (or None)."""
        n = int(self.cfg.slurm_shards_per_job)
        groups = [shards[i:i + n] for i in range(0, len(shards), n)]
        k = len(groups)
        cfgd, out = self.cfg.to_dict(), str(self.out)
        jobs = self.executor.map_array(run_shards, [cfgd] * k, [out] * k, groups,
                                       [self.api] * k, [self.sapi] * k)
        self._record(jobs)
        if not self.quiet:
            print(f"slurm: {desc}: {len(shards)} shard(s) in {k} job(s) "
                  f"(array {jobs[0].job_id.split('_')[0]})", flush=True)
        sizes = [sum(s.n_units for s in g) for g in groups]
        first_error = None
        with progress(total=sum(sizes), desc=desc, quiet=self.quiet or None) as bar:
            pending = dict(enumerate(jobs))
            while pending:
                for i, job in list(pending.items()):
                    if job.done():
                        del pending[i]
                        bar.update(sizes[i])
                        try:
                            job.result()
                        except Exception as exc:   # noqa: BLE001 - a job's failure, any kind
                            first_error = first_error or _one_line(job, exc)
                if pending:
                    time.sleep(POLL_S)
        return first_error

    def geometry(self, run_prov: dict, fingerprint: str) -> dict[str, float]:
        """The geometry stage as one job; its phase times."""
        job = self.executor.submit(run_geometry_job, self.cfg.to_dict(), str(self.out),
                                   run_prov, fingerprint, self.api)
        self._record([job])
        if not self.quiet:
            print(f"slurm: geometry: job {job.job_id}", flush=True)
        try:
            return job.result()
        except Exception as exc:                  # noqa: BLE001 - a job's failure, any kind
            raise EmostatError(f"slurm: the geometry job failed: {_one_line(job, exc)} (logs: "
                               f"{self.folder / 'logs'}); rerun the same command") from None

    def close(self) -> None:
        pass


def _one_line(job, exc) -> str:
    """A job's failure in one line: its id and the last line of its error."""
    lines = [x for x in str(exc).strip().splitlines() if x.strip()]
    return f"job {job.job_id}: {lines[-1] if lines else type(exc).__name__}"
