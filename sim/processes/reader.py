"""Readers: servers that read and preprocess input batches and ship them to trainers. Each
reader feeds its trainer threads through a bounded queue, so a slow reader starves its
trainers and a slow trainer blocks its reader (a pipeline runs at its slowest stage)."""

from __future__ import annotations

import simpy

from sim.cluster import DENSE_BYTES, Job, Proc, cpu_proc
from sim.costs import OpCost
from sim.topology import Endpoint, ServerResources, network_route

QUEUE_BATCHES = 2  # double buffering, as data loaders prefetch


def batch_bytes(job: Job) -> float:
    """Bytes of one batch on the wire: dense features, indices and bag lengths."""
    from sim.cluster import INDEX_BYTES, LENGTH_BYTES

    b, model = job.spec.batch_size, job.model
    return b * (model.dense_features * DENSE_BYTES + model.mean_lookups_per_example * INDEX_BYTES
                + model.num_tables * LENGTH_BYTES)


def parse_cost(job: Job, reader: ServerResources, nbytes: float) -> OpCost:
    """Decoding a batch: two passes over its bytes at the memory rate one thread reaches."""
    proc = cpu_proc(reader, 0, 1)
    return OpCost(2.0 * nbytes / job.ps_costs.memory_bw_bytes_per_s(proc), 2.0 * nbytes)


def feed(job: Job, reader: ServerResources, trainer: ServerResources, end: Endpoint,
         queue: simpy.Store, spread: int) -> Proc:
    """Produce batches for one trainer thread until the run ends."""
    nbytes = batch_bytes(job)
    cost = parse_cost(job, reader, nbytes)
    route = network_route(reader, ("host", 0), trainer, end, spread=spread)
    while not job.meter.finished:
        yield job.kernel(reader, ("host", spread % len(reader.cpu)), cost)
        yield from job.move(route, nbytes)
        yield queue.put(nbytes)
