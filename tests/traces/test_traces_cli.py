"""`dlrmsim trace ...` end to end, through the CLI entry point."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from dlrmsim.cli import main

sim_presets = pytest.importorskip("sim.presets")


def test_generate_stats_fit_convert_plot(tmp_path: Path, data_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.trace"
    assert main(["trace", "generate", "--model", "test_suite", "--batches", "2", "--batch-size",
                 "32", "--seed", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["trace", "stats", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batches"] == 2 and report["tables"]
    spec = tmp_path / "fit.yaml"
    assert main(["trace", "fit", str(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt"),
                 "--out", str(spec)]) == 0
    assert sim_presets.load_model(str(spec)).tables[0].rows > 1000
    assert main(["trace", "convert", str(data_dir / "criteo_sample.csv"), "--rows", "500",
                 "--out", str(tmp_path / "c.trace")]) == 0
    assert main(["trace", "plot", "--model", "m1_prod", "--out", str(tmp_path / "png")]) == 0
    assert len(list((tmp_path / "png").glob("*.png"))) == 2


def test_bad_input_is_one_line_and_status_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.trace").write_bytes(b"DLRMSIMT" + b"\0" * 10)
    assert main(["trace", "stats", str(tmp_path / "junk.trace")]) == 2
    err = capsys.readouterr().err.strip()
    assert "junk.trace" in err and len(err.splitlines()) == 1


def test_a_folder_as_out_is_one_line_and_leaves_nothing(tmp_path: Path, data_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "convert", str(data_dir / "criteo_sample.csv"), "--rows", "500",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a folder" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_an_unwritable_plot_folder_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")  # a folder cannot be made under a file
    assert main(["trace", "plot", "--model", "m1_prod", "--out", str(tmp_path / "file" / "png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot create the folder" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("argv", "flag", "value"), [
    (["generate", "--model", "m1_prod", "--out", "t", "--batches", "1"], "--batch-size", "0"),
    (["generate", "--model", "m1_prod", "--out", "t", "--batch-size", "1"], "--batches", "0"),
    (["stats", "f"], "--rows", "0"),
    (["stats", "f"], "--dim", "0"),
    (["stats", "f"], "--batch-size", "-1"),
    (["stats", "f"], "--pooling", "0"),
    (["stats", "f"], "--length", "0"),
    (["stats", "f"], "--max-batches", "0"),
    (["fit", "f", "--out", "m.yaml"], "--entry", "-1"),
    (["fit", "f", "--out", "m.yaml"], "--fit-batch-size", "0"),
    (["fit", "f", "--out", "m.yaml"], "--fit-tables", "0"),
])
def test_counts_below_their_minimum_are_refused_by_the_parser(
        capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["trace", *argv, flag, value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"argument {flag}" in err and "whole number >=" in err


def test_more_rows_than_64_bit_ids_address_is_one_line(tmp_path: Path, data_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "convert", str(data_dir / "criteo_sample.csv"), "--out",
                 str(tmp_path / "c.trace"), "--rows", str(2**63)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--rows" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_batch_too_big_for_memory_is_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    huge = str(10**15)  # any array of that many elements is beyond a 64-bit process's reach
    assert main(["trace", "generate", "--model", "test_suite", "--batches", "1", "--batch-size",
                 huge, "--out", str(tmp_path / "t.trace")]) == 2
    err = capsys.readouterr().err.strip()
    assert "out of memory" in err and f"smaller --batch-size than {huge}" in err
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_an_empty_file_is_not_converted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, this wrote a trace of 0 batches and said so with status 0.
    (tmp_path / "ids.log").write_text("")
    out = tmp_path / "out.trace"
    assert main(["trace", "convert", str(tmp_path / "ids.log"), "--format", "dlrm",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "ids.log: no row ids" in err and len(err.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ids.log"]


def test_convert_shows_progress_on_a_terminal(tmp_path: Path, data_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Converting a day of Criteo takes minutes: a terminal sees batches counted, as generate does.
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["trace", "convert", str(data_dir / "criteo_sample.csv"), "--rows", "500",
                 "--batch-size", "16", "--out", str(tmp_path / "c.trace")]) == 0
    assert "convert:" in terminal.getvalue() and "batch" in terminal.getvalue()


def test_a_locality_entry_that_cannot_be_fitted_is_named(tmp_path: Path, data_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Every index a distinct row: no Zipf table gives that. Before, the message said so without
    # saying which file and entry.
    text = (data_dir / "meta_dlrm_datasets_2021_locality_stats.txt").read_text().split("\n\n")[0]
    lookups = text.split("Avg # of indices: ")[1].split("\n")[0]
    unique = text.split("Avg # of unique cols: ")[1].split("\n")[0]
    (tmp_path / "s.txt").write_text(text.replace(f"unique cols: {unique}",
                                                 f"unique cols: {lookups}") + "\n")
    assert main(["trace", "fit", str(tmp_path / "s.txt"), "--out", str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "s.txt, entry 0 (fbgemm_t856_bs65536.pt): cannot fit" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "m.yaml").exists()


def test_a_folder_as_the_fits_out_is_one_line_before_the_fit(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, the fit ran, and writing the YAML over the folder ended in a traceback.
    assert main(["trace", "fit", str(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt"),
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a folder" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())
