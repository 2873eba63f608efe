"""Collectives among local processes (gloo on CPU) or local GPUs (NCCL), timed in lock step.

Every rank runs the same `time_kernel` loop with a clock that takes the maximum over ranks of
each sample, so all ranks see identical samples and make identical re-measure decisions without
extra messages. `bytes` is the size of each rank's buffer: the tensor all-reduced, or the whole
send buffer of an all-to-all (each peer receives bytes / world_size).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
import torch.distributed as dist

from calibrate.clock import WallClock
from calibrate.kernels.children import start_ignoring_sigint
from calibrate.kernels.memory import elements_for
from calibrate.measure import time_kernel
from calibrate.types import TimingPolicy

OPS = ("allreduce", "alltoall")
JOIN_TIMEOUT_S = 600.0  # seconds to wait for a worker group before giving up on it


class CollectiveError(RuntimeError):
    """A worker group failed or timed out; the collective ops are skipped, not the run."""


class MaxOverRanksClock:
    """Wall clock (synchronizing `sync` first) whose reading is the maximum over all ranks."""

    def __init__(self, sync: Callable[[], None], device: torch.device) -> None:
        self._wall = WallClock(sync)
        self._device = device

    def time(self, fn: Callable[[], None]) -> float:
        dist.barrier()
        elapsed = torch.tensor([self._wall.time(fn)], dtype=torch.float64, device=self._device)
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        return float(elapsed.item())


class CollectiveKernel:
    """One all-reduce or all-to-all of `bytes` per rank on an initialized process group.
    Raises ValueError for an unknown op."""

    def __init__(self, op: str, nbytes: float, device: torch.device) -> None:
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}, got {op!r}")
        world = dist.get_world_size()
        size = max(world, elements_for(nbytes) // world * world)
        self.op = op
        self.send = torch.rand(size, device=device)
        self.recv = torch.empty_like(self.send)

    def prepare(self, slots: int) -> None:
        pass

    def run(self, slot: int) -> None:
        if self.op == "allreduce":
            dist.all_reduce(self.send)
        else:
            dist.all_to_all_single(self.recv, self.send)

    def close(self) -> None:
        pass


def _no_sync() -> None:
    pass


def _worker(
    rank: int, world: int, backend: str, port: int, op: str,
    sizes: Sequence[float], policy: TimingPolicy, results: Any,
) -> None:
    sync: Callable[[], None] = _no_sync
    if backend == "nccl":
        torch.cuda.set_device(rank)
        device = torch.device("cuda", rank)
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(1)  # one core per rank, as a CPU trainer process would have
        device = torch.device("cpu")
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        clock = MaxOverRanksClock(sync, device)
        for nbytes in sizes:
            kernel = CollectiveKernel(op, nbytes, device)
            samples, summary, flagged, attempts, inner = time_kernel(kernel, clock, policy)
            if rank == 0:
                results.put((samples, asdict(summary), flagged, attempts, inner))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _collect(results: Any, workers: list[Any], count: int, what: str) -> list[Any]:
    """Read `count` results, failing fast when a worker dies instead of waiting the timeout."""
    collected: list[Any] = []
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while len(collected) < count:
        try:
            collected.append(results.get(timeout=1.0))
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers) or time.monotonic() > deadline:
                raise CollectiveError(f"{what}: a worker failed or timed out") from None
    return collected


def _stop(workers: list[Any], join_s: float) -> None:
    """Give `workers` `join_s` seconds to finish, then terminate those still running: every one
    before waiting for any. Terminated one by one, a rank outlived its peer long enough to see
    it gone and print "Process SpawnProcess-2:" over the parent's Ctrl-C line."""
    deadline = time.monotonic() + join_s
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    running = [worker for worker in workers if worker.is_alive()]
    for worker in running:
        worker.terminate()
    for worker in running:
        worker.join(timeout=5)


def measure_collective(
    op: str, backend: str, world: int, sizes: Sequence[float], policy: TimingPolicy
) -> list[tuple[list[float], dict[str, float], bool, int, int]]:
    """Time `op` at each of `sizes` (bytes per rank) on `world` fresh local processes.

    Returns one (samples_s, summary, flagged, attempts, calls_per_sample) per size.
    Raises CollectiveError if a worker fails or the group does not finish in JOIN_TIMEOUT_S.
    """
    context = mp.get_context("spawn")
    results = context.Queue()
    port = _free_port()
    workers = [
        context.Process(target=_worker, args=(rank, world, backend, port, op, list(sizes),
                                              policy, results), daemon=True)
        for rank in range(world)
    ]
    start_ignoring_sigint(workers)
    try:
        collected = _collect(results, workers, len(sizes), f"{op} over {backend} x{world}")
    except BaseException:  # Ctrl-C or a failed rank: the others would wait on it, so stop now
        _stop(workers, join_s=0.0)
        raise
    _stop(workers, join_s=30.0)
    if any(worker.exitcode != 0 for worker in workers):
        raise CollectiveError(f"{op} over {backend} x{world}: a worker exited with an error")
    return collected
