"""The synchronous training step of GPU trainer servers, phase by phase, all GPUs in lockstep:

1. input copy to each GPU, once its share of the batch has come from its readers if the job
   has any (unless prefetched: JobSpec.input_prefetch copies batch i+1 while batch i trains),
   bottom MLP, lookups of the GPU's tables; meanwhile host-side embedding workers (system
   memory) and remote-lookup clients (sparse PS) fetch theirs;
2. all-to-all of pooled embeddings;
3. interaction and top MLP, forward and backward;
4. at once: all-to-all of embedding gradients then embedding updates (on GPUs, hosts, sparse
   PS), and bottom MLP backward then the ring all-reduce of dense gradients (then across
   servers).
Phases end at barriers because the collectives between them need every GPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import simpy

from sim.cluster import DENSE_BYTES, Job, Proc
from sim.costs import OpCost
from sim.processes import host_embedding, reader, remote_lookup
from sim.processes.gpu_plan import BatchPlan, DenseCosts, batch_plan, dense_costs
from sim.topology import ServerResources, network_route


def gpus_used(job: Job) -> int:
    return job.spec.gpus_per_trainer or len(job.trainers[0].spec.gpus)


def rings(server: ServerResources, gpus: int) -> list[list[int]]:
    """Rings for the all-reduce, as NCCL builds them: as many rings of NVLink hops as the link
    counts hold, each spending one link of every hop it takes (the hybrid cube mesh of Big
    Basin holds three, the six links of each V100); without such a ring, one ring in index
    order over whatever path exists. Each ring also runs reversed (see _dense_sync)."""
    links = server.spec.nvlink_links
    if not links or gpus < 3:
        return [list(range(gpus))]
    spare = [list(row[:gpus]) for row in links[:gpus]]
    bound = min(sum(row) for row in spare) // 2  # a ring takes two links of every GPU
    return _most_rings(spare, gpus, bound, [RING_SEARCH_BUDGET]) or [list(range(gpus))]


RING_SEARCH_BUDGET = 20_000  # rings tried before settling for the best set found so far


def _most_rings(spare: list[list[int]], gpus: int, bound: int, budget: list[int]
                ) -> list[list[int]]:
    best: list[list[int]] = []
    for ring in _nvlink_rings(spare, gpus):
        budget[0] -= 1
        hops = list(zip(ring, ring[1:] + ring[:1], strict=True))
        for a, b in hops:
            spare[a][b] -= 1
            spare[b][a] -= 1
        rest = _most_rings(spare, gpus, bound - 1, budget) if bound > 1 else []
        for a, b in hops:
            spare[a][b] += 1
            spare[b][a] += 1
        if len(rest) + 1 > len(best):
            best = [ring, *rest]
        if len(best) >= bound or budget[0] <= 0:
            break
    return best


def _nvlink_rings(spare: list[list[int]], gpus: int) -> Iterator[list[int]]:
    for rest in itertools.permutations(range(1, gpus)):
        order = [0, *rest]
        if all(spare[a][b] > 0 for a, b in zip(order, order[1:] + order[:1], strict=True)):
            yield order


def gpu_trainers(job: Job) -> Proc:
    """Run iterations until the meter has its window; one worker for all trainer servers.

    With input prefetch, iteration i waits for its own inputs, then starts copying batch
    i+1's while it trains: without contention, an iteration takes max(copy, rest of step)."""
    env, gpus = job.env, gpus_used(job)
    first = job.trainers[0]
    dense = dense_costs(job, first, gpus)
    ring = rings(first, gpus)
    plans: dict[int, BatchPlan] = {}

    def plan(iteration: int) -> BatchPlan:
        index = iteration % job.demand.num_batches
        if index not in plans:
            plans[index] = batch_plan(job, first, gpus, index)
        return plans[index]

    if job.readers:  # each GPU takes its share of its server's batch from its own queue
        consumers = [(s, ("host", _host_socket(s, g))) for s in job.trainers for g in range(gpus)]
        queues = reader.start_feeds(job, consumers, job.spec.batch_size / gpus)
        job.inputs = {(s.name, g): queues[i * gpus + g]
                      for i, s in enumerate(job.trainers) for g in range(gpus)}
    prefetch = job.spec.input_prefetch
    copied = env.process(_copy_inputs(job, plan(0), gpus)) if prefetch else None
    iteration = 0
    while not job.meter.finished:
        start = env.now
        if copied is not None:
            yield copied
            copied = env.process(_copy_inputs(job, plan(iteration + 1), gpus))
        yield from _step(job, plan(iteration), dense, ring, gpus, copy=not prefetch)
        job.meter.done(0, job.spec.batch_size * len(job.trainers), start)
        iteration += 1


