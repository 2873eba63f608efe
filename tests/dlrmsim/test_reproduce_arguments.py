"""`dlrmsim.reproduce` called from Python (as notebooks/paper_reproduction.ipynb does) with
arguments of the wrong type: refused before anything runs or is written, as a user error that
names the argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrmsim.reproduce import Settings, reproduce
from sim.errors import DlrmsimInputError

SMALL = {"quick": True, "iterations": 4, "fig5_runs": 2, "fig9_jobs": 2, "only": ("table3",)}


@pytest.mark.parametrize("field, value, words", [
    ("iterations", "4", "iterations = '4'"),
    ("iterations", 2, "iterations = 2: give a whole number >= 3"),
    ("fig5_runs", 1, "fig5_runs = 1: give a whole number >= 2"),
    ("fig9_jobs", 1.5, "fig9_jobs = 1.5"),
    ("seed", "a", "seed = 'a': give a whole number >= 0"),
    ("seed", -1, "seed = -1"),
    ("quick", "yes", r"quick = 'yes' \(str\): give True or False"),
    ("only", "fig1", r"only = 'fig1' \(str\): give a tuple of experiment ids"),
    ("only", (1,), "give a tuple of experiment ids"),
])
def test_a_bad_setting_names_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(DlrmsimInputError, match=words):
        Settings(**{**SMALL, field: value})  # type: ignore[arg-type]


def test_for_mode_does_not_split_an_id_into_letters() -> None:
    with pytest.raises(DlrmsimInputError, match="only = 'fig1'"):
        Settings.for_mode(quick=True, only="fig1")


@pytest.mark.parametrize("keywords, words", [
    ({"settings": "quick"}, r"settings = 'quick' \(str\): give a Settings"),
    ({"settings": {"quick": True}}, "give a Settings"),
    ({"jobs": "2"}, "jobs = '2'"),
    ({"jobs": 0}, "jobs = 0: give a whole number >= 1"),
])
def test_reproduce_refuses_before_writing(tmp_path: Path, keywords: dict[str, object],
                                          words: str) -> None:
    out = tmp_path / "report"
    arguments = {"settings": Settings(**SMALL), "progress": False, **keywords}
    with pytest.raises(DlrmsimInputError, match=words):
        reproduce(out, **arguments)  # type: ignore[arg-type]
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("out", [123, None, ""])
def test_reproduce_names_its_output_folder(out: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"out = .*give the path of the folder"):
        reproduce(out, Settings(**SMALL), progress=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["reproduce", "sweep"])
def test_jobs_beyond_the_cpus_run_as_many_as_there_are_cpus(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str) -> None:
    # 500 worker processes on 2 CPUs ran fig1 in 37 s against 7 s with one.
    from dlrmsim.commands import arguments

    monkeypatch.setattr(arguments.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert arguments.jobs_for_cpus(2, command) == 2 and capsys.readouterr().err == ""
    assert arguments.jobs_for_cpus(500, command) == 2
    assert capsys.readouterr().err == (f"dlrmsim {command}: note: --jobs 500 is more than the 2 "
                                       "CPUs this machine gives it; running 2 at a time\n")
