"""Where emostat finds its shipped data (``data/`` at the top of the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("EMOSTAT_DATA", ROOT / "data"))
REPORTS_DIR = ROOT / "reports"
SHARED_RELEASE = ROOT.parent / "shared" / "data" / "model-emotion"
