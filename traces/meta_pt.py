"""Reader of Meta's `dlrm_datasets` embedding-lookup traces (`.pt` and `.pt.gz`).

`torch.load` gives `(indices, offsets, lengths)`: lengths [T, B], offsets T*B+1 table-major,
row ids local to each table (rows = max + 1, the file does not store it). The file is
memory-mapped (a `.pt.gz` is first decompressed to a temporary file in `tmp_dir`, else TMPDIR's
folder, which is unlinked once mapped), so reading a table or a range of tables copies only those
tables into memory. torch is imported here only, when such a file is opened.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traces.batch import TraceBatch
from traces.errors import TraceError, trace_error

# How torch.save files start: a zip archive (torch >= 1.6), or a pickle's protocol opcode.
TORCH_MAGIC = (b"PK\x03\x04", b"\x80")
GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip member (RFC 1952, section 2.3.1)
_CHUNK_BYTES = 1 << 24  # decompressed at a time; unit: bytes


@dataclass(frozen=True)
class MetaTrace:
    """An opened Meta trace: T tables of one batch of B bags. Reads raise TraceError naming
    the file, the table and the position of the first bad value."""

    path: Path
    indices: Any  # torch tensors, memory-mapped where the file format allows
    offsets: Any
    lengths: Any

    @property
    def num_tables(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.lengths.shape[1])

    def table(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices int64, bag lengths [B] int64) of table t, checked."""
        if not 0 <= t < self.num_tables:
            raise trace_error(self.path, f"no table {t}; the file has {self.num_tables}")
        b = self.batch_size
        offsets = self.offsets[t * b:(t + 1) * b + 1].numpy().astype(np.int64)
        steps = np.diff(offsets)
        lengths = self.lengths[t].numpy().astype(np.int64)
        bad = np.flatnonzero((steps < 0) | (steps != lengths))
        if bad.size:
            i = int(bad[0])
            raise trace_error(self.path, f"offsets step {steps[i]} but lengths says {lengths[i]} "
                              "(offsets must not decrease and must match lengths)",
                              table=t, position=f"bag {i}")
        indices = self.indices[int(offsets[0]):int(offsets[-1])].numpy().astype(np.int64)
        negative = np.flatnonzero(indices < 0)
        if negative.size:
            raise trace_error(self.path, f"negative index {indices[negative[0]]}", table=t,
                              position=f"index {int(negative[0])} of the table")
        return indices, lengths

    def batch(self, first: int, stop: int) -> tuple[TraceBatch, list[int]]:
        """Tables [first, stop) as one TraceBatch, and each table's rows (max index + 1)."""
        parts = [self.table(t) for t in range(first, stop)]
        indices = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(parts) * self.batch_size + 1, dtype=np.int64)
        if parts:
            np.cumsum(np.concatenate([p[1] for p in parts]), out=offsets[1:])
        rows = [int(p[0].max()) + 1 if p[0].size else 1 for p in parts]
        return TraceBatch(indices, offsets, self.batch_size), rows


def open_meta(path: str | os.PathLike[str], *, tmp_dir: str | None = None) -> MetaTrace:
    """Open a `.pt` or `.pt.gz` trace. Raises TraceError if it cannot be read or its layout is not
    (indices 1-D, offsets T*B+1, lengths [T, B] with T, B >= 1)."""
    p = Path(path)
    if not p.is_file():
        raise trace_error(p, "no such file")
    _check_magic(p)
    try:
        data = _load(p, tmp_dir)
    except TraceError:
        raise
    except Exception as err:  # torch's unpickler raises many types on damaged bytes
        held = _refused_global(err)
        if held is not None:
            raise trace_error(p, f"a torch file, but it does not hold the (indices, offsets, "
                              f"lengths) tensors Meta's dlrm_datasets files hold (it holds "
                              f"{held}, which torch's safe loading refuses); save the three as "
                              "torch tensors (torch.from_numpy for numpy arrays)") from err
        # Their messages alone can be a bare number (KeyError: 101), so the type goes with them.
        why = f"{type(err).__name__}: {err}".replace("\n", " ")
        raise trace_error(p, f"cannot load as a torch file ({why}); a Meta trace is a whole "
                          "torch.save file of (indices, offsets, lengths): fetch it again, or "
                          "name its format with --format") from err
    return _checked(p, data)


def _refused_global(err: Exception) -> str | None:
    """The class a weights-only torch.load refused (e.g. `numpy._core.multiarray._reconstruct`
    for numpy arrays), or None if `err` is not that refusal. Its own message runs to 1.3 kB of
    advice, with terminal escape codes, on loading the file unsafely."""
    if not isinstance(err, pickle.UnpicklingError) or "Weights only load failed" not in str(err):
        return None
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    return found.group(1) if found else "other objects"


