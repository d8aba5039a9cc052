"""Shared fixtures: the study's release (skips clearly when absent), seeds."""

from __future__ import annotations

import os

# One torch thread per test process: `make test` runs one worker per core (pytest-xdist), and
# tests that build tiny models directly (not through emostat's loader, which picks 1 thread on
# small hosts) were 40x slower per forward with two threads on a loaded 2-core host. Set before
# anything imports torch; a test of the thread rule sets its own value.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The default profile's dtype "auto" picks bfloat16 on CPUs with native bf16; the suite's frozen
# numbers are float32 on any host, so it counts no host as native (tests of "auto" set 1).
os.environ.setdefault("EMOSTAT_NATIVE_BF16", "0")
# No background searchlight in every tiny collection (a spawned process each, ~2 s): the
# tests of the cache switch it on (tests/test_slcache.py).
os.environ.setdefault("EMOSTAT_SEARCHLIGHT_CACHE", "0")

import pytest  # noqa: E402

from release_path import SHARED_RELEASE  # noqa: E402

RELEASE_MISSING = ("the study's released data is not at ../shared/data/model-emotion "
                   "(see SOURCE.md there); release-based reference tests are skipped")


# `make test` runs the files on the workers below (--dist loadfile --no-loadscope-reorder), handed
# out in collection order: the heaviest go out first (measured 2026-12-07, 40-100 s each), so
# no worker is left alone with one of them at the end. Only the order changes.
HEAVY_FIRST = ("test_pipeline.py", "test_slurm_backend.py", "test_ray_backend.py",
               "test_slcache.py", "test_plan.py", "test_e2e_space.py", "test_beside.py",
               "test_render.py", "test_experiment.py", "test_runner.py", "test_backends.py",
               "test_geometry_render.py")


def pytest_xdist_auto_num_workers(config):
    """Workers for `-n auto`: one more than the cores this process may use. About a fifth of
    the suite's time is spent waiting on the processes its tests start (collections, slurm and
    ray jobs) with a core idle; measured 2026-12-08 on the 2-core host (88 GFLOPS), the whole
    suite took 541 s on 2 workers, 464 s on 3, 479 s on 4. xdist's own variable
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides where it is set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None                                     # xdist's hook reads it
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                              # not on Linux
        cores = os.cpu_count() or 1
    return cores + 1


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))     # stable


@pytest.fixture(scope="session")
def release():
    """Path of the study's released data; skips the test when it is absent."""
    if not (SHARED_RELEASE / "Data").is_dir():
        pytest.skip(RELEASE_MISSING)
    return SHARED_RELEASE


@pytest.fixture(autouse=True, scope="session")
def _quiet_env():
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield
