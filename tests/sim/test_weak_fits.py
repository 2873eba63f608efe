"""Fits that calibrate called too weak to use (a profile's `run.weak_fits`): the simulator
reads them as the profile loads, and a run that charges such an op says so in its notes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dlrmsim.cli import main
from sim.errors import ProfileError
from sim.profile import load_profile
from sim.run import simulate

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
REASONS = ["held-out median error 96%", "1 fitted point(s) for 9 terms"]


def with_weak_fits(tmp_path: Path, weak: Any, *, run: bool = True) -> Path:
    """profiles/cpu-vm-quick.json (made before calibrate kept weak fits) with `weak` as its
    run.weak_fits, or without its `run` at all."""
    data = json.loads((PROFILES / "cpu-vm-quick.json").read_text())
    if run:
        data["run"]["weak_fits"] = weak
    else:
        del data["run"]
    path = tmp_path / "weak.json"
    path.write_text(json.dumps(data))
    return path


def test_a_run_that_charges_a_weak_fit_names_it_its_reasons_and_the_fix(tmp_path: Path) -> None:
    # It used the constant fit without a word, while calibrate had warned it was too weak.
    path = with_weak_fits(tmp_path, {"embedding_forward": REASONS})
    result = simulate("test_suite_cpu", profile=path, iterations=6)
    (note,) = [n for n in result.notes if "too weak" in n]
    assert note.startswith(f"{path}: calibrate found this fit too weak to use: embedding_forward "
                           "(held-out median error 96%, 1 fitted point(s) for 9 terms)")
    assert "charged from the profile all the same" in note
    assert ("re-run `dlrmsim calibrate` for embedding_forward with a larger --budget-scale (or "
            "without --quick)") in note  # a quick profile
    assert note in result.to_dict()["notes"]


def test_the_note_reaches_the_command_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = with_weak_fits(tmp_path, {"embedding_forward": REASONS, "mlp_forward": ["x"]})
    assert main(["simulate", "--job", "test_suite_cpu", "--profile", str(path), "--iterations",
                 "6", "--json"]) == 0
    out, err = capsys.readouterr()
    (note,) = [n for n in json.loads(out)["notes"] if "too weak" in n]
    assert "calibrate found these fits too weak to use: embedding_forward (" in note
    assert "; mlp_forward (x); they are charged" in note
    assert f"note: {note}" in err


@pytest.mark.parametrize(("job", "weak"), [
    ("m1_gpu", "embedding_forward"),  # a GPU job: the CPU profile times none of its kernels
    ("test_suite_cpu", "network_tcp"),  # an op the simulator never charges from a fit
])
def test_a_weak_fit_the_run_does_not_charge_is_not_noted(tmp_path: Path, job: str,
                                                         weak: str) -> None:
    path = with_weak_fits(tmp_path, {weak: REASONS})
    result = simulate(job, profile=path, iterations=4)
    assert not any("too weak" in note for note in result.notes)


@pytest.mark.parametrize("weak", [None, {}, "absent run"])
def test_profiles_without_weak_fits_load_with_none(tmp_path: Path, weak: object) -> None:
    path = with_weak_fits(tmp_path, weak, run=weak != "absent run")
    assert load_profile(path).weak_fits == {}


def _is_profile(path: Path) -> bool:
    data = json.loads(path.read_text())
    return isinstance(data, dict) and data.get("schema") == "dlrmsim.profile"


@pytest.mark.parametrize("path", [p for p in sorted(PROFILES.glob("*.json")) if _is_profile(p)],
                         ids=lambda p: p.name)
def test_shipped_profiles_keep_their_weak_fits(path: Path) -> None:
    # Made before calibrate kept weak fits: they load, with none.
    data = json.loads(path.read_text())
    weak = data.get("run", {}).get("weak_fits") or {}
    assert load_profile(path).weak_fits == {op: tuple(r) for op, r in weak.items()}


@pytest.mark.parametrize(("weak", "said"), [
    ("x", 'run.weak_fits is "x", not an object'),
    ({"embedding_forward": "few points"}, 'run.weak_fits.embedding_forward is "few points", '
                                          "not a list of reasons"),
    ({"embedding_forward": []}, "run.weak_fits.embedding_forward is [], not a list of reasons"),
])
def test_malformed_weak_fits_are_refused_naming_the_field(tmp_path: Path, weak: object,
                                                          said: str) -> None:
    path = with_weak_fits(tmp_path, weak)
    with pytest.raises(ProfileError, match=r"malformed profile \(" + re.escape(said)):
        load_profile(path)
