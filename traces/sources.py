"""Every readable trace format behind one face: tables plus an iterator of native batches.

`open_source` picks the reader from the file (native magic bytes, `.pt`/`.pt.gz`, Criteo's
layout, dlrm's one-line trace or three-line distribution) or from an explicit format name;
`convert` writes any of them as a native trace.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from sim.arguments import check_path, shown
from traces.batch import TraceBatch
from traces.criteo import DENSE, SPARSE, TABLE_NAMES, read_criteo, separator
from traces.dlrm_files import (
    DEFAULT_BINARY_DTYPE,
    generate_lru,
    read_dlrm_distribution,
    read_dlrm_trace,
)
from traces.errors import TraceError, trace_error
from traces.formats import DEFAULT_DIM, FORMATS
from traces.locality_file import LOCALITY_MARKER
from traces.meta_pt import GZIP_MAGIC, TORCH_MAGIC, open_meta
from traces.native import MAX_ROWS, TraceTable, open_native, write_native
from traces.progress import progress

# Bytes read at most to find the third line of a dlrm text file (its first line, the unique ids,
# may be long). A choice: far above the test files, and never more than the readers, which load
# the whole file, read anyway.
SNIFF_LIMIT = 64 << 20
_DLRM_TRACE_BYTES = b"0123456789, \r\n"  # what dlrm's text files are made of
_DLRM_DIST_BYTES = _DLRM_TRACE_BYTES + b"."
_CRITEO_NAMES = (".tsv", ".csv", ".tsv.gz", ".csv.gz")
_WIDE_ID = 2**32  # the least row id that 32-bit ids cannot hold; unit: rows


@dataclass(frozen=True)
class ReadOptions:
    """How to read formats that leave something open (see each field). Defaults are documented
    placeholders, not facts about the data. Raises TraceError for a count below 1 or more rows
    than 64-bit ids address; the message names the `dlrmsim trace` flag."""

    dim: int = DEFAULT_DIM
    batch_size: int = 2048  # bags per batch for dlrm and Criteo files
    rows: int | None = None  # rows per table (Criteo: required hash size; dlrm: max id + 1 if None)
    pooling: int = 1  # lookups per bag when a dlrm id sequence is cut into bags
    tables: tuple[int, int] | None = None  # Meta: [first, stop) table range
    length: int = 100_000  # ids generated from a dlrm distribution file
    seed: int = 0
    binary_dtype: str = DEFAULT_BINARY_DTYPE  # width of a dlrm binary trace's ids
    missing: str = "zero"  # Criteo: empty feature -> row 0, or an empty bag
    tmp_dir: str | None = None  # Meta .pt.gz: folder it is decompressed into (None: TMPDIR)

    def __post_init__(self) -> None:
        counts = (("--dim", self.dim), ("--batch-size", self.batch_size),
                  ("--pooling", self.pooling), ("--length", self.length))
        for flag, value in counts:
            if not _whole(value) or value < 1:
                raise TraceError(f"{flag} {shown(value)}: give a whole number >= 1")
        if self.rows is not None and not (_whole(self.rows) and 1 <= self.rows <= MAX_ROWS):
            raise TraceError(f"--rows {shown(self.rows)}: give 1 to {MAX_ROWS} rows per "
                             "table (row ids are 64-bit)")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Source:
    """A readable trace: its tables, and a function that yields its batches."""

    path: Path
    format: str
    tables: tuple[TraceTable, ...]
    batches: Callable[[], Iterator[TraceBatch]] = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a file, from its first bytes and its name (for dlrm's text files, their
    first three lines; for a `.gz` file, its first line decompressed). Raises TraceError if
    unknown, or if dlrm's formats cannot be told apart within SNIFF_LIMIT bytes."""
    p = Path(path)
    try:
        with open(p, "rb") as handle:
            head = handle.read(4096)
            if _blank(head, handle):
                raise trace_error(p, "the file is empty")
            if LOCALITY_MARKER in head:
                raise trace_error(p, "this is a locality statistics file (Meta's "
                                  "locality_stats.txt), not a trace; `dlrmsim trace fit` reads it")
            fmt = _by_head(head, p.name.lower())
            if fmt is None and head.startswith(GZIP_MAGIC) and p.name.lower().endswith(".gz"):
                fmt = _gzipped_criteo(p)
            if fmt is None and _only(head, _DLRM_DIST_BYTES):
                handle.seek(len(head))  # _blank may have read on
                fmt = _dlrm_text(p, *_through_line(head, handle, 3))
            if fmt is None and p.name.lower().endswith(_CRITEO_NAMES):
                fmt = "criteo"  # the name decides only where the content does not
    except OSError as err:
        raise trace_error(p, f"cannot read ({err.strerror})") from err
    if fmt is None:
        raise trace_error(p, f"unknown trace format ({_looks_like(head)}); name one of "
                          f"{', '.join(FORMATS)} with --format")
    return fmt


