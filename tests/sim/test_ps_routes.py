"""A sparse PS's messages enter and leave at the socket whose memory holds the tables they are
for: bytes for tables on socket 1 of a dual-socket PS, whose one NIC sits on socket 0
(dual_socket_cpu), cross the inter-socket link (UPI) and socket 1's memory channel, in the
direction the bytes go; bytes for socket 0's tables stay off the link; the NICs carry the
same bytes as when the whole message went to socket 0.

Expected values are derived by hand. Two tables of dimension 64 (fp32) on one PS: `a` with
2 lookups per example goes to socket 0 and `b` with 1 to socket 1 (hottest first onto the
least-loaded socket; see test_ps_balance.py). A CPU trainer's batch is 200 examples, so each
table's pooled rows are 200 x 64 x 4 = 51,200 B back, and their gradients as many out."""

from __future__ import annotations

import dataclasses

import pytest

from sim.cluster import Job
from sim.presets import load_platform
from sim.processes import sparse_ps
from sim.processes.cpu_trainer import cpu_batch_plan
from sim.processes.embedding_work import index_bytes
from sim.processes.gpu_plan import Layout, batch_plan
from sim.run import build
from sim.specs import JobSpec, LinkSpec, ModelSpec, PlacementSpec, PoolingSpec, ServerSpec, TableSpec

BB = load_platform("big_basin")
CPU = load_platform("dual_socket_cpu")

TWO_SOCKETS = ModelSpec("m", 13, (TableSpec("a", 10**5, 64, PoolingSpec(2.0)),
                                  TableSpec("b", 10**5, 64, PoolingSpec(1.0))), (64,), (32,))
ONE_TABLE = ModelSpec("m", 13, (TableSpec("a", 10**5, 64, PoolingSpec(2.0)),), (64,), (32,))
CPU_BATCH = 200  # examples per CPU trainer batch (the test suite's, DESIGN.md)
GPU_BATCH = 1600  # examples per Big Basin batch (the test suite's, DESIGN.md)
ROW_BYTES = 64 * 4  # one pooled fp32 row of dimension 64
REPLY = CPU_BATCH * ROW_BYTES  # 51,200 B: one table's pooled rows for a CPU trainer's batch
# A deliberately slow inter-socket link, so that it and not the NIC (25 Gbit/s = 3.125 GB/s)
# sets an exchange's time: 0.1 GB/s per direction (a test value, not hardware).
SLOW_UPI_BYTES_PER_S = 1e8


def _job(model: ModelSpec, trainer: ServerSpec = CPU, ps: ServerSpec = CPU) -> Job:
    batch = GPU_BATCH if trainer.gpus else CPU_BATCH
    spec = JobSpec("j", "m", trainer.name, batch, sparse_ps=1,
                   placement=PlacementSpec("remote"))
    return build(spec, model, trainer, ps, profile=None, trace=None, seed=0, iterations=3,
                 warmup=1)


def _run_exchange(job: Job, nbytes: dict[tuple[int, int], float], to_ps: bool) -> dict[str, float]:
    """Run one exchange between trainer 0 (socket 0) and the PS alone; the bytes each channel
    of the PS and of the trainer carried, by name without the server's prefix."""
    client = job.trainers[0]
    job.env.process(sparse_ps.exchange(job, client, ("host", 0), nbytes, to_ps=to_ps))
    job.env.run()
    units = {}
    for role, server in (("ps", job.sparse_ps[0]), ("trainer", client)):
        for channel in server.channels():
            units[f"{role}.{channel.name.split('.', 1)[1]}"] = channel.units
    return units


def test_the_placement_these_tests_assume() -> None:
    assert [p.ps_socket for p in _job(TWO_SOCKETS).placement.tables] == [0, 1]
    assert [p.ps_socket for p in _job(ONE_TABLE).placement.tables] == [0]
    assert [nic.socket for nic in CPU.nics] == [0]


def test_a_cpu_trainers_messages_are_split_by_the_socket_of_their_tables() -> None:
    job = _job(TWO_SOCKETS)
    plan = cpu_batch_plan(job, 0)
    assert plan.reply == {(0, 0): REPLY, (0, 1): REPLY}
    # Table 0 (a) sits on socket 0, table 1 (b) on socket 1.
    assert plan.request == {(0, 0): index_bytes(job.demand, 0, 0),
                            (0, 1): index_bytes(job.demand, 0, 1)}


