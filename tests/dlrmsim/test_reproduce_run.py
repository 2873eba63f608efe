"""`dlrmsim reproduce` end to end on a quick subset, and its output folder: an unwritable one
gives one line and exit 2, an interrupted run leaves the previous results whole, stale
temporaries are cleaned, the same seed gives the same report."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from dlrmsim.cli import main
from dlrmsim.reproduce import ReproduceError, Settings, outdir, reproduce
from sim.run import simulate

# Small experiments: the fleet (21 runs), the models (none) and one sweep (~15 runs).
SUBSET = ("fig1", "fig6_7", "fig11", "table3")


def quick(*only: str) -> Settings:
    return Settings(quick=True, iterations=4, fig5_runs=2, fig9_jobs=20, only=only)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro") / "out"
    reproduce(out, quick(*SUBSET), progress=False)
    return out


def test_report_has_figures_claims_and_data(quick_run: Path) -> None:
    text = (quick_run / "report.md").read_text()
    assert "## Claims" in text and "Table III" in text and "not quoted here" in text
    for image in [line.split("](")[1].rstrip(")") for line in text.splitlines()
                  if line.startswith("![")]:
        assert (quick_run / image).is_file(), image
    html = (quick_run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and 'class="pass"' in html
    verdicts = json.loads((quick_run / "claims.json").read_text())
    assert {v["experiment"] for v in verdicts} <= set(SUBSET)
    assert {v["status"] for v in verdicts} <= {"pass", "fail", "not compared"}
    assert (quick_run / "data" / "table3.csv").read_text().startswith("model,")


def test_placement_rows_say_where_the_step_goes(quick_run: Path) -> None:
    # Figure 1's rows name each run's longest phase and its share of the mean iteration.
    import csv

    with (quick_run / "data" / "fig1.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    ran = [r for r in rows if not r["error"]]
    assert ran and all(re.fullmatch(r"[a-z_]+ \d+%", r["longest_phase"]) for r in ran)
    assert {r["longest_phase"].split()[0] for r in ran if r["platform"] == "cpu"} <= {
        "inputs", "lookups", "mlp_forward", "mlp_backward", "updates", "easgd"}


def test_longest_phase_names_the_largest_share() -> None:
    from dlrmsim.reproduce.types import Outcome

    assert Outcome(phases={"forward": 1.0, "all_to_all": 3.0, "backward": 2.0}
                   ).longest_phase == "all_to_all 50%"
    assert Outcome().longest_phase == "" == Outcome(error="does not fit").longest_phase


def test_same_seed_same_report(quick_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    reproduce(again, quick(*SUBSET), progress=False)
    assert (again / "report.md").read_text() == (quick_run / "report.md").read_text()
    assert (again / "claims.json").read_bytes() == (quick_run / "claims.json").read_bytes()
    figures = sorted((quick_run / "figures").glob("*.png"))
    assert figures and [(again / "figures" / p.name).read_bytes() for p in figures] == [
        p.read_bytes() for p in figures]


def test_unwritable_folder_is_one_line_and_exit_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = main(["reproduce", "--quick", "--only", "fig9", "--out", str(blocker / "out")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot write" in err
    assert f"{blocker} is a file, not a folder" in err  # errno alone said "File exists"
    code = main(["reproduce", "--quick", "--only", "fig9", "--out", str(blocker)])
    assert code == 2 and "is a file" in capsys.readouterr().err


def test_unknown_experiment_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reproduce", "--only", "fig99", "--out", str(tmp_path / "o")]) == 2
    assert "unknown experiment fig99" in capsys.readouterr().err


@pytest.mark.parametrize("only", ["", " , "])
def test_an_empty_only_is_refused_rather_than_running_everything(
        only: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    def run_all(*args: object, **kwargs: object) -> None:
        raise AssertionError("ran although --only named no experiment")

    monkeypatch.setattr("dlrmsim.commands.reproduce.reproduce", run_all)
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--quick", "--only", only, "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2 and "--only" in capsys.readouterr().err


def test_quick_help_says_what_quick_changes(capsys: pytest.CaptureFixture[str]) -> None:
    # It promised "minutes instead of tens of minutes"; both runs take a minute or two at most.
    from dlrmsim.reproduce.types import FULL_ITERATIONS, QUICK_ITERATIONS

    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{QUICK_ITERATIONS} simulated iterations per worker instead of {FULL_ITERATIONS}" in text
    assert "tens of minutes" not in text


def test_interrupted_run_keeps_the_old_results_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    reproduce(out, quick("fig9"), progress=False)
    before = sorted(p.name for p in out.rglob("*"))
    calls = 0

    def interrupted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return simulate(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(KeyboardInterrupt):
        reproduce(out, quick("fig1"), progress=False, simulator=interrupted)
    assert sorted(p.name for p in out.rglob("*")) == before
    assert not list(tmp_path.glob(".out.*")), "the temporary folder must be removed"


def test_stale_temporaries_are_cleaned_and_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    dead = tmp_path / ".out.tmp-999999999-abc"
    live = tmp_path / f".out.tmp-{os.getppid()}-xyz"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "report.md").write_text("half")
    removed = outdir.clean_stale(target)
    assert dead in removed and not dead.exists() and live.exists()


def test_a_linked_folder_gets_the_report_and_the_link_stays(tmp_path: Path) -> None:
    # The swap renamed the link aside and put a folder in its place: the folder it named kept
    # the old report, and the renamed link stayed beside it for good (rmtree refuses links).
    real, link = tmp_path / "reports", tmp_path / "latest"
    real.mkdir()
    link.symlink_to(real)
    for _ in range(2):
        with outdir.building(link) as work:
            (work / "report.md").write_text("new")
            (work / "claims.json").write_text("[]")
    assert link.is_symlink() and (real / "report.md").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "reports"]


def test_a_link_left_beside_the_folder_by_a_dead_run_is_cleaned(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    stale = tmp_path / ".out.old-999999999"
    stale.symlink_to(tmp_path / "elsewhere")
    assert outdir.clean_stale(tmp_path / "out") == [stale]
    assert not stale.is_symlink() and (tmp_path / "elsewhere").is_dir()


def test_building_refuses_a_file_target(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(ReproduceError, match="is a file"), outdir.building(target):
        pass


@pytest.mark.parametrize("mine", ["mynotes.txt", "myanalysis/", "data/mine.txt", "figures/sub/"])
def test_a_report_with_ones_own_files_beside_it_is_not_replaced(tmp_path: Path,
                                                                 mine: str) -> None:
    # A folder holding report.md and claims.json counted as a report whatever else it held, and
    # a rerun deleted the user's notes with it.
    out = tmp_path / "out"
    reproduce(out, quick("fig9"), progress=False)
    path = out / mine.rstrip("/")
    if mine.endswith("/"):
        path.mkdir()
    else:
        path.write_text("mine\n")
    with pytest.raises(ReproduceError, match="did not write"):
        reproduce(out, quick("fig9"), progress=False)
    assert path.exists()
    path.rmdir() if mine.endswith("/") else path.unlink()
    reproduce(out, quick("fig9"), progress=False)  # a report alone is replaced
    assert (out / "report.md").exists()


def test_the_report_gives_every_setting_its_method_notes_name(tmp_path: Path) -> None:
    # The notes of Figures 5 and 9 named RATE_SIGMA, RHO, MAX_SERVERS... and gave no value.
    from dlrmsim.reproduce import jobmix, noise

    reproduce(tmp_path / "out", quick("fig5", "fig9"), progress=False)
    report = (tmp_path / "out" / "report.md").read_text()
    for module in (noise, jobmix):
        named = {word for word in re.findall(r"\b[A-Z][A-Z_]{2,}\b", module.__doc__ or "")
                 if hasattr(module, word)}  # the module's constants, not words such as CPU
        rows = {name.split("[")[0]: value for name, value, _ in module.method_parameters()}
        assert named and named <= rows.keys(), named - rows.keys()
        for name, value, _ in module.method_parameters():
            assert f"| {name} | {value} |" in report, name


def test_run_info_says_what_shaped_the_runs_time(quick_run: Path) -> None:
    import json

    info = json.loads((quick_run / "run_info.json").read_text())
    assert info["only"] == list(SUBSET) and info["jobs"] == 1
    assert info["mode"] == "quick" and info["seconds"] > 0 and info["simulations"] > 0
    assert info["demand_cache"] is None  # the suite runs with the cache off (tests/conftest.py)



def test_an_interrupted_reproduce_says_the_folder_is_as_it_was(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from dlrmsim.cli import main
    from dlrmsim.commands import reproduce as command

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "reproduce", interrupted)
    assert main(["reproduce", "--quick", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and f"{tmp_path / 'r'} is as it was" in err