def _blank(head: bytes, handle: BinaryIO) -> bool:
    """Whether the file holds nothing but white space (read no further than SNIFF_LIMIT)."""
    data = head
    while data and not data.strip():
        if handle.tell() >= SNIFF_LIMIT:
            return False  # white space that long is not worth reading on; the readers will say
        data = handle.read(1 << 20)
    return not data


def _by_head(head: bytes, name: str) -> str | None:
    """Formats told by magic bytes, by a name the bytes agree with, or by Criteo's first line;
    None for the rest."""
    if head.startswith(b"DLRMSIMT"):
        return "native"
    if name.endswith((".pt", ".pth")) and head.startswith(TORCH_MAGIC):
        return "meta"
    if name.endswith(".pt.gz") and head.startswith(GZIP_MAGIC):
        return "meta"
    if _criteo_line(head.split(b"\n")[0]):
        return "criteo"
    return None


def _looks_like(head: bytes) -> str:
    """What the first bytes of a file of unknown format look like, for the error."""
    if head.startswith(GZIP_MAGIC):
        return "gzip-compressed"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary, no known magic bytes"
    first = text.splitlines()[0] if text.strip() else ""
    return f"text, first line {first[:40]!r}" + ("..." if len(first) > 40 else "")


def _gzipped_criteo(p: Path) -> str | None:
    """`criteo` if the decompressed first line is Criteo's (the Terabyte logs are `day_N.gz`, a
    name that says nothing of what is inside), else None."""
    try:
        with gzip.open(p, "rb") as handle:
            head = handle.read(4096)
    except (OSError, EOFError, zlib.error):
        return None  # not gzip after all, or damaged: the format stays unknown
    return "criteo" if _criteo_line(head.split(b"\n")[0]) else None


def _criteo_line(line: bytes) -> bool:
    """Criteo's first line: 40 tab-separated fields, or a CSV header or line. (A dlrm text file
    may hold 40 comma-separated numbers too, but Criteo's 26 hexadecimal ids have letters.)"""
    text = line.decode("ascii", errors="replace")
    return text.count("\t") == SPARSE + DENSE or (
        separator(text) == "," and not _only(line, _DLRM_DIST_BYTES))


def _through_line(head: bytes, handle: BinaryIO, count: int) -> tuple[bytes, bool]:
    """`head` read on through the file's `count`-th newline or its end, and whether that was
    reached within SNIFF_LIMIT bytes."""
    data, newlines = bytearray(head), head.count(b"\n")
    while newlines < count:
        if len(data) >= SNIFF_LIMIT:
            return bytes(data), False
        chunk = handle.read(1 << 20)
        if not chunk:
            break
        data += chunk
        newlines += chunk.count(b"\n")
    return bytes(data), True


def _dlrm_text(p: Path, head: bytes, whole: bool) -> str | None:
    """dlrm's one-line trace or three-line distribution file (whose first line, the unique ids,
    can be long), told apart by the number of lines; None if neither."""
    if not _only(head, _DLRM_DIST_BYTES):
        return None
    if not whole:
        raise trace_error(p, f"no third line in the first {SNIFF_LIMIT >> 20} MiB, so a dlrm "
                          "trace cannot be told from a dlrm distribution file; name the format "
                          "(--format dlrm or --format dlrm-dist)")
    lines = head.strip().splitlines()
    if len(lines) == 3:
        return "dlrm-dist"
    if len(lines) == 1 and _only(head, _DLRM_TRACE_BYTES):
        return "dlrm"
    return None


def _only(data: bytes, allowed: bytes) -> bool:
    return not data.translate(None, allowed)