def test_a_gpu_servers_messages_are_split_and_its_copies_stay_one_per_ps() -> None:
    job = _job(TWO_SOCKETS, trainer=BB)
    plan = batch_plan(job, Layout(tuple(job.trainers), len(BB.gpus)), 0)
    rows = GPU_BATCH * ROW_BYTES
    assert plan.remote_out == {(0, 0): rows, (0, 1): rows}
    assert plan.remote_replies == {0: 2 * rows}


def test_replies_from_socket_1_cross_the_inter_socket_link_toward_the_nic() -> None:
    job = _job(TWO_SOCKETS)
    units = _run_exchange(job, cpu_batch_plan(job, 0).reply, to_ps=False)
    # Table b's rows leave socket 1's memory and cross to the NIC's socket; a's do not.
    assert units["ps.upi1-0"] == REPLY
    assert units["ps.upi0-1"] == 0.0
    assert units["ps.mem1"] == REPLY
    assert units["ps.mem0"] == REPLY
    # The wire and the trainer see the whole reply, as before the split.
    assert units["ps.nic0.tx"] == 2 * REPLY
    assert units["trainer.nic0.rx"] == 2 * REPLY
    assert units["trainer.mem0"] == 2 * REPLY


def test_gradients_and_indices_for_socket_1_cross_it_from_the_nic() -> None:
    job = _job(TWO_SOCKETS)
    plan = cpu_batch_plan(job, 0)
    gradients = _run_exchange(job, plan.reply, to_ps=True)
    assert (gradients["ps.upi0-1"], gradients["ps.upi1-0"]) == (REPLY, 0.0)
    assert gradients["ps.nic0.rx"] == 2 * REPLY
    job = _job(TWO_SOCKETS)
    indices = _run_exchange(job, plan.request, to_ps=True)
    assert indices["ps.upi0-1"] == index_bytes(job.demand, 0, 1)
    assert indices["ps.mem1"] == index_bytes(job.demand, 0, 1)
    assert indices["ps.nic0.rx"] == index_bytes(job.demand, 0, 0) + index_bytes(job.demand, 0, 1)


@pytest.mark.parametrize("to_ps", [True, False])
def test_tables_on_the_nics_socket_keep_their_bytes_off_the_inter_socket_link(
        to_ps: bool) -> None:
    job = _job(ONE_TABLE)
    units = _run_exchange(job, cpu_batch_plan(job, 0).reply, to_ps=to_ps)
    assert units["ps.upi0-1"] == units["ps.upi1-0"] == 0.0
    assert units["ps.mem1"] == 0.0
    assert units["ps.mem0"] == REPLY
    assert units["ps.nic0.rx" if to_ps else "ps.nic0.tx"] == REPLY


def test_a_slow_inter_socket_link_sets_the_time_of_a_reply_from_socket_1() -> None:
    # One bundle: it ends when its slowest channel has carried its bytes. The NIC carries
    # both tables' rows (102,400 B at 3.125 GB/s: 32.8 us); the slow link carries b's
    # (51,200 B at 0.1 GB/s: 512 us). The latency is the wire's (5 us) plus the link's hop.
    assert CPU.inter_socket is not None
    slow = LinkSpec(SLOW_UPI_BYTES_PER_S, CPU.inter_socket.latency_s)
    ps = dataclasses.replace(CPU, inter_socket=slow)
    job = _job(TWO_SOCKETS, ps=ps)
    _run_exchange(job, cpu_batch_plan(job, 0).reply, to_ps=False)
    latency_s = CPU.nics[0].link.latency_s + slow.latency_s
    wire_s = 2 * REPLY / CPU.nics[0].link.bw_bytes_per_s
    upi_s = REPLY / SLOW_UPI_BYTES_PER_S
    assert upi_s > wire_s
    assert job.env.now == pytest.approx(latency_s + upi_s, rel=1e-9)


def test_the_fan_of_an_exchange_is_built_once_per_job() -> None:
    job = _job(TWO_SOCKETS)
    shares = ((0, 0), (0, 1))
    first = sparse_ps._fan(job, job.trainers[0], ("host", 0), shares, False)
    assert sparse_ps._fan(job, job.trainers[0], ("host", 0), shares, False) is first
    assert first.shares == shares
