"""Op specs for data movement: host and device memory, PCIe copies, collectives (gloo among
local processes, NCCL among local GPUs) and TCP to a peer."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from calibrate.context import Context
from calibrate.grid import Axis, Design
from calibrate.kernels.collectives import measure_collective
from calibrate.kernels.memory import DEVICE_OPS, HOST_OPS, PCIE_OPS, MemoryKernel
from calibrate.kernels.network import TcpKernel, TcpSender
from calibrate.opspec import KernelFactory, OpSpec
from calibrate.types import Kernel, Params

KIB = 1024  # bytes
MIB = 1024 * KIB  # bytes
GIB = 1024 * MIB  # bytes
NETWORK_OP = "network_tcp"  # the op that times TCP to a peer (or loopback)
LINEAR_TERMS: tuple[dict[str, float], ...] = ({}, {"bytes": 1})  # latency + bytes / bandwidth


def _size_design(ctx: Context, lo: float, hi: float, centre: float, sweep: int,
                 extra_axes: tuple[Axis, ...] = (), extra_centre: dict[str, float] | None = None
                 ) -> Design:
    return Design((Axis("bytes", lo, hi), *extra_axes), ({"bytes": centre, **(extra_centre or {})},),
                  sweep, max(4, ctx.settings.lhs_points // 3))


def _memory_maker(op: str, ctx: Context) -> KernelFactory:
    def make(params: dict[str, float], seed: int) -> Kernel:
        return MemoryKernel(op, params, ctx.device, ctx.flush_bytes)

    return make


def memory_specs(ctx: Context) -> list[OpSpec]:
    """host_copy/read/write always; device_copy and the PCIe copies on CUDA."""
    full = ctx.settings.name == "full"
    specs = []
    ops = HOST_OPS + ((DEVICE_OPS + PCIE_OPS) if ctx.on_gpu else ())
    for op in ops:
        hi = 4 * GIB if op in DEVICE_OPS else GIB
        rate = ctx.priors.pcie_bytes_per_s if op in PCIE_OPS else ctx.priors.stream_bytes_per_s
        design = _size_design(ctx, 4 * KIB, hi, MIB, 11 if full else 6)

        def estimate_s(p: Params, r: float = rate, copies: float = 1 + ("copy" in op)) -> float:
            return ctx.priors.call_overhead_s + copies * p["bytes"] / r

        specs.append(OpSpec(
            name=op, backend="torch", params=("bytes",), design=design, terms=LINEAR_TERMS,
            split_params=("bytes",), estimate_s=estimate_s,
            memory_bytes=lambda p: 2 * max(p["bytes"], ctx.flush_bytes),
            setup_s=lambda p: 2 * max(p["bytes"], ctx.flush_bytes) / ctx.priors.fill_bytes_per_s,
            shrink_for_memory=("bytes",), shrink_for_time=("bytes",),
            make=_memory_maker(op, ctx)))
    return specs


def _group_measurer(op: str, backend: str, ctx: Context) -> Callable[..., list[Any]]:
    def measure(points: Sequence[dict[str, float]]) -> list[Any]:
        by_world: dict[int, list[int]] = {}
        for i, p in enumerate(points):
            by_world.setdefault(int(p["world_size"]), []).append(i)
        results: list[Any] = [None] * len(points)
        for world, indices in sorted(by_world.items()):
            sizes = [points[i]["bytes"] for i in indices]
            for i, result in zip(indices, measure_collective(op, backend, world, sizes,
                                                             ctx.settings.policy), strict=True):
                results[i] = result
        return results

    return measure


def collective_specs(ctx: Context) -> list[OpSpec]:
    """allreduce/alltoall over gloo (2 and 4 local processes) and, with >= 2 GPUs, NCCL."""
    full = ctx.settings.name == "full"
    # More ranks than cores measures the scheduler, not the collective.
    gloo_worlds = tuple(w for w in ((2.0, 4.0) if full else (2.0,)) if w <= (os.cpu_count() or 1))
    groups: list[tuple[str, tuple[float, ...], float]] = [("gloo", gloo_worlds or (2.0,), 64 * MIB)]
    if ctx.on_gpu and ctx.gpu_count >= 2:
        worlds = tuple(float(w) for w in (2, 4, 8, 16) if w <= ctx.gpu_count)
        groups.append(("nccl", worlds, GIB))
    specs = []
    for backend, worlds, hi in groups:
        rate = ctx.priors.stream_bytes_per_s if backend == "nccl" else 2e9  # B/s, loopback guess
        for op in ("allreduce", "alltoall"):
            design = _size_design(ctx, 4 * KIB, hi, MIB, 7 if full else 4,
                                  (Axis("world_size", 2, worlds[-1], choices=worlds),),
                                  {"world_size": 2.0})

            def estimate_s(p: Params, r: float = rate) -> float:
                return 50e-6 * p["world_size"] + 2 * p["bytes"] / r  # ~50 us per hop (guess)

            specs.append(OpSpec(
                name=f"{op}_{backend}", backend=backend, params=("bytes", "world_size"),
                design=design, terms=({}, {"bytes": 1}, {"bytes": 1, "world_size": 1},
                                      {"world_size": 1}),
                split_params=("bytes",), estimate_s=estimate_s,
                memory_bytes=lambda p: 2 * p["bytes"] * p["world_size"],
                setup_s=lambda p: ctx.priors.process_group_setup_s / 6,  # ~6 points per group
                shrink_for_time=("bytes",),
                measure_group=_group_measurer(op, backend, ctx)))
    return specs


def network_spec(ctx: Context, sender: Callable[[], TcpSender]) -> OpSpec:
    """`network_tcp` over connections from `sender()`: one-way `bytes` plus a 1-byte
    acknowledgement."""
    full = ctx.settings.name == "full"
    design = Design((Axis("bytes", 1, 64 * MIB),), ({"bytes": 64 * KIB},), 10 if full else 5,
                    4, fixed={})

    def estimate_s(p: Params) -> float:
        return 60e-6 + p["bytes"] / ctx.priors.network_bytes_per_s  # 60 us loopback RTT guess

    return OpSpec(
        name=NETWORK_OP, backend="tcp", params=("bytes",), design=design, terms=LINEAR_TERMS,
        split_params=("bytes",), estimate_s=estimate_s, memory_bytes=lambda p: 2 * p["bytes"],
        shrink_for_time=("bytes",),
        make=lambda p, seed: TcpKernel(p, sender(), arena_bytes=int(max(p["bytes"], 4 * MIB))))
