"""`dlrmsim sweep` and `dlrmsim.sweep`: the grid, points that match single simulations, failed
points kept beside the others, the best picked, JSON and CSV, and bad input refused before any
simulation runs."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import pytest

from dlrmsim.cli import main
from dlrmsim.commands.sweep import summary
from dlrmsim.reproduce.types import Outcome
from dlrmsim.sweep import MAX_POINTS, Sweep, SweepPoint, grid, sweep
from sim.errors import DlrmsimInputError
from sim.run import simulate

ITERATIONS = 6
ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr; argparse's errors exit, the others return 2."""
    try:
        code = main(["sweep", *argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_grid_varies_the_first_axis_slowest() -> None:
    combos = grid({"trainers": (1, 2), "placement": ("gpu", "system")})
    assert combos == [{"trainers": 1, "placement": "gpu"}, {"trainers": 1, "placement": "system"},
                      {"trainers": 2, "placement": "gpu"}, {"trainers": 2, "placement": "system"}]


@pytest.mark.parametrize("axes, words", [
    ({"learning_rate": (1, 2)}, "cannot sweep learning_rate"),
    ({"trainers": ()}, "trainers has no values"),
    ({"trainers": tuple(range(1, 51)), "sparse_ps": tuple(range(1, 22))}, "1,050 points"),
])
def test_grid_refuses_what_it_cannot_run(axes: dict[str, tuple[int, ...]], words: str) -> None:
    with pytest.raises(DlrmsimInputError, match=words):
        grid(axes)


def test_grid_limit_is_inclusive() -> None:
    assert len(grid({"trainers": tuple(range(1, MAX_POINTS + 1))})) == MAX_POINTS


def test_each_point_is_the_simulation_of_its_settings() -> None:
    done = sweep("test_suite_cpu", {"trainers": (1, 2), "batch_size": (100, 200)},
                 iterations=ITERATIONS)
    assert [p.settings for p in done.points] == grid(done.axes)
    for point in done.points:
        alone = simulate("test_suite_cpu", iterations=ITERATIONS, **point.settings)
        assert point.outcome.throughput == alone.throughput_examples_per_s
        assert point.outcome.examples_per_joule == alone.examples_per_joule
        assert point.outcome.bottleneck == alone.bottleneck
        assert point.outcome.throughput_rse == alone.throughput_rse
    # The settings reached the simulator: two trainers train more examples per second than one.
    by = {(p.settings["trainers"], p.settings["batch_size"]): p.outcome.throughput
          for p in done.points}
    assert by[2, 200] > by[1, 200]


def test_a_point_that_does_not_fit_fails_alone() -> None:
    # M3 needs about twice Big Basin's GPU memory (DESIGN.md: hundreds of GB of embeddings);
    # its preset keeps them on remote parameter servers.
    done = sweep("m3_gpu", {"placement": ("gpu", "remote")}, iterations=4)
    failed, ran = done.points
    assert not failed.ok and "short by" in failed.outcome.error
    assert ran.ok and ran.outcome.throughput > 0
    assert done.failed == (failed,)
    assert done.best("throughput") is ran


def test_a_sweep_whose_every_point_fails_is_an_error() -> None:
    with pytest.raises(DlrmsimInputError, match=r"every point of the sweep failed.*short by"):
        sweep("m3_gpu", {"placement": ("gpu",)}, iterations=4)


def test_an_unknown_preset_stops_the_sweep_before_it_runs(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing should be simulated")

    monkeypatch.setattr("dlrmsim.sweep.run_all", no_run)
    with pytest.raises(DlrmsimInputError, match="sweep point platform=big_basn: unknown"):
        sweep("m2_gpu", {"platform": ("big_basin", "big_basn")})


def _point(trainers: int, throughput: float, per_joule: float, error: str = "") -> SweepPoint:
    outcome = Outcome(throughput=throughput, examples_per_joule=per_joule, error=error)
    return SweepPoint({"trainers": trainers}, outcome)


def test_best_takes_the_highest_and_the_earliest_on_a_tie() -> None:
    points = (_point(1, 3, 9), _point(2, 5, 1), _point(3, 5, 2),
              _point(4, math.nan, math.nan, "no fit"))
    done = Sweep("j", {"trainers": (1, 2, 3, 4)}, {"seed": 0}, points)
    assert done.best("throughput") is points[1]
    assert done.best("examples_per_joule") is points[0]
    assert done.ranked("throughput") == [points[1], points[2], points[0]]
    assert Sweep("j", {}, {}, (points[3],)).best("throughput") is None
    with pytest.raises(ValueError, match="metric"):
        done.best("power_w")


def _column(table: str, header: str) -> list[str]:
    """The cells of one column of a printed table, read from where its dashes are."""
    lines = table.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("--"))
    spans = [(m.start(), m.end()) for m in re.finditer("-+", lines[at])]
    names = [lines[at - 1][a:b].strip() for a, b in spans]
    start, end = spans[names.index(header)]
    body = lines[at + 1:lines.index("", at)]
    return [line[start:end].strip() for line in body]


def test_the_table_prints_examples_per_joule_with_one_decimal_on_every_row() -> None:
    # It printed "51" above "65.3": four significant figures drop a trailing zero.
    points = tuple(SweepPoint({"trainers": n}, Outcome(throughput=t, examples_per_joule=e,
                                                      power_w=1000.0, bottleneck="trainer0.cpu0"))
                   for n, t, e in ((1, 300, 51.0), (2, 200, 65.31), (3, 100, 7.04), (4, 50, 123.0)))
    done = Sweep("j", {"trainers": (1, 2, 3, 4)}, {"seed": 0}, points)
    assert _column(summary(done, "throughput"), "examples/J") == ["51.0", "65.3", "7.0", "123.0"]


def _measured(trainers: int, throughput: float, rse: float) -> SweepPoint:
    return SweepPoint({"trainers": trainers}, Outcome(
        throughput=throughput, examples_per_joule=throughput / 1000, power_w=1000.0,
        bottleneck="trainer0.cpu0", throughput_rse=rse))


@pytest.mark.parametrize("metric", ["throughput", "examples_per_joule"])
def test_the_first_two_within_their_combined_error_are_said_to_be_within_noise(metric: str
                                                                               ) -> None:
    # 1000 and 990 at 1% each: the gap of 10 is less than hypot(10, 9.9) = 14.1.
    close = Sweep("j", {"trainers": (1, 2, 3)}, {"seed": 0},
                  (_measured(1, 990, 0.01), _measured(2, 1000, 0.01), _measured(3, 500, 0.01)))
    assert close.within_noise(metric) == (close.points[1], close.points[0])
    assert "the first two differ by 1.00%, less than their combined error (1.41%): within noise" \
        in summary(close, metric)
    # 1000 and 970: a gap of 30, more than hypot(10, 9.7) = 13.9.
    apart = Sweep("j", {"trainers": (1, 2)}, {"seed": 0},
                  (_measured(1, 970, 0.01), _measured(2, 1000, 0.01)))
    assert apart.within_noise(metric) is None
    assert "within noise" not in summary(apart, metric)
    # One point that ran has nothing to be compared with.
    assert Sweep("j", {"trainers": (1,)}, {"seed": 0}, apart.points[:1]).within_noise(metric) is None


def test_the_table_shows_each_points_error_in_percent() -> None:
    done = Sweep("j", {"trainers": (1, 2)}, {"seed": 0},
                 (_measured(1, 1000, 0.0123), _measured(2, 500, 0.004)))
    assert _column(summary(done, "throughput"), "rse %") == ["1.23", "0.40"]


def test_cli_json_and_csv_agree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    table = tmp_path / "points.csv"
    argv = ("--job", "test_suite_cpu", "--trainers", "1,2", "--dense-ps", "1", "--iterations",
            str(ITERATIONS), "--json", "--csv", str(table))
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    data = json.loads(out)
    assert data["axes"] == {"trainers": [1, 2], "dense_ps": [1]}
    points = data["points"]
    assert [(p["trainers"], p["dense_ps"]) for p in points] == [(1, 1), (2, 1)]
    best = max(points, key=lambda p: p["throughput_examples_per_s"])
    assert data["best"]["throughput"] == {"trainers": best["trainers"], "dense_ps": 1}
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["throughput_examples_per_s"]) for r in rows] == [
        p["throughput_examples_per_s"] for p in points]
    assert [r["error"] for r in rows] == ["", ""]
    # Each point's error, so that points within noise of each other can be told.
    assert all(0 < p["throughput_rse"] < 1 for p in points)
    assert [float(r["throughput_rse"]) for r in rows] == [p["throughput_rse"] for p in points]
    # Same arguments, same output, bit for bit.
    assert run(capsys, *argv)[1] == out


