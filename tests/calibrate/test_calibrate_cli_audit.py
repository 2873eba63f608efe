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


# host_copy's form: a latency plus bytes over a bandwidth (two terms).
_COPY_TERMS: tuple[dict[str, float], ...] = ({}, {"bytes": 1})


def _copy_model(fit: list[tuple[float, float]], held: list[tuple[float, float]]) -> dict:
    from calibrate.fit import build_cost_model

    points = [({"bytes": b}, t, False) for b, t in fit] + [({"bytes": b}, t, True)
                                                            for b, t in held]
    model = build_cost_model(("bytes",), _COPY_TERMS, (), points)
    assert model is not None
    return model


def test_a_law_the_fit_follows_is_not_weak():
    from calibrate.quality import weak_fit_reasons

    law = lambda b: 2e-6 + b / 1e10  # noqa: E731  2 us latency, 10 GB/s
    sizes = [1e3, 1e4, 1e5, 1e6, 1e7]
    model = _copy_model([(b, law(b)) for b in sizes], [(3e5, law(3e5)), (3e6, law(3e6))])
    assert weak_fit_reasons(len(_COPY_TERMS), model) == []


def test_one_fitted_point_and_a_wrong_held_out_prediction_are_named():
    from calibrate.quality import weak_fit_reasons

    law = lambda b: 2e-6 + b / 1e10  # noqa: E731
    model = _copy_model([(1e3, law(1e3))], [(1e7, law(1e7)), (1e8, law(1e8))])
    reasons = weak_fit_reasons(len(_COPY_TERMS), model)
    assert any(r.startswith("held-out median error") for r in reasons)
    assert "1 fitted point(s) for 2 terms" in reasons


def test_a_constant_fit_of_an_op_that_has_size_terms_is_named():
    from calibrate.quality import weak_fit_reasons

    # Noise that hides the size dependence: every size took the same time.
    model = _copy_model([(1e3, 1e-3), (1e5, 1e-3), (1e7, 1e-3)], [(1e4, 1e-3)])
    assert weak_fit_reasons(len(_COPY_TERMS), model) == ["its fit is a constant"]


