"""`dlrmsim presets`: the table, the JSON, `show`, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlrmsim.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_json_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"models", "platforms", "jobs"}
    assert "m2_prod" in data["models"] and "zion" in data["platforms"] and "m3_gpu" in data["jobs"]


def test_presets_table_marks_estimates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets")
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines()[2:]}
    assert "[estimate]" in lines["h100_8gpu"] and "[estimate]" not in lines["big_basin"]


def test_the_table_says_1_socket_and_2_sockets(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.presets import list_presets, load_platform

    code, out, _ = run(capsys, "presets")
    lines = {line.split()[1]: line for line in out.splitlines()[2:]}
    sockets = {name: len(load_platform(name).sockets) for name in list_presets()["platforms"]}
    assert code == 0 and 1 in sockets.values() and max(sockets.values()) > 1
    for name, count in sockets.items():
        assert (" 1 socket /" if count == 1 else f" {count} sockets /") in lines[name]


def test_show_gives_derived_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "presets", "show", "big_basin", "--json")
    data = json.loads(out)
    assert code == 0 and data["kind"] == "platform"
    assert data["derived"]["hbm_total_bytes"] == 8 * data["derived"]["hbm_per_gpu_bytes"]
    code, out, _ = run(capsys, "presets", "show", "m1_prod", "--json")
    model = json.loads(out)
    assert model["derived"]["embedding_bytes"] == sum(
        t["rows"] * t["dim"] * 4 for t in model["spec"]["tables"])


@pytest.mark.parametrize("argv", [("presets", "--json", "show", "zion"),
                                  ("presets", "show", "zion", "--json")])
def test_show_prints_json_wherever_json_is_given(capsys: pytest.CaptureFixture[str],
                                                 argv: tuple[str, ...]) -> None:
    # `show`'s own --json default used to overwrite the one given before `show`.
    code, out, _ = run(capsys, *argv)
    assert code == 0 and json.loads(out)["spec"]["name"] == "zion"
    code, out, _ = run(capsys, "presets", "show", "zion")
    assert code == 0 and out.startswith("platform zion")


def test_show_reads_a_users_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text("kind: model\nname: tiny\ndense_features: 4\nbottom_mlp: [8]\ntop_mlp: [4]\n"
                    "tables: [{name: a, rows: 100, dim: 8, pooling: {mean_lookups: 2}}]\n")
    code, out, _ = run(capsys, "presets", "show", str(path))
    assert code == 0 and "embedding_bytes" in out and "3.2 kB" in out


@pytest.mark.parametrize(("field", "value"), [("model", "nomodel"),
                                              ("trainer_platform", "no_platform.yaml")])
def test_show_refuses_a_job_whose_model_or_platform_resolves_to_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, field: str, value: str) -> None:
    # It printed the job as resolved and exited 0, where `simulate --job` refuses it.
    job = {"model": "m1_prod", "trainer_platform": "big_basin", field: value}
    path = tmp_path / "bad.yaml"
    path.write_text("kind: job\nname: bad\nbatch_size: 1600\n"
                    + "".join(f"{k}: {v}\n" for k, v in job.items()))
    code, out, err = run(capsys, "presets", "show", str(path))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"job file {path}: " in err and value in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["presets", "show", "nope"], "unknown preset 'nope'"),
     (["presets", "show", "/no/such/file.yaml"], "no such file")],
)
def test_user_mistakes_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["simulate", "--job", "m1_gpu"], ["reproduce", "--quick"], ["validate"],
    ["trace", "generate", "--model", "m1_prod", "--batches", "1", "--batch-size", "4",
     "--out", "never.trace"]])
def test_a_negative_seed_is_refused_before_any_work(capsys: pytest.CaptureFixture[str],
                                                    argv: list[str]) -> None:
    # numpy's seed sequences take no negative seed: it ended in a traceback after the work.
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, *argv, "--seed", "-1")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--seed" in err and "whole number >= 0" in err
    assert not Path("never.trace").exists()


def test_bad_yaml_through_the_console_script(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [oops\n")
    result = subprocess.run([sys.executable, "-m", "dlrmsim", "presets", "show", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert str(path) in result.stderr and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "presets" in capsys.readouterr().out
