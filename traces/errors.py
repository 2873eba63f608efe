"""The error every reader, writer and fitter of `traces/` raises for bad user input."""

from __future__ import annotations

import os


class TraceError(ValueError):
    """A trace, statistics file or trace request is wrong: missing, truncated, corrupt, or out of
    range. The message names the file and, where it applies, the table and the position."""


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
