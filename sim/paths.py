"""Checks on a file a run will write, made before the work that fills it: a sweep that runs for
minutes, or a simulation with a timeline, should not end in "cannot write" with its results
lost."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sim.errors import DlrmsimInputError


def check_output_file(path: str, option: str,
                      inputs: Iterable[tuple[str, object]] = ()) -> None:
    """DlrmsimInputError, naming `option` (e.g. --csv) and `path` as given, unless a file can be
    created at `path`: not an empty name, one of the run's `inputs` ((option, value) pairs; a
    value that names no file, e.g. a preset name, is passed over), a folder, a path through a
    regular file, a folder that does not exist or one that cannot be written. A file is created
    there and removed, since permission bits miss read-only disks and access lists (and root
    passes them all)."""
    from traces.atomic import is_special  # sim/ needs traces/ only where it writes

    target = Path(path)
    if not path:
        raise DlrmsimInputError(f"{option}: the file name is empty; give a file to write")
    if is_special(target):  # a pipe or a device (/dev/stdout): written in place, not replaced
        if not os.access(target, os.W_OK):
            raise DlrmsimInputError(f"{option} {path}: cannot be written (permission denied); "
                                    "give another path")
        return
    if target.is_symlink():  # the file replaced is the one the link points to
        target = Path(os.path.realpath(target))
    for name, source in inputs:
        if _same_file(target, source):  # written after the run, it would replace what it read
            raise DlrmsimInputError(f"{option} {path}: names the file given to {name} "
                                    f"({source}), which the run reads; give another name")
    if target.is_dir():
        raise DlrmsimInputError(f"{option} {path}: is a folder; give the name of a file to "
                                "write in it")
    blocker = file_in_the_way(target)
    if blocker is not None:  # "does not exist" would send the user looking for a folder
        raise DlrmsimInputError(f"{option} {path}: {blocker} is a file, not a folder; give "
                                "another path")
    folder = target.parent
    if not folder.is_dir():
        raise DlrmsimInputError(f"{option} {path}: the folder {folder} does not exist; create "
                                "it or give another path")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as err:
        raise DlrmsimInputError(f"{option} {path}: cannot write in {folder} ({err.strerror}); "
                                "give another path") from None


def file_in_the_way(path: Path) -> Path | None:
    """The file that stands where a folder above `path` should be, if any."""
    return next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)


def _same_file(target: Path, source: object) -> bool:
    """Whether `source` (a path, or anything else) names the existing file `target` names."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    try:
        return target.is_file() and os.path.isfile(source) and os.path.samefile(target, source)
    except OSError:  # e.g. a name too long for the system: not the same file as one that exists
        return False
