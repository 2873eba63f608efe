"""Busy fraction per role and resource class against closed forms: it averages over every link
of that class the role's servers have, the idle ones too, whether or not any traffic has crossed
them yet; a class a server has is reported even when it stayed idle; and the staging bridges of
GPU traffic through host memory are a class of their own, not PCIe links."""

from __future__ import annotations

import pytest
import simpy

from sim.engine import FluidNetwork
from sim.meter import Window
from sim.presets import load_platform
from sim.results import by_role
from sim.run import simulate
from sim.topology import Endpoint, ServerResources

NBYTES = 64e6


def _one_move(platform: str, src: Endpoint, dst: Endpoint) -> dict[str, float]:
    """A server that moves NBYTES once, src to dst: its busy fractions by class over the move."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    server = ServerResources.build("s", "trainer", load_platform(platform))
    env.process((lambda: (yield net.transfer(server.route(src, dst).demands(NBYTES))))())
    env.run()
    channels = server.channels()
    window = Window(0.0, env.now, 1, [env.now], [env.now], [1],
                    {c.name: c.units for c in channels}, {c.name: c.busy_s for c in channels})
    return by_role(channels, window, {"s": "trainer"})["trainer"]


def test_a_link_pair_used_one_way_is_half_busy() -> None:
    # Dual-socket CPU server: one inter-socket link pair, full duplex (a channel per direction).
    # A copy from socket 0's memory to socket 1 runs at the link's rate (62.4 GB/s, below the
    # 128 GB/s memory), so one direction is busy for the whole move and the other idle: 1/2.
    spec = load_platform("dual_socket_cpu")
    assert spec.inter_socket is not None and len(spec.sockets) == 2
    assert spec.inter_socket.bw_bytes_per_s < spec.sockets[0].mem_bw_bytes_per_s
    busy = _one_move("dual_socket_cpu", ("host", 0), ("host", 1))
    assert busy["inter_socket"] == pytest.approx(0.5)


def test_nvlink_busy_fraction_counts_every_link_of_the_server() -> None:
    # Big Basin: one copy GPU 0 -> a peer it has NVLink links to, alone on those links. Busy
    # capacity: the pair's links one way; capacity: every GPU's links, both ways.
    spec = load_platform("big_basin")
    assert spec.nvlink is not None
    peer = next(b for b in range(1, len(spec.gpus)) if spec.nvlink_links[0][b])
    total_links = sum(sum(row) for row in spec.nvlink_links)  # each direction of each pair
    busy = _one_move("big_basin", ("gpu", 0), ("gpu", peer))
    assert busy["nvlink"] == pytest.approx(spec.nvlink_links[0][peer] / total_links)


def test_every_role_reports_the_inter_socket_class_its_servers_have() -> None:
    # The CPU job's servers are dual-socket: each role reports an inter-socket busy fraction,
    # whether or not its traffic crossed sockets.
    result = simulate("test_suite_cpu", iterations=4)
    assert load_platform("dual_socket_cpu").inter_socket is not None
    for role, kinds in result.utilization.items():
        assert "inter_socket" in kinds, role
        assert 0.0 <= kinds["inter_socket"] <= 1.0


def test_staging_bridges_are_not_averaged_with_the_pcie_links() -> None:
    # Zion GPU 0 -> GPU 2 alone (different switches, no NVLink): it runs at the staging bridge's
    # rate r = e x C for the whole move, crossing four PCIe links (GPU 0's downlink and switch
    # 0's uplink up, switch 1's uplink and GPU 2's downlink down) and two bridges (switch 0's and
    # switch 1's). The PCIe links: an uplink per switch and a downlink per GPU, each direction,
    # all of rate C, so the PCIe class is 4 x r / (links x C) busy; the bridges, of rate r
    # each, 2 / switches.
    spec = load_platform("zion")
    rate = spec.pcie_switches[0].uplink.bw_bytes_per_s
    assert {s.uplink.bw_bytes_per_s for s in spec.pcie_switches} == {rate}
    assert {s.downlink.bw_bytes_per_s for s in spec.pcie_switches} == {rate}
    links = 2 * len(spec.pcie_switches) + 2 * len(spec.gpus)
    efficiency = spec.efficiency.host_staged_efficiency
    busy = _one_move("zion", ("gpu", 0), ("gpu", 2))
    assert busy["pcie"] == pytest.approx(4 * efficiency / links)
    assert busy["host_staged"] == pytest.approx(2 / len(spec.pcie_switches))


def test_a_runs_pcie_busy_fraction_is_the_mean_over_its_pcie_links() -> None:
    # M2 with tables in Zion's GPU memory: its all-to-all is staged through host memory. Every
    # Zion PCIe link has one rate, so the trainer's PCIe class is the plain mean of its links'
    # busy fractions, the staging bridges left out; the bottleneck is still the busiest resource
    # of any class, a bridge included.
    result = simulate("m2_gpu", platform="zion", iterations=4)
    trainer = {name: busy for name, busy in result.resource_utilization.items()
               if name.startswith("trainer")}
    links = {name: busy for name, busy in trainer.items()
             if ".pcie_" in name and not name.endswith(".staged")}
    bridges = {name: busy for name, busy in trainer.items() if name.endswith(".staged")}
    assert links and max(bridges.values()) > 0
    assert result.utilization["trainer"]["pcie"] == pytest.approx(
        sum(links.values()) / len(links))
    assert result.utilization["trainer"]["host_staged"] == pytest.approx(
        sum(bridges.values()) / len(bridges))
    assert result.bottleneck_utilization == max(result.resource_utilization.values())
