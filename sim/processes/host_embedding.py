"""Host-side embedding workers: tables in the GPU servers' system memory (system and hybrid
placements). Lookups run on the socket's cores and memory; pooled embeddings cross PCIe to every
GPU (and the network to other servers' GPUs), gradients come back the same way and the socket
applies the update. Sockets are numbered over the job's servers (gpu_plan.Layout)."""

from __future__ import annotations

from collections.abc import Iterable

from sim.cluster import Job, Proc
from sim.processes.gpu_plan import BatchPlan, Layout


def _threads(layout: Layout, k: int) -> int:
    server, (_, s) = layout.socket(k)
    return server.spec.sockets[s].cores  # the workers use the whole socket


def forward(job: Job, layout: Layout, plan: BatchPlan, sockets: Iterable[int]) -> list[Proc]:
    def one(k: int) -> Proc:
        here = layout.socket(k)
        arriving = [job.move(layout.route(layout.socket(src * layout.sockets), here, k), n)
                    for src, n in sorted(plan.host_in.get(k, {}).items())]
        if arriving:  # other servers' indices for this socket's tables
            yield job.env.all_of([job.env.process(c) for c in arriving])
        yield job.kernel(here[0], here[1], plan.host_fwd[k], _threads(layout, k))
        copies = [job.move(layout.route(here, layout.gpu(h), h), nbytes)
                  for h, nbytes in sorted(plan.host_out[k].items())]
        yield job.env.all_of([job.env.process(c) for c in copies])

    return [one(k) for k in sorted(plan.host_fwd) if k in sockets]


def backward(job: Job, layout: Layout, plan: BatchPlan, sockets: Iterable[int]) -> list[Proc]:
    def one(k: int) -> Proc:
        here = layout.socket(k)
        copies = [job.move(layout.route(layout.gpu(h), here, h), nbytes)
                  for h, nbytes in sorted(plan.host_out[k].items())]
        yield job.env.all_of([job.env.process(c) for c in copies])
        yield job.kernel(here[0], here[1], plan.host_upd[k], _threads(layout, k))

    return [one(k) for k in sorted(plan.host_upd) if k in sockets]
