"""Routes inside a server against closed forms: a transfer alone takes bytes over its tightest
channel's rate, traffic staged through host memory shares one bridge channel both ways, and a
buffer in host memory carries each byte twice (written, then read back out)."""

from __future__ import annotations

import dataclasses

import pytest
import simpy

from sim.engine import FluidNetwork
from sim.presets import load_platform
from sim.specs import ServerSpec
from sim.topology import Endpoint, ServerResources, network_route

NBYTES = 64e6
GEN3_X16_BYTES_PER_S = 15.75e9  # the Zion preset's PCIe switch links (PCI-SIG, per direction)
# Deliberately slow host memory, so that it and not a PCIe link (15.75 GB/s), the staging bridge
# (0.65 of that), the inter-socket link (62.4 GB/s) or a NIC (12.5 GB/s) sets every rate below:
# 1 GB/s per socket (a test value, not hardware).
SLOW_MEM_BYTES_PER_S = 1e9


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


def _slow_memory(platform: str) -> ServerSpec:
    spec = load_platform(platform)
    return dataclasses.replace(spec, sockets=tuple(
        dataclasses.replace(sock, mem_bw_bytes_per_s=SLOW_MEM_BYTES_PER_S)
        for sock in spec.sockets))


def _alone(servers: list[ServerResources], route_of) -> float:
    """Seconds NBYTES take alone along route_of(*servers), the servers' channels fresh."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    env.process((lambda: (yield net.transfer(route_of(*servers).demands(NBYTES))))())
    env.run()
    return env.now


def test_staged_traffic_is_written_into_and_read_out_of_the_receivers_memory() -> None:
    # Zion: GPU 0's switch hangs off socket 0, GPU 2's off socket 2, no NVLink. The bytes are
    # written into a buffer in socket 2's memory and read back out of it: 2 x NBYTES there.
    spec = _slow_memory("zion")
    sa, sb = (spec.pcie_switches[spec.gpu_switch(g)].socket for g in (0, 2))
    assert not spec.nvlink_links and sa != sb
    server = ServerResources.build("s", "trainer", spec)
    t = _alone([server], lambda s: s.route(("gpu", 0), ("gpu", 2)))
    assert t == pytest.approx(2 * NBYTES / SLOW_MEM_BYTES_PER_S)
    assert server.mem[sb].units == pytest.approx(2 * NBYTES)
    assert server.mem[sa].units == 0.0


def test_a_gpus_bytes_over_the_network_are_staged_in_host_memory_on_each_side() -> None:
    # Zion GPU 0 to another Zion's GPU 0, through each one's NIC 0 (on GPU 0's switch): no
    # GPUDirect, so each side writes the bytes into host memory and reads them back out.
    spec = _slow_memory("zion")
    nic_socket = spec.nics[0].socket
    a, b = (ServerResources.build(n, "trainer", spec) for n in "ab")
    t = _alone([a, b], lambda x, y: network_route(x, ("gpu", 0), y, ("gpu", 0)))
    assert t == pytest.approx(2 * NBYTES / SLOW_MEM_BYTES_PER_S)
    assert a.mem[nic_socket].units == pytest.approx(2 * NBYTES)
    assert b.mem[nic_socket].units == pytest.approx(2 * NBYTES)


def test_host_to_gpu_copies_read_host_memory_once() -> None:
    spec = _slow_memory("zion")
    server = ServerResources.build("s", "trainer", spec)
    socket = spec.pcie_switches[spec.gpu_switch(0)].socket
    t = _alone([server], lambda s: s.route(("host", socket), ("gpu", 0)))
    assert t == pytest.approx(NBYTES / SLOW_MEM_BYTES_PER_S)
    assert server.mem[socket].units == pytest.approx(NBYTES)


def test_a_copy_between_sockets_reads_one_memory_and_writes_the_other() -> None:
    spec = _slow_memory("dual_socket_cpu")
    server = ServerResources.build("s", "trainer", spec)
    _alone([server], lambda s: s.route(("host", 0), ("host", 1)))
    assert [m.units for m in server.mem] == pytest.approx([NBYTES, NBYTES])
