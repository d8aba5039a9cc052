"""Console views of a run: R-style table summaries (:mod:`.tables`) and the headline block of
claims (:mod:`.headline`); plain-text helpers in :mod:`.text`."""

from emostat.console.headline import headline
from emostat.console.tables import summarize
from emostat.console.text import fmt_pval_r, text_table

__all__ = ["headline", "summarize", "fmt_pval_r", "text_table"]
