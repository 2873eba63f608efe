"""Remote-lookup clients on a GPU trainer server: tables live on sparse parameter servers. The
client sends the indices, the PS pool, the client copies the replies (a core per reply, at the
memory bandwidth one thread reaches) and stages them across PCIe to every GPU; gradients travel
back the same way and the PS apply them."""

from __future__ import annotations

from sim.cluster import Job, Proc, cpu_proc
from sim.costs import OpCost
from sim.costs.base import COPY_TRAFFIC_PER_BYTE
from sim.processes import sparse_ps
from sim.processes.gpu_plan import BatchPlan
from sim.topology import ServerResources

CLIENT_SOCKET = 0  # the RPC client threads run on the first socket, beside NIC 0


def _copy_cost(job: Job, server: ServerResources, nbytes: float) -> OpCost:
    proc = cpu_proc(server, CLIENT_SOCKET, 1)
    traffic = COPY_TRAFFIC_PER_BYTE * nbytes  # read from the receive buffer, written out
    return OpCost(traffic / job.trainer_costs.memory_bw_bytes_per_s(proc), traffic)


def _copies(job: Job, server: ServerResources, plan: BatchPlan) -> Proc:
    """The client copies each sparse PS's reply (or gradients for it) on a core of its own, at
    the rate one thread reaches; the copies share the socket's memory bandwidth. A reply is
    one message whatever sockets of the PS its rows come from, so one copy per PS."""
    end = ("host", CLIENT_SOCKET)
    yield job.env.all_of([job.kernel(server, end, _copy_cost(job, server, nbytes))
                          for _, nbytes in sorted(plan.remote_replies.items())])


def forward(job: Job, server: ServerResources, plan: BatchPlan) -> list[Proc]:
    if not plan.remote_req:
        return []

    def run() -> Proc:
        end = ("host", CLIENT_SOCKET)
        yield from sparse_ps.exchange(job, server, end, plan.remote_req, to_ps=True)
        yield from sparse_ps.serve(job, plan.remote_fwd, plan.remote_threads)
        yield from sparse_ps.exchange(job, server, end, plan.remote_out, to_ps=False)
        yield from _copies(job, server, plan)
        copies = [job.move(server.route(end, ("gpu", h)), nbytes)
                  for h, nbytes in enumerate(plan.remote_to_gpu)]
        yield job.env.all_of([job.env.process(c) for c in copies])

    return [run()]


def backward(job: Job, server: ServerResources, plan: BatchPlan) -> list[Proc]:
    if not plan.remote_req:
        return []

    def run() -> Proc:
        end = ("host", CLIENT_SOCKET)
        copies = [job.move(server.route(("gpu", h), end), nbytes)
                  for h, nbytes in enumerate(plan.remote_to_gpu)]
        yield job.env.all_of([job.env.process(c) for c in copies])
        yield from _copies(job, server, plan)
        yield from sparse_ps.exchange(job, server, end, plan.remote_out, to_ps=True)
        yield from sparse_ps.serve(job, plan.remote_upd, plan.remote_threads)

    return [run()]
