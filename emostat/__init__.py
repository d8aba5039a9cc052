"""emostat: statistics-first study of emotion concepts inside language models.

``emostat.load(run_dir)`` opens the results of ``emostat reproduce`` or ``emostat analyse`` (see
:mod:`emostat.results`).
"""

from emostat.version import __version__

__all__ = ["__version__", "load"]


def load(run_dir):
    """The results of a run as a :class:`emostat.results.Results` (tables, claims, provenance,
    ``summary()``); ``run_dir`` is the ``--out`` folder or its ``results/`` folder."""
    from emostat.results import load as load_results   # pandas only when asked for

    return load_results(run_dir)
