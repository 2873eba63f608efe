"""CPU trainers: each server runs Hogwild threads that share its model without locks. A thread's
iteration: take a batch (from a reader, if the job has readers), send the indices to the sparse
PS, wait for the pooled embeddings, run the MLPs forward and backward on its cores, send the
embedding gradients to the sparse PS, and every k iterations of the trainer, synchronize the
dense weights with the dense PS by EASGD."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import simpy

from sim.cluster import Job, Proc, cpu_proc, dense_update_cost, mlp_cost
from sim.costs import OpCost, feature_interaction
from sim.meter import Laps
from sim.processes import dense_ps, reader, sparse_ps
from sim.processes.embedding_work import group_costs, index_bytes, shard_work
from sim.processes.sparse_ps import Share
from sim.specs import JobSpec
from sim.topology import ServerResources


@dataclass
class CpuBatchPlan:
    """Per batch: bytes to and from each sparse PS, keyed (ps, socket) by the socket whose
    memory holds the tables they are for (sparse_ps.Share); their kernels; local tables'
    kernels."""

    batch_index: int
    request: dict[Share, float] = field(default_factory=dict)
    reply: dict[Share, float] = field(default_factory=dict)
    ps_fwd: dict[tuple[int, int], OpCost] = field(default_factory=dict)
    ps_upd: dict[tuple[int, int], OpCost] = field(default_factory=dict)
    ps_threads: dict[tuple[int, int], int] = field(default_factory=dict)
    local: list[int] = field(default_factory=list)  # tables in the trainer's own memory
    # (forward, update) of the local tables on a thread of each socket, made when first needed
    local_costs: dict[int, tuple[OpCost, OpCost]] = field(default_factory=dict)


def cpu_batch_plan(job: Job, batch_index: int) -> CpuBatchPlan:
    plan = CpuBatchPlan(batch_index)
    model, demand = job.model, job.demand
    works: dict[tuple[int, int], list] = {}
    for t, (table, where) in enumerate(zip(model.tables, job.placement.tables, strict=True)):
        if where.location != "remote":
            plan.local.append(t)
            continue
        key = (where.devices[0], where.ps_socket)
        works.setdefault(key, []).append(shard_work(model, demand, batch_index, t))
        plan.request[key] = plan.request.get(key, 0.0) + index_bytes(demand, batch_index, t)
        plan.reply[key] = plan.reply.get(key, 0.0) + (demand.batch_size * table.dim
                                                      * model.bytes_per_element)
    for (p, s), group in works.items():
        proc = sparse_ps.ps_socket_proc(job, p, s)
        plan.ps_threads[(p, s)] = proc.threads
        plan.ps_fwd[(p, s)], plan.ps_upd[(p, s)] = group_costs(job.ps_costs, proc, group,
                                                               model.optimizer)
    return plan


def threads_per_worker(job: Job, server: ServerResources) -> int:
    """Cores each Hogwild thread's kernels use: the server's cores split among the threads, and
    never more than one socket's, since a thread's kernels run on its socket (its Processor) and
    its intra-op threads share that socket's cores; beyond one socket the kernel demand would
    overrun the socket's core channel."""
    per_thread = server.spec.cores // job.spec.hogwild_threads
    return max(1, min(per_thread, min(s.cores for s in server.spec.sockets)))


def dense_costs(job: Job, server: ServerResources, socket: int) -> tuple[OpCost, OpCost]:
    """(forward, backward) of the MLPs and interaction for one thread's batch."""
    model, costs = job.model, job.trainer_costs
    proc = cpu_proc(server, socket, threads_per_worker(job, server))
    b = job.spec.batch_size
    forward = (mlp_cost(costs, proc, b, model.bottom_layer_widths, backward=False)
               + feature_interaction(costs, proc, model, b, backward=False)
               + mlp_cost(costs, proc, b, model.top_layer_widths, backward=False)
               + costs.loss(proc, b))
    backward = (mlp_cost(costs, proc, b, model.top_layer_widths, backward=True)
                + feature_interaction(costs, proc, model, b, backward=True)
                + mlp_cost(costs, proc, b, model.bottom_layer_widths, backward=True,
                           input_is_data=True)
                + dense_update_cost(costs, proc, model))
    return forward, backward


@dataclass(eq=False)
class SyncTurns:
    """When a trainer server's turn to sync with the dense PS comes: every `period` iterations
    of its Hogwild threads together, whichever thread ends the period. The threads share the
    model, so the server syncs once per period, not each thread once per period. Trainers
    start at different points of the period (`count`) so that they are not in phase."""

    period: int
    count: int = 0

    def take(self) -> bool:
        """One iteration of the server ended: is it this one's turn to sync?"""
        self.count += 1
        return self.count % self.period == 0