def test_a_starved_run_warns_and_records_its_weak_fits(tmp_path, capsys):
    """A budget this small keeps one fitted point per op: a constant, off by multiples on the
    held-out points. It exited 0 without a word."""
    import json

    out = tmp_path / "nb.json"
    assert main(["--device", "cpu", "--quick", "--threads", "1", "--ops", "host_copy,mlp_forward",
                 "--budget-scale", "0.001", "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 op(s) have fits too weak to use: " in err
    assert "host_copy (" in err and "mlp_forward (" in err
    assert "--budget-scale" in err and "without --quick" in err
    weak = json.loads(out.read_text())["run"]["weak_fits"]
    assert set(weak) == {"host_copy", "mlp_forward"}
    assert "1 fitted point(s) for 5 terms" in weak["mlp_forward"]


def _fails(argv, capsys, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("calibrate: error:") and message in err and err.count("\n") == 1


def test_a_full_mode_op_in_quick_mode_says_drop_quick(tmp_path, capsys):
    # The README names embedding_forward_cold; "unknown op" sent users looking for a typo.
    out = tmp_path / "p.json"
    _fails(["--device", "cpu", "--quick", "--ops", "embedding_forward_cold", "--out", str(out)],
           capsys, "op embedding_forward_cold: full mode only: drop --quick")
    assert not out.exists()


def test_an_fbgemm_op_without_fbgemm_says_how_to_install_it(tmp_path, capsys):
    from calibrate.kernels.fbgemm import fbgemm_version

    if fbgemm_version() is not None:
        pytest.skip("needs a host without fbgemm_gpu")
    _fails(["--device", "cpu", "--ops", "fbgemm_embedding_forward", "--out",
            str(tmp_path / "p.json")], capsys,
           "op fbgemm_embedding_forward: needs fbgemm_gpu (pip install fbgemm-gpu-cpu==1.8.0)")


def test_an_fbgemm_op_with_no_fbgemm_says_drop_it(tmp_path, capsys, monkeypatch):
    import calibrate.runner as runner

    monkeypatch.setattr(runner, "fbgemm_version", lambda: "1.8.0")  # as if installed
    _fails(["--device", "cpu", "--no-fbgemm", "--ops", "fbgemm_embedding_forward,warp_drive",
            "--out", str(tmp_path / "p.json")], capsys,
           "op fbgemm_embedding_forward: left out by --no-fbgemm: drop it; unknown op(s) "
           "['warp_drive']")


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def _interrupt_once_children_run(argv: list[str], after_s: float
                                 ) -> subprocess.CompletedProcess[str]:
    """Run `dlrmsim calibrate argv` in its own process group and, once it has started its worker
    processes and `after_s` more seconds, send SIGINT to the whole group, as Ctrl-C in a
    terminal does."""
    import signal
    import time

    process = subprocess.Popen([sys.executable, "-m", "dlrmsim", "calibrate", *argv],
                               stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _children(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(after_s)  # the children are past their start
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, "", err)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
# The gloo ranks import torch (seconds); the sink starts in a fraction of one, and network_tcp's
# quick sweep is over about a second later.
@pytest.mark.parametrize(("op", "after_s"), [("allreduce_gloo", 2.0), ("network_tcp", 0.3)])
def test_ctrl_c_stops_the_worker_processes_without_their_tracebacks(tmp_path, op, after_s):
    # The gloo ranks (collectives._worker) and the loopback sink (network.serve_loopback)
    # each printed a KeyboardInterrupt traceback before the parent's line.
    out = tmp_path / "p.json"
    result = _interrupt_once_children_run(["--device", "cpu", "--quick", "--ops", op,
                                           "--budget-scale", "1", "--quiet", "--out", str(out)],
                                          after_s)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert result.stderr.startswith("dlrmsim calibrate: interrupted")
    assert not out.exists()


_INTERRUPTED = ("interrupted; no profile written (a profile already at the output path is "
                "untouched)\n")


def test_an_interrupted_dlrmsim_calibrate_says_nothing_was_written(tmp_path):
    # It said only "interrupted", where `python -m calibrate` said "no profile written".
    out = tmp_path / "p.json"
    out.write_text("an earlier profile")
    result = _interrupt_once_children_run(["--device", "cpu", "--quick", "--ops",
                                           "allreduce_gloo", "--budget-scale", "1", "--quiet",
                                           "--force", "--out", str(out)], 2.0)
    assert result.returncode == 130
    assert result.stderr == f"dlrmsim calibrate: {_INTERRUPTED}"
    assert out.read_text() == "an earlier profile"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_both_commands_say_the_same_on_ctrl_c(capsys, monkeypatch):
    import calibrate.cli as cli
    from dlrmsim.cli import main as dlrmsim_main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    monkeypatch.setattr("dlrmsim.commands.calibrate.run", interrupted)
    assert cli.main(["--device", "cpu"]) == 130
    assert capsys.readouterr().err == f"calibrate: {_INTERRUPTED}"
    assert dlrmsim_main(["calibrate", "--device", "cpu"]) == 130
    assert capsys.readouterr().err == f"dlrmsim calibrate: {_INTERRUPTED}"


def test_ctrl_c_while_the_profile_is_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    import calibrate.profile as profile

    out = tmp_path / "p.json"
    out.write_text("an earlier profile")
    monkeypatch.setattr(profile, "validate_profile", lambda data: None)

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(profile.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        profile.write_profile({"schema": "dlrmsim.profile"}, out)
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # the hidden .p.json.*.tmp stayed
    assert out.read_text() == "an earlier profile"


def _working_set_only_profile(kept: int, excluded: int) -> dict:
    pair = {"table_bytes": 4e5, "base_rotation_bytes": 1e8, "cold_rotation_bytes": 4e9,
            "ratio": 1.2}
    return {"measurements": [], "cost_models": {}, "grid": {"ops": {}},
            "run": {"wall_s": 41.0, "estimated_s": 30.0},
            "working_set_ratios": {"embedding_forward": {
                "cold_rotation_factor": 16, "points": [pair] * kept,
                "excluded": [{**pair, "reason": "cold timing flagged as noisy"}] * excluded}}}


def test_a_run_of_working_set_ops_only_says_so_instead_of_an_empty_table(capsys):
    # `--ops embedding_forward_cold` printed the table's header and no row.
    from calibrate.cli import _print_summary, summary

    _print_summary(summary(Path("cold.json"), _working_set_only_profile(0, 3)), as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["profile cold.json written in 41 s",
                     "no cost model fitted (working-set ops only); working-set ratios: "
                     "embedding_forward 0 kept, 3 excluded as noisy"]


class _SinkStub:
    """Stands in for calibrate's TCP sink: listens nowhere and returns at once, as Ctrl-C
    makes the real one."""

    port = 4242

    def __init__(self, host: str, port: int) -> None:
        self.host = host

    def serve_forever(self) -> None:
        raise KeyboardInterrupt

    def server_close(self) -> None:
        pass


@pytest.mark.parametrize("via_dlrmsim", [False, True])
def test_run_options_given_with_serve_are_named_as_ignored(tmp_path, capsys, monkeypatch,
                                                           via_dlrmsim):
    # `--quick --out zz.json --ops host_copy serve` ran the sink without a word: no profile.
    import dlrmsim.cli

    monkeypatch.setattr("calibrate.cli.SinkServer", _SinkStub)
    out = tmp_path / "zz.json"
    argv = ["--quick", "--out", str(out), "--ops", "host_copy", "--no-fbgemm", "serve",
            "--port", "0"]
    code = dlrmsim.cli.main(["calibrate", *argv]) if via_dlrmsim else main(argv)
    err = capsys.readouterr().err
    assert code == 0 and not out.exists()
    (note,) = [line for line in err.splitlines() if "note:" in line]
    assert "--quick, --out, --no-fbgemm, --ops do not apply to serve" in note
    assert note.endswith("ignored") and "--device" not in note
    assert main(["serve", "--port", "0"]) == 0
    assert "note" not in capsys.readouterr().err


def test_serve_help_states_the_default_host(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "default 0.0.0.0" in " ".join(capsys.readouterr().out.split())
