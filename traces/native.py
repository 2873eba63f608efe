"""The native trace file: batches in the table-major indices + offsets layout, memory-mappable.

    header   32 bytes: b"DLRMSIMT", version u32, 0 u32, JSON length u64, 0 u64
    JSON     tables (name, rows, dim), index dtype, source; space-padded to 8 bytes
    blocks   per batch: offsets int64 [T*B+1] (from 0), then indices [n]; padded to 8 bytes
    footer   per batch: block position u64, batch size u64, indices u64, CRC-32 u32, 0 u32
    trailer  32 bytes: b"DLRMSEND", footer position u64, batches u64, footer CRC u32, JSON CRC u32

All little-endian. Blocks are written as they come, so a trace larger than memory streams out;
the footer lets a reader map any batch (or one table of every batch) without reading the rest.
The file appears only when complete (temporary file + rename). The layout of a block is the
layout of Meta's released traces, so a block is one `(indices, offsets)` pair of theirs.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from sim.arguments import check_path
from traces.atomic import atomic_output
from traces.batch import TraceBatch, index_dtype_for, validate_batch
from traces.errors import TraceError, trace_error

MAGIC, END_MAGIC, VERSION = b"DLRMSIMT", b"DLRMSEND", 1
_HEADER = struct.Struct("<8sIIQQ")
_TRAILER = struct.Struct("<8sQQII")
MAX_ROWS = 2**63 - 1  # unit: rows; the most that int64 row ids (the widest index type) address
FOOTER_DTYPE = np.dtype([("block", "<u8"), ("batch_size", "<u8"), ("num_indices", "<u8"),
                         ("crc", "<u4"), ("pad", "<u4")])


@dataclass(frozen=True)
class TraceTable:
    """A table as a trace file records it: name, rows (indices are < rows) and dimension.

    Raises TraceError for rows outside [1, MAX_ROWS] or a dimension below 1.
    """

    name: str
    rows: int
    dim: int

    def __post_init__(self) -> None:
        if not 1 <= self.rows <= MAX_ROWS:
            raise trace_error(None, f"{self.rows} rows; a table has 1 to {MAX_ROWS} (64-bit row "
                              "ids)", table=self.name)
        if self.dim < 1:
            raise trace_error(None, f"dimension {self.dim}; give a whole number >= 1",
                              table=self.name)


def _pad8(size: int) -> int:
    return -size % 8


class NativeWriter:
    """Writes a native trace batch by batch; use as a context manager.

    The file exists only after a clean exit. Raises TraceError for a batch that does not match
    the tables, or when the folder cannot be written.
    """

    def __init__(self, path: str | os.PathLike[str], tables: Sequence[TraceTable],
                 source: dict[str, Any] | None = None, *, check: bool = True) -> None:
        self.path = Path(path)
        self.tables = tuple(tables)
        if not self.tables:
            raise trace_error(self.path, "a trace needs at least one table")
        self.dtype = index_dtype_for(max(t.rows for t in self.tables))
        self.check = check
        self.footer: list[tuple[int, int, int, int, int]] = []
        meta = {"format": "dlrmsim-trace", "version": VERSION, "index_dtype": self.dtype.name,
                "tables": [vars(t) for t in self.tables], "source": source or {}}
        text = json.dumps(meta, sort_keys=True).encode("utf-8")
        self._json = text + b" " * _pad8(len(text))
        self._ctx = atomic_output(self.path)
        self._handle: BinaryIO | None = None
        self._pos = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="trace-writer")
        self._pending: Future[None] | None = None
        self._submitted = 0  # batches handed to the writing thread

    def __enter__(self) -> NativeWriter:
        self._handle = self._ctx.__enter__()
        try:
            self._put(_HEADER.pack(MAGIC, VERSION, 0, len(self._json), 0) + self._json)
        except BaseException as failure:  # __exit__ will not run: the temporary file goes here
            self._ctx.__exit__(type(failure), failure, failure.__traceback__)
            raise
        return self

    def _put(self, data: bytes | memoryview) -> None:
        assert self._handle is not None, "NativeWriter is used outside its `with` block"
        self._handle.write(data)
        self._pos += len(data)

    def write(self, batch: TraceBatch) -> None:
        """Append one batch (validated against the tables unless check=False).

        The checksum and the write run on a background thread while the caller makes the next
        batch (both release the GIL), so at most two batches are in memory at once.
        """
        if self.check:  # numbered by this thread: the footer lags while a block is written
            validate_batch(batch, [t.rows for t in self.tables], [t.name for t in self.tables],
                           path=self.path, batch_number=self._submitted)
        offsets = np.ascontiguousarray(batch.offsets, dtype="<i8")
        indices = np.ascontiguousarray(batch.indices, dtype=self.dtype.newbyteorder("<"))
        self._drain()
        self._pending = self._pool.submit(self._write_block, offsets, indices, batch.batch_size)
        self._submitted += 1

    def _drain(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a write error here, in the caller's thread
            self._pending = None

    def _write_block(self, offsets: np.ndarray, indices: np.ndarray, batch_size: int) -> None:
        block = self._pos
        crc = zlib.crc32(indices.data, zlib.crc32(offsets.data))
        self._put(offsets.data.cast("B"))
        self._put(indices.data.cast("B"))
        self._put(b"\0" * _pad8(indices.nbytes))
        self.footer.append((block, batch_size, indices.size, crc, 0))

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._drain()
                self._finish()
        except BaseException as failure:
            self._ctx.__exit__(type(failure), failure, failure.__traceback__)
            raise
        finally:
            self._pool.shutdown(wait=True)
        self._ctx.__exit__(kind, err, tb)

    def _finish(self) -> None:
        footer = np.array(self.footer, dtype=FOOTER_DTYPE)
        where = self._pos
        self._put(footer.tobytes())
        self._put(_TRAILER.pack(END_MAGIC, where, len(self.footer),
                                zlib.crc32(footer.tobytes()), zlib.crc32(self._json)))


@dataclass(frozen=True)
class NativeTrace:
    """A native trace file opened for reading (memory-mapped); `open_native` builds it.

    Methods raise TraceError naming the file, table and position on a corrupt batch.
    """

    path: Path
    tables: tuple[TraceTable, ...]
    index_dtype: np.dtype
    source: dict[str, Any]
    footer: np.ndarray
    data: np.ndarray = field(repr=False)  # the whole file as a read-only uint8 memmap

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    @property
    def rows(self) -> tuple[int, ...]:
        return tuple(t.rows for t in self.tables)

    @property
    def num_batches(self) -> int:
        return int(self.footer.size)

    def read_batch(self, number: int, *, validate: bool = True) -> TraceBatch:
        entry = self.footer[number]
        start, b, n = int(entry["block"]), int(entry["batch_size"]), int(entry["num_indices"])
        n_off = len(self.tables) * b + 1
        raw_off = self.data[start:start + 8 * n_off]
        raw_idx = self.data[start + 8 * n_off:start + 8 * n_off + n * self.index_dtype.itemsize]
        if validate and zlib.crc32(raw_idx.data, zlib.crc32(raw_off.data)) != int(entry["crc"]):
            raise trace_error(self.path, "checksum mismatch: the batch is corrupt",
                              position=f"batch {number}")
        batch = TraceBatch(indices=raw_idx.view(self.index_dtype.newbyteorder("<")),
                           offsets=raw_off.view("<i8"), batch_size=b)
        if validate:
            validate_batch(batch, self.rows, self.table_names, path=self.path, batch_number=number)
        return batch

    def iter_batches(self, max_batches: int | None = None, *, validate: bool = True
                     ) -> Iterator[TraceBatch]:
        count = self.num_batches if max_batches is None else min(max_batches, self.num_batches)
        for number in range(count):
            yield self.read_batch(number, validate=validate)


def open_native(path: str | os.PathLike[str]) -> NativeTrace:
    """Open and check the frame of a native trace (header, footer, block positions).

    Raises TraceError if the file is missing, truncated or not a native trace.
    """
    check_path("path", path, "a native trace", TraceError, optional=False)
    p = Path(path)
    try:
        size = p.stat().st_size
        data = np.memmap(p, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    except OSError as err:
        raise trace_error(p, f"cannot read ({err.strerror})") from err
    if not size:
        raise trace_error(p, "the file is empty")
    if size >= len(MAGIC) and bytes(data[:len(MAGIC)]) != MAGIC:
        raise trace_error(p, "not a dlrmsim native trace (bad magic bytes); make one from a "
                          "Criteo, dlrm or Meta file with `dlrmsim trace convert`")
    if size < _HEADER.size + _TRAILER.size:
        raise trace_error(p, f"truncated or not a dlrmsim trace ({size} bytes)")
    _, version, _, json_len, _ = _HEADER.unpack(bytes(data[:_HEADER.size]))
    if version != VERSION:
        raise trace_error(p, f"trace format version {version}; this dlrmsim reads {VERSION}")
    end, footer_pos, batches, footer_crc, json_crc = _TRAILER.unpack(bytes(data[-_TRAILER.size:]))
    if end != END_MAGIC:
        raise trace_error(p, "truncated: the trailer is missing (the writer did not finish)")
    json_end = _HEADER.size + json_len
    if json_end > size - _TRAILER.size or zlib.crc32(bytes(data[_HEADER.size:json_end])) != json_crc:
        raise trace_error(p, "corrupt header")
    meta = _parse_meta(p, bytes(data[_HEADER.size:json_end]))
    if footer_pos + batches * FOOTER_DTYPE.itemsize != size - _TRAILER.size or footer_pos < json_end:
        raise trace_error(p, "corrupt footer position or batch count")
    raw_footer = bytes(data[footer_pos:size - _TRAILER.size])
    if zlib.crc32(raw_footer) != footer_crc:
        raise trace_error(p, "corrupt footer (checksum mismatch)")
    trace = NativeTrace(p, meta[0], meta[1], meta[2], np.frombuffer(raw_footer, FOOTER_DTYPE), data)
    _check_blocks(trace, json_end, footer_pos)
    return trace


def _parse_meta(p: Path, raw: bytes) -> tuple[tuple[TraceTable, ...], np.dtype, dict[str, Any]]:
    try:
        meta = json.loads(raw.decode("utf-8"))
        tables = tuple(TraceTable(str(t["name"]), int(t["rows"]), int(t["dim"]))
                       for t in meta["tables"])
        dtype = np.dtype(meta["index_dtype"])
        source = dict(meta.get("source", {}))
    except (ValueError, KeyError, TypeError) as err:
        raise trace_error(p, f"corrupt header ({err})") from err
    if not tables or dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise trace_error(p, "corrupt header (no tables or unknown index type)")
    return tables, dtype, source


def _check_blocks(trace: NativeTrace, first: int, footer_pos: int) -> None:
    expected = first
    for number, entry in enumerate(trace.footer):
        b, n = int(entry["batch_size"]), int(entry["num_indices"])
        if int(entry["block"]) != expected or b < 1:
            raise trace_error(trace.path, "corrupt footer entry", position=f"batch {number}")
        size = 8 * (len(trace.tables) * b + 1) + n * trace.index_dtype.itemsize
        expected += size + _pad8(size)
    if expected != footer_pos:
        raise trace_error(trace.path, "corrupt footer: blocks do not fill the file")


def write_native(path: str | os.PathLike[str], tables: Sequence[TraceTable],
                 batches: Iterator[TraceBatch] | Sequence[TraceBatch],
                 source: dict[str, Any] | None = None) -> int:
    """Write every batch of an iterable to `path`; returns the number of batches written."""
    with NativeWriter(path, tables, source) as writer:
        for batch in batches:
            writer.write(batch)
    return len(writer.footer)  # after the block: the last batch is written on leaving it


__all__ = ["NativeTrace", "NativeWriter", "TraceError", "TraceTable", "open_native", "write_native"]
