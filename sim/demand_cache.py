"""Generated demand kept on disk between processes: a second run of the same tables, batch size,
seed and sample target reads the lookups and distinct rows its generator drew before, instead of
drawing them again (M3's 80M lookups take about 1.6 s of a 2.9 s `dlrmsim simulate --job m3_gpu`
on the 2-vCPU development VM). An entry holds counts per batch and table, not the lookups
themselves: 8 KB to 107 KB for the presets' jobs.

An entry is found by a hash of everything its numbers depend on: the tables' rows, pooling and
popularity (not their names or widths, which the generator does not read), the batch size, seed,
batch count or sample target, NumPy's version (its random streams may change between versions),
the machine type, and the bytes of every source file of `sim/` and `traces/`, so that any change
to the code is a new cache. The same inputs therefore give the same numbers, bit for bit, from
the cache or from a draw. A cache never fails a run: an entry that cannot be read is drawn again
and rewritten; a folder that cannot be written is warned about once and left alone.

DLRMSIM_CACHE_DIR sets the folder (default: $XDG_CACHE_HOME/dlrmsim/demand, else
~/.cache/dlrmsim/demand); DLRMSIM_NO_CACHE=1 turns the cache off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import platform
import warnings
from pathlib import Path

import numpy as np

from sim.specs import ModelSpec, TableSpec

ENV_DIR = "DLRMSIM_CACHE_DIR"
ENV_OFF = "DLRMSIM_NO_CACHE"
# Bumped when the layout of an entry changes, so that old entries are not read as new ones.
FORMAT = 1
# The folder is kept under this size by removing the entries used least recently. Unit: bytes.
# Source: a choice; the presets' entries are 8 KB (m1_gpu) to 107 KB (m2_cpu, 470 batches), so
# this holds thousands.
MAX_CACHE_BYTES = 256 * 2**20
# TableSpec fields that the generator does not read: tables differing only in them draw the
# same numbers, so they share an entry.
_UNUSED_TABLE_FIELDS = frozenset({"name", "dim"})


class CacheWarning(RuntimeWarning):
    """The demand cache could not be written; runs go on drawing their demand."""


def cache_folder() -> Path | None:
    """The folder entries live in, or None when DLRMSIM_NO_CACHE turns the cache off."""
    if os.environ.get(ENV_OFF, "") not in ("", "0"):
        return None
    given = os.environ.get(ENV_DIR)
    try:
        if given:
            return Path(given).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found (~ or ~user): no cache, no failure
        _warn_unwritable(given or "~/.cache", "its home folder cannot be found")
        return None
    return Path(base) / "dlrmsim" / "demand"


def entry_key(model: ModelSpec, batch_size: int, seed: int, batches: int | None,
              target: float) -> str:
    """The hash that names the entry of a generated demand (see the module docstring)."""
    text = repr((FORMAT, _code_fingerprint(), np.__version__, platform.machine(),
                 drawn_tables(model), batch_size, seed, batches, target))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def load(key: str, tables: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(lookups, unique_rows), int64 [batches, tables], of the entry `key`; None when the cache
    is off, the entry is missing, or it cannot be read as one (then it is drawn and rewritten)."""
    folder = cache_folder()
    if folder is None:
        return None
    path = folder / f"{key}.npy"
    try:
        counts = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, truncated or not an array file
        return None
    if not _well_formed(counts, tables):
        return None
    with contextlib.suppress(OSError):  # a read-only cache is still read
        os.utime(path)  # recently used: pruning removes the least recently used first
    return np.ascontiguousarray(counts[0]), np.ascontiguousarray(counts[1])


def store(key: str, lookups: np.ndarray, unique_rows: np.ndarray) -> None:
    """Write the entry `key` whole or not at all (traces.atomic: a temporary file renamed into
    place, so that concurrent runs never read half an entry); warn once per folder when it
    cannot be written."""
    from traces.atomic import atomic_output  # imported here: sim/ needs traces/ only to draw
    from traces.errors import TraceError

    folder = cache_folder()
    if folder is None:
        return
    counts = np.stack([lookups, unique_rows]).astype(np.int64, copy=False)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / f"{key}.npy") as handle:
            np.save(handle, counts, allow_pickle=False)
        _prune(folder, MAX_CACHE_BYTES)
    except (OSError, TraceError) as err:
        _warn_unwritable(str(folder), _reason(err))


def _reason(err: BaseException) -> str:
    """The operating system's words for a failed write (atomic_output keeps them as the
    TraceError's cause), else the error's own."""
    cause = err if isinstance(err, OSError) else err.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(err)


def _well_formed(counts: np.ndarray, tables: int) -> bool:
    """Whether an entry read back has the shape and range a generated demand has."""
    return (counts.dtype == np.int64 and counts.ndim == 3 and counts.shape[0] == 2
            and counts.shape[1] >= 1 and counts.shape[2] == tables
            and bool((counts[1] >= 0).all()) and bool((counts[1] <= counts[0]).all()))


def _prune(folder: Path, limit_bytes: int) -> None:
    """Remove the least recently used entries until the folder's entries total `limit_bytes`."""
    entries = []
    for path in folder.glob("*.npy"):
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile by another run's pruning
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size


def drawn_tables(model: ModelSpec) -> tuple[tuple[object, ...], ...]:
    """What a model's generated numbers depend on: each table's fields but those the generator
    does not read (so that a field added to TableSpec later counts until it is known not to).
    Models equal in it draw the same demand, whatever their names, widths or MLPs."""
    return tuple(_drawn_fields(table) for table in model.tables)


def _drawn_fields(table: TableSpec) -> tuple[object, ...]:
    return tuple(getattr(table, f.name) for f in dataclasses.fields(table)
                 if f.name not in _UNUSED_TABLE_FIELDS)


@functools.cache
def _code_fingerprint() -> str:
    """A hash of every source file of the packages that draw and count the demand."""
    import traces  # imported here: sim/ does not need traces/ until it draws

    return tree_digest([Path(__file__).parent, Path(traces.__file__).parent])


def tree_digest(packages: list[Path]) -> str:
    """A hash of the names and bytes of every .py file under `packages`."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _warn_unwritable(folder: str, reason: str) -> None:
    """One warning per folder and reason and process (a sweep would repeat it per point)."""
    warnings.warn(f"cannot write the demand cache in {folder} ({reason}): runs draw their "
                  f"lookups each time; set {ENV_DIR} to a folder you can write, or "
                  f"{ENV_OFF}=1 to turn the cache off", CacheWarning, stacklevel=3)
