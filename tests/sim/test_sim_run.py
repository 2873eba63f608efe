"""simulate(): closed forms through the role processes, determinism, bounds, bad input."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import os
from pathlib import Path

import pytest

from sim.cluster import DENSE_BYTES, INDEX_BYTES, LENGTH_BYTES
from sim.costs import EmbeddingWork, OpCost, Processor
from sim.costs.base import streamed_update
from sim.engine import Timeline
from sim.errors import DlrmsimInputError, PlacementError, SpecError
from sim.presets import load_job, load_model, load_platform
from sim.processes.cpu_trainer import cpu_batch_plan
from sim.processes.gpu_plan import Layout, batch_plan
from sim.processes.gpu_step import gpus_used
from sim.run import build, execute, resolve, simulate
from sim.specs import PlacementSpec

MLP_S = 1e-4
INTERACTION_S = 2e-5
EMB_FWD_S = 3e-5
EMB_UPD_S = 5e-5


class FakeCosts:
    """Every kernel costs a constant; memory streams at `mem_bw`."""

    name = "fake"

    def __init__(self, mem_bw: float = 1e12) -> None:
        self.mem_bw = mem_bw

    def mlp(self, proc: Processor, batch: int, in_features: int, out_features: int,
            *, backward: bool, input_grad: bool = True) -> OpCost:
        return OpCost(MLP_S)

    def interaction(self, proc: Processor, batch: int, features: int, dim: int,
                    *, backward: bool) -> OpCost:
        return OpCost(INTERACTION_S)

    def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
        return OpCost(EMB_FWD_S)

    def embedding_update(self, proc: Processor, work: EmbeddingWork, optimizer: str) -> OpCost:
        return OpCost(EMB_UPD_S)

    def dense_update(self, proc: Processor, tensors: int, parameters: int) -> OpCost:
        return streamed_update(parameters, self.mem_bw)

    def loss(self, proc: Processor, batch: int) -> OpCost:
        return OpCost(0.0)

    def memory_bw_bytes_per_s(self, proc: Processor) -> float:
        return self.mem_bw


def _job(name: str, iterations: int = 12, *, prefetch: bool = True,  # type: ignore[no-untyped-def]
         **overrides: object):
    counts = dict(overrides)
    placement = counts.pop("placement", None)
    model, trainer, ps, spec = resolve(name, None, None, None, placement, counts)  # type: ignore[arg-type]
    spec = dataclasses.replace(spec, input_prefetch=prefetch)
    job = build(spec, model, trainer, ps, profile=None, trace=None, seed=0,
                iterations=iterations, warmup=2)
    return job


def _one_gpu_closed_form(job):  # type: ignore[no-untyped-def]
    """(seconds of the step's kernels, seconds to copy batch row `i`'s inputs) on one GPU."""
    model, demand = job.model, job.demand
    switch = load_platform("big_basin").pcie_switches[0]
    batch = job.spec.batch_size
    layers_bottom = len(model.bottom_layer_widths) - 1
    layers_top = len(model.top_layer_widths) - 1
    kernels = (2 * layers_bottom * MLP_S + 2 * layers_top * MLP_S + 2 * INTERACTION_S
               + model.num_tables * (EMB_FWD_S + EMB_UPD_S)
               + 3 * model.dense_parameters * DENSE_BYTES / 1e12)
    latency = switch.uplink.latency_s + switch.downlink.latency_s

    def copy_s(i: int) -> float:
        row = i % demand.num_batches
        nbytes = (batch * model.dense_features * DENSE_BYTES
                  + demand.lookups[row].sum() * INDEX_BYTES
                  + model.num_tables * batch * LENGTH_BYTES)
        return float(nbytes / switch.uplink.bw_bytes_per_s + latency)

    assert demand.lookups[0].sum() > 0
    return kernels, copy_s


def test_one_gpu_step_without_contention_is_the_sum_of_its_costs() -> None:
    job = _job("test_suite_gpu", gpus=1, prefetch=False)
    job.trainer_costs = job.ps_costs = FakeCosts()
    result = execute(job)
    kernels, copy_s = _one_gpu_closed_form(job)
    expected = [copy_s(i) + kernels for i in range(2, 12)]
    assert result.iteration_time_s["mean"] == pytest.approx(sum(expected) / len(expected),
                                                            rel=1e-9)


@pytest.mark.parametrize("dense_features", [512, 65536])
def test_a_prefetched_input_copy_overlaps_the_step(dense_features: int) -> None:
    # The copy (PCIe, host memory) and the kernels (GPU, HBM) share no channel, so an
    # iteration takes the longer of its own copy and the kernels: at 512 dense features the
    # kernels, at 65536 (42 MB of inputs, 2.7 ms) the copy.
    job = _job("test_suite_gpu", gpus=1)
    job.model = dataclasses.replace(job.model, dense_features=dense_features)
    job.trainer_costs = job.ps_costs = FakeCosts()
    result = execute(job)
    kernels, copy_s = _one_gpu_closed_form(job)
    expected = [max(copy_s(i), kernels) for i in range(2, 12)]
    copies = [copy_s(i) for i in range(12)]
    assert (min(copies) > kernels) if dense_features > 512 else (max(copies) < kernels)
    assert result.iteration_time_s["mean"] == pytest.approx(sum(expected) / len(expected),
                                                            rel=1e-9)


def test_a_pipeline_runs_at_its_slowest_stage() -> None:
    # The reader decodes at 1 MB/s: far slower than the trainer, so it sets the pace.
    job = _job("test_suite_cpu", iterations=8, readers=1, dense_ps=0)
    job.trainer_costs = FakeCosts()
    job.ps_costs = FakeCosts(mem_bw=1e6)
    from sim.processes.reader import batch_bytes

    result = execute(job)
    parse_s = 2 * batch_bytes(job) / 1e6
    assert result.throughput_examples_per_s == pytest.approx(job.spec.batch_size / parse_s,
                                                             rel=1e-3)
    assert result.bottleneck.startswith("reader0.cpu")


def test_readers_ship_the_lookups_the_demand_draws() -> None:
    # A reader-bound job: its pace is the decoding of the batch's bytes, whose indices are the
    # lookups of the replayed batches. The test-suite model truncates lognormal pooling around
    # a mean of 28 at 32, so the batches hold fewer lookups than the model's mean of 28; before,
    # readers shipped the model's mean.
    job = _job("test_suite_cpu", iterations=8, readers=1, dense_ps=0)
    job.trainer_costs = FakeCosts()
    job.ps_costs = FakeCosts(mem_bw=1e6)
    model, demand = job.model, job.demand
    lookups = demand.lookups.sum(axis=1).mean() / demand.batch_size
    assert lookups < model.mean_lookups_per_example  # the case the test is about
    example_bytes = (model.dense_features * DENSE_BYTES + lookups * INDEX_BYTES
                     + model.num_tables * LENGTH_BYTES)
    parse_s = 2 * job.spec.batch_size * example_bytes / 1e6
    result = execute(job)
    assert result.throughput_examples_per_s == pytest.approx(job.spec.batch_size / parse_s,
                                                             rel=1e-3)


def _slow_readers(name: str, readers: int, prefetch: bool = True,  # type: ignore[no-untyped-def]
                  **overrides: object):
    """A job whose readers decode at 1 MB/s, far slower than anything else in it."""
    job = _job(name, iterations=8, readers=readers, prefetch=prefetch, **overrides)
    job.trainer_costs = FakeCosts()
    job.ps_costs = FakeCosts(mem_bw=1e6)
    return job


class LookupCosts(FakeCosts):
    """Embedding kernels that cost a constant per lookup per example: the step follows the
    batch's demand."""

    def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
        return OpCost(EMB_FWD_S * work.pooling)

    def embedding_update(self, proc: Processor, work: EmbeddingWork, optimizer: str) -> OpCost:
        return OpCost(EMB_UPD_S * work.pooling)


