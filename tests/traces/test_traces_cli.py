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


def _trace(tmp_path: Path, name: str = "t.trace") -> Path:
    out = tmp_path / name
    assert main(["trace", "generate", "--model", "test_suite", "--batches", "2", "--batch-size",
                 "32", "--out", str(out)]) == 0
    return out


def test_convert_and_fit_refuse_to_write_over_their_input(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, each replaced its input with what it had read from it.
    csv = tmp_path / "c.csv"
    csv.write_bytes((data_dir / "criteo_sample.csv").read_bytes())
    (tmp_path / "link.csv").symlink_to(csv)
    trace = _trace(tmp_path)
    before = {p: p.read_bytes() for p in (csv, trace)}
    capsys.readouterr()
    for argv in (["convert", str(csv), "--rows", "1000", "--out", str(csv)],
                 ["convert", str(csv), "--rows", "1000", "--out", str(tmp_path / "link.csv")],
                 ["fit", str(trace), "--out", str(trace)]):
        assert main(["trace", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "is the input file" in err and len(err.splitlines()) == 1
    assert {p: p.read_bytes() for p in before} == before


def test_generate_refuses_to_write_over_its_model(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Before, the model's YAML (a file, or a preset's) was replaced by the trace made from it.
    presets = tmp_path / "presets"
    (presets / "models").mkdir(parents=True)
    text = sim_presets.model_file("test_suite").read_bytes()
    for path in (tmp_path / "m.yaml", presets / "models" / "mine.yaml"):
        path.write_bytes(text)
    monkeypatch.setenv("DLRMSIM_PRESETS", str(presets))
    for model, out in ((str(tmp_path / "m.yaml"), tmp_path / "m.yaml"),
                       ("mine", presets / "models" / "mine.yaml")):
        assert main(["trace", "generate", "--model", model, "--batches", "1", "--batch-size", "4",
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert f"--out {out}: is the --model file " in err and "give another name" in err
        assert len(err.splitlines()) == 1 and out.read_bytes() == text


def test_a_dlrm_dist_length_too_big_for_memory_names_length(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "stats", str(data_dir / "dlrm_dist_emb.log"), "--length",
                 str(10**14)]) == 2
    err = capsys.readouterr().err.strip()
    assert "out of memory" in err and "smaller --length" in err and "--batch-size" not in err


@pytest.mark.parametrize(("name", "content", "fmt"), [
    ("e.log", b"", "auto"), ("e.trace", b"", "auto"), ("e", b"", "auto"),
    ("b.log", b"\n\n  \n", "auto"), ("e.pt", b"", "auto"), ("e.pt", b"", "meta"),
    ("e.trace", b"", "native"),
])
def test_an_empty_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                               content: bytes, fmt: str) -> None:
    # Before: "unknown trace format", "truncated or not a dlrmsim trace", or torch's EOFError.
    (tmp_path / name).write_bytes(content)
    assert main(["trace", "stats", str(tmp_path / name), "--format", fmt]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{name}: the file is empty")


def test_stats_of_a_locality_file_points_to_fit(data_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "stats", str(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "locality statistics file" in err and "`dlrmsim trace fit` reads it" in err


def test_fit_json_lists_every_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, only table 0's rows and zipf_s were printed.
    trace = _trace(tmp_path)
    capsys.readouterr()
    assert main(["trace", "fit", str(trace), "--out", str(tmp_path / "m.yaml"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    model = sim_presets.load_model(str(tmp_path / "m.yaml"))
    assert printed["num_tables"] == model.num_tables > 1
    assert [(t["name"], t["rows"], t["zipf_s"]) for t in printed["tables"]] == [
        (t.name, t.rows, t.popularity.zipf_s) for t in model.tables]


@pytest.mark.parametrize("name", ["d.csv", "f.pt"])
def test_the_content_beats_the_extension(tmp_path: Path, data_dir: Path, name: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # Before: d.csv was read as Criteo ("no examples"), f.pt as torch (a 500-character error).
    (tmp_path / name).write_bytes((data_dir / "dlrm_trace.log").read_bytes())
    assert main(["trace", "stats", str(tmp_path / name), "--json", "--no-lru"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["format"], report["lookups"]) == ("dlrm", 11)


def test_a_text_file_read_as_meta_is_one_short_line(tmp_path: Path, data_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f.pt").write_bytes((data_dir / "dlrm_trace.log").read_bytes())
    assert main(["trace", "stats", str(tmp_path / "f.pt"), "--format", "meta"]) == 2
    err = capsys.readouterr().err.strip()
    assert "f.pt: not a torch file" in err and len(err) < 300 and "weights_only" not in err


def test_a_torch_file_of_numpy_arrays_is_one_short_line(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Before: 1.3 kB of torch's weights_only advice, with terminal escape codes, and "fetch it
    # again" as if the file were damaged.
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    torch.save((np.array([1, 2]),) * 3, tmp_path / "numpy.pt")
    assert main(["trace", "stats", str(tmp_path / "numpy.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{tmp_path / 'numpy.pt'}: a torch file, but it does not hold the (indices, offsets, " \
           "lengths) tensors Meta's dlrm_datasets files hold (it holds numpy." in err
    assert len(err) < 400 and "\x1b" not in err and "fetch it again" not in err


def test_options_that_do_not_apply_are_noted(tmp_path: Path, data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    trace = _trace(tmp_path)
    locality = str(data_dir / "meta_dlrm_datasets_2021_locality_stats.txt")
    out = str(tmp_path / "m.yaml")
    capsys.readouterr()
    for argv, note in (
            (["stats", str(trace), "--no-lru", "--rows", "5", "--tables", "0:1"],
             "stats: note: --rows, --tables do not apply to a native trace; ignored"),
            (["fit", str(trace), "--out", out, "--entry", "3", "--fit-batch-size", "5"],
             "fit: note: --entry, --fit-batch-size do not apply to a trace; ignored")):
        assert main(["trace", *argv]) == 0
        assert capsys.readouterr().err.strip() == f"dlrmsim trace {note}"
    # An entry past the last ends the run at once (a fit takes seconds); the note comes first.
    assert main(["trace", "fit", locality, "--out", out, "--format", "criteo", "--entry",
                 "999"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "dlrmsim trace fit: note: --format does not apply to a locality statistics file; ignored")
    assert main(["trace", "stats", str(trace), "--no-lru"]) == 0
    assert not capsys.readouterr().err


def test_an_entry_past_the_last_says_they_count_from_0(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locality = data_dir / "meta_dlrm_datasets_2021_locality_stats.txt"
    entries = locality.read_text().count("Locality stats after processing")
    assert main(["trace", "fit", str(locality), "--entry", str(entries), "--out",
                 str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"no entry {entries}; entries are numbered from 0, so give --entry 0 to " \
           f"{entries - 1}" in err
