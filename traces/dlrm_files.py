"""The trace and distribution files of facebookresearch/dlrm (`dlrm_data_pytorch.py`).

Trace file: one table's row ids, as one line of `", "`-separated integers (text) or as raw
little-endian integers (binary: dlrm's `read_trace_from_file` and `write_trace_to_file` use
uint64, `np.fromfile(f, dtype=np.uint64)`, the default here; other widths are a parameter).
Distribution file: line 1 the unique row ids, line 2 LRU stack distances, line 3 their cumulative
probabilities; dlrm's `trace_generate_lru` turns it into a trace, ported in `generate_lru`.
"""

from __future__ import annotations

import bisect
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traces.atomic import atomic_output
from traces.errors import trace_error

BINARY_DTYPES = ("int32", "int64", "uint64")
# Source: facebookresearch/dlrm, dlrm_data_pytorch.py, read_trace_from_file and
# write_trace_to_file (`np.fromfile(f, dtype=np.uint64)`, `.astype(np.uint64).tofile(f)`).
DEFAULT_BINARY_DTYPE = "uint64"


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise trace_error(p, f"cannot read as a text file ({err})") from err


def _numbers(p: Path, line: str, line_number: int, kind: type) -> list:
    items = [x.strip() for x in line.split(",")]
    if items == [""]:
        return []
    out = []
    for position, item in enumerate(items):
        try:
            value = kind(item)
        except ValueError:
            value = None
        if value is None or (kind is int and abs(value) >= 2**63) or value != value:
            raise trace_error(p, f"{item!r} is not a number in range",
                              position=f"line {line_number}, item {position}")
        out.append(value)
    return out


def read_dlrm_trace(path: str | os.PathLike[str], *, binary: bool = False,
                    dtype: str = DEFAULT_BINARY_DTYPE) -> np.ndarray:
    """Row ids (int64) of a dlrm trace file. Raises TraceError on a bad number, a negative id,
    a binary file whose size is not a multiple of the width, or a file without ids."""
    p = Path(path)
    if binary:
        if dtype not in BINARY_DTYPES:
            raise trace_error(p, f"binary width {dtype!r}; use one of {', '.join(BINARY_DTYPES)}")
        width = np.dtype(dtype).itemsize
        try:
            raw = p.read_bytes()
        except OSError as err:
            raise trace_error(p, f"cannot read ({err.strerror})") from err
        if len(raw) % width:
            raise trace_error(p, f"{len(raw)} bytes is not a whole number of {dtype} ids ({width} "
                              "bytes each): truncated, or of another width (--binary-dtype; "
                              f"dlrm writes {DEFAULT_BINARY_DTYPE})")
        ids = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        if dtype == "uint64" and ids.size and int(ids.max()) >= 2**63:
            raise trace_error(p, "id too large", position=f"item {int(np.argmax(ids))}")
        ids = ids.astype(np.int64)
    else:
        lines = [ln for ln in _read_text(p).splitlines() if ln.strip()]
        ids = np.array([v for n, ln in enumerate(lines, 1) for v in _numbers(p, ln, n, int)],
                       dtype=np.int64) if lines else np.zeros(0, np.int64)
    if not ids.size:
        raise trace_error(p, "no row ids: the file is empty")
    negative = np.flatnonzero(ids < 0)
    if negative.size:
        raise trace_error(p, f"negative row id {ids[negative[0]]}", position=f"item {int(negative[0])}")
    return ids


def write_dlrm_trace(path: str | os.PathLike[str], ids: np.ndarray, *, binary: bool = False,
                     dtype: str = DEFAULT_BINARY_DTYPE) -> None:
    """Write row ids in dlrm's trace format (atomically)."""
    with atomic_output(path) as out:
        if binary:
            out.write(np.asarray(ids).astype(np.dtype(dtype).newbyteorder("<")).tobytes())
        else:
            out.write(", ".join(str(int(x)) for x in ids).encode("ascii"))


@dataclass(frozen=True)
class DlrmDistribution:
    """A dlrm distribution file: unique ids, stack distances and their cumulative probabilities."""

    unique_ids: tuple[int, ...]
    stack_distances: tuple[int, ...]
    cumulative: tuple[float, ...]


def read_dlrm_distribution(path: str | os.PathLike[str]) -> DlrmDistribution:
    """Parse a distribution file. Raises TraceError on missing lines, bad numbers, no ids, lists
    of different lengths, stack distances that do not increase, or probabilities that decrease
    or do not end at 1."""
    p = Path(path)
    lines = _read_text(p).splitlines()
    if len(lines) < 3:
        raise trace_error(p, f"{len(lines)} lines; a distribution file has 3 (ids, stack "
                          "distances, cumulative probabilities)")
    ids = _numbers(p, lines[0], 1, int)
    distances = _numbers(p, lines[1], 2, int)
    cumulative = _numbers(p, lines[2], 3, float)
    if not ids:
        raise trace_error(p, "no unique ids to draw from", position="line 1")
    if len(distances) != len(cumulative) or not distances:
        raise trace_error(p, f"{len(distances)} stack distances but {len(cumulative)} "
                          "probabilities", position="lines 2-3")
    if any(b < a for a, b in itertools.pairwise(cumulative)) or \
            not cumulative[0] >= 0 or abs(cumulative[-1] - 1.0) > 1e-6:
        raise trace_error(p, "cumulative probabilities must rise from >= 0 to 1", position="line 3")
    if any(d < 0 for d in distances) or any(i < 0 for i in ids):
        raise trace_error(p, "ids and stack distances must be >= 0", position="lines 1-2")
    if any(b <= a for a, b in itertools.pairwise(distances)):  # generate_lru bisects them
        raise trace_error(p, "stack distances must increase, as dlrm writes them",
                          position="line 2")
    return DlrmDistribution(tuple(ids), tuple(distances), tuple(cumulative))


def generate_lru(dist: DlrmDistribution, length: int, seed: int) -> np.ndarray:
    """A trace of `length` ids drawn as dlrm's `trace_generate_lru` (without padding) does.

    Stack distance 0 means a new id (the least recent of the list); distance d > 0 reuses the id
    d places from the most recent. Until `max distance` ids have been seen, distances are drawn
    only from those possible so far, as in dlrm.
    """
    rng = np.random.default_rng(seed)
    lines = list(dist.unique_ids)
    size, max_sd = len(lines), dist.stack_distances[-1]
    if not size:
        raise trace_error(None, "the distribution file lists no ids")
    out = np.empty(length, dtype=np.int64)
    seen = 0
    for n, u in enumerate(rng.random(length)):
        sd = _draw_distance(dist, float(u), max_sd, seen)
        if sd == 0 or sd > size:
            ref = lines.pop(0)
            seen += 1
        else:
            ref = lines.pop(size - sd)
        lines.append(ref)
        out[n] = ref
    return out


def _draw_distance(dist: DlrmDistribution, u: float, max_sd: int, seen: int) -> int:
    if seen < max_sd:
        j = bisect.bisect(dist.stack_distances, seen) - 1
        u *= dist.cumulative[j]
    for value, f in zip(dist.stack_distances, dist.cumulative, strict=True):
        if u <= f:
            return value
    return dist.stack_distances[-1]
