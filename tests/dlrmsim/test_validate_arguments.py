"""The validation entry points that notebooks/calibrate_and_validate.ipynb calls, given
arguments of the wrong type: refused before any step is measured, as a user error that names
the argument and what to give."""

from __future__ import annotations

from pathlib import Path

import pytest

import dlrmsim.validate.run as validate_run
from dlrmsim.validate.configs import default_grid, load_configs
from dlrmsim.validate.report import ValidationRow, write_plot
from dlrmsim.validate.run import validate_all
from sim.errors import DlrmsimInputError, PresetError
from sim.profile import load_profile

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "cpu-vm-quick.json"


@pytest.fixture
def no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a step was measured")
    monkeypatch.setattr(validate_run, "measure_step", refuse)


@pytest.mark.parametrize("change, words", [
    ({"profile": str(PROFILE)}, r"profile = .*\(str\): give a Profile, e.g. "
                                r"sim.profile.load_profile\(path\)"),
    ({"configs": "one"}, "configs = .*give a list of ValidationConfig"),
    ({"configs": ["centre"]}, "give a list of ValidationConfig"),
    ({"device": "gpu"}, "device = 'gpu' .*give one of cpu, cuda"),
    ({"seed": "a"}, "seed = 'a'"),
    ({"seed": 2**64}, "seed = .*at most 2\\*\\*64 - 1"),
    ({"min_time_s": "1"}, "min_time_s = '1' .*seconds >= 0"),
    ({"min_time_s": -1.0}, "min_time_s = -1.0"),
    ({"rounds": "2"}, "rounds = '2'"),
    ({"rounds": 0}, "rounds = 0 .*whole number >= 1"),
])
def test_validate_all_refuses_before_measuring(no_measuring: None, change: dict[str, object],
                                               words: str) -> None:
    arguments = {"configs": default_grid()[:1], "profile": load_profile(PROFILE),
                 "device": "cpu", "seed": 0, "min_time_s": 0.01, "drift_check": False, **change}
    with pytest.raises(DlrmsimInputError, match=words):
        validate_all(**arguments)  # type: ignore[arg-type]


def test_a_single_config_is_not_taken_for_a_list(no_measuring: None) -> None:
    with pytest.raises(DlrmsimInputError, match="give a list of ValidationConfig"):
        validate_all(default_grid()[0], load_profile(PROFILE), device="cpu",  # type: ignore[arg-type]
                     seed=0, min_time_s=0.01, drift_check=False)


def test_load_configs_names_what_it_takes() -> None:
    with pytest.raises(PresetError, match=r"path = 123 \(int\): give the path"):
        load_configs(123)  # type: ignore[arg-type]


def _row() -> ValidationRow:
    return ValidationRow("centre", 64, measured_s=0.01, predicted_s=0.011, error=0.1,
                         analytic_s=0.02, analytic_error=1.0)


def test_write_plot_takes_a_path_as_text(tmp_path: Path) -> None:
    target = tmp_path / "validate.png"
    write_plot([_row()], str(target))
    assert target.stat().st_size > 0


def test_write_plot_refuses_a_format_matplotlib_does_not_write(tmp_path: Path) -> None:
    with pytest.raises(DlrmsimInputError, match="image extension"):
        write_plot([_row()], tmp_path / "validate.xyz")
    assert list(tmp_path.iterdir()) == []
