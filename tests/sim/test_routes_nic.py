"""Network routes against their closed forms: a message pays the network's one-way latency once,
and a NIC behind a PCIe switch reaches host memory over that switch's uplink, which it shares
with the switch's GPUs."""

from __future__ import annotations

import dataclasses

import pytest
import simpy

from sim.engine import FluidNetwork
from sim.errors import SpecError
from sim.presets import load_platform
from sim.specs import LinkSpec
from sim.topology import ServerResources, network_route

NBYTES = 64e6
# A deliberately slow switch uplink, so that it and not the NIC (25 Gbit/s = 3.125 GB/s) sets
# the rates below: 1 GB/s per direction (a test value, not hardware).
SLOW_UPLINK_BYTES_PER_S = 1e9


def test_a_message_between_cpu_servers_pays_the_nic_latency_once() -> None:
    spec = load_platform("dual_socket_cpu")
    [nic] = spec.nics
    assert nic.socket == 0 and nic.link.latency_s > 0
    a = ServerResources.build("a", "trainer", spec)
    b = ServerResources.build("b", "sparse_ps", spec)
    # Socket 0 to socket 0: no inter-socket link, no PCIe switch; only the wire's latency.
    assert network_route(a, ("host", 0), b, ("host", 0)).latency_s == nic.link.latency_s


def _big_basin(name: str, uplink_bytes_per_s: float | None = None) -> ServerResources:
    spec = load_platform("big_basin")
    assert spec.pcie_switches[0].nics == (0,) and spec.pcie_switches[0].gpus == (0, 1)
    if uplink_bytes_per_s is not None:
        slow = LinkSpec(uplink_bytes_per_s)
        spec = dataclasses.replace(spec, pcie_switches=tuple(
            dataclasses.replace(s, uplink=slow) for s in spec.pcie_switches))
    return ServerResources.build(name, "trainer", spec)


def test_a_nic_on_a_switch_crosses_its_uplink_in_the_direction_of_the_bytes() -> None:
    bb, peer = _big_basin("bb"), _big_basin("peer")
    out = network_route(bb, ("host", 0), peer, ("host", 0))
    # Out of bb's memory down to its NIC 0, in from peer's NIC 0 up to peer's memory.
    assert [c.name for c in out.channels if c.kind == "pcie"] == ["bb.pcie_sw0.up.h2d",
                                                                 "peer.pcie_sw0.up.d2h"]


def _finish_times(moves: list[str]) -> list[float]:
    """Finish times of NBYTES moved at once on a Big Basin with slow uplinks: "gpu0->host" (a
    copy down from GPU 0) or "nic0->host" (bytes arriving from a peer through NIC 0)."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    bb, peer = _big_basin("bb", SLOW_UPLINK_BYTES_PER_S), _big_basin("peer")
    routes = {"gpu0->host": bb.route(("gpu", 0), ("host", 0)),
              "nic0->host": network_route(peer, ("host", 0), bb, ("host", 0))}
    done = [0.0] * len(moves)

    def one(i: int, move: str):
        yield net.transfer(routes[move].demands(NBYTES))
        done[i] = env.now

    for i, move in enumerate(moves):
        env.process(one(i, move))
    env.run()
    return done


def test_a_receive_shares_the_switch_uplink_with_the_gpus_copies() -> None:
    nic_bytes_per_s = load_platform("big_basin").nics[0].link.bw_bytes_per_s  # 3.125 GB/s
    assert nic_bytes_per_s > SLOW_UPLINK_BYTES_PER_S
    alone = NBYTES / SLOW_UPLINK_BYTES_PER_S  # 64 ms, latencies (microseconds) aside
    [t] = _finish_times(["nic0->host"])
    assert t == pytest.approx(alone, rel=1e-3)
    # GPU 0's copy to host goes up the same switch's uplink: each gets half of it.
    both = _finish_times(["nic0->host", "gpu0->host"])
    assert both == pytest.approx([2 * alone, 2 * alone], rel=1e-3)


def test_a_nic_on_a_switch_of_another_socket_is_refused() -> None:
    spec = load_platform("big_basin")
    moved = dataclasses.replace(spec.pcie_switches[0], socket=1)
    with pytest.raises(SpecError, match=r"nics\[0\]\.socket"):
        dataclasses.replace(spec, pcie_switches=(moved, *spec.pcie_switches[1:]))
    twice = dataclasses.replace(spec.pcie_switches[1], nics=(0, 1))
    with pytest.raises(SpecError, match="each on one switch"):
        dataclasses.replace(spec, pcie_switches=(spec.pcie_switches[0], twice,
                                                 *spec.pcie_switches[2:]))
