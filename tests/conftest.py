"""Shared fixtures: the study's release (skips clearly when absent), seeds."""

from __future__ import annotations

import os

import pytest

from release_path import SHARED_RELEASE

RELEASE_MISSING = ("the study's released data is not at ../shared/data/model-emotion "
                   "(see SOURCE.md there); release-based reference tests are skipped")


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
