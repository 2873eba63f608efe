"""Host-side embedding workers: tables in the GPU server's system memory (system and hybrid
placements). Lookups run on the socket's cores and memory; pooled embeddings cross PCIe to every
GPU, gradients come back the same way and the socket applies the update."""

from __future__ import annotations

from sim.cluster import Job, Proc
from sim.processes.gpu_plan import BatchPlan
from sim.topology import ServerResources


def _threads(server: ServerResources, socket: int) -> int:
    return server.spec.sockets[socket].cores  # the workers use the whole socket


def forward(job: Job, server: ServerResources, plan: BatchPlan) -> list[Proc]:
    def one(s: int) -> Proc:
        yield job.kernel(server, ("host", s), plan.host_fwd[s], _threads(server, s))
        copies = [job.move(server.route(("host", s), ("gpu", h)), nbytes)
                  for (src, h), nbytes in sorted(plan.host_out.items()) if src == s]
        yield job.env.all_of([job.env.process(c) for c in copies])

    return [one(s) for s in sorted(plan.host_fwd)]


def backward(job: Job, server: ServerResources, plan: BatchPlan) -> list[Proc]:
    def one(s: int) -> Proc:
        copies = [job.move(server.route(("gpu", h), ("host", s)), nbytes)
                  for (src, h), nbytes in sorted(plan.host_out.items()) if src == s]
        yield job.env.all_of([job.env.process(c) for c in copies])
        yield job.kernel(server, ("host", s), plan.host_upd[s], _threads(server, s))

    return [one(s) for s in sorted(plan.host_upd)]
