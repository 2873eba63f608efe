"""Routes inside a server against closed forms: a transfer alone takes bytes over its tightest
channel's rate, and traffic staged through host memory shares one bridge channel both ways."""

from __future__ import annotations

import pytest
import simpy

from sim.engine import FluidNetwork
from sim.presets import load_platform
from sim.topology import Endpoint, ServerResources

NBYTES = 64e6
GEN3_X16_BYTES_PER_S = 15.75e9  # the Zion preset's PCIe switch links (PCI-SIG, per direction)


def _times(platform: str, moves: list[tuple[Endpoint, Endpoint]]) -> list[float]:
    """Finish times of NBYTES moved along each (src, dst) route, all started at 0."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    server = ServerResources.build("s", "trainer", load_platform(platform))
    done: list[float] = []

    def one(src: Endpoint, dst: Endpoint):
        yield net.transfer(server.route(src, dst).demands(NBYTES))
        done.append(env.now)

    for src, dst in moves:
        env.process(one(src, dst))
    env.run()
    return done


def test_gpus_under_one_switch_talk_peer_to_peer_at_the_link_rate() -> None:
    [t] = _times("zion", [(("gpu", 0), ("gpu", 1))])
    assert t == pytest.approx(NBYTES / GEN3_X16_BYTES_PER_S)


def test_staged_traffic_reaches_its_share_of_the_uplink() -> None:
    efficiency = load_platform("zion").efficiency.host_staged_efficiency
    assert 0 < efficiency < 1
    [t] = _times("zion", [(("gpu", 0), ("gpu", 2))])
    assert t == pytest.approx(NBYTES / (efficiency * GEN3_X16_BYTES_PER_S))


def test_staged_traffic_both_ways_shares_the_bridge() -> None:
    # PCIe is full duplex, so host-to-GPU and GPU-to-host copies do not slow each other; GPU
    # traffic staged through host memory does (NCCL's shared-memory transport: 10.3 GB/s one
    # way, 3.2-3.9 GB/s each way when both run).
    [alone] = _times("zion", [(("gpu", 0), ("gpu", 2))])
    both = _times("zion", [(("gpu", 0), ("gpu", 2)), (("gpu", 2), ("gpu", 0))])
    assert both == pytest.approx([2 * alone, 2 * alone])
    copies = _times("zion", [(("host", 0), ("gpu", 0)), (("gpu", 0), ("host", 0))])
    assert copies == pytest.approx([NBYTES / GEN3_X16_BYTES_PER_S] * 2)


def test_nvlink_pairs_are_not_staged() -> None:
    spec = load_platform("big_basin")
    assert spec.nvlink is not None and spec.nvlink_links
    peer = next(b for b in range(1, len(spec.gpus)) if spec.nvlink_links[0][b])
    [t] = _times("big_basin", [(("gpu", 0), ("gpu", peer))])
    assert t == pytest.approx(NBYTES / (spec.nvlink_links[0][peer] * spec.nvlink.bw_bytes_per_s))
