"""Run the simulations the experiments ask for: each distinct task once, optionally in worker
processes, with a progress bar on a terminal. Same tasks and seeds, same outcomes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from dlrmsim.reproduce.types import Outcome, Task
from sim.errors import DlrmsimInputError
from sim.results import SimResult
from sim.run import simulate

Simulator = Callable[..., SimResult]


def run_task(item: Task, simulator: Simulator = simulate) -> Outcome:
    """Simulate one task. An input the simulator refuses (a placement that does not fit) is an
    outcome with `error`, not an exception: the paper's experiments include such cases."""
    try:
        result = simulator(item.job, **item.kwargs())
    except DlrmsimInputError as err:
        return Outcome(error=str(err), error_kind=type(err).__name__)
    return Outcome(throughput=result.throughput_examples_per_s,
                   examples_per_joule=result.examples_per_joule, power_w=result.power_w,
                   bottleneck=result.bottleneck, throughput_rse=result.throughput_rse,
                   utilization=result.utilization,
                   resources=result.resource_utilization if item.resources else {},
                   phases=result.phase_time_s, notes=tuple(result.notes))


def run_all(tasks: Iterable[Task], *, jobs: int = 1, progress: bool | None = None,
            simulator: Simulator = simulate) -> dict[Task, Outcome]:
    """Every distinct task's outcome. `jobs` > 1 uses that many worker processes (each task is
    independent and seeded, so the outcomes do not depend on the order they finish in).
    `progress` None shows a bar only when stderr is a terminal."""
    unique = list(dict.fromkeys(tasks))
    bar = progress_bar(len(unique), "simulations", progress)
    try:
        if jobs <= 1:
            return {t: _tick(bar, t, run_task(t, simulator)) for t in unique}
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(unique)))
        try:
            futures = {pool.submit(run_task, t, simulator): t for t in unique}
            done = {futures[f]: _tick(bar, futures[f], f.result()) for f in as_completed(futures)}
        except BaseException:
            # Ctrl-C, SIGTERM or a failed task: the simulations under way finish (each takes
            # about a second), the queued ones never start.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return {t: done[t] for t in unique}
    finally:
        bar.close()


def progress_bar(total: int, desc: str, progress: bool | None) -> Any:
    """A tqdm bar on stderr; `progress` None shows it only when stderr is a terminal."""
    from traces.progress import quiet_tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return quiet_tqdm()(total=total, desc=desc, unit="step", disable=not show, leave=False)


def _tick(bar: Any, item: Task, outcome: Outcome) -> Outcome:
    bar.set_postfix_str(item.label()[:40], refresh=False)
    bar.update(1)
    return outcome
