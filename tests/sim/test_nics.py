"""A platform without NICs is refused before the run wherever servers on it send messages to
other servers, and only there: the check agrees with what the role processes send."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest

from dlrmsim.cli import main
from dlrmsim.sweep import sweep
from sim import run
from sim.errors import DlrmsimInputError
from sim.presets import load_platform, preset_root
from sim.specs import ServerSpec

ITERATIONS = 3


def without_nics(spec: ServerSpec) -> ServerSpec:
    switches = tuple(dataclasses.replace(s, nics=()) for s in spec.pcie_switches)
    return dataclasses.replace(spec, nics=(), pcie_switches=switches)


def _settings(trainer: str) -> list[dict[str, object]]:
    placements = ("system", "remote") if trainer == "dual_socket_cpu" else ("gpu", "remote")
    return [{"placement": placement, "trainers": trainers, "dense_ps": dense, "readers": readers,
             "sparse_ps": 1 if placement == "remote" else 0}
            for placement, trainers, dense, readers in itertools.product(
                placements, (1, 2), (0, 1), (0, 1))]


CASES = [(trainer, bare, settings) for trainer in ("dual_socket_cpu", "big_basin")
         for bare in ("trainer", "ps") for settings in _settings(trainer)]


@pytest.mark.parametrize(("trainer", "bare", "settings"), CASES)
def test_the_check_refuses_exactly_the_runs_that_would_need_the_missing_nic(
        monkeypatch: pytest.MonkeyPatch, trainer: str, bare: str,
        settings: dict[str, object]) -> None:
    platforms = {"trainer": load_platform(trainer), "ps": load_platform("dual_socket_cpu")}
    platforms[bare] = without_nics(platforms[bare])
    kwargs: dict[str, Any] = dict(model="test_suite", platform=platforms["trainer"],
                                  ps_platform=platforms["ps"], batch_size=64,
                                  iterations=ITERATIONS, **settings)
    try:
        run.simulate(**kwargs)
        refused = None
    except DlrmsimInputError as err:
        refused = str(err)
    # The same run without the check: does a message need the missing NIC?
    monkeypatch.setattr(run, "check_nics", lambda *args, **kwargs: None)
    try:
        run.simulate(**kwargs)
        needed = False
    except ValueError as err:
        assert "has no NIC" in str(err)
        needed = True
    assert (refused is not None) == needed, refused
    if refused is not None:
        flag = "--platform" if bare == "trainer" else "--ps-platform"
        assert refused.startswith(f"platform {platforms[bare].name} has no NIC, but it runs "
                                  "the job's ")
        assert refused.endswith(f"give {flag} a platform that has one")


@pytest.fixture
def bare_file(tmp_path: Path) -> Path:
    """dual_socket_cpu's file without its NIC, as `sed '/^nics:/,+1d'` would leave it."""
    lines = (preset_root() / "platforms" / "dual_socket_cpu.yaml").read_text().splitlines()
    start = lines.index("nics:")
    path = tmp_path / "p_nonic.yaml"
    path.write_text("\n".join(lines[:start] + lines[start + 2:]) + "\n")
    return path


def test_the_command_line_names_the_platform_its_file_the_role_and_the_fix(
        capsys: pytest.CaptureFixture[str], bare_file: Path) -> None:
    code = main(["simulate", "--job", "m2_cpu", "--ps-platform", str(bare_file),
                 "--iterations", str(ITERATIONS)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert (f"platform dual_socket_cpu (from {bare_file}) has no NIC, but it runs the job's 12 "
            "sparse parameter servers (lookups from the trainers, placement remote) and 4 dense "
            "parameter servers (EASGD syncs with the CPU trainers)") in err
    assert "give --ps-platform a platform that has one" in err


def test_a_sweep_lists_the_point_as_failed_and_runs_the_others(bare_file: Path) -> None:
    done = sweep("test_suite_cpu", {"ps_platform": ("dual_socket_cpu", str(bare_file))},
                 iterations=ITERATIONS)
    good, bad = done.points
    assert good.ok and not bad.ok
    assert bad.outcome.error.startswith(f"platform dual_socket_cpu (from {bare_file}) has no NIC")


def test_a_platform_file_named_by_a_job_file_is_named_too(tmp_path: Path,
                                                          bare_file: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(f"kind: job\nname: j\nmodel: test_suite\ntrainer_platform: {bare_file}\n"
                   "batch_size: 64\nsparse_ps: 1\nplacement: {kind: remote}\n")
    with pytest.raises(DlrmsimInputError) as caught:
        run.simulate(str(job), iterations=ITERATIONS)
    assert str(caught.value).startswith(
        f"platform dual_socket_cpu (from {bare_file}) has no NIC, but it runs the job's 1 "
        "trainer (lookups to the sparse parameter servers, placement remote)")