def test_cli_parallel_points_give_the_same_result(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--job", "test_suite_cpu", "--trainers", "1,2", "--iterations", str(ITERATIONS),
            "--json")
    serial = run(capsys, *argv)
    parallel = run(capsys, *argv, "--jobs", "2")
    assert serial[0] == parallel[0] == 0
    assert json.loads(serial[1]) == json.loads(parallel[1])


def test_cli_table_ranks_and_lists_failures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--job", "m2_gpu", "--placement", "gpu,remote,system",
                         "--iterations", "4", "--top", "1")
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("placement"))
    ranked = lines[header + 2:lines.index("", header)]
    assert len(ranked) == 1  # --top 1 of the two that ran
    best = next(line for line in lines if line.startswith("best throughput:"))
    assert ranked[0].split()[0] in best
    assert "1 point failed:" in out
    assert "placement=remote: JobSpec.sparse_ps = 0" in out


def test_cli_a_sweep_that_varies_nothing_reads_as_one_point(
        capsys: pytest.CaptureFixture[str]) -> None:
    # It said "1 points ()" and "best throughput:  (...)", an empty label.
    code, out, err = run(capsys, "--job", "m2_gpu", "--iterations", "4")
    assert code == 0, err
    assert "m2_gpu: 1 point (nothing varied)" in out
    assert "best throughput: the job as given (" in out


