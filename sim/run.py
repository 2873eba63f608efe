"""`simulate`: the public entry point, for notebooks and the CLI. It resolves the job and its
overrides, places the tables, builds the servers' channels, replays the demand through the role
processes and returns a SimResult."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import simpy

from sim.arguments import check_path, check_whole, described, shown
from sim.cluster import Job
from sim.costs import cost_model_for, describe_costs
from sim.demand import demand_for, sample_target
from sim.engine import FluidNetwork, Timeline
from sim.errors import ArgumentError, DlrmsimInputError, SpecError
from sim.mapping import to_mapping
from sim.meter import MIN_ROUNDS, Meter
from sim.nics import check_nics
from sim.notes import (
    analytic_interaction,
    borrowed_timings,
    copied_tables,
    idle_servers,
    shared_cores,
    target_missed,
    unsampled_syncs,
    unsynchronized_dense,
    unused_settings,
    weak_fits,
)
from sim.paths import check_output_file
from sim.placement import check_fit, place, sharing_servers
from sim.placement_costs import KernelCosts, demand_per_batch
from sim.presets import load_job, load_job_part, load_model, load_platform, names_a_file
from sim.processes import cpu_trainer, gpu_step
from sim.results import SimResult, summary_fields
from sim.specs import JobSpec, ModelSpec, PlacementSpec, ServerSpec
from sim.topology import ServerResources

DEFAULT_ITERATIONS = 40  # per worker; enough for a batch-means error well under 1% on presets
# Without a job, the paper's test-suite batch sizes (Section V): 1600 on GPUs, 200 on CPUs.
DEFAULT_GPU_BATCH, DEFAULT_CPU_BATCH = 1600, 200
_OVERRIDES = {"batch_size": "batch_size", "trainers": "trainers", "sparse_ps": "sparse_ps",
              "dense_ps": "dense_ps", "readers": "readers", "hogwild": "hogwild_threads",
              "gpus": "gpus_per_trainer"}
# The command-line flag that sets each spec field a run can override, for error messages: the
# keyword's name as a flag (dlrmsim simulate and sweep name their options after the keywords).
_FLAGS = {field: "--" + keyword.replace("_", "-") for keyword, field in
          (*_OVERRIDES.items(), ("placement", "kind"), ("sharding", "sharding"),
           ("packing", "packing"))}


def simulate(job: JobSpec | str | None = None, *, model: ModelSpec | str | None = None,
             platform: ServerSpec | str | None = None, ps_platform: ServerSpec | str | None = None,
             placement: PlacementSpec | str | None = None, sharding: str | None = None,
             packing: str | None = None, batch_size: int | None = None,
             trainers: int | None = None, sparse_ps: int | None = None,
             dense_ps: int | None = None, readers: int | None = None,
             hogwild: int | None = None, gpus: int | None = None,
             profile: str | os.PathLike[str] | None = None, trace: str | None = None,
             iterations: int = DEFAULT_ITERATIONS, warmup: int | None = None, seed: int = 0,
             chrome_trace: str | os.PathLike[str] | None = None,
             target_rse: float | None = None) -> SimResult:
    """Simulate a job (a preset name, a YAML path or a JobSpec), or a model on a platform;
    any keyword given overrides the job (`sharding`: table_wise or row_wise, `packing`: packed
    or spread, for tables in GPU memory). Same arguments and seed, same result bit for bit.
    With `target_rse` (e.g. 0.01) the run stops as soon as the throughput's relative standard
    error is below it, `iterations` being a cap; warm-up then defaults to that of a default run.

    Raises SpecError, PresetError, PlacementError, ProfileError, ArgumentError (an argument
    of the wrong type, e.g. a number for `trace`) or DlrmsimInputError (all DlrmsimInputError)
    for bad input.
    """
    check_run_options(profile=profile, trace=trace, iterations=iterations, seed=seed,
                      target_rse=target_rse)
    check_path("chrome_trace", chrome_trace, "the Chrome trace file to write")
    overrides = {"batch_size": batch_size, "trainers": trainers, "sparse_ps": sparse_ps,
                 "dense_ps": dense_ps, "readers": readers, "hogwild": hogwild, "gpus": gpus}
    model_spec, trainer_spec, ps_spec, spec = resolve(job, model, platform, ps_platform,
                                                      placement, overrides, sharding=sharding,
                                                      packing=packing)
    warm = warmup if warmup is not None else default_warmup(iterations, target_rse)
    if not isinstance(warm, int) or isinstance(warm, bool) or not 1 <= warm < iterations:
        raise ArgumentError(f"warmup = {shown(warmup)}: give a whole number in [1, iterations)")
    if chrome_trace is not None:
        check_output_file(os.fspath(chrome_trace), "--chrome-trace", inputs=[
            *spec_files([("--job", job), ("--model", model), ("--platform", platform),
                         ("--ps-platform", ps_platform)]),
            ("--profile", profile), ("--trace", trace)])
    sim_job = build(spec, model_spec, trainer_spec, ps_spec, profile=profile, trace=trace,
                    seed=seed, iterations=iterations, warmup=warm,
                    record=chrome_trace is not None, target_rse=target_rse,
                    platform_files=platform_files(spec, platform, ps_platform))
    result = execute(sim_job)
    if chrome_trace is not None:
        sim_job.timeline.write(chrome_trace)
    return result


def spec_files(settings: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    """The (option, value) pairs whose value is read as a spec file, not a preset's name."""
    return [(option, value) for option, value in settings
            if isinstance(value, os.PathLike) or (isinstance(value, str) and names_a_file(value))]