def _check_magic(p: Path) -> None:
    """Refuse an empty file, or one that does not start as a torch file (or, for `.gz`, as
    gzip) does, before torch's long advice on unpickling reaches the user."""
    try:
        with open(p, "rb") as handle:
            head = handle.read(4)
    except OSError as err:
        raise trace_error(p, f"cannot read ({err.strerror})") from err
    if not head:
        raise trace_error(p, "the file is empty")
    magic = (GZIP_MAGIC,) if p.name.endswith(".gz") else TORCH_MAGIC
    if not head.startswith(magic):
        raise trace_error(p, "not a torch file: a Meta trace is a whole torch.save file of "
                          "(indices, offsets, lengths), which starts as a zip archive or a "
                          "pickle; name the file's format with --format")


def _load(p: Path, tmp_dir: str | None) -> Any:
    import torch  # only here: the rest of traces/ runs without torch

    if not p.name.endswith(".gz"):
        return _torch_load(torch, str(p))
    plain = _decompressed(p, tmp_dir)
    try:
        return _torch_load(torch, plain)
    finally:  # the mapping outlives the name on POSIX, so the disk space goes with the process
        with contextlib.suppress(OSError):
            os.unlink(plain)


def _decompressed(p: Path, tmp_dir: str | None) -> str:
    """The name of a new temporary file that holds `p` decompressed. Raises TraceError naming the
    temporary folder when it cannot be written (full, missing, read-only); errors reading `p`
    pass through, for open_meta to report."""
    try:
        fd, plain = tempfile.mkstemp(suffix=".pt", dir=tmp_dir)
    except OSError as err:
        raise _tmp_error(p, tmp_dir, err) from err
    try:
        with gzip.open(p, "rb") as src:
            while chunk := src.read(_CHUNK_BYTES):
                _write_all(p, tmp_dir, fd, memoryview(chunk))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(plain)
        raise
    finally:
        os.close(fd)  # unbuffered writes: closing writes nothing, so it cannot fail as they did
    return plain


def _write_all(p: Path, tmp_dir: str | None, fd: int, data: memoryview) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError as err:
        raise _tmp_error(p, tmp_dir, err) from err


def _tmp_error(p: Path, tmp_dir: str | None, err: OSError) -> TraceError:
    folder = tmp_dir or tempfile.gettempdir()
    elsewhere = "(--tmp-dir, or the TMPDIR variable)"
    if err.errno == errno.EFBIG:
        fix = "the decompressed file is larger than a process may write; raise the limit (`ulimit -f`)"
    elif err.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free space there, or give a folder with room for the decompressed file {elsewhere}"
    else:
        fix = f"give a folder you can write to, with room for the decompressed file {elsewhere}"
    return trace_error(p, f"cannot decompress into the temporary folder {folder} "
                       f"({err.strerror or err}); {fix}")


def _torch_load(torch: Any, name: str) -> Any:
    try:
        return torch.load(name, map_location="cpu", mmap=True, weights_only=True)
    except RuntimeError as err:
        if "mmap" not in str(err) and "zip" not in str(err):
            raise
        # Files in torch's legacy (pre-1.6) format cannot be mapped; they are read whole once.
        return torch.load(name, map_location="cpu", weights_only=True)


def _checked(p: Path, data: Any) -> MetaTrace:
    import torch

    if not isinstance(data, tuple | list) or len(data) != 3:
        raise trace_error(p, "expected (indices, offsets, lengths), got "
                          f"{type(data).__name__} of length {len(data) if hasattr(data, '__len__') else '?'}")
    if not all(isinstance(x, torch.Tensor) for x in data):
        raise trace_error(p, "expected three tensors (indices, offsets, lengths)")
    indices, offsets, lengths = data
    if lengths.dim() != 2 or indices.dim() != 1 or offsets.dim() != 1:
        raise trace_error(p, f"wrong tensor layout: indices {tuple(indices.shape)}, offsets "
                          f"{tuple(offsets.shape)}, lengths {tuple(lengths.shape)}; expected "
                          "1-D, 1-D of T*B+1, and [T, B]")
    if any(x.is_floating_point() or x.is_complex() for x in data):
        raise trace_error(p, "wrong tensor layout: tensors must hold integers")
    t, b = lengths.shape
    if not t or not b:  # a batch of no bags has no table-major layout (B divides the offsets)
        raise trace_error(p, f"lengths has shape [{t}, {b}]: no tables or no bags, so no batch "
                          "to read; expected [T, B] with T, B >= 1")
    if offsets.numel() != t * b + 1:
        raise trace_error(p, f"offsets has {offsets.numel()} entries; lengths [{t}, {b}] needs "
                          f"{t * b + 1}")
    if int(offsets[0]) != 0 or int(offsets[-1]) != indices.numel():
        raise trace_error(p, f"offsets run from {int(offsets[0])} to {int(offsets[-1])}, expected "
                          f"0 to {indices.numel()} (the number of indices)")
    return MetaTrace(p, indices, offsets, lengths)
