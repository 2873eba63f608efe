"""The profile's `working_set_ratios`: how much slower an embedding call runs when the memory its
process cycles through between calls is far beyond the usual rotation.

Calibration times each embedding call on another copy of the table, cycling through copies that
together exceed the flush size (about twice the last-level cache). A training step cycles through
all of its tables instead, gigabytes for a large model, and on a host with a large shared cache
(the development VM reports 480 MiB) its calls run measurably colder. The working-set ops
(`embedding_*_cold`, see calibrate.catalog_compute.working_set_specs) time the same kernels with
a rotation of COLD_ROTATION_FACTOR x the flush size, at several table sizes. Each point becomes a
ratio to the same kernel timed right after it with the usual rotation, kept with the two
rotations it lies between, so that sim/ can scale a call by how far its step's tables exceed the
usual rotation. A pair whose cold or usual timing was flagged as noisy is listed under
"excluded" instead: one such pair on the development VM read 6.1x between neighbours at 1.3x
and 1.0x, and sim/ would have scaled every call near that table size by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibrate.catalog_compute import COLD_MAX_COPIES, FP32_BYTES
from calibrate.host import COLD_ROTATION_FACTOR
from calibrate.kernels.rotation import rotation_bytes
from calibrate.opspec import Registry


def working_set_ratios(registry: Registry, results: Mapping[str, Any],
                       flush_bytes: float) -> dict[str, Any]:
    """{base op: {"cold_rotation_factor", "points": [{table_bytes, base_rotation_bytes,
    cold_rotation_bytes, ratio}, ...] by table size, "excluded": [the same and a reason,
    ...]}} for every working-set op measured. The ratio is the point's median over its
    twin's, timed right after it with the usual rotation (`paired_median_s`), so that neither a
    fit's error nor the host's drift between ops enters it."""
    cold = COLD_ROTATION_FACTOR * flush_bytes
    ratios: dict[str, Any] = {}
    for spec in registry:
        if spec.ratio_of is None:
            continue
        points, excluded = [], []
        for m in results[spec.name].measurements:
            usual = m.extra.get("paired_median_s")
            if not usual or usual <= 0:
                continue
            table = m.params["rows"] * m.params["dim"] * FP32_BYTES
            pair = {"table_bytes": table,
                    "base_rotation_bytes": rotation_bytes(table, flush_bytes),
                    "cold_rotation_bytes": rotation_bytes(table, cold, COLD_MAX_COPIES),
                    "ratio": m.median_s / usual}
            reason = _noisy_side(m.flagged, bool(m.extra.get("paired_flagged")))
            if reason:
                excluded.append({**pair, "reason": reason})
            else:
                points.append(pair)
        if points or excluded:
            ratios[str(spec.ratio_of)] = {
                "cold_rotation_factor": COLD_ROTATION_FACTOR,
                "points": sorted(points, key=lambda p: p["table_bytes"]),
                "excluded": sorted(excluded, key=lambda p: p["table_bytes"])}
    return ratios


def _noisy_side(cold_flagged: bool, usual_flagged: bool) -> str:
    """Why a pair is left out of the curve ("" when it is not): a ratio is only as good as
    the noisier of its two timings."""
    sides = [name for name, flagged in (("cold", cold_flagged), ("usual", usual_flagged))
             if flagged]
    return f"{' and '.join(sides)} timing flagged as noisy" if sides else ""
