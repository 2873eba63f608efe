"""Run validation: for each configuration, measure the real step, predict it from the profile
(calibrated) and from nominal rates (analytic), and collect the rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlrmsim.validate.configs import ValidationConfig
from dlrmsim.validate.host import HostFacts, host_platform, profile_threads
from dlrmsim.validate.measure import SkipConfig, measure_step
from dlrmsim.validate.predict import predict_step_s
from dlrmsim.validate.report import ValidationRow, signed_error
from sim.errors import DlrmsimInputError, PlacementError
from sim.profile import Profile

PROFILE_DIR = Path(__file__).resolve().parents[2] / "profiles"


def default_profile(facts: HostFacts, device: str, root: Path = PROFILE_DIR) -> Path:
    """The committed profile for this host and device, full before quick; else an error that
    says how to make one."""
    candidates = []
    for path in sorted(root.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or data.get("schema") != "dlrmsim.profile":
            continue  # e.g. a validation record kept beside the profiles
        host = data.get("host", {})
        if data.get("device") == device and host.get("cpu_model") == facts.cpu_model:
            candidates.append((data.get("mode") != "full", path.name, path))
    if not candidates:
        raise DlrmsimInputError(
            f"no profile for this host ({facts.cpu_model}, device {device}) under {root}; "
            "run `dlrmsim calibrate` first or pass --profile")
    return min(candidates)[2]


def validate_one(config: ValidationConfig, profile: Profile, *, device: str, seed: int,
                 min_time_s: float) -> ValidationRow:
    threads = profile_threads(profile)
    platform = host_platform(threads)
    try:
        predicted = predict_step_s(config, platform, profile=profile.path, seed=seed)
        analytic = predict_step_s(config, platform, profile=None, seed=seed)
        timing = measure_step(config, device=device, threads=threads, seed=seed,
                              min_time_s=min_time_s)
    except (SkipConfig, PlacementError) as reason:
        return ValidationRow(config.name, config.batch_size, None, None, None, None, None,
                             skipped=f"skipped: {reason}")
    measured = timing.median_s
    return ValidationRow(config.name, config.batch_size, measured, predicted,
                         signed_error(predicted, measured), analytic,
                         signed_error(analytic, measured))


def validate_all(configs: Sequence[ValidationConfig], profile: Profile, *, device: str,
                 seed: int, min_time_s: float,
                 on_row: Callable[[ValidationRow], None] = lambda row: None
                 ) -> tuple[list[ValidationRow], dict[str, Any]]:
    rows = []
    for config in configs:
        row = validate_one(config, profile, device=device, seed=seed, min_time_s=min_time_s)
        on_row(row)
        rows.append(row)
    meta = {"profile": profile.path, "device": device, "threads": profile_threads(profile),
            "host": dict(profile.host)}
    return rows, meta