def open_source(path: str | os.PathLike[str], fmt: str = "auto",
                options: ReadOptions | None = None) -> Source:
    """Open any supported trace. Raises TraceError for an unknown format or unreadable file."""
    check_path("path", path, "a trace file", TraceError, optional=False)
    if options is not None and not isinstance(options, ReadOptions):
        raise TraceError(f"options = {options!r}: give a ReadOptions, e.g. ReadOptions(rows=N)")
    p, opts = Path(path), options or ReadOptions()
    fmt = detect_format(p) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise trace_error(p, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _OPENERS[fmt](p, opts)


def _native(p: Path, opts: ReadOptions) -> Source:
    trace = open_native(p)
    return Source(p, "native", trace.tables, lambda: trace.iter_batches(), dict(trace.source))


def _meta(p: Path, opts: ReadOptions) -> Source:
    meta = open_meta(p, tmp_dir=opts.tmp_dir)
    first, stop = opts.tables or (0, meta.num_tables)
    if not 0 <= first < stop <= meta.num_tables:
        raise trace_error(p, f"table range [{first}, {stop}) is outside the file's "
                          f"{meta.num_tables} tables")
    batch, rows = meta.batch(first, stop)
    tables = tuple(TraceTable(f"t{t}", r, opts.dim) for t, r in zip(range(first, stop), rows,
                                                                  strict=True))
    return Source(p, "meta", tables, lambda: iter([batch]),
                  {"file": p.name, "tables": [first, stop], "batch_size": meta.batch_size})


def _criteo(p: Path, opts: ReadOptions) -> Source:
    if opts.rows is None:
        raise trace_error(p, "Criteo ids are hashed: give the rows per table (--rows)")
    rows = opts.rows
    tables = tuple(TraceTable(name, rows, opts.dim) for name in TABLE_NAMES)
    return Source(p, "criteo", tables,
                  lambda: read_criteo(p, rows, opts.batch_size, missing=opts.missing),
                  {"file": p.name, "hashed_rows": rows, "missing": opts.missing})


def _sequence(p: Path, opts: ReadOptions, ids: np.ndarray, fmt: str) -> Source:
    rows = opts.rows if opts.rows is not None else int(ids.max()) + 1 if ids.size else 1
    if ids.size and int(ids.max()) >= rows:
        raise trace_error(p, f"row id {int(ids.max())} >= rows {rows}",
                          position=f"item {int(np.argmax(ids))}")
    per_batch = opts.batch_size * opts.pooling

    def batches() -> Iterator[TraceBatch]:
        for start in range(0, ids.size, per_batch):
            chunk = ids[start:start + per_batch]
            bags = -(-chunk.size // opts.pooling)
            offsets = np.minimum(np.arange(bags + 1, dtype=np.int64) * opts.pooling, chunk.size)
            yield TraceBatch(chunk, offsets, bags)

    return Source(p, fmt, (TraceTable("t0", rows, opts.dim),), batches,
                  {"file": p.name, "pooling": opts.pooling})


def _dlrm(p: Path, opts: ReadOptions) -> Source:
    return _sequence(p, opts, read_dlrm_trace(p), "dlrm")


def _dlrm_bin(p: Path, opts: ReadOptions) -> Source:
    ids = read_dlrm_trace(p, binary=True, dtype=opts.binary_dtype)
    _check_width(p, opts, ids)
    return _sequence(p, opts, ids, "dlrm-bin")


def _check_width(p: Path, opts: ReadOptions, ids: np.ndarray) -> None:
    """Refuse 64-bit ids of 2^32 or more that --rows does not cover: read 64 bits at a time, a
    file of 32-bit ids pairs them up into such ids (a table of over 4G rows otherwise)."""
    if np.dtype(opts.binary_dtype).itemsize != 8 or not ids.size:
        return
    top = int(ids.max())
    if top < _WIDE_ID or (opts.rows is not None and top < opts.rows):
        return
    covered = "" if opts.rows is None else f" (>= --rows {opts.rows})"
    raise trace_error(p, f"row id {top}{covered} is 2^32 or more, as when 32-bit ids are read "
                      f"as {opts.binary_dtype}: if the file holds 32-bit ids, give --binary-dtype "
                      "int32; if its ids are that large, give --rows above the largest",
                      position=f"item {int(np.argmax(ids))}")


def _dlrm_dist(p: Path, opts: ReadOptions) -> Source:
    dist = read_dlrm_distribution(p)
    try:
        ids = generate_lru(dist, opts.length, opts.seed)
    except MemoryError as err:  # the CLI's own hint would name --batch-size, which is not it
        raise trace_error(p, f"out of memory drawing {opts.length:,} ids ({err}); try a smaller "
                          "--length") from err
    return _sequence(p, opts, ids, "dlrm-dist")


_OPENERS: dict[str, Callable[[Path, ReadOptions], Source]] = {
    "native": _native, "meta": _meta, "criteo": _criteo, "dlrm": _dlrm, "dlrm-bin": _dlrm_bin,
    "dlrm-dist": _dlrm_dist,
}


def convert(source: Source, out: str | os.PathLike[str], *, show_progress: bool = True) -> int:
    """Write `source` as a native trace at `out` (atomically); returns the batches written.
    A bar counts the batches on a terminal: a Criteo log can take many minutes."""
    info = {"converted_from": source.format, **source.info}
    batches = progress(source.batches(), total=None, desc="convert", enabled=show_progress)
    return write_native(out, source.tables, batches, info)
