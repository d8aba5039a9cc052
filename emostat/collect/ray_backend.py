"""The Ray backend: shards as tasks on actors that each load the model once.

Each actor declares its resources (``ray_num_cpus``, ``ray_num_gpus``, ``ray_memory_gb`` in the
config) and runs :class:`~emostat.collect.worker.Worker`; the worker writes its shard's file
itself, atomically, into the run folder (which must be on storage every node sees). Actors are
restarted when their process dies (``max_restarts``) and the shard they held is retried
(``max_task_retries``); a retried shard whose file already exists is skipped, so nothing is lost
or written twice. Ray is an optional extra: ``pip install 'emostat[ray]'``.
"""

from __future__ import annotations

import os

from emostat.errors import EmostatError
from emostat.progress import progress

INSTALL_HINT = ("--backend ray needs the Ray package, which is not installed; install the "
                "optional extra with: pip install 'emostat[ray]'")
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3


class RayMissingError(EmostatError, ImportError):
    """Ray is not installed."""


def import_ray():
    """``import ray``, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayMissingError(INSTALL_HINT) from None
    return ray


class RayBackend:
    """Runs shards on ``cfg.ray_actors`` Ray actors (local instance or ``address``)."""

    def __init__(self, cfg, out, *, address=None, api=None, sapi=None, quiet=False):
        ray = import_ray()
        from ray.util import ActorPool

        from emostat.collect.worker import Worker

        self.ray, self.quiet = ray, quiet
        self.own = not ray.is_initialized()
        if self.own:
            kw = dict(include_dashboard=False, log_to_driver=not quiet, configure_logging=False)
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=max(2, int(cfg.ray_num_cpus * cfg.ray_actors)), **kw)
        # environment of the workers: emostat settings (and the test hook) travel with them
        env = {k: v for k, v in os.environ.items() if k.startswith("EMOSTAT_")}
        env.setdefault("OMP_NUM_THREADS", str(cfg.threads))
        opts = dict(num_cpus=cfg.ray_num_cpus, num_gpus=cfg.ray_num_gpus,
                    max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES,
                    runtime_env={"env_vars": env})
        if cfg.ray_memory_gb:
            opts["memory"] = int(cfg.ray_memory_gb * 2**30)
        actor = ray.remote(Worker).options(**opts)
        self.actors = [actor.remote(cfg.to_dict(), str(out), api, sapi)
                       for _ in range(cfg.ray_actors)]
        self.pool = ActorPool(self.actors)

    def identity(self) -> dict:
        return self.ray.get(self.actors[0].identity.remote())

    def run(self, shards, desc: str = "shards") -> None:
        total = sum(s.n_units for s in shards)
        sizes = {s.id: s.n_units for s in shards}
        done = self.pool.map_unordered(lambda a, s: a.run_id.remote(s), shards)
        with progress(total=total, desc=desc, quiet=self.quiet or None) as bar:
            for shard_id in done:
                bar.update(sizes[shard_id])

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # already gone
                pass
        if self.own:
            self.ray.shutdown()