def test_a_cpu_trainers_own_tables_cost_each_batchs_lookups() -> None:
    # Tables in the CPU trainer's memory: iteration n runs batch n of the demand, so two
    # iterations differ by exactly the difference of their batches' lookups per example (the
    # rest of the step is the same). Before, every iteration replayed batch 0's lookups.
    job = _job("test_suite_cpu", iterations=10, placement="system", sparse_ps=0, dense_ps=0)
    job.trainer_costs = LookupCosts()
    result = execute(job)
    assert job.meter.window is not None
    durations = job.meter.window.durations_s
    lookups = job.demand.lookups.sum(axis=1) / job.spec.batch_size
    batches = [(2 + i) % job.demand.num_batches for i in range(len(durations))]
    for i, b in enumerate(batches):
        expected = (EMB_FWD_S + EMB_UPD_S) * (lookups[b] - lookups[batches[0]])
        assert durations[i] - durations[0] == pytest.approx(expected, abs=1e-12)
    assert len(set(durations)) > 1 and result.servers["sparse_ps"] == 0


@pytest.mark.parametrize("name", ["m3_gpu", "test_suite_cpu"])
def test_every_sparse_ps_socket_serves_with_all_its_cores(name: str) -> None:
    # A request's pooled lookups split over its bags, so a socket serves them on all its
    # cores whatever the number of tables it holds. Before, a socket with one table served it
    # on one core.
    job = _job(name, sparse_ps=16 if name == "m3_gpu" else 4)
    execute(job)
    if name == "m3_gpu":
        layout = Layout(tuple(job.trainers), gpus_used(job))
        threads = batch_plan(job, layout, 0).remote_threads
    else:
        threads = cpu_batch_plan(job, 0).ps_threads
    assert threads, "the job has no table on a sparse PS"
    for (p, s), n in threads.items():
        assert n == job.sparse_ps[p].spec.sockets[s].cores