def sync_rounds(spec: JobSpec) -> int:
    """Iterations of each Hogwild thread between two EASGD syncs of its trainer (the server
    syncs once per `easgd_period` iterations of all its threads); 0 without dense PS."""
    if not spec.dense_ps:
        return 0
    return math.ceil(spec.easgd_period / spec.hogwild_threads)


@dataclass(eq=False)
class Worker:
    """One Hogwild thread of one trainer server."""

    job: Job
    server: ServerResources
    index: int  # the meter's worker number
    thread: int  # Hogwild thread on its server
    plans: dict[int, CpuBatchPlan]
    turns: SyncTurns
    queue: simpy.Store | None = None

    @property
    def socket(self) -> int:
        return self.thread % len(self.server.cpu)

    def run(self) -> Proc:
        job, end = self.job, ("host", self.socket)
        threads = threads_per_worker(job, self.server)
        forward, backward = dense_costs(job, self.server, self.socket)
        n = 0
        servers, lane = [self.server], f"hogwild{self.thread}"
        while not job.meter.finished:
            start = job.env.now
            laps = Laps(job.env)
            if self.queue is not None:
                yield self.queue.get()
            job.phase_done(laps, "inputs", servers, lane)
            plan = self._plan(n)
            yield from self._lookups(plan, end, threads)
            job.phase_done(laps, "lookups", servers, lane)
            yield job.kernel(self.server, end, forward, threads)
            job.phase_done(laps, "mlp_forward", servers, lane)
            yield job.kernel(self.server, end, backward, threads)
            job.phase_done(laps, "mlp_backward", servers, lane)
            yield from self._updates(plan, end, threads)
            job.phase_done(laps, "updates", servers, lane)
            if self.turns.take():
                yield from dense_ps.easgd(job, self.server, end, spread=self.index)
            job.phase_done(laps, "easgd", servers, lane)
            job.meter.done(self.index, job.spec.batch_size, start, laps.seconds)
            n += 1

    def _plan(self, n: int) -> CpuBatchPlan:
        # Threads start on different batches of the demand so that they do not move in step.
        index = (n + self.index) % self.job.demand.num_batches
        if index not in self.plans:
            self.plans[index] = cpu_batch_plan(self.job, index)
        return self.plans[index]

    def _local_costs(self, plan: CpuBatchPlan, threads: int) -> tuple[OpCost, OpCost]:
        """The local tables' kernels for the plan's batch (every thread of a job uses the same
        number of cores, so a socket's costs serve all its threads)."""
        costs = plan.local_costs.get(self.socket)
        if costs is None:
            job = self.job
            proc = cpu_proc(self.server, self.socket, threads)
            works = [shard_work(job.model, job.demand, plan.batch_index, t) for t in plan.local]
            costs = group_costs(job.trainer_costs, proc, works, job.model.optimizer)
            plan.local_costs[self.socket] = costs
        return costs

    def _lookups(self, plan: CpuBatchPlan, end: tuple[str, int], threads: int) -> Proc:
        job = self.job
        if plan.local:
            yield job.kernel(self.server, end, self._local_costs(plan, threads)[0], threads)
        if plan.request:
            yield from sparse_ps.exchange(job, self.server, end, plan.request, to_ps=True)
            yield from sparse_ps.serve(job, plan.ps_fwd, plan.ps_threads)
            yield from sparse_ps.exchange(job, self.server, end, plan.reply, to_ps=False)

    def _updates(self, plan: CpuBatchPlan, end: tuple[str, int], threads: int) -> Proc:
        job = self.job
        if plan.local:
            yield job.kernel(self.server, end, self._local_costs(plan, threads)[1], threads)
        if plan.request:
            yield from sparse_ps.exchange(job, self.server, end, plan.reply, to_ps=True)
            yield from sparse_ps.serve(job, plan.ps_upd, plan.ps_threads)


def start(job: Job) -> None:
    """Start every trainer thread, and the readers that feed them."""
    plans: dict[int, CpuBatchPlan] = {}
    threads, period = job.spec.hogwild_threads, job.spec.easgd_period
    # Trainer i starts i*threads iterations into the period, as its first threads' batches do.
    turns = [SyncTurns(period, (i * threads - 1) % period) for i in range(len(job.trainers))]
    workers = [Worker(job, server, i * threads + thread, thread, plans, turns[i])
               for i, server in enumerate(job.trainers) for thread in range(threads)]
    if job.readers:
        consumers = [(w.server, ("host", w.socket)) for w in workers]
        for worker, queue in zip(workers, reader.start_feeds(job, consumers,
                                                             job.spec.batch_size), strict=True):
            worker.queue = queue
    for worker in workers:
        job.env.process(worker.run())
