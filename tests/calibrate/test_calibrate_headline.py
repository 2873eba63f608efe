"""Headline latencies and bandwidths (calibrate/headline.py): read off the measurements, a
flagged (noisy) point left out of the latency when a clean one is there."""

from __future__ import annotations

import pytest

from calibrate.headline import headlines
from calibrate.types import Measurement


def point(op: str, size: float, median_s: float, flagged: bool = False) -> Measurement:
    return Measurement(op, "tcp", {"bytes": size}, (median_s,), median_s, 0.0, flagged, False)


def test_a_flagged_smallest_size_is_not_the_tcp_latency() -> None:
    # As in a fresh profile: a noisy 1-byte point at 1.54 ms, clean 4- and 91-byte ones at
    # 0.18-0.19 ms; the latency came out 1.54 ms and was subtracted from the bandwidth's time.
    measured = [point("network_tcp", 1, 1.54e-3, flagged=True), point("network_tcp", 4, 0.18e-3),
                point("network_tcp", 91, 0.19e-3), point("network_tcp", 2**20, 1.18e-3)]
    bandwidths, latencies = headlines(measured)
    assert latencies["network_tcp"] == pytest.approx(0.18e-3)
    assert bandwidths["network_tcp"] == pytest.approx(2**20 / (1.18e-3 - 0.18e-3))


def test_every_size_flagged_falls_back_to_the_smallest() -> None:
    measured = [point("host_copy", 2**12, 2e-6, flagged=True),
                point("host_copy", 2**30, 0.1, flagged=True)]
    bandwidths, latencies = headlines(measured)
    assert latencies["host_copy"] == 2e-6
    assert bandwidths["host_copy"] == pytest.approx(2**30 / 0.1)


def test_tcp_with_one_clean_size_subtracts_nothing_from_it() -> None:
    # The only clean point is also the largest: its own time is not subtracted from itself.
    measured = [point("network_tcp", 1, 1e-3, flagged=True), point("network_tcp", 2**20, 2e-3)]
    bandwidths, latencies = headlines(measured)
    assert latencies["network_tcp"] == 2e-3
    assert bandwidths["network_tcp"] == pytest.approx(2**20 / 2e-3)
