"""Run validation: for each configuration, measure the real step, predict it from the profile
(calibrated) and from nominal rates (analytic), and collect the rows."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlrmsim.validate.configs import MAX_SEED, ValidationConfig
from dlrmsim.validate.coverage import uncalibrated_ops, weak_step_fits
from dlrmsim.validate.drift import ProbeResult, drift_record, profile_probe_points, run_probes
from dlrmsim.validate.host import (
    GpuFacts,
    HostFacts,
    gpu_host_platform,
    host_platform,
    profile_threads,
    read_gpu_facts,
)
from dlrmsim.validate.measure import (
    SMALLER,
    SkipConfig,
    StepTiming,
    measure_step,
    memory_shortfall,
)
from dlrmsim.validate.phases import measured_groups
from dlrmsim.validate.predict import Prediction, predict_step
from dlrmsim.validate.report import ValidationRow, signed_error
from sim.arguments import check_whole, described
from sim.errors import ArgumentError, DlrmsimInputError, PlacementError
from sim.profile import DEVICES, Profile
from sim.specs import ServerSpec

GB = 1e9  # bytes, for messages
PROFILE_DIR = Path(__file__).resolve().parents[2] / "profiles"


def default_profile(facts: HostFacts, device: str, root: Path = PROFILE_DIR,
                    gpu_name: str | None = None) -> Path:
    """The committed profile for this host and device (and, for CUDA, this GPU `gpu_name`):
    full before quick, then the newest (`created_utc`), then by file name; else an error that
    says how to make one. Newest, because a later calibration of the same host carries the
    calibration's fixes and today's state of the host."""
    candidates = []
    for path in sorted(root.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or data.get("schema") != "dlrmsim.profile":
            continue  # e.g. a validation record kept beside the profiles
        host = data.get("host", {})
        same_gpu = gpu_name is None or host.get("gpu_name") == gpu_name
        if data.get("device") == device and host.get("cpu_model") == facts.cpu_model and same_gpu:
            created = str(data.get("created_utc", ""))  # ISO 8601 UTC: sorts as it reads
            candidates.append((data.get("mode") != "full", _descending(created), path.name, path))
    if not candidates:
        raise DlrmsimInputError(
            f"no profile for this host ({facts.cpu_model}, device {device}"
            f"{', ' + gpu_name if gpu_name else ''}) under {root}; "
            "run `dlrmsim calibrate` first or pass --profile")
    return min(candidates)[-1]


def _descending(text: str) -> tuple[int, ...]:
    """A key that sorts strings in reverse order (newest ISO timestamp first)."""
    return (*(-ord(c) for c in text), 1)


# (config name, round, ms or reason); round 0 for what is not a round's step (the drift probes)
Progress = Callable[[str, int, "float | str"], None]


def validation_platform(profile: Profile, device: str, gpu: GpuFacts | None = None
                        ) -> ServerSpec:
    """The one-trainer platform of this host for `device`: its CPU, or its CPU and one GPU."""
    threads = profile_threads(profile)
    if device != "cuda":
        return host_platform(threads)
    return gpu_host_platform(threads, gpu or read_gpu_facts(), profile)


def _predictions(config: ValidationConfig, profile: Profile, platform: ServerSpec, seed: int
                 ) -> tuple[Prediction, Prediction] | str:
    """(calibrated, analytic) predicted steps, or why the configuration cannot run."""
    # Checked first: the simulator would generate a huge batch's lookups before measure_step
    # skipped it. On a GPU the placement says first whether the tables fit the GPU.
    too_big = None if platform.gpus else memory_shortfall(config)
    if too_big:
        return f"skipped: {too_big}"
    try:
        return (predict_step(config, platform, profile=profile.path, seed=seed),
                predict_step(config, platform, profile=None, seed=seed))
    except PlacementError as reason:
        # The simulator's wording suggests options (--gpus, --trainers) validate has not.
        return f"skipped: {_tables_do_not_fit(config, platform) or reason}"


def _tables_do_not_fit(config: ValidationConfig, platform: ServerSpec) -> str | None:
    """Why the tables with optimizer state outgrow the one device that holds them here, in
    validate's terms, or None when they fit (the placement failed for another reason)."""
    model = config.model
    need = model.embedding_bytes + model.optimizer_state_bytes
    gpu = platform.gpus[0] if platform.gpus else None
    where = f"the GPU ({gpu.name})" if gpu else "this host's memory"
    holds = gpu.hbm_capacity_bytes if gpu else platform.mem_capacity_bytes
    if need <= holds:
        return None
    return (f"the tables need {need / GB:.1f} GB with optimizer state but {where} holds "
            f"{holds / GB:.1f} GB, short by {(need - holds) / GB:.1f} GB; {SMALLER}")


def _row(config: ValidationConfig, predicted: tuple[Prediction, Prediction] | str,
         rounds: list[StepTiming], skipped: str | None, kind: str) -> ValidationRow:
    if isinstance(predicted, str) or skipped is not None or not rounds:
        reason = predicted if isinstance(predicted, str) else skipped
        return ValidationRow(config.name, config.batch_size, None, None, None, None, None,
                             skipped=reason)
    calibrated, analytic = predicted
    rounds_s = [r.median_s for r in rounds]
    measured = statistics.median(rounds_s)
    grouped = [measured_groups(r.parts_s, kind) for r in rounds]
    phases = {group: statistics.median(g[group] for g in grouped) for group in grouped[0]}
    return ValidationRow(config.name, config.batch_size, measured, calibrated.step_s,
                         signed_error(calibrated.step_s, measured), analytic.step_s,
                         signed_error(analytic.step_s, measured), rounds_s=tuple(rounds_s),
                         measured_phases_s=phases, predicted_phases_s=calibrated.phases_s)


