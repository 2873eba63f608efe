"""The calibrate command line's answers to the audit: numbers out of range, useless fits, ops
this run cannot measure, interruption, and a run that keeps no working-set ratio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calibrate.cli import main
from calibrate.errors import CalibrationError

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dlrmsim", "calibrate", *argv],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout)


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_refused_in_one_line(port):
    # socket.bind raised OverflowError with a traceback (exit 1)
    result = _cli("serve", "--port", port)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"argument --port: must be from 0 to 65535 (0 picks a free port), got {port}" \
        in result.stderr


@pytest.mark.parametrize("threads", ["100000", str((os.cpu_count() or 1) * 64), "0"])
def test_more_threads_than_cpus_is_refused_before_torch_sees_them(tmp_path, threads):
    # torch.set_num_threads(100000) crashed the process with a segmentation fault (exit 139)
    out = tmp_path / "t.json"
    result = _cli("--quick", "--ops", "host_copy", "--threads", threads, "--out", str(out))
    assert result.returncode == 2
    assert "argument --threads: must be from 1 to" in result.stderr
    assert "the CPUs this process may use" in result.stderr
    assert not out.exists()


def test_python_callers_get_the_same_threads_check(tmp_path):
    from calibrate.runner import RunOptions, calibrate

    out = tmp_path / "t.json"
    with pytest.raises(CalibrationError, match="--threads must be from 1 to"):
        calibrate(RunOptions(device="cpu", quick=True, ops=("host_copy",), threads=10**5,
                             out=out))
    assert not out.exists()


def test_threads_up_to_the_usable_cpus_are_accepted(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    out = tmp_path / "t.json"
    assert main(["--device", "cpu", "--quick", "--ops", "host_copy", "--budget-scale", "0.01",
                 "--threads", str(cpus), "--quiet", "--out", str(out)]) == 0
    assert out.exists()
