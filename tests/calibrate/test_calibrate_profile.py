"""Profile schema: validation, atomic writing, refusal of other schema versions."""

from __future__ import annotations

import copy
import json
import os

import pytest

from calibrate.errors import CalibrationError
from calibrate.profile import (
    SCHEMA,
    SCHEMA_VERSION,
    check_writable,
    load_profile,
    validate_profile,
    write_profile,
)


def minimal_profile() -> dict:
    host = dict.fromkeys(("hostname", "cpu_model", "cpu_cores", "torch_version", "cuda_version",
                          "gpu_name", "gpu_driver", "gpu_count", "torch_threads",
                          "fbgemm_version", "python_version", "platform"))
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "created_utc": "2026-11-27T15:00:00Z",
        "mode": "quick", "device": "cpu", "host": host,
        "measurements": [{"op": "host_copy", "backend": "torch", "params": {"bytes": 4096},
                          "samples_s": [1e-6, 1.1e-6], "median_s": 1.05e-6, "spread": 0.05,
                          "flagged": False, "held_out": False}],
        "cost_models": {"host_copy": {
            "form": "piecewise_monomial_sum", "params": ["bytes"],
            "pieces": [{"when": {"bytes": [0, 1e30]},
                        "terms": [{"coef": 1e-6, "powers": {}},
                                  {"coef": 1e-10, "powers": {"bytes": 1}}]}],
            "fit_error": {"n_fit": 1, "n_holdout": 0, "holdout_median_abs_rel": None,
                          "holdout_p90_abs_rel": None, "holdout_max_abs_rel": None}}},
        "bandwidths_bytes_per_s": {"host_copy": 1e10}, "latencies_s": {"host_copy": 1e-6},
        "grid": {"seed": 0},
    }


def test_round_trip_is_identical(tmp_path):
    path = tmp_path / "p.json"
    write_profile(minimal_profile(), path)
    assert load_profile(path) == minimal_profile()
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temp file left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # readable like any file, not 0600


def test_unknown_schema_version_is_refused_with_a_clear_message(tmp_path):
    data = minimal_profile()
    data["schema_version"] = 99
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="schema_version 99 is not supported"):
        load_profile(path)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("host"), "missing keys"),
    (lambda d: d["measurements"][0].pop("samples_s"), "lacks"),
    (lambda d: d["measurements"][0].__setitem__("samples_s", [-1.0]), "negative"),
    (lambda d: d["cost_models"]["host_copy"]["pieces"][0]["terms"][0].__setitem__("coef", -1),
     "bad term"),
    (lambda d: d.__setitem__("device", "tpu"), "device"),
    (lambda d: d.__setitem__("schema", "other"), "schema"),
])
def test_invalid_profiles_are_rejected(mutate, message):
    data = copy.deepcopy(minimal_profile())
    mutate(data)
    with pytest.raises(CalibrationError, match=message):
        validate_profile(data)


def test_an_invalid_profile_is_never_written(tmp_path):
    data = minimal_profile()
    data["mode"] = "weird"
    with pytest.raises(CalibrationError):
        write_profile(data, tmp_path / "p.json")
    assert list(tmp_path.iterdir()) == []


def test_check_writable_rejects_a_folder_and_an_unwritable_place(tmp_path):
    with pytest.raises(CalibrationError, match="is a folder"):
        check_writable(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CalibrationError, match="cannot write"):
        check_writable(blocker / "sub" / "p.json")
    check_writable(tmp_path / "new" / "p.json")  # creates the folder
    assert (tmp_path / "new").is_dir() and os.listdir(tmp_path / "new") == []


def test_a_profile_written_through_a_symbolic_link_replaces_its_file(tmp_path):
    # The rename went onto the link, which became a file; the file it named kept the old text.
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "latest.json").symlink_to("real.json")
    check_writable(tmp_path / "latest.json")
    write_profile(minimal_profile(), tmp_path / "latest.json")
    assert (tmp_path / "latest.json").is_symlink()
    assert load_profile(tmp_path / "real.json") == minimal_profile()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_not_a_place_for_a_profile(tmp_path):
    os.mkfifo(tmp_path / "p.json")
    with pytest.raises(CalibrationError, match="is not a file"):
        check_writable(tmp_path / "p.json")
    with pytest.raises(CalibrationError, match="is not a file"):
        write_profile(minimal_profile(), tmp_path / "p.json")
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]
