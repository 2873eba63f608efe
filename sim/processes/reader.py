"""Readers: servers that read and preprocess input batches and ship them to trainers. Each
consumer of batches (a CPU trainer's Hogwild thread, or one GPU of a GPU trainer, which takes its
share of the server's batch) has a bounded queue that one or more readers fill, so a slow reader
starves its consumers and a slow consumer blocks its readers (a pipeline runs at its slowest
stage)."""

from __future__ import annotations

import simpy

from sim.cluster import DENSE_BYTES, Job, Proc, cpu_proc
from sim.costs import OpCost
from sim.topology import Endpoint, ServerResources, network_route

QUEUE_BATCHES = 2  # double buffering, as data loaders prefetch


def batch_bytes(job: Job, examples: float | None = None) -> float:
    """Bytes of `examples` examples (default: one batch) on the wire: dense features, indices
    and bag lengths. The indices are the demand's mean lookups per example, what the replayed
    batches hold (the model's pooling mean is only an upper bound once truncated, and a trace
    need not follow it)."""
    from sim.cluster import INDEX_BYTES, LENGTH_BYTES

    b = job.spec.batch_size if examples is None else examples
    model, demand = job.model, job.demand
    lookups = float(demand.lookups.sum(axis=1).mean()) / demand.batch_size
    return b * (model.dense_features * DENSE_BYTES + lookups * INDEX_BYTES
                + model.num_tables * LENGTH_BYTES)


def feeders(readers: int, consumers: int) -> list[list[int]]:
    """For each consumer, the readers that fill its queue: reader r serves consumer
    r % consumers, so that every reader works, and a consumer left without one (more consumers
    than readers) shares reader c % readers."""
    return [[r for r in range(readers) if r % consumers == c] or [c % readers]
            for c in range(consumers)]


def start_feeds(job: Job, consumers: list[tuple[ServerResources, Endpoint]],
                examples: float) -> list[simpy.Store]:
    """Start the readers' feed processes for `consumers` (server, host endpoint), each taking
    batches of `examples` examples; returns their queues, in order."""
    queues = [simpy.Store(job.env, capacity=QUEUE_BATCHES) for _ in consumers]
    nbytes = batch_bytes(job, examples)
    for c, ((server, end), readers) in enumerate(zip(consumers, feeders(len(job.readers),
                                                                        len(consumers)),
                                                     strict=True)):
        for k, r in enumerate(readers):
            job.env.process(feed(job, job.readers[r], server, end, queues[c], nbytes,
                                 spread=c + k * len(consumers)))
    return queues


def parse_cost(job: Job, reader: ServerResources, nbytes: float) -> OpCost:
    """Decoding a batch: two passes over its bytes at the memory rate one thread reaches."""
    proc = cpu_proc(reader, 0, 1)
    return OpCost(2.0 * nbytes / job.ps_costs.memory_bw_bytes_per_s(proc), 2.0 * nbytes)


def feed(job: Job, reader: ServerResources, trainer: ServerResources, end: Endpoint,
         queue: simpy.Store, nbytes: float, spread: int) -> Proc:
    """Produce batches of `nbytes` bytes for one consumer until the run ends."""
    cost = parse_cost(job, reader, nbytes)
    route = network_route(reader, ("host", 0), trainer, end, spread=spread)
    while not job.meter.finished:
        yield job.kernel(reader, ("host", spread % len(reader.cpu)), cost)
        yield from job.move(route, nbytes)
        yield queue.put(nbytes)
