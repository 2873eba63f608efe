"""validate's host speed check (dlrmsim/validate/drift.py): which points it times again, what it
reports, and that a profile far from this host's speed is called out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from dlrmsim.cli import main
from dlrmsim.validate.drift import (
    PROBE_OPS,
    TARGET_CALL_S,
    ProbePoint,
    ProbeResult,
    drift_record,
    drift_text,
    probe_points,
    profile_probe_points,
    run_probes,
)
from sim.profile import load_profile, parse_profile


def measurement(op: str, median_s: float, flagged: bool = False, **params: float) -> dict[str, Any]:
    return {"op": op, "backend": "torch", "params": params, "median_s": median_s,
            "flagged": flagged}


def test_each_op_probes_its_unflagged_point_nearest_the_target() -> None:
    points = probe_points([
        measurement("host_copy", TARGET_CALL_S * 1.5, bytes=2.0),
        measurement("host_copy", TARGET_CALL_S * 1.01, flagged=True, bytes=3.0),
        measurement("host_copy", TARGET_CALL_S / 1.2, bytes=1.0),  # nearest on a log scale
        measurement("host_copy", TARGET_CALL_S * 40, bytes=4.0),
        measurement("mlp_forward", TARGET_CALL_S * 100, batch=1.0),
        measurement("loss", TARGET_CALL_S, batch=1.0),  # not a probe op
    ])
    assert [(p.op, dict(p.params)) for p in points] == [("host_copy", {"bytes": 1.0}),
                                                        ("mlp_forward", {"batch": 1.0})]
    assert points[0].calibrated_s == TARGET_CALL_S / 1.2
    assert probe_points([]) == []
    assert set(PROBE_OPS) >= {p.op for p in points}


def result(op: str, ratio: float | None) -> ProbeResult:
    return ProbeResult(op, {"bytes": 1.0}, 1e-3, None if ratio is None else ratio * 1e-3,
                       skipped=None if ratio is not None else "RuntimeError: no memory")


def test_the_summary_warns_only_when_a_ratio_is_far_from_one() -> None:
    steady = drift_text(drift_record([result("host_copy", 1.05)], [result("host_copy", 0.95)]))
    assert "1.05x" in steady and "0.95x" in steady and "moved" not in steady
    moved = drift_text(drift_record([result("host_copy", 1.25)], [result("mlp_forward", None)]))
    assert "host_copy 1.25x before" in moved and "mlp_forward skipped" in moved
    assert "calibrate again" in moved
    assert drift_text(drift_record([], [])) == ""


def test_a_point_timed_again_on_this_host_gives_a_ratio() -> None:
    # A 4 MB copy: no host copies it in a nanosecond, so a profile that says so is off by
    # orders of magnitude, and the check must say the host is far slower than "calibrated".
    fake = ProbePoint("host_copy", {"bytes": 4.0 * 2**20}, calibrated_s=1e-9)
    (timed,) = run_probes([fake], device="cpu", threads=1, seed=0)
    assert timed.skipped is None and timed.now_s is not None and timed.now_s > 0
    assert timed.ratio is not None and math.isfinite(timed.ratio) and timed.ratio > 100
    assert "moved" in drift_text(drift_record([timed], []))


PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "cpu-vm-quick.json"
SPOT_CHECK = Path(__file__).resolve().parents[2] / "presets" / "validate" / "spot_check.yaml"


def _edit_measurements(data: dict[str, Any], case: str) -> None:
    if case == "measurements":
        data["measurements"] = "x"
    elif case == "median_s":
        data["measurements"][3]["median_s"] = "x"
    elif case == "params":
        del data["measurements"][3]["params"]
    elif case == "params.bytes":
        data["measurements"][3]["params"] = {"bytes": None}
    elif case == "flagged":
        data["measurements"][3]["flagged"] = "no"
    else:
        data["measurements"][3] = [1, 2]


@pytest.mark.parametrize(("case", "said"), [
    ("measurements", 'measurements is "x", not a list'),  # was AttributeError in the probe
    ("median_s", 'measurements[3].median_s is "x", not a finite number'),  # was ValueError
    ("params", "measurements[3] has no params"),  # was KeyError
    ("params.bytes", "measurements[3].params.bytes is null, not a finite number"),
    ("flagged", 'measurements[3].flagged is "no", not true or false'),
    ("entry", "measurements[3] is [1, 2], not an object"),
])
def test_malformed_measurements_are_refused_as_the_profile_loads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        case: str, said: str) -> None:
    # The host speed check read them after the profile had loaded, and ended in a traceback.
    def measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured with a malformed profile")

    monkeypatch.setattr("dlrmsim.validate.run.validate_all", measure)
    data = json.loads(PROFILE.read_text())
    _edit_measurements(data, case)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    code = main(["validate", "--profile", str(path), "--configs", str(SPOT_CHECK), "--plot",
                 str(tmp_path / "p.png")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{path}: malformed profile ({said}" in err and "re-run `dlrmsim calibrate`" in err


@pytest.mark.parametrize("kept", [None, [], "absent"])
def test_a_profile_that_kept_no_measurements_has_no_probe_points(tmp_path: Path,
                                                                 kept: object) -> None:
    data = json.loads(PROFILE.read_text())
    if kept == "absent":
        del data["measurements"]
    else:
        data["measurements"] = kept
    assert profile_probe_points(parse_profile(data, "p.json")) == []


def test_the_probe_points_of_a_shipped_profile_are_its_own() -> None:
    profile = load_profile(PROFILE)
    points = profile_probe_points(profile)
    assert [p.op for p in points] == list(PROBE_OPS)
    for point in points:
        assert any(m.op == point.op and dict(m.params) == dict(point.params)
                   and m.median_s == point.calibrated_s and not m.flagged
                   for m in profile.measurements)