def check_run_options(*, profile: object, trace: object, iterations: object, seed: object,
                      target_rse: object) -> None:
    """ArgumentError for a setting of a run of the wrong type or out of range; `sweep` checks
    the settings its points share with it before any point runs."""
    check_path("profile", profile, "a calibration profile (`dlrmsim calibrate` writes one)")
    check_path("trace", trace, "a native trace (`dlrmsim trace generate` or `convert`)")
    check_whole("iterations", iterations, 3)
    # The generator takes numpy's integers as seeds too.
    check_whole("seed", int(seed) if isinstance(seed, np.integer) else seed, 0)
    if target_rse is not None and not (isinstance(target_rse, float) and 0 < target_rse < 1):
        raise ArgumentError(f"target_rse = {shown(target_rse)}: give a fraction in (0, 1)")


def default_warmup(iterations: int, target_rse: float | None) -> int:
    """Unmeasured iterations per worker: a fifth of the run, or with a precision target (when
    `iterations` is only a cap) a fifth of a default run's."""
    cap = iterations if target_rse is None else min(iterations, DEFAULT_ITERATIONS)
    return max(1, cap // 5)


def iterations_for_window(rounds: int, target_rse: float | None) -> int:
    """The fewest iterations per worker whose measured window, after the default warm-up,
    holds `rounds` of them."""
    iterations = rounds + 1
    while iterations - default_warmup(iterations, target_rse) < rounds:
        iterations += 1
    return iterations


def resolve(job: JobSpec | str | None, model: ModelSpec | str | None,
            platform: ServerSpec | str | None, ps_platform: ServerSpec | str | None,
            placement: PlacementSpec | str | None, overrides: dict[str, int | None], *,
            sharding: str | None = None, packing: str | None = None
            ) -> tuple[ModelSpec, ServerSpec, ServerSpec, JobSpec]:
    """The specs of a run after overrides (`placement` a kind or a whole PlacementSpec;
    `sharding` and `packing` override its GPU sharding and packing); SpecError names a bad
    override's flag and field."""
    job = _job_argument(job)
    base = load_job(job) if isinstance(job, str) else job
    model_spec = _spec("model", model, load_model, ModelSpec)
    trainer_spec = _spec("platform", platform, load_platform, ServerSpec)
    ps_given = _spec("ps_platform", ps_platform, load_platform, ServerSpec)
    if placement is not None and not isinstance(placement, str | PlacementSpec):
        raise ArgumentError(f"placement = {described(placement)}: give gpu, system, remote or "
                            f"hybrid, or a PlacementSpec{_belongs(placement)}")
    if base is None:
        if model_spec is None or trainer_spec is None:
            raise DlrmsimInputError("give a job (e.g. --job m2_gpu), or a model and a platform "
                                    "(--model m2_prod --platform big_basin)")
        batch = DEFAULT_GPU_BATCH if trainer_spec.gpus else DEFAULT_CPU_BATCH
        kind = "gpu" if trainer_spec.gpus else "system"
        base = JobSpec(name=f"{model_spec.name}_on_{trainer_spec.name}", model=model_spec.name,
                       trainer_platform=trainer_spec.name, batch_size=batch,
                       placement=PlacementSpec(kind=kind))
    changes: dict[str, Any] = {_OVERRIDES[k]: v for k, v in overrides.items() if v is not None}
    layout = {k: v for k, v in (("sharding", sharding), ("packing", packing)) if v is not None}
    given = {**changes, **layout, **({"kind": placement} if isinstance(placement, str) else {})}
    try:
        if isinstance(placement, str):
            changes["placement"] = dataclasses.replace(base.placement, kind=placement)
        elif placement is not None:
            changes["placement"] = placement
        if layout:
            changes["placement"] = dataclasses.replace(
                changes.get("placement", base.placement), **layout)
        if model_spec is not None:
            changes["model"] = model_spec.name
        if trainer_spec is not None:
            changes["trainer_platform"] = trainer_spec.name
        if ps_given is not None:
            changes["ps_platform"] = ps_given.name
        spec = dataclasses.replace(base, **changes) if changes else base
    except SpecError as error:
        raise _by_flag(error, given) from None
    named_by = job if isinstance(job, str) else None  # the file the names are in
    model_spec = model_spec or load_job_part(named_by, "model", spec.model)
    trainer_spec = trainer_spec or load_job_part(named_by, "trainer_platform",
                                                 spec.trainer_platform)
    ps_spec = ps_given or load_job_part(named_by, "ps_platform", spec.ps_platform)
    return model_spec, trainer_spec, ps_spec, spec


def _by_flag(error: SpecError, given: dict[str, Any]) -> SpecError:
    """The error of an overridden job, worded by the flag that set the bad field, or that
    would fix it when the rule broken involves another field (--placement remote without
    sparse PS)."""
    flag = _FLAGS.get(error.field)
    if flag is None:
        return error
    if error.field in given:
        message = (f"{flag} {_value_of_flag(error)}: not allowed; {error.allowed} "
                   f"({error.spec}.{error.field})")
    else:
        message = f"{error}; set it with {flag} N" if isinstance(error.value, int) else (
            f"{error}; set it with {flag}")
    return SpecError(error.spec, error.field, error.value, error.allowed, message)


def _value_of_flag(error: SpecError) -> str:
    """The bad value as the message shows it: the text of a flag that takes text (--packing
    packed) as given, anything else as Python writes it, so that a count given from Python as
    '3200' does not read as the number 3200."""
    takes_text = error.field in ("kind", "sharding", "packing")
    return error.value if takes_text and isinstance(error.value, str) else shown(error.value)


def platform_files(spec: JobSpec, platform: object, ps_platform: object) -> dict[str, str]:
    """The file each platform of a run was read from, by job field, where it came from one:
    the path given (`platform`, `ps_platform`), else the one the job names; a preset name or
    a ServerSpec has none. For messages, which would otherwise name only the spec's own name
    (a preset's, often, in a copy of its file)."""
    files = {}
    for field, given in (("trainer_platform", platform), ("ps_platform", ps_platform)):
        text = getattr(spec, field) if given is None else given
        if isinstance(text, str | os.PathLike) and names_a_file(os.fspath(text)):
            files[field] = os.fspath(text)
    return files


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


# Where each kind of spec goes, for a spec given in the wrong place.
_SPEC_KEYWORDS = {JobSpec: "job (the first argument)", ModelSpec: "model=",
                  ServerSpec: "platform= or ps_platform=", PlacementSpec: "placement="}


def _belongs(value: object) -> str:
    keyword = _SPEC_KEYWORDS.get(type(value))
    return f" (a {type(value).__name__} goes in {keyword})" if keyword else ""


def _job_argument(job: object) -> JobSpec | str | None:
    """The job as `resolve` reads it: a path as text, since the names in a job file are looked
    up beside it; ArgumentError for anything that is not a job."""
    if job is None or isinstance(job, JobSpec | str):
        return job
    if isinstance(job, os.PathLike):
        return os.fspath(job)
    raise ArgumentError(f"job = {described(job)}: give a job preset name (e.g. 'm2_gpu'), the "
                        f"path of a job YAML file, or a JobSpec{_belongs(job)}")


def _spec(name: str, value: object, loader: Any, kind: type) -> Any:
    """The spec `value` names (a preset name or a file), or `value` itself when it is one of
    `kind`; None for None."""
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, str | os.PathLike):
        return loader(value)
    preset = "model" if kind is ModelSpec else "platform"
    raise ArgumentError(f"{name} = {described(value)}: give a {preset} preset name, the path of "
                        f"a YAML file, or a {kind.__name__}{_belongs(value)}")


