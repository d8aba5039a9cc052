"""The old column names of user tables, accepted by :mod:`emostat.stats` for one release.

emostat 0.x named a concept column ``emotion`` (``emotion_a``, ``emotion_b`` for pairs) and a
participant column ``participant_id``; every table now says ``concept`` and ``participant``
(files written before are upgraded on reading, :func:`emostat.schemas.upgrade`). A DataFrame
passed to a function of :mod:`emostat.stats` with an old name and without the new one is
renamed, with a :class:`DeprecationWarning`; the old names will be refused in the next release.
:func:`vocabulary_v2` is the upgrade step of a stored table to the same vocabulary.

>>> import warnings, pandas as pd
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     list(renamed(pd.DataFrame({"emotion": ["joy"], "x": [1]}), "demo").columns)
['concept', 'x']
>>> w[0].category.__name__
'DeprecationWarning'
"""

from __future__ import annotations

import functools
import inspect
import warnings

OLD_NAMES = {"emotion": "concept", "emotion_a": "concept_a", "emotion_b": "concept_b",
             "participant_id": "participant"}


def renamed(df, where: str):
    """``df`` with its old column names replaced (a warning says which); anything else as is."""
    cols = getattr(df, "columns", None)
    if cols is None or not hasattr(df, "rename"):
        return df
    old = {o: n for o, n in OLD_NAMES.items() if o in cols and n not in cols}
    if not old:
        return df
    warnings.warn(f"{where}: column(s) {sorted(old)} are now named "
                  f"{[old[o] for o in sorted(old)]}; the old names are accepted for one "
                  "release", DeprecationWarning, stacklevel=3)
    return df.rename(columns=old)


def _names(value):
    if isinstance(value, str):
        return OLD_NAMES.get(value, value)
    if isinstance(value, (list, tuple)):
        return type(value)(OLD_NAMES.get(v, v) if isinstance(v, str) else v for v in value)
    return value


def accepts_old_names(fn):
    """``fn`` whose DataFrame arguments may still use :data:`OLD_NAMES` (with a warning); a
    ``by`` argument naming an old column is translated alike."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        bound = sig.bind(*args, **kw)
        for k, v in bound.arguments.items():
            bound.arguments[k] = _names(v) if k == "by" else renamed(v, fn.__name__)
        return fn(*bound.args, **bound.kwargs)
    return wrapper


# A stored table's step to one vocabulary (issue 22; registered in emostat.schemas): a column
# naming a concept of the run's space is ``concept`` (``concept_a``, ``concept_b``), a participant
# column ``participant``; a random mask's drop is ``drop``; unit strings say ``concept``; the
# mixed models' grouping factor is ``concept``.
_CONCEPT_RENAME = {**OLD_NAMES, "n_emotions": "n_concepts"}
_WORDS = (("emotion label", "concept label"), ("emotion (", "concept ("),
          ("emotion:prompt", "concept:prompt"), ("| emotion", "| concept"),
          ("study_emotion_t", "study_concept_t"))


def _reworded(values):
    """Old vocabulary in string values (units, formulas, groups, test names) -> new."""
    def one(v):
        if not isinstance(v, str):
            return v
        for old, new in _WORDS:
            v = v.replace(old, new)
        return "concept" if v == "emotion" else v
    return values.map(one)


def vocabulary_v2(df):
    """Version 1 -> 2 of a table renamed to one vocabulary: the columns of
    ``_CONCEPT_RENAME`` (``random_null``: ``estimate`` -> ``drop``), and the words in ``unit``,
    ``formula``, ``group``, ``test`` (and a glance's formula, message and groups) values."""
    out = df.rename(columns=_CONCEPT_RENAME)
    for col in ("unit", "formula", "group", "test", "fitted_formula", "message", "groups"):
        if col in out.columns:
            out[col] = _reworded(out[col])
    return out
