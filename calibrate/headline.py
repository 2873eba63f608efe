"""Headline bandwidths and latencies for people and simple models, read off the measurements.

Bandwidth of an op = bytes / median seconds at its largest measured size (for collectives, at
the smallest world size); for `network_tcp` the round-trip latency is subtracted first.
Latency of an op = median seconds at its smallest measured size.
"""

from __future__ import annotations

from collections.abc import Sequence

from calibrate.types import Measurement

BANDWIDTH_OPS = (
    "host_copy", "host_read", "host_write", "device_copy", "h2d_pinned", "h2d_pageable",
    "d2h_pinned", "d2h_pageable", "network_tcp", "allreduce_gloo", "alltoall_gloo",
    "allreduce_nccl", "alltoall_nccl",
)


def _by_size(points: Sequence[Measurement]) -> list[Measurement]:
    worlds = [m.params.get("world_size", 0) for m in points]
    smallest_world = min(worlds) if worlds else 0
    chosen = [m for m in points if m.params.get("world_size", 0) == smallest_world]
    return sorted(chosen, key=lambda m: (m.params["bytes"], m.flagged))


def headlines(measurements: Sequence[Measurement]) -> tuple[dict[str, float], dict[str, float]]:
    """(bandwidths_bytes_per_s, latencies_s) for the bandwidth ops that were measured."""
    bandwidths: dict[str, float] = {}
    latencies: dict[str, float] = {}
    for op in BANDWIDTH_OPS:
        points = _by_size([m for m in measurements if m.op == op])
        if not points:
            continue
        latency = points[0].median_s
        latencies[op] = latency
        largest = points[-1]
        seconds = largest.median_s - (latency if op == "network_tcp" and len(points) > 1 else 0.0)
        if seconds > 0:
            bandwidths[op] = largest.params["bytes"] / seconds
    return bandwidths, latencies