def build(spec: JobSpec, model: ModelSpec, trainer: ServerSpec, ps: ServerSpec, *,
          profile: str | os.PathLike[str] | None, trace: str | None, seed: int,
          iterations: int, warmup: int, record: bool = False,
          target_rse: float | None = None, platform_files: dict[str, str] | None = None) -> Job:
    """Place the tables and build the servers, costs, demand and meter of a run. The sockets
    are balanced by what the run's own cost models charge its demand's mean batch, so that
    placement weighs tables as the run will. `platform_files`: see `platform_files`, for the
    messages of the checks made before anything is drawn."""
    trainer_costs, ps_costs = cost_model_for(trainer, _path(profile)), cost_model_for(ps, _path(profile))
    check_fit(model, spec, trainer, ps)  # tables too large for the memory: said before drawing
    check_nics(spec, trainer, ps, platform_files)  # messages between servers without a NIC
    # Servers that share the tables train one global batch: its lookups are drawn together.
    demand = demand_for(model, spec.batch_size * sharing_servers(spec, trainer), seed=seed,
                        trace=trace, target=sample_target(target_rse))
    placement = place(model, spec, trainer, ps, KernelCosts(
        trainer_costs, ps_costs, model, demand.batch_size, demand_per_batch(model, demand)))
    env = simpy.Environment()
    net = FluidNetwork(env)
    gpu_job = bool(trainer.gpus)
    workers = 1 if gpu_job else spec.trainers * spec.hogwild_threads
    job = Job(env, net, Timeline(enabled=record), model, spec, placement, demand,
              trainer_costs, ps_costs,
              Meter(env, net, workers, iterations, warmup, lambda: job.channels(),
                    target_rse, demand.lookups_rse,
                    min_rounds=max(MIN_ROUNDS, 2 * _sync_rounds(spec, gpu_job))))
    job.run_options = {"seed": seed, "iterations": iterations, "warmup": warmup,
                       "target_rse": target_rse, "trace": _path(trace), "profile": _path(profile)}
    job.trainers = [ServerResources.build(f"trainer{i}", "trainer", trainer)
                    for i in range(spec.trainers)]
    for role, count in (("sparse_ps", spec.sparse_ps), ("dense_ps", spec.dense_ps),
                        ("reader", spec.readers)):
        servers = [ServerResources.build(f"{role}{i}", role, ps) for i in range(count)]
        setattr(job, role if role != "reader" else "readers", servers)
    return job


