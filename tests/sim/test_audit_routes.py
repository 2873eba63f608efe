"""Routes across servers against closed forms: traffic between a NIC and host memory on another
socket crosses the inter-socket link in the direction the bytes go, and that link is full
duplex like the NICs and PCIe links (one channel per direction)."""

from __future__ import annotations

import dataclasses

import pytest
import simpy

from sim.engine import FluidNetwork
from sim.presets import load_platform
from sim.specs import LinkSpec
from sim.topology import Endpoint, ServerResources, network_route

NBYTES = 64e6
# A deliberately slow inter-socket link, so that it and not the 25 Gbit/s NIC (3.125 GB/s) or
# memory (128 GB/s) sets every rate below: 1 GB/s per direction (test value, not hardware).
SLOW_UPI_BYTES_PER_S = 1e9


def _servers() -> tuple[ServerResources, ServerResources]:
    """Two dual-socket CPU servers (one NIC, on socket 0) with the slow inter-socket link."""
    spec = load_platform("dual_socket_cpu")
    assert len(spec.sockets) == 2 and [nic.socket for nic in spec.nics] == [0]
    spec = dataclasses.replace(spec, inter_socket=LinkSpec(SLOW_UPI_BYTES_PER_S))
    return ServerResources.build("a", "sparse_ps", spec), ServerResources.build("b", "trainer",
                                                                                   spec)


def _times(moves: list[tuple[str, Endpoint, Endpoint]]) -> list[float]:
    """Finish times of NBYTES sent along each ("ab" or "ba", src, dst), all started at 0, on
    fresh servers (a channel serves one network)."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    servers = dict(zip("ab", _servers(), strict=True))
    done = [0.0] * len(moves)

    def one(i: int, way: str, s: Endpoint, d: Endpoint):
        route = network_route(servers[way[0]], s, servers[way[1]], d)
        yield net.transfer(route.demands(NBYTES))
        done[i] = env.now

    for i, move in enumerate(moves):
        env.process(one(i, *move))
    env.run()
    return done


def test_a_receive_crosses_the_inter_socket_link_from_the_nic_toward_memory() -> None:
    a, b = _servers()
    route = network_route(b, ("host", 0), a, ("host", 1))
    crossed = [c.name for c in route.channels if c.kind == "inter_socket"]
    assert crossed == ["a.upi0-1"]  # the NIC sits on socket 0, the memory on socket 1
    route = network_route(a, ("host", 1), b, ("host", 0))
    assert [c.name for c in route.channels if c.kind == "inter_socket"] == ["a.upi1-0"]


def test_send_and_receive_on_a_far_socket_do_not_share_one_direction() -> None:
    alone = NBYTES / SLOW_UPI_BYTES_PER_S  # 64 ms: the slow link alone sets the rate
    [t] = _times([("ba", ("host", 0), ("host", 1))])
    assert t == pytest.approx(alone)
    # Server a receives into socket 1 while it sends out of socket 1: the bytes cross the
    # inter-socket link in opposite directions, so neither slows the other.
    both = _times([("ba", ("host", 0), ("host", 1)), ("ab", ("host", 1), ("host", 0))])
    assert both == pytest.approx([alone, alone])
    # Two receives into socket 1 do share the one direction: twice as long each.
    two = _times([("ba", ("host", 0), ("host", 1)), ("ba", ("host", 1), ("host", 1))])
    assert two == pytest.approx([2 * alone, 2 * alone])
