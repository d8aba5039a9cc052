"""Pre-registration: a study's plan written before collection, and runs checked against it.

``file`` (the TOML plan with the SHA-256 of its content; read with the hash checked),
``make`` (``emostat plan``: the plan from the options of ``emostat run``), ``compare`` (a
setting against the plan; deviations declared with a reason), ``stages`` (what ``collect`` and
``analyse`` check and record), ``markdown`` (the plan for a registry), ``text`` (the one line
the console and the reports print). See docs/preregistration.md.
"""

from emostat.plan.file import Plan, read_plan

__all__ = ["Plan", "read_plan"]
