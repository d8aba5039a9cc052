"""Where the tests find the study's released data: ``../shared/data/model-emotion`` beside the
checkout (see SOURCE.md there). A test-side path only: the package never looks there
(``emostat reproduce`` needs ``--release``)."""

from pathlib import Path

SHARED_RELEASE = Path(__file__).resolve().parents[2] / "shared" / "data" / "model-emotion"
