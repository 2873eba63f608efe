"""Reader of Criteo display-advertising logs: Kaggle and Terabyte TSV, and CSV with a header.

A line is a label, 13 integer features and 26 categorical features (8-hex-digit ids, possibly
empty); a first line whose label is not a number is a header (`label,I1,...,C26` in the CSV
files, any names in a TSV) and is skipped. A header that names the features I1..I13 and C1..C26
is read by name, in whatever order it lists them; one that names some of them only is refused.
Each categorical feature is one table; its id is hashed to `int(id, 16) mod rows`, as dlrm does
with `--max-ind-range`. Every example is one bag of one lookup per table; an empty feature
becomes row 0 (dlrm's choice) or an empty bag (missing="empty").
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from traces.batch import TraceBatch
from traces.errors import trace_error

DENSE, SPARSE = 13, 26  # features per line (Criteo's published layout)
TABLE_NAMES = tuple(f"C{i}" for i in range(1, SPARSE + 1))
FEATURE_NAMES = (*(f"I{i}" for i in range(1, DENSE + 1)), *TABLE_NAMES)  # after the label


def _open(p: Path) -> io.TextIOBase:
    try:
        if p.name.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="ascii", errors="strict")
        return open(p, encoding="ascii", errors="strict")
    except OSError as err:
        raise trace_error(p, f"cannot read ({err.strerror})") from err


def read_criteo(path: str | os.PathLike[str], rows: int | Sequence[int], batch_size: int, *,
                missing: str = "zero", max_examples: int | None = None) -> Iterator[TraceBatch]:
    """Batches of `batch_size` examples (the last may be shorter), 26 tables, table-major.

    The separator is a tab unless the first line is a CSV one (see `separator`).
    Raises TraceError naming the line and the feature for a short line, a label that is not a
    number or a non-hex id; naming the file for damaged compression or a file without examples.
    """
    p = Path(path)
    table_rows = [int(rows)] * SPARSE if isinstance(rows, int) else [int(r) for r in rows]
    if len(table_rows) != SPARSE or min(table_rows) < 1:
        raise trace_error(p, f"give one row count >= 1, or {SPARSE}")
    if missing not in ("zero", "empty"):
        raise trace_error(p, f"missing={missing!r}; use 'zero' or 'empty'")
    if batch_size < 1:
        raise trace_error(p, f"batch size {batch_size} must be >= 1")
    with _open(p) as handle:
        yield from _batches(p, handle, np.array(table_rows, dtype=np.int64), batch_size,
                            missing, max_examples)


def _batches(p: Path, handle: io.TextIOBase, rows: np.ndarray, batch_size: int, missing: str,
             max_examples: int | None) -> Iterator[TraceBatch]:
    ids = np.zeros((batch_size, SPARSE), dtype=np.int64)
    present = np.ones((batch_size, SPARSE), dtype=bool)
    filled, seen, sep = 0, 0, "\t"
    order: tuple[int, ...] | None = None
    try:
        for line_number, line in enumerate(handle, 1):
            if line_number == 1:
                sep = separator(line)
                if not _is_number(line.split(sep, 1)[0]):
                    order = _column_order(p, line, sep)
                    continue  # a header: its categorical names (C1..C26) would pass as hex ids
            if not line.strip():
                continue
            ids[filled], present[filled] = _parse(p, line, line_number, sep, rows, order)
            filled, seen = filled + 1, seen + 1
            if filled == batch_size:
                yield _to_batch(ids, present, missing)
                filled = 0
            if max_examples is not None and seen >= max_examples:
                break
    except UnicodeDecodeError as err:
        raise trace_error(p, f"not a text file ({err.reason})") from err
    except (OSError, EOFError, zlib.error) as err:  # zlib.error: a damaged .gz stream
        raise trace_error(p, f"cannot read ({err})") from err
    if filled:
        yield _to_batch(ids[:filled], present[:filled], missing)
    elif not seen:
        raise trace_error(p, "no examples: the file is empty or holds only a header")


def _is_number(text: str) -> bool:
    """Whether a label field is a finite number (Criteo's are 0 or 1, some CSVs write 0.0)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def separator(first_line: str) -> str:
    """A Criteo file's separator, from its first line: a comma after a CSV header (`label,...`)
    or for a line of 40 comma-separated fields (a CSV without its header); else a tab."""
    fields = first_line.count(",") + 1
    if first_line.startswith("label,") or ("\t" not in first_line and fields == 1 + DENSE + SPARSE):
        return ","
    return "\t"


def _column_order(p: Path, header: str, sep: str) -> tuple[int, ...] | None:
    """Where the label and FEATURE_NAMES sit in lines under `header`; None for Criteo's own
    order, or for a header that names none of the features (its columns are taken in Criteo's
    order). Raises TraceError for a header that names some features but not each one once."""
    names = [name.strip() for name in header.rstrip("\r\n").split(sep)]
    if not any(name in FEATURE_NAMES for name in names):
        return None
    problems = _header_problems(names)
    if problems:
        raise trace_error(p, f"the header names Criteo's columns, but not the label, I1..I13 and "
                          f"C1..C26 once each ({'; '.join(problems)}); fix the header, or remove "
                          "it to read the columns in Criteo's order", position="line 1")
    label = next(i for i, name in enumerate(names) if name not in FEATURE_NAMES)
    order = (label, *(names.index(name) for name in FEATURE_NAMES))
    return None if order == tuple(range(len(order))) else order


def _header_problems(names: list[str]) -> list[str]:
    missing = [name for name in FEATURE_NAMES if name not in names]
    repeated = sorted({name for name in names if name in FEATURE_NAMES and names.count(name) > 1})
    problems = [f"{len(names)} columns"] if len(names) != 1 + DENSE + SPARSE else []
    if missing:
        problems.append(f"no {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    if repeated:
        problems.append(f"{', '.join(repeated[:3])} more than once")
    return problems


def _parse(p: Path, line: str, line_number: int, sep: str, rows: np.ndarray,
           order: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    fields = line.rstrip("\r\n").split(sep)
    if len(fields) != 1 + DENSE + SPARSE:
        raise trace_error(p, f"{len(fields)} fields, expected {1 + DENSE + SPARSE} (label, "
                          f"{DENSE} integer and {SPARSE} categorical)", position=f"line {line_number}")
    if order is not None:  # the header's order, back to Criteo's
        fields = [fields[i] for i in order]
    if not _is_number(fields[0]):
        raise trace_error(p, f"label {fields[0]!r} is not a number (only the first line may be "
                          "a header); is this a Criteo file?", position=f"line {line_number}")
    values = np.zeros(SPARSE, dtype=np.int64)
    present = np.ones(SPARSE, dtype=bool)
    for j, text in enumerate(fields[1 + DENSE:]):
        if not text:
            present[j] = False
            continue
        try:
            value = int(text, 16) if text.isalnum() else -1
        except ValueError:
            value = -1
        if value < 0:
            raise trace_error(p, f"{text!r} is not a hexadecimal id", table=TABLE_NAMES[j],
                              position=f"line {line_number}")
        values[j] = value % int(rows[j])
    return values, present


def _to_batch(ids: np.ndarray, present: np.ndarray, missing: str) -> TraceBatch:
    hashed = ids.T  # table-major: [tables, examples]; already hashed by _parse
    keep = present.T if missing == "empty" else np.ones_like(present.T)
    lengths = keep.astype(np.int64).ravel()
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TraceBatch(hashed[keep], offsets, ids.shape[0])
