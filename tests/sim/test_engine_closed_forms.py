"""The fluid engine against closed forms: bytes / bandwidth, equal sharing, sums, capacity."""

from __future__ import annotations

import math

import pytest
import simpy

from sim.engine import Channel, FluidNetwork


def _run(flows: list[tuple[float, list[tuple[Channel, float]], float]]) -> list[float]:
    """Start each (start time, demands, max_rate) flow; return each finish time."""
    env = simpy.Environment()
    net = FluidNetwork(env)
    done: list[float] = [math.nan] * len(flows)

    def one(i: int, start: float, demands: list[tuple[Channel, float]], cap: float):
        yield env.timeout(start)
        yield net.transfer(demands, max_rate=cap)
        done[i] = env.now

    for i, (start, demands, cap) in enumerate(flows):
        env.process(one(i, start, demands, cap))
    env.run()
    return done


def test_one_flow_alone_takes_bytes_over_bandwidth() -> None:
    link = Channel("link", 10e9, "network")
    assert _run([(0.0, [(link, 5e9)], math.inf)]) == [pytest.approx(0.5, rel=1e-12)]
    assert link.units == pytest.approx(5e9)


def test_two_equal_flows_each_take_twice_as_long() -> None:
    link = Channel("link", 1e9, "pcie")
    times = _run([(0.0, [(link, 1e9)], math.inf), (0.0, [(link, 1e9)], math.inf)])
    assert times == [pytest.approx(2.0, rel=1e-12)] * 2


def test_n_equal_flows_share_exactly() -> None:
    link = Channel("link", 4.0, "memory_bw")
    times = _run([(0.0, [(link, 2.0)], math.inf)] * 8)
    assert times == [pytest.approx(8 * 2.0 / 4.0, rel=1e-12)] * 8


def test_late_arrival_slows_the_first_flow_processor_sharing() -> None:
    # Flow A alone for 1 s moves half its bytes; then A and B share: A's other half takes 1 s.
    link = Channel("link", 1.0, "network")
    a, b = _run([(0.0, [(link, 2.0)], math.inf), (1.0, [(link, 2.0)], math.inf)])
    assert a == pytest.approx(3.0)
    assert b == pytest.approx(4.0)  # 1 unit shared until 3 s, then 1 unit alone


def test_a_flow_moves_at_its_tightest_channel() -> None:
    fast, slow = Channel("nvlink", 50.0, "nvlink"), Channel("pcie", 10.0, "pcie")
    assert _run([(0.0, [(fast, 100.0), (slow, 100.0)], math.inf)]) == [pytest.approx(10.0)]


def test_max_rate_caps_a_kernel_at_its_idle_duration() -> None:
    memory = Channel("mem", 100.0, "memory_bw")
    # A kernel of 2 s alone moving 10 units needs only 5 units/s: it takes its 2 s.
    assert _run([(0.0, [(memory, 10.0)], 0.5)]) == [pytest.approx(2.0)]


def test_sequential_steps_take_the_sum_of_their_costs() -> None:
    env = simpy.Environment()
    net = FluidNetwork(env)
    link, cores = Channel("l", 2.0, "network"), Channel("c", 4.0, "cpu")

    def step():
        yield net.transfer([(link, 3.0)])
        yield net.run_for(0.25, cores, units=4)
        yield net.transfer([(link, 1.0)])

    env.process(step())
    env.run()
    assert env.now == pytest.approx(1.5 + 0.25 + 0.5)
    assert cores.units == pytest.approx(1.0)  # four cores for 0.25 s


def test_utilization_never_exceeds_one() -> None:
    link = Channel("link", 3.0, "network")
    starts = [0.0, 0.1, 0.15, 0.7, 0.7, 1.3]
    times = _run([(s, [(link, 1.0 + i)], math.inf) for i, s in enumerate(starts)])
    span = max(times)
    assert link.units == pytest.approx(sum(1.0 + i for i in range(len(starts))))
    assert link.units / (link.capacity * span) <= 1.0 + 1e-12
    assert link.busy_s <= span + 1e-12


def test_bad_amounts_and_capacities_raise() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Channel("x", 0.0, "network")
    env = simpy.Environment()
    net = FluidNetwork(env)
    link = Channel("l", 1.0, "network")
    with pytest.raises(ValueError, match="l"):
        net.transfer([(link, -1.0)])
    with pytest.raises(ValueError, match="twice"):
        net.transfer([(link, 1.0), (link, 1.0)])


def test_zero_work_finishes_at_once() -> None:
    env = simpy.Environment()
    net = FluidNetwork(env)
    event = net.transfer([])
    assert event.triggered
