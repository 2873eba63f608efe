"""The synchronous training step of GPU trainer servers, phase by phase, all GPUs in lockstep:

0. if the job has readers, wait until every share of the batch has come from them: each GPU
   takes its share from its own queue, but its tables need the indices of every share (and
   host-side and remote lookups need them all too);
1. input copy to each GPU (unless prefetched: JobSpec.input_prefetch copies batch i+1, once it
   has come, while batch i trains), bottom MLP, lookups of the GPU's tables; meanwhile
   host-side embedding workers (system memory) and remote-lookup clients (sparse PS) fetch
   theirs;
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
from sim.meter import Laps
from sim.processes import host_embedding, reader, remote_lookup
from sim.processes.gpu_plan import BatchPlan, DenseCosts, Layout, batch_plan, dense_costs
from sim.topology import Endpoint, ServerResources, network_route


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
    layout = Layout(tuple(job.trainers), gpus)
    dense = dense_costs(job, first, gpus)
    ring = rings(first, gpus)
    plans: dict[int, BatchPlan] = {}

    def plan(iteration: int) -> BatchPlan:
        index = iteration % job.demand.num_batches
        if index not in plans:
            plans[index] = batch_plan(job, layout, index)
        return plans[index]

    if job.readers:  # each GPU takes its share of its server's batch from its own queue
        consumers = [(s, ("host", _host_socket(s, g))) for s in job.trainers for g in range(gpus)]
        queues = reader.start_feeds(job, consumers, job.spec.batch_size / gpus)
        job.inputs = {(s.name, g): queues[i * gpus + g]
                      for i, s in enumerate(job.trainers) for g in range(gpus)}
    prefetch = job.spec.input_prefetch
    copied = env.process(_copy_inputs(job, layout, plan(0))) if prefetch else None
    iteration = 0
    while not job.meter.finished:
        start = env.now
        laps = Laps(env)
        if copied is not None:
            yield copied
            copied = env.process(_copy_inputs(job, layout, plan(iteration + 1)))
        else:
            yield from _wait_for_inputs(job)
        job.phase_done(laps, "inputs", job.trainers, "step")
        yield from _step(job, layout, plan(iteration), dense, ring, laps, copy=not prefetch)
        job.meter.done(0, job.spec.batch_size * len(job.trainers), start, laps.seconds)
        iteration += 1


def _wait_for_inputs(job: Job) -> Proc:
    """Until every GPU's share of the batch has come from the readers (nothing to wait for
    without readers: the batch is in host memory)."""
    if job.inputs:
        yield simpy.AllOf(job.env, [queue.get() for _, queue in sorted(job.inputs.items())])


def _copy_inputs(job: Job, layout: Layout, plan: BatchPlan) -> Proc:
    """A batch's dense features and its GPU tables' indices, host to every GPU at once, once
    the batch has come."""
    start = job.env.now
    yield from _wait_for_inputs(job)
    if job.env.now > start:
        for s in job.trainers:
            job.span(s.name, "prefetch", "wait_for_readers", start)
    start = job.env.now
    yield _all(job, [_copy_input(job, layout, plan, d) for d in range(len(plan.input_bytes))])
    for s in job.trainers:
        job.span(s.name, "prefetch", "input_copy", start)


def _copy_input(job: Job, layout: Layout, plan: BatchPlan, d: int) -> Proc:
    """Host to GPU d; indices of other servers' batches for its tables come at the same time,
    over the network."""
    server, end = layout.gpu(d)
    own = job.move(server.route(("host", _host_socket(server, end[1])), end), plan.input_bytes[d])
    others = [job.move(layout.route(layout.socket(src * layout.sockets), (server, end), d), n)
              for src, n in sorted(plan.input_from.get(d, {}).items())]
    if others:
        yield _all(job, [own, *others])
    else:
        yield from own


def _all(job: Job, procs: list[Proc]) -> simpy.Event:
    return simpy.AllOf(job.env, [job.env.process(p) for p in procs])


def _step(job: Job, layout: Layout, plan: BatchPlan, dense: DenseCosts, ring: list[list[int]],
          laps: Laps, *, copy: bool) -> Proc:
    phases = (
        ("forward", lambda: _front(job, layout, plan, dense, copy=copy)),
        ("all_to_all", lambda: _a2a(job, layout, plan, forward=True)),
        ("top_mlp", lambda: [_kernel(job, s, ("gpu", g), dense.top[g]) for s in job.trainers
                             for g in range(layout.gpus)]),
    )
    for name, make in phases:
        yield _all(job, make())
        job.phase_done(laps, name, job.trainers, "step")
    yield _all(job, [*_back(job, layout, plan), _dense_sync(job, dense, ring, layout.gpus)])
    job.phase_done(laps, "backward", job.trainers, "step")


def _kernel(job: Job, server: ServerResources, end: Endpoint, cost: OpCost) -> Proc:
    yield job.kernel(server, end, cost)


def _host_socket(server: ServerResources, g: int) -> int:
    return server.spec.pcie_switches[server.spec.gpu_switch(g)].socket


def _front(job: Job, layout: Layout, plan: BatchPlan, dense: DenseCosts, *, copy: bool
           ) -> list[Proc]:
    def one(d: int) -> Proc:
        server, end = layout.gpu(d)
        if copy:
            yield from _copy_input(job, layout, plan, d)
        yield job.kernel(server, end, dense.forward[end[1]])
        yield job.kernel(server, end, plan.emb_fwd[d])

    procs: list[Proc] = []
    for i, server in enumerate(job.trainers):
        procs += [one(i * layout.gpus + g) for g in range(layout.gpus)]
        procs += host_embedding.forward(job, layout, plan, _sockets_of(layout, i))
        procs += remote_lookup.forward(job, server, plan)
    return procs


def _sockets_of(layout: Layout, server: int) -> range:
    return range(server * layout.sockets, (server + 1) * layout.sockets)


def _a2a(job: Job, layout: Layout, plan: BatchPlan, *, forward: bool) -> list[Proc]:
    procs = []
    for (d, h), nbytes in sorted(plan.a2a.items()):
        src, dst = (d, h) if forward else (h, d)
        procs.append(job.move(layout.route(layout.gpu(src), layout.gpu(dst), spread=dst), nbytes))
    return procs


def _back(job: Job, layout: Layout, plan: BatchPlan) -> list[Proc]:
    def embeddings() -> Proc:
        yield _all(job, _a2a(job, layout, plan, forward=False))
        yield _all(job, [_kernel(job, *layout.gpu(d), cost) for d, cost in enumerate(plan.emb_upd)])

    procs = [embeddings(), *host_embedding.backward(job, layout, plan, range(
        len(job.trainers) * layout.sockets))]
    for server in job.trainers:
        procs += remote_lookup.backward(job, server, plan)
    return procs


def _dense_sync(job: Job, dense: DenseCosts, ring: list[list[int]], gpus: int) -> Proc:
    """Bottom MLP backward on every GPU, then the ring all-reduce inside and across servers."""
    yield _all(job, [_kernel(job, s, ("gpu", g), dense.backward[g]) for s in job.trainers
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
        # Across servers, each GPU all-reduces its slice (1/gpus of the gradients, after the
        # rings above) with the GPUs of the same index, over its own NIC: NCCL's rings run one
        # per rail, so every NIC carries a share (one ring through GPU 0 loaded NIC 0 alone).
        n = len(servers)
        nbytes = 2.0 * (n - 1) / n * job.model.dense_parameters * DENSE_BYTES / gpus
        yield _all(job, [job.move(network_route(a, ("gpu", g), b, ("gpu", g), spread=g), nbytes)
                         for a, b in zip(servers, servers[1:] + servers[:1], strict=True)
                         for g in range(gpus)])
