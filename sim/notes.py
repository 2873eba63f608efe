"""Notes on a result that a user should read before trusting it: servers of the job that did
no work (their power still counts), tables copied on several CPU trainers, the dense weights of
CPU trainers that nothing synchronizes, settings the run does not use, Hogwild threads beyond
the cores, a precision target the run could not meet, a profile's timings standing in for
other hardware, a cat interaction that a profile could not time, and ops charged from fits
that calibration called too weak to use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sim.costs import CostModel
from sim.costs.calibrated import CalibratedCosts
from sim.demand import MAX_BATCHES
from sim.specs import JobSpec, ModelSpec, PlacementSpec, ServerSpec


def idle_servers(spec: JobSpec, gpu_trainers: bool, watts: Mapping[str, float]) -> list[str]:
    """A note for each role the job has servers of but gives no work, by the job's structure
    (a measured window may simply fall between two EASGD syncs, so busy time cannot tell)."""
    idle = []
    if spec.sparse_ps and spec.placement.kind != "remote":
        idle.append(("sparse_ps", spec.sparse_ps, "only the remote placement puts tables on "
                     "sparse parameter servers", "--sparse-ps 0"))
    if spec.dense_ps and gpu_trainers:
        idle.append(("dense_ps", spec.dense_ps, "GPU trainers all-reduce their dense gradients; "
                     "only CPU trainers sync with dense parameter servers", "--dense-ps 0"))
    return [f"the {count} {role} {'server has' if count == 1 else 'servers have'} no work "
            f"({why}); {'its' if count == 1 else 'their'} {watts.get(role, 0.0):,.0f} W count in "
            f"the power and examples per joule: leave {'it' if count == 1 else 'them'} out with "
            f"{flag}"
            for role, count, why, flag in idle]


def copied_tables(spec: JobSpec, gpu_trainers: bool) -> list[str]:
    """A note when several CPU trainers each keep the tables in their own memory: the model
    runs each copy alone and never synchronizes them (GPU servers share theirs instead)."""
    if gpu_trainers or spec.trainers < 2 or spec.placement.kind == "remote":
        return []
    return [f"each of the {spec.trainers} CPU trainers keeps its own copy of the tables in its "
            f"memory, and the model never synchronizes the copies: the throughput is an upper "
            f"bound; production CPU jobs keep them on sparse parameter servers (--placement "
            f"remote)"]


def unsynchronized_dense(spec: JobSpec, gpu_trainers: bool) -> list[str]:
    """A note when several CPU trainers run without dense parameter servers: EASGD needs them,
    so each trainer trains its own copy of the MLPs and the run leaves out the syncs that keep
    the copies together. One trainer has a single copy, which its Hogwild threads share in
    memory (cpu_trainer), so it has nothing to synchronize, whatever its threads; GPU trainers
    all-reduce their gradients instead."""
    if gpu_trainers or spec.trainers < 2 or spec.dense_ps:
        return []
    return [f"the dense weights of the {spec.trainers} CPU trainers are never synchronized (the "
            f"job has no dense parameter server), so the throughput leaves out EASGD's syncs: "
            f"an upper bound; give the job dense parameter servers (--dense-ps N)"]


# What uses each GPU layout setting of PlacementSpec, for the note on a placement that does not.
_GPU_LAYOUT = {"sharding": "only placements gpu and hybrid shard tables over GPUs",
               "packing": "only placement gpu packs tables on the fewest GPUs"}


def unused_settings(spec: JobSpec, gpu_trainers: bool) -> list[str]:
    """A note for each setting of the job that it does not use: GPUs per trainer on CPU
    trainers, Hogwild threads on GPU trainers, a platform for parameter servers and readers
    that the job does not have, a GPU sharding or packing where the placement keeps no tables
    in GPU memory (the run would otherwise go on as if they were not set, silently). As a
    setting given at its default cannot be told from one not given, only other values are
    noted."""
    unused = []
    if not gpu_trainers and spec.gpus_per_trainer:
        unused.append(f"GPUs per trainer = {spec.gpus_per_trainer} (--gpus): the trainer "
                      f"platform {spec.trainer_platform} has no GPUs")
    if gpu_trainers and spec.hogwild_threads > 1:
        unused.append(f"Hogwild threads = {spec.hogwild_threads} (--hogwild): GPU trainers "
                      f"run one step at a time; only CPU trainers run Hogwild threads")
    default_ps = JobSpec.__dataclass_fields__["ps_platform"].default
    if spec.ps_platform != default_ps and not (spec.sparse_ps or spec.dense_ps or spec.readers):
        unused.append(f"parameter-server platform {spec.ps_platform} (--ps-platform): the job "
                      f"has no parameter servers or readers to run on it")
    placement = spec.placement
    if placement.kind in ("system", "remote"):  # no GPU layout (PlacementSpec)
        layout = PlacementSpec.__dataclass_fields__
        for field, uses in _GPU_LAYOUT.items():
            value = getattr(placement, field)
            if value != layout[field].default:
                unused.append(f"{field} = {value} (--{field}): placement {placement.kind} keeps "
                              f"no tables in GPU memory, and {uses}")
    return [f"{what}; the setting is not used" for what in unused]


def shared_cores(spec: JobSpec, trainer: ServerSpec) -> list[str]:
    """A note when CPU trainers run more Hogwild threads than they have cores: each thread's
    kernels then run on one core (cpu_trainer.threads_per_worker), and the threads beyond the
    cores share them: a socket's core channel divides its cores among the kernels running on
    it, with no cost for switching between threads."""
    if trainer.gpus or spec.hogwild_threads <= trainer.cores:
        return []
    return [f"Hogwild threads = {spec.hogwild_threads} (--hogwild) exceed the {trainer.cores} "
            f"cores of a trainer ({trainer.name}): each thread runs its kernels on one core, "
            f"and the threads beyond the cores share them (the cores divided evenly among the "
            f"kernels running on a socket, with no cost for switching between threads), so "
            f"they add only the overlap of some threads' kernels with the others' waits for "
            f"messages; {trainer.cores} threads get a core each"]


def target_missed(target_rse: float | None, throughput_rse: float, demand_rse: float,
                  demand_batches: int, measured_iterations: int, iterations: int) -> list[str]:
    """A note when a run with a precision target stopped above it, with what would help
    (`iterations`: the cap per worker, which --iterations sets)."""
    if target_rse is None or throughput_rse < target_rse:
        return []
    head = (f"target relative standard error {target_rse:g} not met: "
            f"{throughput_rse:.2%}")
    if demand_rse >= target_rse:
        return [f"{head}; the {demand_batches} replayed batches alone give {demand_rse:.2%} "
                f"(the most drawn are {MAX_BATCHES}), and more iterations do not shrink that: "
                f"a larger batch size varies less"]
    return [f"{head} after {measured_iterations} measured iterations of all workers together; "
            f"allow more iterations per worker (--iterations, now {iterations})"]


def unsampled_syncs(sync_rounds: int, measured_per_worker: float, whole_periods: bool,
                    enough: int) -> list[str]:
    """A note when the measured window holds fewer than two EASGD periods of each worker
    (`sync_rounds` iterations of a Hogwild thread between its trainer's syncs) and not a whole
    number of them (`whole_periods`, which gives each trainer its exact share of syncs): how
    many syncs fall in it is then chance (none, with one trainer), and the batch means cannot
    see what the window left out, so the stated error understates. `enough`: the iterations
    per worker that would give a window of two periods."""
    if not sync_rounds or whole_periods or measured_per_worker >= 2 * sync_rounds:
        return []
    return [f"the measured window holds {measured_per_worker:.3g} iterations per worker, fewer "
            f"than two EASGD periods ({sync_rounds} iterations of each Hogwild thread between "
            f"its trainer's syncs) and not a whole number of them: the syncs in it are too few "
            f"to average, and the stated "
            f"error leaves that out; give at least {enough} iterations (--iterations)"]


def borrowed_timings(costs: CostModel, servers: Iterable[ServerSpec]) -> list[str]:
    """A note when a profile's timings stand in for the job's processors: they are the
    profiled host's kernels as measured (CPU times divided by thread count), not scaled to the
    modeled parts' datasheet rates, so an H100 profile makes a V100 platform run at H100 speed."""
    if not isinstance(costs, CalibratedCosts):
        return []
    # A profile of bandwidths only lends its host's memory bandwidth, not kernel times.
    if costs.measures_kernels():
        borrowed, stand = "kernel times come", "they stand"
    elif costs.measures_memory_bw():
        borrowed, stand = "memory bandwidth comes", "it stands"
    else:
        return []
    kind, host = costs.kind, costs.profile.host
    measured_on = host.get("gpu_name") if kind == "gpu" else host.get("cpu_model")
    parts = sorted({p.name for s in servers
                    for p in (s.gpus if kind == "gpu" else s.sockets)})
    if not parts:
        return []
    return [f"{kind.upper()} {borrowed} from {costs.profile.path}, measured on "
            f"{measured_on or 'an unrecorded ' + kind}; {stand} for the job's "
            f"{', '.join(parts)} as measured, not scaled to those parts' datasheet rates"]


def analytic_interaction(costs: CostModel, model: ModelSpec, trainer: ServerSpec) -> list[str]:
    """A note when a profile times the trainers' processors but the model's interaction is
    `cat`: calibration times only the dot interaction, so the cat is charged analytically
    (CalibratedCosts.concat), not from the profile like the trainers' other kernels."""
    if not isinstance(costs, CalibratedCosts) or model.interaction != "cat":
        return []
    if costs.kind != ("gpu" if trainer.gpus else "cpu") or not costs.measures_kernels():
        return []  # the trainers' kernels are all analytic, as the costs line says
    return [f"the model's cat interaction is charged by the analytic model (one concatenation "
            f"of {model.interaction_width} features per example forward, one split backward): "
            f"{costs.profile.path} times only the dot interaction"]


def weak_fits(costs: Iterable[CostModel]) -> list[str]:
    """A note when the run charged ops from fits that calibrate called too weak to use (the
    profile's `run.weak_fits`: few points, a constant, a large held-out error). They are
    charged from the profile all the same: the design falls back to analytic costs only for
    ops a profile lacks, and a weak fit is still this host's measurement, so the note says
    how far to trust it and how to measure more. `costs`: the run's cost models (trainers'
    and parameter servers'), which record the ops they charged."""
    calibrated = [c for c in costs if isinstance(c, CalibratedCosts)]
    if not calibrated:
        return []
    charged = {op for c in calibrated for op in c.charged_ops}
    profile = calibrated[0].profile  # a run's cost models all read the one profile
    weak = {op: reasons for op, reasons in profile.weak_fits.items() if op in charged}
    return [weak_fit_note(profile.path, weak, profile.mode)] if weak else []


def weak_fit_note(path: str, weak: Mapping[str, Sequence[str]], mode: str) -> str:
    """The words of the weak-fit note, which `dlrmsim validate` prints too: each op with
    calibrate's reasons, and how to measure it better."""
    ops = ", ".join(weak)
    named = "; ".join(f"{op} ({', '.join(reasons)})" for op, reasons in weak.items())
    plural = len(weak) > 1
    quick = " (or without --quick)" if mode == "quick" else ""
    return (f"{path}: calibrate found {'these fits' if plural else 'this fit'} too weak to "
            f"use: {named}; {'they are' if plural else 'it is'} charged from the profile all "
            f"the same (only ops a profile lacks fall back to analytic costs): re-run `dlrmsim "
            f"calibrate` for {ops} with a larger --budget-scale{quick}, with --ops naming "
            f"{'them' if plural else 'it'} and every other op you need, and use the new "
            f"profile")
