"""Headline bandwidths and latencies for people and simple models, read off the measurements.

Bandwidth of an op = bytes / median seconds at its largest measured size (for collectives, at
the smallest world size); for `network_tcp` the round-trip latency is subtracted first.
Latency of an op = median seconds at its smallest measured size whose timing is not flagged as
noisy, or at its smallest size when every size is flagged. A flagged sample's median can be
several times the others' (a fresh profile's flagged 1-byte `network_tcp` point took 1.54 ms
while its unflagged 4- and 91-byte points took 0.18-0.19 ms), and `network_tcp`'s bandwidth
subtracts that latency.
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


def _latency_point(by_size: Sequence[Measurement]) -> Measurement:
    """The smallest size's point that is not flagged; the smallest when all are."""
    return next((m for m in by_size if not m.flagged), by_size[0])


def headlines(measurements: Sequence[Measurement]) -> tuple[dict[str, float], dict[str, float]]:
    """(bandwidths_bytes_per_s, latencies_s) for the bandwidth ops that were measured."""
    bandwidths: dict[str, float] = {}
    latencies: dict[str, float] = {}
    for op in BANDWIDTH_OPS:
        points = _by_size([m for m in measurements if m.op == op])
        if not points:
            continue
        shortest = _latency_point(points)
        latencies[op] = shortest.median_s
        largest = points[-1]
        subtract = op == "network_tcp" and largest is not shortest
        seconds = largest.median_s - (shortest.median_s if subtract else 0.0)
        if seconds > 0:
            bandwidths[op] = largest.params["bytes"] / seconds
    return bandwidths, latencies
