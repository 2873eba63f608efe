"""The atomic writer: the whole file or none, with a new file's permissions, and clear errors
(never a traceback, never a temporary file left behind)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from traces import TraceError
from traces.atomic import atomic_output, atomic_write_text


@pytest.fixture
def umask_022() -> Iterator[int]:
    old = os.umask(0o022)
    yield 0o022
    os.umask(old)


def test_output_gets_a_new_files_permissions(tmp_path: Path, umask_022: int) -> None:
    atomic_write_text(tmp_path / "out.txt", "x")
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~umask_022


def test_a_folder_target_is_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(TraceError, match="folder: is a folder; give the name of a file"):
        atomic_write_text(tmp_path / "folder", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]
    assert not list((tmp_path / "folder").iterdir())


def test_an_empty_target_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TraceError, match="output file name is empty"):
        atomic_write_text("", "x")
    assert not list(tmp_path.iterdir())


def test_a_failed_rename_is_a_trace_error_and_leaves_nothing(tmp_path: Path) -> None:
    # The target turns into a folder while the file is written: the rename fails.
    target = tmp_path / "out"
    with pytest.raises(TraceError, match="out: cannot write here"), atomic_output(target) as f:
        f.write(b"x")
        target.mkdir()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize(("code", "why"), [
    (errno.ENOSPC, "no space left on the disk; free some space there or write the file elsewhere"),
    (errno.EFBIG, "the file is larger than the system lets a process write"),
])
def test_a_write_that_fails_is_a_trace_error_and_leaves_nothing(tmp_path: Path, code: int,
                                                                 why: str) -> None:
    # Before, the OSError of a full disk went up as it was: a traceback from the command line.
    with pytest.raises(TraceError, match=f"out: cannot write: {why}") as caught, \
            atomic_output(tmp_path / "out") as f:
        f.write(b"x")
        raise OSError(code, os.strerror(code))
    assert isinstance(caught.value.__cause__, OSError)  # the demand cache reads its words there
    assert not list(tmp_path.iterdir())


def test_an_input_error_in_the_block_is_not_called_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "out"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "input")
    assert not list(tmp_path.iterdir())


def test_a_symbolic_link_keeps_pointing_at_the_file_it_replaces(tmp_path: Path) -> None:
    # The rename went onto the link: the link became a file and its target kept the old text.
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    atomic_write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_a_dangling_symbolic_link_gets_its_file(tmp_path: Path) -> None:
    (tmp_path / "link.json").symlink_to("later.json")
    atomic_write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "later.json").read_text() == "new"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    # A file renamed onto the pipe took its place, and its reader got nothing.
    pipe = tmp_path / "out.csv"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    atomic_write_text(pipe, "a,b\n")
    reader.join(timeout=30)
    assert got == [b"a,b\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
