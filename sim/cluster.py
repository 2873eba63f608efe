"""The simulated job: its servers' channels, its cost models, and the primitive operations the
role processes are written in (run a kernel, move bytes along a route, a bundle of both)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.costs import CostModel, OpCost, Processor, base
from sim.demand import Demand
from sim.engine import Channel, FluidNetwork, Timeline
from sim.meter import Laps, Meter
from sim.placement import Placement
from sim.specs import JobSpec, ModelSpec
from sim.topology import Endpoint, Route, ServerResources

Proc = Generator[simpy.Event, Any, None]
INDEX_BYTES = 8  # int64 indices, as DLRM and FBGEMM feed them
LENGTH_BYTES = 4  # int32 bag lengths (offsets)
DENSE_BYTES = base.DENSE_BYTES  # fp32 dense features and MLP parameters (the paper's setups)


@dataclass(eq=False)
class Job:
    """Everything a role process needs: clock, network, servers, costs, demand and the meter."""

    env: simpy.Environment
    net: FluidNetwork
    timeline: Timeline
    model: ModelSpec
    spec: JobSpec
    placement: Placement
    demand: Demand
    trainer_costs: CostModel
    ps_costs: CostModel
    meter: Meter
    trainers: list[ServerResources] = field(default_factory=list)
    sparse_ps: list[ServerResources] = field(default_factory=list)
    dense_ps: list[ServerResources] = field(default_factory=list)
    readers: list[ServerResources] = field(default_factory=list)
    # The queues readers fill for a GPU trainer, by (server name, GPU); empty without readers.
    inputs: dict[tuple[str, int], simpy.Store] = field(default_factory=dict)
    # How the run was asked for beside its spec (seed, iterations, trace, profile...), reported
    # with its result.
    run_options: dict[str, Any] = field(default_factory=dict)

    @property
    def servers(self) -> list[ServerResources]:
        return [*self.trainers, *self.sparse_ps, *self.dense_ps, *self.readers]

    def channels(self) -> list[Channel]:
        return [c for s in self.servers for c in s.channels()]

    # Primitive operations ----------------------------------------------------------------
    def kernel(self, server: ServerResources, where: Endpoint, cost: OpCost,
               threads: int = 1) -> simpy.Event:
        """Run one kernel (its seconds alone, its memory bytes shared) on a GPU or a socket."""
        return self.net.transfer(self.kernel_demands(server, where, cost, threads),
                                 max_rate=_rate(cost.seconds))

    @staticmethod
    def kernel_demands(server: ServerResources, where: Endpoint, cost: OpCost,
                       threads: int = 1) -> list[tuple[Channel, float]]:
        kind, index = where
        if cost.seconds <= 0:
            return []
        if kind == "gpu":
            return [(server.gpu[index], cost.seconds), (server.hbm[index], cost.mem_bytes)]
        return [(server.cpu[index], cost.seconds * threads), (server.mem[index], cost.mem_bytes)]

    def move(self, route: Route, nbytes: float) -> Proc:
        """Move bytes along a route: its latency, then a flow over all its channels."""
        if nbytes <= 0:
            return
        if route.latency_s > 0:
            yield self.env.timeout(route.latency_s)
        yield self.net.transfer(route.demands(nbytes))

    def bundle(self, parts: Iterable[tuple[list[tuple[Channel, float]], float]],
               latency_s: float = 0.0) -> Proc:
        """Parts that finish together (a fan-out to several servers, or their kernels):
        each part is (demands, seconds alone); the bundle never outruns its slowest part."""
        amounts: dict[int, tuple[Channel, float]] = {}
        slowest = 0.0
        for demands, seconds in parts:
            slowest = max(slowest, seconds)
            for channel, amount in demands:
                old = amounts.get(id(channel), (channel, 0.0))[1]
                amounts[id(channel)] = (channel, old + amount)
        if not amounts:
            return
        if latency_s > 0:
            yield self.env.timeout(latency_s)
        yield self.net.transfer(list(amounts.values()), max_rate=_rate(slowest))

    def span(self, server: str, lane: str, name: str, start_s: float) -> None:
        self.timeline.span(server, lane, name, start_s, self.env.now)

    def phase_done(self, laps: Laps, name: str, servers: Iterable[ServerResources],
                   lane: str) -> None:
        """End phase `name` of a worker's iteration: its seconds into `laps`, and a span on
        each server's timeline lane unless it took no time."""
        start = laps.end(name)
        if self.env.now > start:
            for server in servers:
                self.span(server.name, lane, name, start)


def _rate(seconds: float) -> float:
    return 1.0 / seconds if seconds > 0 else math.inf


def cpu_proc(server: ServerResources, socket: int, threads: int) -> Processor:
    spec = server.spec.sockets[socket]
    return Processor("cpu", spec, threads=max(1, min(threads, spec.cores)))


def gpu_proc(server: ServerResources, gpu: int) -> Processor:
    return Processor("gpu", server.spec.gpus[gpu])


def mlp_cost(costs: CostModel, proc: Processor, batch: int, widths: tuple[int, ...],
             *, backward: bool, input_is_data: bool = False) -> OpCost:
    """All layers of one MLP, forward or backward. When the MLP's input is data (the bottom
    MLP's dense features), its first layer's backward computes no input gradient."""
    total = OpCost(0.0)
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        input_grad = not (input_is_data and i == 0)
        total = total + costs.mlp(proc, batch, a, b, backward=backward, input_grad=input_grad)
    return total


def dense_update_cost(costs: CostModel, proc: Processor, model: ModelSpec) -> OpCost:
    """The optimizer step of the MLPs' parameters: a weight and a bias per layer."""
    layers = len(model.bottom_layer_widths) + len(model.top_layer_widths) - 2
    return costs.dense_update(proc, 2 * layers, model.dense_parameters)
