"""Write a file whole or not at all: into a temporary file beside it, renamed on success."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from traces.errors import trace_error

# Permissions of the temporary file, and so of the output: those of any new file (the kernel
# takes the umask off), not mkstemp's 0o600.
NEW_FILE_MODE = 0o666


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `path` only if the block finishes without an exception.

    The temporary file sits in the target's folder so that `os.replace` is a same-filesystem
    rename (atomic on POSIX). Raises TraceError when `path` is empty or a folder, or when the
    file cannot be written there.
    """
    target = _file_target(path)
    fd, tmp_name = _create_beside(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        _rename(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def check_output(path: str | os.PathLike[str]) -> None:
    """Raise TraceError now, before any work, if `path` cannot name an output file (empty, or a
    folder): for outputs written by others' writers, which find out only at the end."""
    _file_target(path)


def _file_target(path: str | os.PathLike[str]) -> Path:
    if not os.fspath(path):
        raise trace_error(None, "the output file name is empty; give a file to write")
    target = Path(path)
    if target.is_dir():  # checked first: os.replace would refuse it only after all the work
        raise trace_error(target, "is a folder; give the name of a file to write")
    return target


def _create_beside(target: Path) -> tuple[int, str]:
    """A new hidden file in the target's folder (O_EXCL: never one that exists)."""
    tmp_name = os.fspath(target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    except OSError as err:
        raise trace_error(target, f"cannot write here ({err.strerror})") from err
    return fd, tmp_name


def _rename(tmp_name: str, target: Path) -> None:
    try:
        os.replace(tmp_name, target)
    except OSError as err:
        raise trace_error(target, f"cannot write here ({err.strerror})") from err


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))
