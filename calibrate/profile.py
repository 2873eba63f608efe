"""The profile file: schema constants, validation, atomic writing and reading.

A profile is written to a temporary file in the destination folder and renamed over the
destination, so a failed or interrupted run never leaves a partial profile behind.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calibrate.errors import CalibrationError

SCHEMA = "dlrmsim.profile"
SCHEMA_VERSION = 1
_TOP_KEYS = ("schema", "schema_version", "created_utc", "mode", "device", "host", "measurements",
             "cost_models", "bandwidths_bytes_per_s", "latencies_s", "grid")
_HOST_KEYS = ("hostname", "cpu_model", "cpu_cores", "torch_version", "cuda_version", "gpu_name",
              "gpu_driver", "gpu_count", "torch_threads", "fbgemm_version", "python_version",
              "platform")
_MEASUREMENT_KEYS = ("op", "backend", "params", "samples_s", "median_s", "spread", "flagged",
                     "held_out")
_FIT_ERROR_KEYS = ("n_fit", "n_holdout", "holdout_median_abs_rel", "holdout_p90_abs_rel",
                   "holdout_max_abs_rel")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CalibrationError(f"invalid profile: {message}")


def _check_measurement(i: int, m: Mapping[str, Any]) -> None:
    missing = [k for k in _MEASUREMENT_KEYS if k not in m]
    _require(not missing, f"measurement {i} lacks {missing}")
    _require(bool(m["samples_s"]), f"measurement {i} has no samples")
    _require(all(math.isfinite(v) and v >= 0 for v in m["samples_s"]),
             f"measurement {i} has a negative or non-finite sample")
    _require(all(isinstance(v, (int, float)) for v in m["params"].values()),
             f"measurement {i} has a non-numeric parameter")


def _check_model(name: str, model: Mapping[str, Any]) -> None:
    _require(model.get("form") == "piecewise_monomial_sum", f"cost model {name}: unknown form")
    names = set(model.get("params", []))
    for piece in model.get("pieces", []):
        for param, bounds in piece["when"].items():
            _require(param in names and len(bounds) == 2 and bounds[0] < bounds[1],
                     f"cost model {name}: bad range for {param}")
        for term in piece["terms"]:
            _require(term["coef"] >= 0 and set(term["powers"]) <= names,
                     f"cost model {name}: bad term {term}")
    _require(bool(model.get("pieces")), f"cost model {name} has no pieces")
    missing = [k for k in _FIT_ERROR_KEYS if k not in model.get("fit_error", {})]
    _require(not missing, f"cost model {name}: fit_error lacks {missing}")


def validate_profile(data: Mapping[str, Any]) -> None:
    """Check `data` against schema version 1. Raises CalibrationError naming the first problem."""
    _require(isinstance(data, Mapping), "top level is not an object")
    _require(data.get("schema") == SCHEMA, f"schema is {data.get('schema')!r}, not {SCHEMA!r}")
    _require(data.get("schema_version") == SCHEMA_VERSION,
             f"schema_version {data.get('schema_version')!r} is not supported (this reader "
             f"knows version {SCHEMA_VERSION})")
    missing = [k for k in _TOP_KEYS if k not in data]
    _require(not missing, f"missing keys {missing}")
    _require(data["mode"] in ("quick", "full"), f"mode {data['mode']!r}")
    _require(data["device"] in ("cpu", "cuda"), f"device {data['device']!r}")
    missing = [k for k in _HOST_KEYS if k not in data["host"]]
    _require(not missing, f"host lacks {missing}")
    for i, measurement in enumerate(data["measurements"]):
        _check_measurement(i, measurement)
    for name, model in data["cost_models"].items():
        _check_model(name, model)


def check_writable(path: Path) -> None:
    """Create `path`'s folder if needed and prove a file can be created there.

    Raises CalibrationError when the path is a folder or the folder cannot be written.
    """
    if path.is_dir():
        raise CalibrationError(f"output path {path} is a folder; give a file name")
    path = output_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".probe-", delete=True):
            pass
    except OSError as err:
        # A file where a folder should be: errno says only "File exists" or "Not a directory".
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else err.strerror or err
        raise CalibrationError(f"cannot write the profile to {path}: {reason}") from err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_file(path: Path) -> Path:
    """The file a profile written to `path` replaces: a symbolic link's target (renaming onto
    the link would replace the link and leave its file as it was). Raises CalibrationError for
    a pipe or a device, which a renamed file would take the place of (as root, in /dev)."""
    try:
        mode = path.stat().st_mode
    except OSError:  # nothing there yet, or a dangling link: a new file
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise CalibrationError(f"output path {path} is not a file (a pipe or a device); give "
                               "the name of a file")
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def write_profile(data: Mapping[str, Any], path: Path) -> None:
    """Validate `data` and write it to `path` atomically. Raises CalibrationError."""
    validate_profile(data)
    path = output_file(path)
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    temp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as handle:
            temp_name = handle.name
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o666 & ~_umask())  # temp files are private (0600); profiles are not
        os.replace(temp_name, path)
    except OSError as err:
        _remove(temp_name)
        raise CalibrationError(f"cannot write the profile to {path}: {err.strerror or err}") from err
    except BaseException:  # Ctrl-C mid-write: the callers say nothing was written
        _remove(temp_name)
        raise


def _remove(temp_name: str | None) -> None:
    if temp_name and os.path.exists(temp_name):
        os.unlink(temp_name)


def load_profile(path: Path) -> dict[str, Any]:
    """Read and validate a profile. Raises CalibrationError if unreadable or invalid."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise CalibrationError(f"cannot read profile {path}: {err}") from err
    validate_profile(data)
    return data
