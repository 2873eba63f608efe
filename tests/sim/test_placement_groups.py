"""Placement judges sockets by what the run charges their groups (session 16): a socket's
tables share its last-level cache and working set (embedding_work.group_costs), so a socket
given many small tables costs more than each table weighed at an even share of the cache.

M3 on the CPU setup, seeds 1 and 6: weighing tables at an even share put 16 and 17 tables on
one socket of sparse PS 0, charged 7.79 and 7.85 ms per batch against a mean of 5.78 over the
PS sockets (1.35 times), and the runs lost 11% against the other seeds. Kept to 1.25 times the
mean here (session 16: 1.19 and 1.22)."""

from __future__ import annotations

import pytest

from sim.placement_costs import KernelCosts, demand_per_batch, socket_proc
from sim.processes.embedding_work import group_costs
from sim.run import build, resolve


@pytest.mark.parametrize("seed", [1, 6])
def test_no_m3_sparse_ps_socket_is_charged_far_above_the_mean(seed: int) -> None:
    model, trainer, ps, spec = resolve("m3_cpu", None, None, None, None, {})
    job = build(spec, model, trainer, ps, profile=None, trace=None, seed=seed, iterations=40,
                warmup=5)
    costs = KernelCosts(job.trainer_costs, job.ps_costs, model, job.demand.batch_size,
                        demand_per_batch(model, job.demand))
    groups: dict[tuple[int, int], list] = {}
    for table, where in zip(model.tables, job.placement.tables, strict=True):
        groups.setdefault((where.devices[0], where.ps_socket), []).append(costs.work(table))
    # as the run charges each socket (cpu_trainer.cpu_batch_plan), for a mean batch
    seconds = {k: sum(c.seconds for c in group_costs(costs.ps, socket_proc(ps, k[1]), g,
                                                     model.optimizer))
               for k, g in groups.items()}
    mean = sum(seconds.values()) / len(seconds)
    worst = max(seconds, key=lambda k: seconds[k])
    assert seconds[worst] <= 1.25 * mean, (
        f"sparse PS {worst[0]} socket {worst[1]}: {seconds[worst] * 1e3:.2f} ms per batch for "
        f"{len(groups[worst])} tables, {seconds[worst] / mean:.2f} x the mean {mean * 1e3:.2f}")


def test_placement_is_deterministic() -> None:
    model, trainer, ps, spec = resolve("m3_cpu", None, None, None, None, {})
    placed = [build(spec, model, trainer, ps, profile=None, trace=None, seed=1, iterations=40,
                    warmup=5).placement for _ in range(2)]
    assert placed[0] == placed[1]
