"""Where shards run: ``local`` (in this process) or ``ray`` (actors on a Ray cluster).

Both run the same :class:`~emostat.collect.runner.Worker` code on the same shards, so they write
the same files. A backend has three methods: ``run(shards, desc)`` (returns when every shard's
file exists), ``identity()`` and ``close()``.
"""

from __future__ import annotations

from emostat.progress import progress


class LocalBackend:
    """Runs shards one after the other in this process; the model is loaded once."""

    def __init__(self, cfg, out, *, api=None, sapi=None, quiet=False):
        from emostat.collect.runner import Worker

        self.worker = Worker(cfg.to_dict(), out, api=api, sapi=sapi)
        self.quiet = quiet

    def identity(self) -> dict:
        return self.worker.identity()

    def run(self, shards, desc: str = "shards") -> None:
        total = sum(s.n_units for s in shards)
        unit = "prompt-blocks" if shards and shards[0].dataset == "activations" else "rows"
        with progress(total=total, desc=desc, unit=unit, quiet=self.quiet or None) as bar:
            for s in shards:
                self.worker.run(s, progress=bar)

    def close(self) -> None:
        pass


def make_backend(cfg, out, *, address=None, api=None, sapi=None, quiet=False):
    """The backend named by ``cfg.backend`` ("local" | "ray")."""
    if cfg.backend == "ray":
        from emostat.collect.ray_backend import RayBackend

        return RayBackend(cfg, out, address=address, api=api, sapi=sapi, quiet=quiet)
    if address:
        from emostat.errors import InputError

        raise InputError("--address is only used with --backend ray")
    return LocalBackend(cfg, out, api=api, sapi=sapi, quiet=quiet)
