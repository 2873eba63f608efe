"""The atomic writer: the whole file or none, with a new file's permissions, and clear errors
(never a traceback, never a temporary file left behind)."""

from __future__ import annotations

import os
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