def check_profile_device(profile: Profile, device: str) -> None:
    """DlrmsimInputError when `profile` was measured on the other device: its costs would time
    none of the step's processors."""
    if profile.device != device:
        raise DlrmsimInputError(
            f"{profile.path}: a {profile.device} profile, but the steps run on {device}; give "
            f"a {device} profile with --profile (or leave it out), or use --device "
            f"{profile.device}")


def validate_all(configs: Sequence[ValidationConfig], profile: Profile, *, device: str,
                 seed: int, min_time_s: float, rounds: int = 1,
                 progress: Progress = lambda name, round_, outcome: None,
                 gpu: GpuFacts | None = None, drift_check: bool = True,
                 ) -> tuple[list[ValidationRow], dict[str, Any]]:
    """Predict every configuration, then measure them all `rounds` times, round-robin, so that
    a slow minute of a shared host spreads over all configurations instead of biasing a few;
    a configuration's measured time is the median of its rounds' medians, and each phase
    group's (phases.py) the median of its rounds' sums of part medians. With `drift_check`,
    a few of the profile's own microbenchmark points are timed again before the steps and after
    (drift.py), and meta["drift"] holds their ratios to the profile's times.

    Raises ArgumentError, before anything is measured, for an argument of the wrong type."""
    _check_arguments(configs, profile, device, seed, min_time_s)
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ArgumentError(f"rounds = {described(rounds)}: give a whole number >= 1")
    check_profile_device(profile, device)
    threads = profile_threads(profile)
    platform = validation_platform(profile, device, gpu)
    predicted = [_predictions(config, profile, platform, seed) for config in configs]
    measured: list[list[StepTiming]] = [[] for _ in configs]
    skipped: list[str | None] = [None] * len(configs)
    probe = _drift_probe(profile, device, threads, seed, progress, enabled=drift_check and any(
        not isinstance(p, str) for p in predicted))
    before = probe("before")
    for round_ in range(1, rounds + 1):
        for i, config in enumerate(configs):
            if isinstance(predicted[i], str) or skipped[i] is not None:
                continue
            try:
                timing = measure_step(config, device=device, threads=threads, seed=seed,
                                      min_time_s=min_time_s)
            except SkipConfig as err:
                reason = skipped[i] = f"skipped: {err}"
                progress(config.name, round_, reason)
                continue
            measured[i].append(timing)
            progress(config.name, round_, timing.median_s * 1e3)
    kind = "gpu" if platform.gpus else "cpu"
    rows = [_row(c, p, m, s, kind) for c, p, m, s in zip(configs, predicted, measured, skipped,
                                                         strict=True)]
    meta = {"profile": profile.path, "device": device, "threads": threads,
            "host": dict(profile.host), "mode": profile.mode, "rounds": rounds,
            "platform": platform.description,
            "drift": drift_record(before, probe("after")),
            "uncalibrated_ops": uncalibrated_ops(profile, [c.model for c in configs]),
            "weak_fits": weak_step_fits(profile, [c.model for c in configs])}
    return rows, meta


def _check_arguments(configs: object, profile: object, device: object, seed: object,
                     min_time_s: object) -> None:
    """ArgumentError for an argument the command line cannot get wrong and a notebook can: a
    profile's path where the Profile goes, a single configuration, a seed torch refuses."""
    if isinstance(configs, str) or not isinstance(configs, Sequence) or not all(
            isinstance(c, ValidationConfig) for c in configs):
        raise ArgumentError(f"configs = {described(configs)}: give a list of ValidationConfig, "
                            "e.g. default_grid() or load_configs(path)")
    if not isinstance(profile, Profile):
        raise ArgumentError(f"profile = {described(profile)}: give a Profile, e.g. "
                            "sim.profile.load_profile(path)")
    if device not in DEVICES:
        raise ArgumentError(f"device = {described(device)}: give one of {', '.join(DEVICES)}")
    check_whole("seed", seed, 0)
    if seed > MAX_SEED:  # type: ignore[operator]
        raise ArgumentError(f"seed = {seed}: give at most 2**64 - 1, the range torch's "
                            "generators take")
    if not (isinstance(min_time_s, int | float) and not isinstance(min_time_s, bool)
            and math.isfinite(min_time_s) and min_time_s >= 0):
        raise ArgumentError(f"min_time_s = {described(min_time_s)}: give a finite number of "
                            "seconds >= 0")


def _drift_probe(profile: Profile, device: str, threads: int, seed: int, progress: Progress,
                 *, enabled: bool) -> Callable[[str], list[ProbeResult]]:
    """A function that times the profile's probe points (none when not `enabled` or the
    profile kept no measurements) and reports each ratio through `progress`."""
    points = profile_probe_points(profile) if enabled else []

    def probe(when: str) -> list[ProbeResult]:
        results = run_probes(points, device=device, threads=threads, seed=seed)
        for result in results:
            outcome = (result.skipped or "skipped") if result.ratio is None else (
                f"{result.ratio:.2f}x its time at calibration")
            progress(f"host speed check ({when} the steps), {result.op}", 0, outcome)
        return results

    return probe
