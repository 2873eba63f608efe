"""Has the host changed speed since it was calibrated? A few of the profile's own microbenchmark
points (a memory copy, an MLP layer, an embedding bag) are timed again, the way calibration timed
them, before the steps are measured and after; each ratio now / at calibration is reported.

On a shared VM the host's speed can move by tens of percent within hours: in session 11 the
EPYC development VM copied memory at 6.66 GB/s during one calibration and 8.0 GB/s two hours
earlier, and the steps validated against that profile came out 17% faster than predicted. The
ratios say how much of a validation's error such a change can explain. They are reported only:
nothing is corrected with them, since the point of validation is to test the profile as made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sim.profile import Profile

# The ops re-timed: one of each kind of cost a step has (memory bandwidth, dense compute, sparse
# lookups). Source: the ops calibrate measures on every device (calibrate/runner.py).
PROBE_OPS = ("host_copy", "mlp_forward", "embedding_forward")
# Of an op's points in the profile, the probe re-times the unflagged one whose median is nearest
# this, on a log scale: long enough to time well at 2 ms a sample, short enough that three probes
# take a few seconds. Unit: seconds per call. Source: calibrate's min_sample_s (2 ms).
TARGET_CALL_S = 5e-3
# A ratio further than this from 1 is called a change of the host's speed in the summary.
# Unit: fraction. Source: validation's own bar (10% median error, issue 4).
DRIFT_WARN_FRACTION = 0.10


@dataclass(frozen=True)
class ProbePoint:
    """One point of the profile to time again."""

    op: str
    params: Mapping[str, float]
    calibrated_s: float


@dataclass(frozen=True)
class ProbeResult:
    op: str
    params: Mapping[str, float]
    calibrated_s: float
    now_s: float | None
    skipped: str | None = None

    @property
    def ratio(self) -> float | None:
        """Seconds now over seconds at calibration (above 1: the host is slower now)."""
        return None if self.now_s is None else self.now_s / self.calibrated_s


def probe_points(measurements: Sequence[Mapping[str, Any]]) -> list[ProbePoint]:
    """For each of PROBE_OPS the profile measured, its unflagged point nearest TARGET_CALL_S
    (first in the profile's order on a tie)."""
    chosen = []
    for op in PROBE_OPS:
        points = [m for m in measurements if m.get("op") == op and not m.get("flagged")
                  and float(m.get("median_s", 0)) > 0]
        if not points:
            continue
        best = min(points, key=lambda m: abs(math.log(float(m["median_s"]) / TARGET_CALL_S)))
        chosen.append(ProbePoint(op, dict(best["params"]), float(best["median_s"])))
    return chosen


def profile_probe_points(profile: Profile) -> list[ProbePoint]:
    """The probe points of a loaded profile, whose measurements load_profile checked (none
    when it kept no measurements)."""
    return probe_points([asdict(m) for m in profile.measurements])


def run_probes(points: Sequence[ProbePoint], *, device: str, threads: int, seed: int
               ) -> list[ProbeResult]:
    """Time each point with calibrate's own kernel and timing policy (calibrate/measure.py). A
    point this host cannot build or run (e.g. no memory for it now) is skipped with the reason."""
    if not points:
        return []
    import torch

    from calibrate.runner import RunOptions, build_registry, default_clock, make_context

    torch.set_num_threads(threads)
    torch_device = torch.device(device)
    ctx = make_context(RunOptions(device=device, fbgemm=False), torch_device)
    specs = {spec.name: spec for spec in build_registry(ctx, None, [p.op for p in points])}
    clock = default_clock(torch_device)
    return [_time_point(point, specs[point.op], ctx.settings.policy, clock, seed)
            for point in points]


def _time_point(point: ProbePoint, spec: Any, policy: Any, clock: Any, seed: int) -> ProbeResult:
    from calibrate.measure import time_kernel

    try:
        kernel = spec.make(dict(point.params), seed)
        try:
            _, summary, _, _, _ = time_kernel(kernel, clock, policy)
        finally:
            kernel.close()
    except (RuntimeError, MemoryError, ValueError) as err:  # torch raises OOM as RuntimeError
        return ProbeResult(point.op, point.params, point.calibrated_s, None,
                           skipped=f"{type(err).__name__}: {err}".splitlines()[0][:200])
    return ProbeResult(point.op, point.params, point.calibrated_s, summary.median_s)


def drift_record(before: Sequence[ProbeResult], after: Sequence[ProbeResult]) -> dict[str, Any]:
    """The JSON form: each probe's point, its time at calibration and now, before and after."""
    def one(result: ProbeResult) -> dict[str, Any]:
        return {**asdict(result), "ratio": result.ratio}
    return {"before": [one(r) for r in before], "after": [one(r) for r in after]}


def drift_text(record: Mapping[str, Any]) -> str:
    """Lines for the summary: the ratios, and a warning when any is far from 1."""
    if not record.get("before") and not record.get("after"):
        return ""
    lines = ["host speed now against calibration (the profile's own points timed again; "
             ">1 = slower now):"]
    far = []
    for when in ("before", "after"):
        parts = []
        for probe in record.get(when, []):
            ratio = probe.get("ratio")
            if ratio is None:
                parts.append(f"{probe['op']} skipped")
                continue
            parts.append(f"{probe['op']} {ratio:.2f}x")
            if abs(ratio - 1) > DRIFT_WARN_FRACTION:
                far.append(f"{probe['op']} {ratio:.2f}x {when}")
        lines.append(f"  {when} the steps: " + (", ".join(parts) or "none"))
    if far:
        lines.append(f"  the host's speed has moved since calibration ({', '.join(far)}): "
                     "errors of that size may be the host's, not the model's. On a shared host "
                     "this happens even minutes after calibrating; validate again, or calibrate "
                     "again (dlrmsim calibrate) and validate right after")
    return "\n".join(lines)
