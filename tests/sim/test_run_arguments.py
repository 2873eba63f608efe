"""`simulate`, the preset loaders and `load_profile` called from Python with arguments of the
wrong type: each is refused at the call with an error of the project's user types that names
the argument and what to give, not an AttributeError or TypeError from deep inside."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sim.errors import DlrmsimInputError, PresetError, ProfileError, SpecError
from sim.presets import load_job, load_model, load_platform
from sim.profile import load_profile
from sim.run import simulate
from sim.specs import PlacementSpec

ITERATIONS = 4
JOBS = Path(__file__).resolve().parents[2] / "presets" / "jobs"


@pytest.mark.parametrize("job", [123, 1.5, True, ["m1_gpu"], {"name": "m1_gpu"}])
def test_a_job_of_another_type_names_the_argument(job: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"job = .*give a job preset name"):
        simulate(job, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword, spec", [("job", "m2_prod"), ("model", "big_basin"),
                                           ("platform", "m2_prod"), ("ps_platform", "m2_gpu")])
def test_a_spec_in_the_wrong_place_says_where_it_goes(keyword: str, spec: str) -> None:
    loaded = {"m2_prod": load_model, "big_basin": load_platform, "m2_gpu": load_job}[spec](spec)
    arguments = {"job": loaded} if keyword == "job" else {"job": "m2_gpu", keyword: loaded}
    kind = type(loaded).__name__
    with pytest.raises(DlrmsimInputError, match=rf"{keyword} = {kind} '{spec}'.* goes in"):
        simulate(**arguments, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword", ["model", "platform", "ps_platform"])
@pytest.mark.parametrize("value", [1, True, ["big_basin"], math.nan])
def test_a_model_or_platform_of_another_type_names_the_argument(keyword: str,
                                                                value: object) -> None:
    with pytest.raises(DlrmsimInputError, match=rf"{keyword} = .*preset name"):
        simulate("m1_gpu", **{keyword: value}, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1, True, ["gpu"]])
def test_a_placement_of_another_type_lists_the_kinds(value: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"placement = .*gpu, system, remote or hybrid"):
        simulate("m1_gpu", placement=value, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword", ["profile", "trace", "chrome_trace"])
@pytest.mark.parametrize("value", [123, True, ["x.json"]])
def test_a_path_of_another_type_names_the_argument(keyword: str, value: object) -> None:
    with pytest.raises(DlrmsimInputError, match=rf"{keyword} = .*give the path"):
        simulate("m1_gpu", **{keyword: value}, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyword", ["profile", "trace"])
def test_an_empty_path_is_not_read_as_the_current_folder(keyword: str) -> None:
    with pytest.raises(DlrmsimInputError, match=rf"{keyword} = an empty path"):
        simulate("m1_gpu", **{keyword: ""}, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [[4], "1", -1, 1.5, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"seed = .*whole number >= 0"):
        simulate("m1_gpu", seed=seed, iterations=ITERATIONS)  # type: ignore[arg-type]


def test_warmup_true_is_not_taken_for_one() -> None:
    with pytest.raises(DlrmsimInputError, match="warmup = True"):
        simulate("m1_gpu", warmup=True, iterations=ITERATIONS)


def test_a_count_given_as_a_string_shows_the_quotes() -> None:
    # As the number 3200 the message would hide the mistake: the type.
    with pytest.raises(SpecError, match=r"batch.size '3200'.*whole number"):
        simulate("m1_gpu", batch_size="3200", iterations=ITERATIONS)  # type: ignore[arg-type]


def test_an_empty_ps_platform_is_an_unknown_preset_not_the_default() -> None:
    with pytest.raises(PresetError, match="unknown platform preset ''"):
        simulate("m1_gpu", ps_platform="", iterations=ITERATIONS)


def test_a_job_file_given_as_a_path_object_is_read() -> None:
    by_path = simulate(JOBS / "test_suite_gpu.yaml", iterations=ITERATIONS)
    by_name = simulate("test_suite_gpu", iterations=ITERATIONS)
    assert by_path.throughput_examples_per_s == by_name.throughput_examples_per_s


def test_a_placement_spec_is_still_taken_whole() -> None:
    result = simulate("m1_gpu", placement=PlacementSpec(kind="system"), iterations=ITERATIONS)
    assert result.placement == "system"


@pytest.mark.parametrize("loader", [load_model, load_platform, load_job])
@pytest.mark.parametrize("value", [123, None, ["m1_prod"]])
def test_the_loaders_name_what_they_take(loader: object, value: object) -> None:
    with pytest.raises(PresetError, match=r"= .*preset name or the path of a YAML file"):
        loader(value)  # type: ignore[operator]


def test_a_loader_given_its_own_spec_says_it_is_loaded() -> None:
    with pytest.raises(PresetError, match="loaded already"):
        load_model(load_model("test_suite"))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [123, None, ""])
def test_load_profile_names_what_it_takes(value: object) -> None:
    with pytest.raises(ProfileError, match=r"path = .*calibration profile"):
        load_profile(value)  # type: ignore[arg-type]
