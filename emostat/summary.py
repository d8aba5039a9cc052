"""Console summaries (kept for existing imports): see :mod:`emostat.console`.

``headline(claims)`` renders the claims table (:mod:`emostat.analysis.claims.table`);
``summarize(name, table)`` prints one results table R-style.
"""

from emostat.console import fmt_pval_r, headline, summarize, text_table

__all__ = ["headline", "summarize", "fmt_pval_r", "text_table"]
