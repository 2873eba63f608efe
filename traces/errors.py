"""The error every reader, writer and fitter of `traces/` raises for bad user input."""

from __future__ import annotations

import os


class TraceError(ValueError):
    """A trace, statistics file or trace request is wrong: missing, truncated, corrupt, or out of
    range. The message names the file and, where it applies, the table and the position."""


def check_path_argument(name: str, value: object, what: str) -> None:
    """TraceError for a path argument that is not one (from Python: a number, None, an empty
    string, which would read the current folder); `what` names the file expected."""
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise TraceError(f"{name} = {value!r}: give the path of {what}")


def whole_or_repr(value: object) -> str:
    """`value` for a message about a count: a whole number as written, anything else as Python
    writes it, so that the string '8' does not read as the number 8."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def trace_error(
    path: str | os.PathLike[str] | None,
    message: str,
    *,
    table: str | int | None = None,
    position: str | None = None,
) -> TraceError:
    """Build a TraceError whose message reads `FILE: table T, POSITION: MESSAGE`."""
    where = [os.fspath(path)] if path is not None else []
    if table is not None:
        where.append(f"table {table!r}" if isinstance(table, str) else f"table #{table}")
    if position:
        where.append(position)
    prefix = ", ".join(where)
    return TraceError(f"{prefix}: {message}" if prefix else message)