def test_more_sparse_ps_do_not_slow_a_gpu_job_down() -> None:
    # Twice the servers hold half the tables each; a job that waits on them must not get
    # slower. Before, 16 servers gave 5,105 examples/s against 8,963 with 8.
    rates = [simulate("m3_gpu", sparse_ps=n, iterations=12).throughput_examples_per_s
             for n in (8, 16)]
    assert rates[1] >= rates[0]


@pytest.mark.parametrize(("hogwild", "period"), [(4, 4), (2, 4), (3, 4), (4, 6)])
def test_a_trainer_syncs_once_every_period_of_its_threads_iterations(
        hogwild: int, period: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # EASGD every k iterations of a trainer server, whose Hogwild threads share its model.
    # Before, a thread's turn was (n * threads + index) % k, so with 4 threads and k = 4 one
    # thread synced every iteration and the others never: it fell behind and the job made
    # 56% of the exchanges it should have.
    from sim.processes import cpu_trainer

    calls: list[str] = []
    real_easgd = cpu_trainer.dense_ps.easgd

    def counted(job, trainer, end, spread=0):  # type: ignore[no-untyped-def]
        calls.append(trainer.name)
        yield from real_easgd(job, trainer, end, spread)

    monkeypatch.setattr(cpu_trainer.dense_ps, "easgd", counted)
    counts = {"hogwild": hogwild, "trainers": 2}
    model, trainer, ps, spec = resolve("test_suite_cpu", None, None, None, None, counts)  # type: ignore[arg-type]
    spec = dataclasses.replace(spec, easgd_period=period)
    job = build(spec, model, trainer, ps, profile=None, trace=None, seed=0, iterations=24,
                warmup=2)
    iterations: list[int] = []
    real_done = job.meter.done

    def counted_done(worker, *args, **kwargs):  # type: ignore[no-untyped-def]
        iterations.append(worker // hogwild)
        real_done(worker, *args, **kwargs)

    monkeypatch.setattr(job.meter, "done", counted_done)
    execute(job)
    for i, server in enumerate(job.trainers):
        done = iterations.count(i)
        synced = calls.count(server.name)
        assert abs(synced - done / period) <= 1, (server.name, synced, done)


def test_more_readers_than_consumers_all_work() -> None:
    # One Hogwild thread and two readers: both fill its queue, so it gets batches twice as fast
    # (before, the second reader stood idle while its power was counted).
    from sim.processes.reader import batch_bytes

    job = _slow_readers("test_suite_cpu", 2, dense_ps=0)
    result = execute(job)
    parse_s = 2 * batch_bytes(job) / 1e6
    assert result.throughput_examples_per_s == pytest.approx(2 * job.spec.batch_size / parse_s,
                                                             rel=1e-3)
    assert result.utilization["reader"]["cpu"] > 0


def test_gpu_trainers_take_their_batches_from_readers() -> None:
    # Each GPU takes its share of the server's batch (1600 / 8 examples) from its own queue;
    # one reader fills all 8 queues, each by its own feed, which decodes and then sends. The 8
    # shares in flight split the reader's NIC, the tightest link on their way. Decoding is the
    # slowest stage by far; latencies (us) are left out.
    from sim.processes.reader import batch_bytes

    job = _slow_readers("test_suite_gpu", 1)
    result = execute(job)
    share = batch_bytes(job, job.spec.batch_size / 8)
    parse_s = 2 * share / 1e6
    send_s = 8 * share / job.readers[0].spec.nics[0].link.bw_bytes_per_s
    assert result.throughput_examples_per_s == pytest.approx(
        job.spec.batch_size / (parse_s + send_s), rel=1e-5)
    assert result.utilization["reader"]["network"] > 0
    # The step waits for its inputs most of the time, and says so.
    assert result.phase_time_s["inputs"] > 0.99 * result.iteration_time_s["mean"]


def test_two_feeds_per_gpu_double_its_input_rate() -> None:
    # 16 readers for 8 GPUs: two fill each GPU's queue. Only the sends (under 0.1% of the
    # decoding) may keep the rate from doubling exactly.
    one = execute(_slow_readers("test_suite_gpu", 8)).throughput_examples_per_s
    two = execute(_slow_readers("test_suite_gpu", 16)).throughput_examples_per_s
    assert 1.99 * one < two <= 2 * one * (1 + 1e-9)


@pytest.mark.parametrize(("placement", "trainers"), [("system", 1), ("gpu", 2), ("remote", 1)])
def test_no_lookup_starts_before_the_whole_batch_has_come(placement: str, trainers: int) -> None:
    # A GPU's tables need the indices of every share of the batch, and so do host-side and
    # remote lookups; with two servers sharing the tables, the other server's shares too. So
    # the step starts when the last share has come from the one slow reader, after decoding
    # its shares at once (1 MB/s each) and sending them all over its NIC. Before, host-side
    # lookups and the other server's indices went ahead while the reader was decoding (with
    # input prefetch off, as here; the prefetching copy already waited for every GPU's share).
    from sim.processes.reader import batch_bytes

    job = _slow_readers("test_suite_gpu", 1, placement=placement, trainers=trainers,
                        sparse_ps=1 if placement == "remote" else 0, prefetch=False)
    job.timeline.enabled = True
    execute(job)
    share = batch_bytes(job, job.spec.batch_size / 8)
    shares = 8 * trainers
    arrival_s = 2 * share / 1e6 + shares * share / job.readers[0].spec.nics[0].link.bw_bytes_per_s
    forward_s = min(start for server, lane, name, start, _ in job.timeline.spans
                    if (lane, name) == ("step", "forward"))
    assert forward_s == pytest.approx(arrival_s, rel=1e-5)


def test_a_gpu_trainer_without_readers_is_unchanged_by_the_reader_machinery() -> None:
    # The preset jobs have no readers; their batches are in host memory when the copy starts.
    plain = simulate("m1_gpu", iterations=8)
    fed = simulate("m1_gpu", iterations=8, readers=8)
    assert fed.throughput_examples_per_s <= plain.throughput_examples_per_s * (1 + 1e-9)
    assert fed.utilization["trainer"]["network"] > 0 == plain.utilization["trainer"]["network"]


def test_gpu_servers_share_their_tables_and_the_network_carries_the_difference() -> None:
    # Two Big Basins train one global batch with the tables spread over their 16 GPUs. What
    # crosses the network per iteration is exactly: pooled embeddings to the other server's
    # GPUs and their gradients back, indices of the other server's batch, and each GPU's slice
    # of the dense all-reduce. Input copies in the step (no prefetch) keep the window exact.
    from sim.processes.gpu_plan import Layout, batch_plan

    job = _job("test_suite_gpu", iterations=12, prefetch=False, trainers=2)
    job.trainer_costs = job.ps_costs = FakeCosts()
    assert job.placement.devices_used("gpu") == tuple(range(16))
    assert job.demand.batch_size == 2 * job.spec.batch_size  # one global batch
    result = execute(job)
    layout = Layout(tuple(job.trainers), 8)
    expected = 0.0
    for i in range(2, 12):  # the measured iterations
        plan = batch_plan(job, layout, i)
        expected += 2 * sum(n for (d, h), n in plan.a2a.items() if d // 8 != h // 8)
        expected += sum(n for row in plan.input_from.values() for n in row.values())
        expected += 2 * 8 * (2.0 * 1 / 2 * job.model.dense_parameters * DENSE_BYTES / 8)
    sent = sum(n for link, n in result.bytes_per_link.items() if link.endswith(".tx"))
    assert sent == pytest.approx(expected, rel=1e-9)
    assert expected > 0


def test_a_model_too_big_for_one_gpu_server_fits_two() -> None:
    # M3 needs 483 GB with optimizer state: one Big Basin holds 247 GB of it, two 495 GB.
    with pytest.raises(PlacementError, match="short by"):
        simulate("m3_gpu", placement=PlacementSpec(kind="gpu", sharding="row_wise"),
                 sparse_ps=0, iterations=4)
    model, trainer, ps, spec = resolve("m3_gpu", None, None, None,
                                       PlacementSpec(kind="gpu", sharding="row_wise"),
                                       {"trainers": 2, "sparse_ps": 0})
    from sim.placement import place

    placed = place(model, spec, trainer, ps)
    assert placed.devices_used("gpu") == tuple(range(16))


@pytest.mark.parametrize("name", ["m1_cpu", "m1_gpu", "m2_cpu", "m2_gpu", "m3_cpu", "m3_gpu",
                                  "test_suite_cpu", "test_suite_gpu"])
def test_preset_jobs_have_no_idle_servers(name: str) -> None:
    # CPU jobs: a window of two EASGD periods (24 iterations, 4 of them warm-up), or a note
    # says the syncs were sampled by chance.
    assert simulate(name, iterations=24 if name.endswith("_cpu") else 6).notes == ()


@pytest.mark.parametrize(("overrides", "role"), [
    ({"dense_ps": 2}, "dense_ps"),                       # GPU trainers all-reduce instead
    ({"sparse_ps": 3, "placement": "system"}, "sparse_ps"),  # tables on the GPU server's hosts
])
def test_servers_without_work_are_noted_with_their_power(overrides: dict[str, object],
                                                         role: str) -> None:
    result = simulate("m2_gpu", iterations=6, **overrides)  # type: ignore[arg-type]
    count = overrides[role]
    assert result.servers[role] == count and all(v == 0 for v in result.utilization[role].values())
    watts = count * load_platform("dual_socket_cpu").power_w  # type: ignore[operator]
    assert len(result.notes) == 1 and f"the {count} {role} servers have no work" in result.notes[0]
    assert f"{watts:,.0f} W" in result.notes[0]


def test_one_server_without_work_is_noted_in_the_singular() -> None:
    result = simulate("m2_gpu", iterations=6, sparse_ps=1, placement="system")
    watts = load_platform("dual_socket_cpu").power_w
    assert result.notes == (
        "the 1 sparse_ps server has no work (only the remote placement puts tables on sparse "
        f"parameter servers); its {watts:,.0f} W count in the power and examples per joule: "
        "leave it out with --sparse-ps 0",)


def test_tables_copied_on_several_cpu_trainers_are_noted() -> None:
    # 24 iterations: a window of two EASGD periods, which 6 would not give (another note)
    one = simulate("test_suite_cpu", placement="system", sparse_ps=0, iterations=24)
    two = simulate("test_suite_cpu", placement="system", sparse_ps=0, trainers=2, iterations=24)
    assert one.notes == ()
    assert len(two.notes) == 1 and "never synchronizes the copies" in two.notes[0]


def test_every_reader_feeds_and_every_consumer_is_fed() -> None:
    from sim.processes.reader import feeders

    for readers in range(1, 20):
        for consumers in range(1, 20):
            plan = feeders(readers, consumers)
            assert len(plan) == consumers and all(plan)
            assert {r for served in plan for r in served} == set(range(readers))


@pytest.mark.parametrize("name", ["m2_gpu", "m2_cpu", "test_suite_cpu"])
def test_same_seed_same_result_bit_for_bit(name: str) -> None:
    a = simulate(name, iterations=10, seed=3).to_dict()
    b = simulate(name, iterations=10, seed=3).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("name", ["m1_gpu", "m3_gpu", "m1_cpu", "test_suite_cpu"])
def test_utilization_is_a_fraction(name: str) -> None:
    result = simulate(name, iterations=10)
    for value in result.resource_utilization.values():
        assert 0.0 <= value <= 1.0
    for kinds in result.utilization.values():
        assert set(kinds) >= {"cpu", "memory_bw", "network", "pcie", "nvlink", "gpu"}
        assert all(0.0 <= v <= 1.0 for v in kinds.values())
    assert result.throughput_examples_per_s > 0
    assert result.power_w > 0


@pytest.mark.parametrize(("name", "overrides"), [
    ("m1_gpu", {}), ("m3_gpu", {}), ("m2_cpu", {}), ("test_suite_cpu", {"hogwild": 4}),
    ("m2_gpu", {"placement": "system", "readers": 2})])
def test_phases_add_up_to_the_iteration(name: str, overrides: dict[str, object]) -> None:
    result = simulate(name, iterations=12, **overrides)  # type: ignore[arg-type]
    phases = result.phase_time_s
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) == pytest.approx(result.iteration_time_s["mean"], rel=1e-9)


def test_a_cpu_iterations_phases_are_its_costs() -> None:
    # One Hogwild thread, tables in its own memory, no PS: nothing contends, so each phase
    # takes exactly its kernels' seconds (FakeCosts), the same every iteration.
    job = _job("test_suite_cpu", placement="system", sparse_ps=0, dense_ps=0)
    job.trainer_costs = FakeCosts()
    result = execute(job)
    model = job.model
    layers = len(model.bottom_layer_widths) + len(model.top_layer_widths) - 2
    mlp_s = layers * MLP_S + INTERACTION_S
    expected = {"inputs": 0.0, "lookups": model.num_tables * EMB_FWD_S, "mlp_forward": mlp_s,
                "mlp_backward": mlp_s + 3 * model.dense_parameters * DENSE_BYTES / 1e12,
                "updates": model.num_tables * EMB_UPD_S, "easgd": 0.0}
    assert result.phase_time_s == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert list(result.phase_time_s) == list(expected)  # in the step's order


def test_the_demand_drawn_in_several_processes_gives_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import demand

    results = []
    for processes in ("1", "2"):
        monkeypatch.setenv("DLRMSIM_DEMAND_PROCESSES", processes)
        demand._generated.cache_clear()
        results.append(json.dumps(simulate("m1_gpu", iterations=6).to_dict(), sort_keys=True))
    assert results[0] == results[1]
    monkeypatch.setenv("DLRMSIM_DEMAND_PROCESSES", "0")
    demand._generated.cache_clear()
    with pytest.raises(DlrmsimInputError, match="DLRMSIM_DEMAND_PROCESSES"):
        simulate("m1_gpu", iterations=6)
    demand._generated.cache_clear()


def test_power_counts_every_server_of_the_job() -> None:
    result = simulate("m2_cpu", iterations=6)
    job = load_job("m2_cpu")
    cpu = load_platform("dual_socket_cpu").power_w
    servers = job.trainers + job.sparse_ps + job.dense_ps + job.readers
    assert result.power_w == pytest.approx(servers * cpu)
    assert result.examples_per_joule == pytest.approx(result.throughput_examples_per_s
                                                      / result.power_w)


def test_chrome_trace_is_written(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    simulate("test_suite_gpu", iterations=4, chrome_trace=out)
    events = json.loads(out.read_text())["traceEvents"]
    assert any(e["ph"] == "X" for e in events)


@pytest.mark.parametrize("where", ["serializing", "renaming"])
def test_an_interrupted_chrome_trace_leaves_the_earlier_one_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    out = tmp_path / "t.json"
    out.write_text("earlier\n")
    timeline = Timeline(enabled=True)
    for i in range(5000):
        timeline.span("trainer0", "step", "forward", i, i + 1.0)
    if where == "serializing":  # fails after thousands of events, as a full disk would
        events = timeline.to_chrome()
        events["traceEvents"].append(object())  # type: ignore[attr-defined]
        monkeypatch.setattr(timeline, "to_chrome", lambda: events)
        failure: type[BaseException] = TypeError
    else:  # Ctrl-C with every byte written, before the rename
        failure = KeyboardInterrupt

        def interrupted(*args: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(failure):
        timeline.write(out)
    monkeypatch.undo()
    assert out.read_text() == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary file left
    timeline.write(out)
    assert len(json.loads(out.read_text())["traceEvents"]) == 5002  # spans and two names


@pytest.mark.parametrize(("name", "lane"), [("test_suite_cpu", "hogwild0"),
                                            ("test_suite_gpu", "step")])
def test_the_timeline_shows_each_iterations_phases_back_to_back(name: str, lane: str) -> None:
    # A lane's phase spans tile the worker's iterations: each starts where the previous ended,
    # and together they last as long as the run's iterations.
    job = _job(name, iterations=6)
    job.timeline.enabled = True
    result = execute(job)
    spans = sorted((start, end, phase) for server, lane_, phase, start, end
                   in job.timeline.spans if server == "trainer0" and lane_ == lane)
    assert {phase for *_, phase in spans} <= set(result.phase_time_s)
    assert all(end > start for start, end, _ in spans)
    assert all(b[0] == pytest.approx(a[1], abs=1e-12) for a, b in itertools.pairwise(spans))
    assert spans[0][0] == 0


def test_zero_or_negative_counts_name_the_field() -> None:
    with pytest.raises(SpecError, match="trainers"):
        simulate("m2_cpu", trainers=0)
    with pytest.raises(SpecError, match="sparse_ps"):
        simulate("m2_cpu", sparse_ps=-1)
    with pytest.raises(SpecError, match="sharding"):
        simulate("m2_gpu", sharding="diagonal")
    with pytest.raises(DlrmsimInputError, match=r"folder .* does not exist"):
        simulate("m2_gpu", chrome_trace="/no/such/folder/timeline.json")


def test_a_placement_that_does_not_fit_says_by_how_much() -> None:
    with pytest.raises(PlacementError, match="short by"):
        simulate("m3_gpu", placement="gpu")


def test_a_trace_of_another_model_is_refused(tmp_path: Path) -> None:
    from traces.generator import generate_trace

    path = tmp_path / "m2.trace"
    generate_trace(load_model("m2_prod"), path, batches=2, batch_size=64, seed=0)
    with pytest.raises(DlrmsimInputError, match="13 tables"):
        simulate("m1_gpu", trace=str(path), iterations=4)


def test_a_profile_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"schema_version": 999}))
    with pytest.raises(DlrmsimInputError, match="schema"):
        simulate("m1_gpu", profile=str(path), iterations=4)


def test_sim_never_imports_torch() -> None:
    root = Path(__file__).resolve().parents[2] / "sim"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "torch" for n in names), path
