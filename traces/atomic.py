"""Write a file whole or not at all: into a temporary file beside it, renamed on success."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from traces.errors import TraceError, trace_error

# Permissions of the temporary file, and so of the output: those of any new file (the kernel
# takes the umask off), not mkstemp's 0o600.
NEW_FILE_MODE = 0o666
# Errors only a write gives: an OSError with one of these out of the `with` block is the output's,
# never an input's. What each means, and how to get past it.
_WRITE_FAILURES = {
    errno.ENOSPC: "no space left on the disk; free some space there or write the file elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space there or write the file elsewhere",
    errno.EFBIG: "the file is larger than the system lets a process write (`ulimit -f`, or the "
                 "file system's limit); raise the limit or write the file elsewhere",
}


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `path` only if the block finishes without an exception.

    The temporary file sits in the target's folder so that `os.replace` is a same-filesystem
    rename (atomic on POSIX). Raises TraceError when `path` is empty or a folder, or when the
    file cannot be written there: at its creation, while it is written (a full disk, a file
    size limit) or at its closing and renaming. The temporary file is removed on any error.
    A symbolic link's target is the file replaced (the link stays); a pipe or a device
    (/dev/null, /dev/stdout) is written in place, since it holds no file to keep whole.
    """
    target = _file_target(path)
    if is_special(target):  # nothing to replace: written in place, as a shell's `>` would
        with _special_output(target) as handle:
            yield handle
        return
    fd, tmp_name = _create_beside(target)
    handle = os.fdopen(fd, "wb")
    try:
        try:
            yield handle
        except OSError as err:
            if err.errno in _WRITE_FAILURES:
                raise _write_failed(target, err) from err
            raise  # e.g. an input that cannot be read: not the output's to explain
        try:
            handle.close()  # writes what is buffered: a full disk may show only here
        except OSError as err:
            raise _write_failed(target, err) from err
        _rename(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            handle.close()  # no-op once closed; else its own flush fails as the write did
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def check_output(path: str | os.PathLike[str]) -> None:
    """Raise TraceError now, before any work, if `path` cannot name an output file (empty, or a
    folder): for outputs written by others' writers, which find out only at the end."""
    _file_target(path)


def _file_target(path: str | os.PathLike[str]) -> Path:
    """The file to write for `path`: a symbolic link's target (renaming onto the link would
    replace the link, and leave the file it points to as it was), else `path`."""
    if not os.fspath(path):
        raise trace_error(None, "the output file name is empty; give a file to write")
    target = Path(path)
    if target.is_dir():  # checked first: os.replace would refuse it only after all the work
        raise trace_error(target, "is a folder; give the name of a file to write")
    if target.is_symlink() and not is_special(target):
        return Path(os.path.realpath(target))
    return target


def is_special(target: Path) -> bool:
    """Whether `target` is something other than a file or folder that exists: a pipe, a
    terminal, a device such as /dev/null or /dev/stdout. Renaming a file onto one would put a
    file in its place (as root, in /dev) and the reader at the other end would get nothing."""
    try:
        mode = target.stat().st_mode
    except OSError:  # nothing there yet (or a dangling link): a new file
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextlib.contextmanager
def _special_output(target: Path) -> Iterator[BinaryIO]:
    try:
        handle = open(target, "wb")  # noqa: SIM115 (closed below, its errors told apart)
    except OSError as err:
        raise trace_error(target, f"cannot write here ({err.strerror})") from err
    with handle:
        yield handle


def _create_beside(target: Path) -> tuple[int, str]:
    """A new hidden file in the target's folder (O_EXCL: never one that exists)."""
    tmp_name = os.fspath(target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    except OSError as err:
        raise trace_error(target, f"cannot write here ({err.strerror})") from err
    return fd, tmp_name


def _write_failed(target: Path, err: OSError) -> TraceError:
    why = _WRITE_FAILURES.get(err.errno or 0, f"{err.strerror or err}; check the disk, or write "
                              "the file elsewhere")
    return trace_error(target, f"cannot write: {why} (nothing was written)")


def _rename(tmp_name: str, target: Path) -> None:
    try:
        os.replace(tmp_name, target)
    except OSError as err:
        raise trace_error(target, f"cannot write here ({err.strerror})") from err


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))
