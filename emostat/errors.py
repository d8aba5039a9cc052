"""Errors raised for bad input. Messages name the file, row or field at fault."""


class EmostatError(Exception):
    """Base class for errors emostat reports to users (shown without a traceback by the CLI)."""


class InputError(EmostatError, ValueError):
    """Bad or missing input data.

    Build messages with :func:`input_error` so that every one names where the problem is.
    """


def input_error(path, problem, *, row=None, field=None) -> InputError:
    """Return an :class:`InputError` whose message names ``path`` (and row/field when given)."""
    where = str(path)
    if row is not None:
        where += f", row {row}"
    if field is not None:
        where += f", field {field!r}"
    return InputError(f"{where}: {problem}")
