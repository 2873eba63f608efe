"""`dlrmsim.sweep.sweep` called from Python with arguments of the wrong type: refused before any
point runs, with the argument named and what to give, instead of a TypeError or a sweep whose
every point fails the same way."""

from __future__ import annotations

import pytest

import dlrmsim.sweep as sweep_module
from dlrmsim.reproduce.types import Outcome
from dlrmsim.sweep import Sweep, SweepPoint, sweep
from sim.errors import DlrmsimInputError
from sim.presets import load_model

ITERATIONS = 4


@pytest.fixture
def no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any point is simulated: every refusal here comes first."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a point ran")
    monkeypatch.setattr(sweep_module, "run_all", refuse)


@pytest.mark.parametrize("axes, words", [
    ({"trainers": 4}, r"sweep axis trainers = 4 \(int\): give a list or tuple"),
    ({"trainers": "48"}, r"sweep axis trainers = '48' \(str\): give a list or tuple"),
    ({"placement": "gpu"}, r"sweep axis placement = 'gpu' \(str\): give a list or tuple"),
    ({"trainers": None}, "give a list or tuple"),
    ([("trainers", (4,))], r"axes = .*\(list\): give a mapping"),
    (None, "give a mapping"),
    ({1: (4,)}, "cannot sweep 1"),
])
def test_axes_of_another_shape_are_refused(no_runs: None, axes: object, words: str) -> None:
    with pytest.raises(DlrmsimInputError, match=words):
        sweep("m2_cpu", axes, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["x", 4.0, True])
def test_a_count_that_is_not_a_whole_number_is_refused(no_runs: None, value: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"sweep axis trainers: .* is not a whole number"):
        sweep("m2_cpu", {"trainers": (4, value)}, iterations=ITERATIONS)


def test_a_named_setting_of_another_type_is_refused(no_runs: None) -> None:
    with pytest.raises(DlrmsimInputError, match=r"placement = 1 \(int\)"):
        sweep("m2_cpu", {"placement": (1,)}, iterations=ITERATIONS)


@pytest.mark.parametrize("keywords, words", [
    ({"iterations": "4"}, "iterations = '4'"),
    ({"seed": [1]}, "seed = "),
    ({"target_rse": "0.1"}, "target_rse = '0.1'"),
    ({"profile": 123}, r"profile = 123 \(int\): give the path"),
    ({"trace": 123}, r"trace = 123 \(int\): give the path"),
    ({"jobs": "2"}, "jobs = '2'"),
    ({"jobs": 0}, "jobs = 0"),
    ({"jobs": 2.5}, "jobs = 2.5"),
    ({"model": 123}, r"model = 123 \(int\)"),
    ({"platform": load_model("m2_prod")}, "platform = ModelSpec 'm2_prod'"),
])
def test_shared_settings_of_another_type_are_refused(no_runs: None, keywords: dict[str, object],
                                                     words: str) -> None:
    with pytest.raises(DlrmsimInputError, match=words):
        sweep("m2_cpu", {"trainers": (4,)}, **{"iterations": ITERATIONS, **keywords})  # type: ignore[arg-type]


@pytest.mark.parametrize("job", [123, ["m2_cpu"]])
def test_a_job_of_another_type_is_refused(no_runs: None, job: object) -> None:
    with pytest.raises(DlrmsimInputError, match=r"job = .*give a job preset name"):
        sweep(job, {"trainers": (4,)}, iterations=ITERATIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["best", "ranked", "within_noise"])
def test_an_unknown_metric_lists_the_metrics(method: str) -> None:
    done = Sweep("j", {"trainers": (1,)}, {}, (SweepPoint({"trainers": 1}, Outcome(
        throughput=1.0, examples_per_joule=1.0, power_w=1.0, throughput_rse=0.01)),))
    with pytest.raises(DlrmsimInputError, match=r"metric = 'power' \(str\): give one of "
                                                "throughput, examples_per_joule"):
        getattr(done, method)("power")


def test_a_count_out_of_range_is_still_one_failed_point() -> None:
    # The contract the sweep documents: the specs' refusal is a point's, not the sweep's.
    done = sweep("test_suite_cpu", {"trainers": (1, -1)}, iterations=ITERATIONS)
    assert [p.ok for p in done.points] == [True, False]
    assert "--trainers -1" in done.points[1].outcome.error
