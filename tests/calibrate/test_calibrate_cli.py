"""User mistakes end with one line, exit status 2 and no profile; the CLIs are wired."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from calibrate.cli import main
from calibrate.errors import CalibrationError
from calibrate.peer import parse_peer

ROOT = Path(__file__).resolve().parents[2]


def _fails(argv, capsys, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("calibrate: error:") and message in err and err.count("\n") == 1


def test_unknown_device(tmp_path, capsys):
    _fails(["--device", "tpu", "--out", str(tmp_path / "p.json")], capsys, "unknown device 'tpu'")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a host without CUDA")
def test_absent_cuda_device(tmp_path, capsys):
    _fails(["--device", "cuda", "--out", str(tmp_path / "p.json")], capsys,
           "no CUDA device is available")
    assert not list(tmp_path.iterdir())


def test_unwritable_output_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails(["--device", "cpu", "--out", str(blocker / "p.json")], capsys,
           f"{blocker} is a file, not a folder")  # errno alone said "File exists"
    _fails(["--device", "cpu", "--out", str(blocker / "sub" / "p.json")], capsys,
           f"{blocker} is a file, not a folder")


def test_unreachable_peer(tmp_path, capsys):
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _fails(["--device", "cpu", "--peer", f"127.0.0.1:{port}", "--out", str(tmp_path / "p.json")],
           capsys, "does not answer")
    assert not list(tmp_path.iterdir())


def test_unknown_op_and_bad_budget(tmp_path, capsys):
    _fails(["--device", "cpu", "--ops", "warp_drive", "--out", str(tmp_path / "p.json")], capsys,
           "unknown op")
    _fails(["--budget-scale", "0"], capsys, "budget-scale")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text", ["host", "host:", ":80", "host:99999", "host:x"])
def test_bad_peer_text(text):
    with pytest.raises(CalibrationError, match="HOST:PORT"):
        parse_peer(text)


def test_parse_peer_accepts_ipv6():
    assert parse_peer("[::1]:9000") == ("::1", 9000)


def test_python_dash_m_reports_errors_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "calibrate", "--device", "tpu", "--out",
                             str(tmp_path / "p.json")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip() == ("calibrate: error: unknown device 'tpu'; choose one of "
                                     "cpu, cuda, auto")


def test_dlrmsim_calibrate_is_registered_and_reports_errors(tmp_path, capsys):
    from dlrmsim.cli import main as dlrmsim_main

    assert dlrmsim_main(["calibrate", "--device", "tpu", "--out", str(tmp_path / "p.json")]) == 2
    assert "unknown device" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        dlrmsim_main(["calibrate", "--help"])
    assert "--peer" in capsys.readouterr().out


def test_serve_then_measure_that_peer(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "calibrate", "serve", "--port", "0",
                               "--host", "127.0.0.1"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = server.stderr.readline()
        assert "listening on 127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        out = tmp_path / "net.json"
        assert main(["--device", "cpu", "--quick", "--ops", "network_tcp", "--budget-scale", "0.1",
                     "--peer", f"127.0.0.1:{port}", "--out", str(out), "--quiet"]) == 0
        profile = json.loads(out.read_text())
        assert profile["run"]["network_peer"] == f"127.0.0.1:{port}"
        assert profile["latencies_s"]["network_tcp"] > 0
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_loads_no_torch():
    code = "import sys, calibrate.cli; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def test_keep_going_writes_the_other_ops_and_exits_3(tmp_path, capsys, monkeypatch):
    """A kernel that breaks on an unfamiliar host costs only its own op under --keep-going;
    without the flag the error propagates and nothing is written."""
    import calibrate.kernels.memory as memory

    def broken_run(self, slot):
        raise ValueError("simulated driver fault")

    monkeypatch.setattr(memory.MemoryKernel, "run", broken_run)
    out = tmp_path / "p.json"
    argv = ["--device", "cpu", "--quick", "--ops", "host_copy,mlp_forward", "--budget-scale",
            "0.05", "--threads", "1", "--quiet", "--out", str(out)]
    with pytest.raises(ValueError, match="simulated driver fault"):
        main(argv)
    assert not out.exists()
    assert main([*argv, "--keep-going"]) == 3
    profile = json.loads(out.read_text())
    assert "mlp_forward" in profile["cost_models"] and "host_copy" not in profile["cost_models"]
    reasons = {s["reason"] for s in profile["grid"]["ops"]["host_copy"]["skipped"]}
    assert reasons - {"op time budget"} == {"failed: ValueError: simulated driver fault"}
    assert "host_copy" in capsys.readouterr().err


# One op whose inputs come from the seed, on a small budget, so that a run which wrongly goes
# ahead costs seconds, not minutes.
_SMALL_RUN = ["--device", "cpu", "--quick", "--ops", "embedding_forward", "--budget-scale", "0.05",
              "--threads", "1", "--quiet"]


def test_an_existing_profile_is_replaced_only_with_force(tmp_path, capsys, monkeypatch):
    """The default path comes from the host name; on the development VM it is a committed
    profile, so a run without --out must not replace it silently."""
    from calibrate.runner import default_out_path

    monkeypatch.chdir(tmp_path)
    default = default_out_path(torch.device("cpu"), quick=True)
    default.parent.mkdir(parents=True)
    default.write_text("committed")
    _fails(_SMALL_RUN, capsys, f"{default} exists; give --force")
    assert default.read_text() == "committed"
    chosen = tmp_path / "mine.json"
    chosen.write_text("mine")
    _fails([*_SMALL_RUN, "--out", str(chosen)], capsys, "--force")
    assert chosen.read_text() == "mine"
    assert main([*_SMALL_RUN, "--force"]) == 0
    assert json.loads(default.read_text())["schema"] == "dlrmsim.profile"


@pytest.mark.parametrize(("flag", "value"), [
    ("--budget-scale", "nan"), ("--budget-scale", "inf"),
    ("--seed", "-1"), ("--seed", str(10**17))])  # 10**17 x 1000 overflows a torch seed
def test_unusable_budget_scale_or_seed_is_refused_before_measuring(tmp_path, capsys, flag,
                                                                    value):
    out = tmp_path / "p.json"
    _fails([*_SMALL_RUN, "--out", str(out), flag, value], capsys, f"{flag} must be")
    assert not out.exists()


@pytest.mark.parametrize("ops", [",", " , ", ""])
def test_ops_that_name_no_op_are_refused(tmp_path, capsys, ops):
    # "," wrote a profile that measured nothing; "" calibrated every op.
    out = tmp_path / "p.json"
    _fails(["--device", "cpu", "--quick", "--ops", ops, "--out", str(out)], capsys,
           "--ops names no op")
    assert not out.exists()


def _profile_with_skips() -> dict:
    fit_error = {"n_fit": 3, "n_holdout": 1, "holdout_median_abs_rel": 0.1}
    return {
        "measurements": [{"op": "embedding_forward", "flagged": True},
                         {"op": "embedding_forward", "flagged": False}],
        "run": {"wall_s": 762.0, "estimated_s": 373.0},
        "cost_models": {"embedding_forward": {"fit_error": fit_error, "pieces": [{}]},
                        "loss": {"fit_error": fit_error, "pieces": [{}]}},
        "grid": {"ops": {
            "embedding_forward": {"skipped": [{"params": {}, "reason": "deadline"}] * 3
                                  + [{"params": {}, "reason": "op time budget"}]},
            "loss": {"skipped": [{"params": {}, "reason": "duplicate after shrinking"}]},
            "embedding_forward_cold": {"skipped": [{"params": {}, "reason": "deadline"}]}}},
    }


def test_the_summary_counts_points_lost_to_the_deadline_and_warns(capsys):
    from calibrate.cli import _print_summary, summary

    info = summary(Path("p.json"), _profile_with_skips())
    # Only "deadline" skips count: the plan's own trims are by design.
    assert info["skipped_at_deadline"] == {"embedding_forward": 3, "embedding_forward_cold": 1}
    assert info["ops"]["embedding_forward"]["skipped_at_deadline"] == 3
    assert info["ops"]["loss"]["skipped_at_deadline"] == 0
    assert info["ops"]["embedding_forward"]["flagged"] == 1
    _print_summary(info, as_json=False)
    out, err = capsys.readouterr()
    assert "late" in out.splitlines()[1]
    assert "4 planned point(s)" in err and "--budget-scale 2" in err
    assert "762 s against the plan's 373 s" in err


def test_the_summary_of_a_run_that_kept_its_plan_says_nothing_of_deadlines(capsys):
    from calibrate.cli import _print_summary, summary

    profile = _profile_with_skips()
    profile["grid"]["ops"] = {}
    _print_summary(summary(Path("p.json"), profile), as_json=False)
    assert "deadline" not in capsys.readouterr().err


def test_an_unknown_op_lists_every_op_network_tcp_included(tmp_path, capsys):
    # --ops without network_tcp opens no peer link, so the listing left network_tcp out, though
    # `--ops network_tcp` measures it.
    _fails(["--device", "cpu", "--ops", "warp_drive", "--out", str(tmp_path / "p.json")], capsys,
           "'network_tcp'")
