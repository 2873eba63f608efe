"""The output folder of a reproduction, all or nothing: results are built in a temporary sibling
(`.<name>.tmp-<pid>-<random>`), and swapped in only when complete, so that an interrupted run
never leaves old and new results mixed. Temporaries left by a killed run are removed at the next
start; those of a run still alive (same host, live pid) are left alone.

Only a folder that is empty or holds an earlier report and nothing else (REPORT_FILES, and no
name a report does not write: REPORT_NAMES, REPORT_FOLDERS) is replaced: any other folder
(`--out ~` by mistake, or a report with one's own notes put beside it) is refused before anything
runs, since replacing it deletes it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dlrmsim.reproduce.errors import ReproduceError
from sim.paths import file_in_the_way

_TMP, _OLD = ".tmp-", ".old-"
# What every report holds (report.write): a folder with these is an earlier report.
REPORT_FILES = ("report.md", "claims.json")
# Everything else a report may write at its top level, and its folders with the one kind of
# file each holds: a name outside these is the user's, and the folder is not replaced.
REPORT_NAMES = frozenset({*REPORT_FILES, "report.html", "run_info.json"})
REPORT_FOLDERS = {"figures": ".png", "data": ".csv"}


def _prefix(target: Path, kind: str) -> str:
    return f".{target.name}{kind}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _owner_pid(name: str, prefix: str) -> int | None:
    head = name[len(prefix):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def clean_stale(target: Path) -> list[Path]:
    """Remove the temporaries and old copies that runs which are no longer alive left beside
    `target`; returns what was removed."""
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for kind in (_TMP, _OLD):
        prefix = _prefix(target, kind)
        for path in sorted(target.parent.glob(prefix + "*")):
            pid = _owner_pid(path.name, prefix)
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            if path.is_symlink():  # rmtree refuses a link, which then stayed for good
                path.unlink(missing_ok=True)
            else:
                shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _cannot_write(target: Path, err: OSError) -> ReproduceError:
    blocker = file_in_the_way(target)  # errno says only "File exists" or "Not a directory"
    reason = (f"{blocker} is a file, not a folder" if blocker
              else err.strerror or type(err).__name__)
    return ReproduceError(f"cannot write the report to {target}: {reason}; give a writable "
                          f"folder with --out")


def _refuse_to_replace(target: Path) -> None:
    """ReproduceError unless replacing `target` loses nothing but an earlier report: it must be
    absent, empty or a report, and must not be (or hold) the current folder."""
    if target.exists() and not target.is_dir():
        raise ReproduceError(f"cannot write the report to {target}: it is a file, not a folder")
    cwd = Path.cwd().absolute()
    if cwd == target or target in cwd.parents:
        raise ReproduceError(f"will not replace {target}: it is or holds the current folder; "
                             "give another folder with --out")
    if not target.is_dir():
        return
    try:
        names = sorted(p.name for p in target.iterdir())
    except OSError as err:
        raise _cannot_write(target, err) from err
    if names and not all(name in names for name in REPORT_FILES):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise ReproduceError(f"will not replace {target}: it holds files that are not a report "
                             f"of dlrmsim reproduce ({shown}); give a new or empty folder with "
                             "--out")
    extra = _not_a_reports(target, names)
    if extra:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise ReproduceError(f"will not replace {target}: beside an earlier report it holds "
                             f"files the report did not write ({shown}), which replacing it "
                             "would delete; move them out, or give another folder with --out")


def _not_a_reports(target: Path, names: list[str]) -> list[str]:
    """The names under `target` (a report's folder) that no report writes, as relative paths."""
    extra = [n for n in names if n not in REPORT_NAMES and n not in REPORT_FOLDERS]
    for folder, suffix in REPORT_FOLDERS.items():
        inside = target / folder
        if not inside.exists():
            continue
        if not inside.is_dir():
            extra.append(folder)
            continue
        try:
            extra += [f"{folder}/{p.name}" for p in sorted(inside.iterdir())
                      if p.suffix != suffix or not p.is_file()]
        except OSError as err:
            raise _cannot_write(target, err) from err
    return extra


def start(target: Path) -> Path:
    """Check that `target` can be written and make the temporary folder to build in.

    Raises ReproduceError (one line) when the target is a file, a folder of other files or the
    current folder, or its parent cannot be written.
    """
    _refuse_to_replace(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        return Path(tempfile.mkdtemp(prefix=f"{_prefix(target, _TMP)}{os.getpid()}-",
                                     dir=target.parent))
    except OSError as err:
        raise _cannot_write(target, err) from err


def commit(building: Path, target: Path) -> None:
    """Swap the finished folder in: the old results move aside, the new take their name, the
    old are deleted. Between the two renames no `target` exists, never a mix."""
    mask = os.umask(0)
    os.umask(mask)
    building.chmod(0o777 & ~mask)  # mkdtemp made it 0700; give it the mode of a new folder
    old = None
    if target.exists():
        old = target.parent / f"{_prefix(target, _OLD)}{os.getpid()}"
        os.replace(target, old)
    os.replace(building, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def building(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh folder to write the results into; on success it becomes `target`, on any
    exception (Ctrl-C included) it is removed and `target` is left as it was."""
    final = Path(target).expanduser().absolute()
    if final.is_symlink():  # the folder the link names is the one replaced; the link stays
        final = Path(os.path.realpath(final))
    work = start(final)
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        _refuse_to_replace(final)  # again: files may have been put there while it ran
        commit(work, final)
    except ReproduceError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except OSError as err:
        shutil.rmtree(work, ignore_errors=True)
        raise _cannot_write(final, err) from err
