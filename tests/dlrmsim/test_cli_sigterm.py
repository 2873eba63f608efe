"""SIGTERM (a scheduler's or `kill`'s stop) ends dlrmsim as Ctrl-C does: cleanly, leaving no
hidden temporary file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # for the writer to start, and then for the process to end


def _wait_for_started_write(folder: Path, process: subprocess.Popen[bytes]) -> None:
    """Until a temporary trace file holds its header: the writer's with block has begun."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.suffix == ".tmp" and p.stat().st_size > 0 for p in folder.iterdir()):
            return
        time.sleep(0.01)
    pytest.fail("the trace writer did not start")


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM is POSIX")
def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # Big enough to take minutes: it is still writing when the signal comes.
    process = subprocess.Popen(
        [sys.executable, "-m", "dlrmsim", "trace", "generate", "--model", "m1_prod",
         "--batches", "400", "--batch-size", "1024", "--out", str(tmp_path / "t.trace")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_started_write(tmp_path, process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signal.SIGTERM
    assert b"Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_ctrl_c_while_the_subcommands_load_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # Loading the subcommands takes about a second; Ctrl-C then printed a traceback.
    from dlrmsim import cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["presets"]) == 130
    assert capsys.readouterr().err == "dlrmsim: interrupted\n"
