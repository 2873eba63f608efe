"""A profile's cost terms and piece ranges may name only their cost model's params, and those
only params the simulator gives the op: checked as the profile loads, since any other name
failed in the middle of a run (KeyError)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlrmsim.cli import main
from sim.costs import EmbeddingWork, Processor
from sim.costs.calibrated import CalibratedCosts
from sim.errors import ProfileError
from sim.presets import load_platform
from sim.profile import SIMULATED_PARAMS, CostFunction, Profile, load_profile

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
EMBEDDING_PARAMS = "batch, rows, dim, pooling, zipf_s, unique_rows"
BB = load_platform("big_basin")


def edited(tmp_path: Path, edit: Any) -> Path:
    """profiles/cpu-vm-quick.json with embedding_forward's cost model passed through `edit`."""
    data = json.loads((PROFILES / "cpu-vm-quick.json").read_text())
    edit(data["cost_models"]["embedding_forward"])
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


def test_a_power_of_an_unknown_param_is_one_line_naming_the_file_model_term_and_params(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def bogus(model: dict[str, Any]) -> None:
        model["pieces"][0]["terms"][1]["powers"] = {"bogus": 1}

    path = edited(tmp_path, bogus)
    code = main(["simulate", "--job", "m2_cpu", "--profile", str(path), "--iterations", "4"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert (f"{path}: malformed profile (cost model 'embedding_forward': "
            f"pieces[0].terms[1].powers names 'bogus', not one of its params "
            f"({EMBEDDING_PARAMS}))") in err


def test_a_range_of_an_unknown_param_is_refused(tmp_path: Path) -> None:
    def bogus(model: dict[str, Any]) -> None:
        model["pieces"][0]["when"] = {"bogus": [0, 10]}

    with pytest.raises(ProfileError, match=r"cost model 'embedding_forward': pieces\[0\]\.when "
                       r"names 'bogus', not one of its params"):
        load_profile(edited(tmp_path, bogus))


def test_a_cost_model_that_lists_no_params_may_name_none(tmp_path: Path) -> None:
    def unlisted(model: dict[str, Any]) -> None:
        del model["params"]

    with pytest.raises(ProfileError, match=r"names '\w+', not one of its params \(none are "
                       r"listed\)"):
        load_profile(edited(tmp_path, unlisted))


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_profile_still_loads(path: Path) -> None:
    data = json.loads(path.read_text())
    if data.get("schema") == "dlrmsim.profile":  # beside the validation reports
        assert load_profile(path).cost_functions


def test_a_param_the_simulator_does_not_give_the_op_is_refused(tmp_path: Path) -> None:
    # Listed and used, it passed the check above and failed at the first call instead.
    def listed(model: dict[str, Any]) -> None:
        model["params"].append("bogus")
        model["pieces"][0]["terms"][1]["powers"] = {"bogus": 1}

    with pytest.raises(ProfileError, match=r"cost model 'embedding_forward': params lists "
                       rf"'bogus', which the simulator does not give this op \(it gives "
                       rf"{EMBEDDING_PARAMS}\)"):
        load_profile(edited(tmp_path, listed))


def test_the_simulator_gives_each_timed_op_the_params_the_loader_allows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, set[str]] = {}

    def record(self: Profile, op: str, **params: float) -> float:
        asked[op] = set(params)
        return 1e-6

    monkeypatch.setattr(Profile, "seconds", record)
    every = {op: CostFunction(op, params, ()) for op, params in SIMULATED_PARAMS.items()}
    profile = Profile("x.json", "cpu", "quick", {}, every, {}, {})
    costs, proc = CalibratedCosts(profile), Processor("cpu", BB.sockets[0], threads=1)
    work = EmbeddingWork(batch=64, rows=1000, dim=16, pooling=4, unique_rows=100, zipf_s=1.0)
    for backward in (False, True):
        costs.mlp(proc, 64, 8, 4, backward=backward)
        costs.interaction(proc, 64, 4, 16, backward=backward)
    costs.embedding_forward(proc, work)
    for optimizer in ("sgd", "rowwise_adagrad"):
        costs.embedding_update(proc, work, optimizer)
    costs.dense_update(proc, 2, 100)
    costs.loss(proc, 64)
    assert asked == {op: set(params) for op, params in SIMULATED_PARAMS.items()}