def test_cli_the_first_flag_given_varies_slowest(capsys: pytest.CaptureFixture[str]) -> None:
    # The grid followed the parser's order of the options (batch size before trainers), not
    # the command line's, which the README promises.
    common = ("--job", "test_suite_cpu", "--iterations", str(ITERATIONS), "--json")
    runs = {}
    for first, second in ((("--trainers", "1,2"), ("--batch-size", "100,200")),
                          (("--batch-size", "100,200"), ("--trainers", "1,2"))):
        code, out, err = run(capsys, *common, *first, *second)
        assert code == 0, err
        runs[first[0]] = json.loads(out)
    by_trainers, by_batch = runs["--trainers"], runs["--batch-size"]
    assert list(by_trainers["axes"]) == ["trainers", "batch_size"]
    assert [(p["trainers"], p["batch_size"]) for p in by_trainers["points"]] == [
        (1, 100), (1, 200), (2, 100), (2, 200)]
    assert list(by_batch["axes"]) == ["batch_size", "trainers"]
    assert [(p["batch_size"], p["trainers"]) for p in by_batch["points"]] == [
        (100, 1), (100, 2), (200, 1), (200, 2)]
    # The same points either way, only listed in another order.
    figures = {(p["trainers"], p["batch_size"]): p["throughput_examples_per_s"]
               for p in by_batch["points"]}
    assert {(p["trainers"], p["batch_size"]): p["throughput_examples_per_s"]
            for p in by_trainers["points"]} == figures


def test_cli_a_flag_given_twice_keeps_its_last_values_and_place(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--job", "test_suite_cpu", "--iterations", str(ITERATIONS),
                         "--json", "--trainers", "1", "--dense-ps", "1", "--trainers", "1,2")
    assert code == 0, err
    assert list(json.loads(out)["axes"].items()) == [("dense_ps", [1]), ("trainers", [1, 2])]


