"""Printing helpers shared by the subcommands: aligned tables, JSON, counts and bytes."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call, so redirected stdout is honoured
    json.dump(data, out, indent=2, sort_keys=False, default=str)
    out.write("\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 decimals: Mapping[str, int] | None = None) -> str:
    """Left-aligned text columns, numbers right-aligned. Floats show 4 significant figures, or
    in the columns `decimals` names, that many decimals on every row (51.0 above 65.3, where
    significant figures give 51)."""
    places = [(decimals or {}).get(h) for h in headers]
    cells = [[str(h) for h in headers]] + [[_cell(v, places[i]) for i, v in enumerate(row)]
                                           for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False
               for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if numeric[i] and n else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object, places: int | None = None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if places is None else f"{value:.{places}f}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def human_bytes(count: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and its noun in the right number: '1 socket', '2 sockets'."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
