"""`dlrmsim simulate --trace`: a replayed trace's notes reach the user, and a file that is not a
native trace is one line that says how to make one."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrmsim.cli import main

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def criteo_sample() -> Path:
    if not (DATA / "criteo_sample.csv").is_file():
        pytest.skip("shared/data is not beside the repository")
    return DATA / "criteo_sample.csv"


def test_a_converted_traces_short_last_batch_is_noted(tmp_path: Path, criteo_sample: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # 200 examples in batches of 64: the last holds 8. Converted, fitted, then replayed.
    trace, model = tmp_path / "c.trace", tmp_path / "fit.yaml"
    assert main(["trace", "convert", str(criteo_sample), "--rows", "500", "--batch-size", "64",
                 "--out", str(trace)]) == 0
    assert main(["trace", "fit", str(trace), "--out", str(model)]) == 0
    capsys.readouterr()
    code = main(["simulate", "--model", str(model), "--platform", "big_basin", "--iterations",
                 "4", "--trace", str(trace)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"note: the last batch of trace {trace} holds 8 examples" in err


def test_a_file_that_is_not_a_native_trace_says_how_to_convert_it(
        criteo_sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--job", "test_suite_gpu", "--iterations", "4", "--trace",
                 str(criteo_sample)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert str(criteo_sample) in err and "`dlrmsim trace convert`" in err