@pytest.mark.parametrize("argv, words", [
    (("--job", "m2_cpu", "--trainers", "0,1"), "--trainers: 0: give a whole number >= 1"),
    (("--job", "m2_cpu", "--trainers", "1,x"), "'x': give a whole number"),
    (("--job", "m2_cpu", "--placement", "gpu,,system"), "without empty ones"),
    (("--job", "m2_cpu", "--placement", "disk"), "'disk': give one of gpu"),
    (("--job", "m2_cpu", "--target-rse", "nan"), "give a fraction in (0, 1)"),
    (("--trainers", "1"), "give a job"),
    (("--job", "m2_cpu", "--csv", "/no/such/folder/x.csv"), "/no/such/folder does not exist"),
])
def test_cli_bad_input_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str],
                                                argv: tuple[str, ...], words: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_notes_are_kept_per_point_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    # Sparse parameter servers beside tables in GPU memory have no work: a note, one per point.
    done = sweep("m2_gpu", {"sparse_ps": (0, 1, 2)}, iterations=4)
    assert [len(p.outcome.notes) for p in done.points] == [0, 1, 1]
    assert list(done.notes().values()) == [1, 1]
    code, out, err = run(capsys, "--job", "m2_gpu", "--sparse-ps", "0,1", "--iterations", "4")
    assert code == 0, err
    assert "note (1 of 2 points): the 1 sparse_ps server has no work" in out


def _nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing should be simulated")

    monkeypatch.setattr("dlrmsim.sweep.run_all", no_run)


def test_cli_a_csv_path_through_a_file_is_refused_before_the_sweep(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    _nothing_runs(monkeypatch)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    code, out, err = run(capsys, "--job", "m2_cpu", "--trainers", "4,8", "--csv",
                         str(notes / "x.csv"))
    assert code == 2 and out == ""
    assert f"{notes} is a file, not a folder" in err and "does not exist" not in err
    assert notes.read_text() == "mine"


def test_cli_a_csv_onto_a_file_the_sweep_reads_is_refused_before_the_sweep(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    # It was accepted, and the CSV replaced the platform file of one of the sweep's points.
    _nothing_runs(monkeypatch)
    platform = tmp_path / "my_cpu.yaml"
    text = (ROOT / "presets" / "platforms" / "dual_socket_cpu.yaml").read_text()
    platform.write_text(text)
    code, out, err = run(capsys, "--job", "m2_cpu", "--ps-platform",
                         f"dual_socket_cpu,{platform}", "--csv", str(platform))
    assert code == 2 and out == ""
    assert f"names the file given to --ps-platform ({platform}), which the run reads" in err
    assert platform.read_text() == text


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_cli_a_csv_in_a_folder_without_write_permission_is_refused_before_the_sweep(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    # It ran every point and only then failed, losing the ranking.
    _nothing_runs(monkeypatch)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, out, err = run(capsys, "--job", "m2_cpu", "--trainers", "4,8", "--csv",
                             str(folder / "x.csv"))
    finally:
        folder.chmod(0o755)
    assert code == 2 and out == ""
    assert f"--csv {folder / 'x.csv'}: cannot write in {folder}" in err
    assert "Traceback" not in err and list(folder.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_cli_a_csv_where_not_even_root_makes_files_is_refused_before_the_sweep(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # /proc is a folder whose permissions say root may write; creating a file there fails.
    _nothing_runs(monkeypatch)
    code, out, err = run(capsys, "--job", "m2_cpu", "--trainers", "4,8", "--csv", "/proc/x.csv")
    assert code == 2 and out == ""
    assert "--csv /proc/x.csv: cannot write in /proc" in err and "Traceback" not in err


def test_cli_a_csv_that_cannot_be_written_after_the_sweep_comes_after_the_table(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    # The folder was there when checked and is gone when the sweep ends: the table is printed,
    # then the error.
    from dlrmsim.commands import sweep as command

    folder = tmp_path / "out"
    folder.mkdir()

    def sweep_then_remove(*args: object, **kwargs: object) -> Sweep:
        done = sweep(*args, **kwargs)  # type: ignore[arg-type]
        folder.rmdir()
        return done

    monkeypatch.setattr(command, "sweep", sweep_then_remove)
    code, out, err = run(capsys, "--job", "test_suite_cpu", "--trainers", "1,2",
                         "--iterations", str(ITERATIONS), "--csv", str(folder / "x.csv"))
    assert code == 2
    assert "ranked by throughput" in out and "best throughput: trainers=" in out
    assert str(folder / "x.csv") in err and "Traceback" not in err