def _sync_rounds(spec: JobSpec, gpu_job: bool) -> int:
    """Iterations of a worker between its trainer's EASGD syncs; 0 for GPU trainers, which
    all-reduce every step instead."""
    return 0 if gpu_job else cpu_trainer.sync_rounds(spec)


def execute(job: Job) -> SimResult:
    """Run the job's processes until the meter's window closes."""
    if job.trainers[0].spec.gpus:
        job.env.process(gpu_step.gpu_trainers(job))
    else:
        cpu_trainer.start(job)
    job.env.run(until=job.meter.done_event)
    window = job.meter.window
    assert window is not None  # run(until=done_event) returns only once it is set
    roles = {s.name: s.role for s in job.servers}
    demand_rse = job.meter.demand_rse
    fields = summary_fields(job.channels(), window, roles, demand_rse)
    spec = job.spec
    counts = {"trainer": spec.trainers, "sparse_ps": spec.sparse_ps, "dense_ps": spec.dense_ps,
              "reader": spec.readers}
    watts = {role: sum(s.spec.power_w for s in job.servers if s.role == role) for role in counts}
    power = sum(watts.values())
    others = [*job.sparse_ps, *job.dense_ps, *job.readers]
    gpu_trainers = bool(job.trainers[0].spec.gpus)
    notes = (*job.demand.notes, *idle_servers(spec, gpu_trainers, watts),
             *copied_tables(spec, gpu_trainers), *unsynchronized_dense(spec, gpu_trainers),
             *unused_settings(spec, gpu_trainers), *shared_cores(spec, job.trainers[0].spec),
             *borrowed_timings(job.trainer_costs, [s.spec for s in job.servers]),
             *analytic_interaction(job.trainer_costs, job.model, job.trainers[0].spec),
             *weak_fits((job.trainer_costs, job.ps_costs)),
             *target_missed(job.meter.target_rse, fields["throughput_rse"], demand_rse,
                            job.demand.num_batches, fields["measured_iterations"],
                            job.meter.iterations),
             *_window_notes(job, fields["measured_iterations"]))
    return SimResult(
        job=spec.name, model=job.model.name, trainer_platform=job.trainers[0].spec.name,
        ps_platform=others[0].spec.name if others else spec.ps_platform,
        placement=job.placement.kind, batch_size=spec.batch_size, servers=counts,
        power_w=power, examples_per_joule=fields["throughput_examples_per_s"] / power,
        flows=job.net.flows_started, demand_rse=demand_rse,
        demand_batches=job.demand.num_batches,
        costs=describe_costs(job.trainer_costs, [s.spec for s in job.servers]), notes=notes,
        settings=run_settings(job), **fields)


def run_settings(job: Job) -> dict[str, Any]:
    """The resolved job the run simulated (every count, the placement with its sharding and
    packing, the model and platforms by name) and how it was run: enough to run it again."""
    settings = to_mapping(job.spec)
    assert isinstance(settings, dict)
    settings.pop("description", None)
    return {**settings, **job.run_options}


def _window_notes(job: Job, measured_iterations: int) -> list[str]:
    """A note when the measured window is too short for the CPU trainers' EASGD syncs and
    does not hold a whole number of their periods."""
    sync = _sync_rounds(job.spec, gpu_job=bool(job.trainers[0].spec.gpus))
    if not sync:
        return []
    per_worker = measured_iterations / job.meter.workers
    # Each trainer's threads together sync once per easgd_period of their iterations.
    whole = (per_worker.is_integer() and per_worker > 0
             and int(per_worker) * job.spec.hogwild_threads % job.spec.easgd_period == 0)
    enough = iterations_for_window(2 * sync, job.meter.target_rse)
    return unsampled_syncs(sync, per_worker, whole, enough)