def _copy_inputs(job: Job, plan: BatchPlan, gpus: int) -> Proc:
    """A batch's dense features and its GPU tables' indices, host to every GPU at once."""
    start = job.env.now
    yield _all(job, [_copy_input(job, s, plan, g) for s in job.trainers for g in range(gpus)])
    for s in job.trainers:
        job.span(s.name, "prefetch", "input_copy", start)


def _copy_input(job: Job, server: ServerResources, plan: BatchPlan, g: int) -> Proc:
    """Host to GPU g, once the GPU's share of the batch is in host memory (from its readers,
    if the job has any)."""
    if job.inputs:
        yield job.inputs[(server.name, g)].get()
    yield from job.move(server.route(("host", _host_socket(server, g)), ("gpu", g)),
                        plan.input_bytes[g])


def _all(job: Job, procs: list[Proc]) -> simpy.Event:
    return simpy.AllOf(job.env, [job.env.process(p) for p in procs])


def _step(job: Job, plan: BatchPlan, dense: DenseCosts, ring: list[list[int]],
          gpus: int, *, copy: bool) -> Proc:
    phases = (
        ("forward", lambda s: _front(job, s, plan, dense, gpus, copy=copy)),
        ("all_to_all", lambda s: _a2a(job, s, plan, forward=True)),
        ("top_mlp", lambda s: [_kernel(job, s, g, dense.top[g]) for g in range(gpus)]),
    )
    for name, make in phases:
        start = job.env.now
        yield _all(job, [p for s in job.trainers for p in make(s)])
        for s in job.trainers:
            job.span(s.name, "step", name, start)
    start = job.env.now
    back = [p for s in job.trainers for p in _back(job, s, plan, dense, gpus)]
    yield _all(job, [*back, _dense_sync(job, dense, ring, gpus)])
    for s in job.trainers:
        job.span(s.name, "step", "backward", start)


def _kernel(job: Job, server: ServerResources, g: int, cost: OpCost) -> Proc:
    yield job.kernel(server, ("gpu", g), cost)


def _host_socket(server: ServerResources, g: int) -> int:
    return server.spec.pcie_switches[server.spec.gpu_switch(g)].socket


def _front(job: Job, server: ServerResources, plan: BatchPlan, dense: DenseCosts,
           gpus: int, *, copy: bool) -> list[Proc]:
    def one(g: int) -> Proc:
        if copy:
            yield from _copy_input(job, server, plan, g)
        yield job.kernel(server, ("gpu", g), dense.forward[g])
        yield job.kernel(server, ("gpu", g), plan.emb_fwd[g])

    procs = [one(g) for g in range(gpus)]
    procs += host_embedding.forward(job, server, plan)
    procs += remote_lookup.forward(job, server, plan)
    return procs


def _a2a(job: Job, server: ServerResources, plan: BatchPlan, *, forward: bool) -> list[Proc]:
    procs = []
    for (d, h), nbytes in sorted(plan.a2a.items()):
        src, dst = (d, h) if forward else (h, d)
        procs.append(job.move(server.route(("gpu", src), ("gpu", dst)), nbytes))
    return procs


def _back(job: Job, server: ServerResources, plan: BatchPlan, dense: DenseCosts,
          gpus: int) -> list[Proc]:
    def embeddings() -> Proc:
        yield _all(job, _a2a(job, server, plan, forward=False))
        yield _all(job, [_kernel(job, server, g, plan.emb_upd[g]) for g in range(gpus)])

    return [embeddings(), *host_embedding.backward(job, server, plan),
            *remote_lookup.backward(job, server, plan)]


def _dense_sync(job: Job, dense: DenseCosts, ring: list[list[int]], gpus: int) -> Proc:
    """Bottom MLP backward on every GPU, then the ring all-reduce inside and across servers."""
    yield _all(job, [_kernel(job, s, g, dense.backward[g]) for s in job.trainers
                     for g in range(gpus)])
    # Each ring carries an equal share, half of it each way round (NVLink is full duplex and
    # NCCL runs every ring in both directions); hops that rings share split their channel.
    share = dense.allreduce_bytes / len(ring) / 2
    hops: dict[tuple[int, int], float] = {}
    for order in ring if gpus > 1 else []:
        for a, b in zip(order, order[1:] + order[:1], strict=True):
            for hop in ((a, b), (b, a)):
                hops[hop] = hops.get(hop, 0.0) + share
    yield _all(job, [job.move(s.route(("gpu", a), ("gpu", b)), nbytes)
                     for s in job.trainers for (a, b), nbytes in sorted(hops.items())])
    servers = job.trainers
    if len(servers) > 1:
        n = len(servers)
        nbytes = 2.0 * (n - 1) / n * job.model.dense_parameters * DENSE_BYTES
        yield _all(job, [job.move(network_route(a, ("gpu", 0), b, ("gpu", 0)), nbytes)
                         for a, b in zip(servers, servers[1:] + servers[:1], strict=True)])
