"""One calibration run: resolve the device, plan every op, measure, fit, write the profile."""

from __future__ import annotations

import math
import re
import socket
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from calibrate.arguments import threads_problem
from calibrate.catalog_compute import (
    embedding_specs,
    fbgemm_specs,
    interaction_specs,
    mlp_specs,
    step_glue_specs,
    working_set_specs,
)
from calibrate.catalog_transfer import NETWORK_OP, collective_specs, memory_specs, network_spec
from calibrate.clock import Clock, CudaEventClock, WallClock
from calibrate.context import Context
from calibrate.device import resolve_device
from calibrate.errors import CalibrationError
from calibrate.fit import build_cost_model
from calibrate.grid import build_grid
from calibrate.headline import headlines
from calibrate.host import (
    available_memory_bytes,
    fingerprint,
    flush_bytes,
    gpu_l2_cache_bytes,
)
from calibrate.kernels.fbgemm import fbgemm_version
from calibrate.opspec import OpSpec, Registry
from calibrate.peer import PeerLink, open_peer
from calibrate.plan import Limits, Plan, plan_op
from calibrate.profile import SCHEMA, SCHEMA_VERSION, check_writable, write_profile
from calibrate.progress import ProgressBar
from calibrate.quality import weak_fits
from calibrate.settings import mode_settings, priors_for
from calibrate.stats import SPREAD_DEFINITION
from calibrate.sweep import SweepResult, run_sweep
from calibrate.working_set import working_set_ratios

MAX_MEMORY_CAP_BYTES = 8 * 1024**3  # bytes; the development VM's agreed ceiling (issue 4)
MEMORY_SHARE = 0.5  # of available host memory, or free GPU memory, one point may use
DEADLINE_FACTOR = 2.5  # an op may overrun its estimated budget by this factor before skipping
# ...and all ops together their mode's budget by this factor, which keeps a full CPU run under
# the 20 minutes (760 s x 1.45 = 18.4 min) and a quick one under 3 (100 s x 1.45).
TOTAL_DEADLINE_FACTOR = 1.45
# Relative weights of the ops in the time budget (dimensionless): embeddings dominate DLRM.
_WEIGHTS = {"embedding": 3.0, "fbgemm": 1.5, "mlp": 1.5, "interaction": 1.0, "network": 0.6,
            "allreduce": 1.0, "alltoall": 1.0}
_DEFAULT_WEIGHT = 0.8
# No negative seed, as in the other dlrmsim commands (numpy refuses them); the cap keeps the
# kernels' torch seeds, seed x 1000 + point index, inside torch's 64-bit range.
MAX_SEED = 2**32 - 1
WORKING_SET_BUDGET_SHARE = 0.04  # of the mode's budget, per working-set op (30 s on a full CPU run)


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for. `ops` restricts the run to some op names; `budget_scale`
    multiplies the mode's time budget (a tiny value keeps only essential points); `threads` sets
    torch's intra-op threads (default: torch's choice, one per core); `keep_going` records an op
    whose sweep fails as skipped, with the error, and goes on to the next op, so one broken
    kernel on an unfamiliar host does not lose the others' minutes of measurements; `force`
    lets the run replace an existing profile at `out`."""

    device: str = "auto"
    quick: bool = False
    out: Path | None = None
    peer: str | None = None
    seed: int = 0
    quiet: bool = False
    fbgemm: bool = True
    ops: tuple[str, ...] | None = None
    budget_scale: float = 1.0
    threads: int | None = None
    keep_going: bool = False
    force: bool = False


def default_out_path(device: torch.device, quick: bool) -> Path:
    """profiles/<device>[-<gpu>]-<host>-<mode>.json, with names reduced to [a-z0-9-]."""
    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "unknown"

    parts = [device.type]
    if device.type == "cuda":
        parts.append(slug(torch.cuda.get_device_name(device)))
    parts += [slug(socket.gethostname()), "quick" if quick else "full"]
    return Path("profiles") / ("-".join(parts) + ".json")


def check_options(options: RunOptions) -> None:
    """Raise CalibrationError, naming the option, for a value the run cannot use."""
    problem = None if options.threads is None else threads_problem(options.threads)
    if problem:  # the command line checked it; RunOptions also comes from Python callers
        raise CalibrationError(f"--threads {problem}")
    if not (math.isfinite(options.budget_scale) and options.budget_scale > 0):
        raise CalibrationError(f"--budget-scale must be a finite number > 0, "
                               f"got {options.budget_scale}")
    if not 0 <= options.seed <= MAX_SEED:
        raise CalibrationError(f"--seed must be a whole number from 0 to {MAX_SEED}, "
                               f"got {options.seed}")
    if options.ops is not None and not options.ops:  # else a profile that measured nothing
        raise CalibrationError("--ops names no op; name at least one (e.g. --ops "
                               "embedding_forward), or leave --ops out to calibrate them all")


def check_not_replacing(out: Path, force: bool) -> None:
    """Refuse to replace an existing profile unless `force`: the default path is built from the
    host name, so on a host named like the one that made a committed profile it is that file."""
    if out.is_file() and not force:
        raise CalibrationError(f"{out} exists; give --force to replace it, or --out another path")


def _memory_cap(device: torch.device) -> float:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return MEMORY_SHARE * free
    return min(MAX_MEMORY_CAP_BYTES, MEMORY_SHARE * available_memory_bytes())


def build_registry(ctx: Context, link: PeerLink | None, only: Sequence[str] | None) -> Registry:
    """Every op this device and mode calibrate, optionally restricted to `only`.
    Raises CalibrationError for a name in `only` that is not an op here."""
    specs: list[OpSpec] = embedding_specs(ctx)
    if ctx.use_fbgemm:
        specs += fbgemm_specs(ctx)
    if ctx.settings.name == "full":  # quick mode's few repeats made single ratios of 6 (noise)
        specs += working_set_specs(ctx)
    specs += mlp_specs(ctx) + interaction_specs(ctx) + step_glue_specs(ctx)
    specs += memory_specs(ctx) + collective_specs(ctx)
    if link is not None:
        specs.append(network_spec(ctx, link.connect))
    # Without a link (--ops without it opens none) network_tcp is still an op of every host.
    known = [s.name for s in specs] + ([NETWORK_OP] if link is None else [])
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise CalibrationError(_unknown_ops_message(unknown, known, _unavailable_ops(ctx)))
    registry = Registry()
    for spec in specs:
        if only is None or spec.name in only:
            registry.add(spec)
    return registry


def _unavailable_ops(ctx: Context) -> dict[str, str]:
    """Ops that another mode or install would measure, each with what makes it available:
    "unknown op" sent users who named one the README lists looking for a typo."""
    why = {}
    if ctx.settings.name != "full":
        why.update({s.name: "full mode only: drop --quick" for s in working_set_specs(ctx)})
    if not ctx.use_fbgemm:
        if fbgemm_version() is not None:
            fix = "left out by --no-fbgemm: drop it"
        elif ctx.device.type == "cuda":
            fix = "needs fbgemm_gpu (pip install fbgemm-gpu, the build matching your torch)"
        else:
            fix = "needs fbgemm_gpu (pip install fbgemm-gpu-cpu==1.8.0)"
        why.update({s.name: fix for s in fbgemm_specs(ctx)})
    return why


def _unknown_ops_message(unknown: Sequence[str], known: Sequence[str],
                         unavailable: dict[str, str]) -> str:
    parts = [f"op {op}: {unavailable[op]}" for op in unknown if op in unavailable]
    rest = [op for op in unknown if op not in unavailable]
    if rest:
        parts.append(f"unknown op(s) {rest}; known: {list(known)}")
    return "; ".join(parts)


def _weight(name: str) -> float:
    return next((w for key, w in _WEIGHTS.items() if name.startswith(key)), _DEFAULT_WEIGHT)


def _budget_share(spec: OpSpec, registry: Registry) -> float:
    """The part of the mode's budget an op gets: the fitted ops split it by weight, and the
    working-set ops get a fixed share on top, so that adding them changes no other op's points."""
    if spec.ratio_of is not None:
        return WORKING_SET_BUDGET_SHARE
    total = sum(_weight(s.name) for s in registry if s.ratio_of is None)
    return _weight(spec.name) / total


def plan_all(registry: Registry, ctx: Context, budget_scale: float) -> dict[str, Plan]:
    """Deterministic plans for every op: same seed and limits, same points."""
    plans = {}
    for spec in registry:
        limits = Limits(
            memory_cap_bytes=ctx.memory_cap_bytes, max_call_s=ctx.settings.max_call_s,
            budget_s=ctx.settings.total_budget_s * budget_scale * _budget_share(spec, registry),
            samples_per_point=ctx.settings.samples_per_point,
            min_sample_s=ctx.settings.policy.min_sample_s,
            max_inner=ctx.settings.policy.max_inner)
        grid = build_grid(spec.design, ctx.seed ^ zlib.crc32(spec.name.encode()))
        plans[spec.name] = plan_op(spec, grid, limits)
    return plans


def make_context(options: RunOptions, device: torch.device) -> Context:
    use_fbgemm = options.fbgemm and fbgemm_version() is not None
    flush = flush_bytes(gpu_l2_cache_bytes(device)) if device.type == "cuda" else flush_bytes()
    return Context(
        device=device, settings=mode_settings(device.type, options.quick),
        priors=priors_for(device.type), seed=options.seed, flush_bytes=flush,
        memory_cap_bytes=_memory_cap(device),
        gpu_count=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        use_fbgemm=use_fbgemm)


def default_clock(device: torch.device) -> Clock:
    return CudaEventClock() if device.type == "cuda" else WallClock()


def calibrate(
    options: RunOptions, clock: Clock | None = None, now: Callable[[], float] = time.monotonic
) -> tuple[Path, dict[str, Any]]:
    """Run a calibration and write its profile; returns (path, profile).

    Raises CalibrationError for an unusable device, output path or peer, before measuring.
    """
    started = now()
    check_options(options)
    device = resolve_device(options.device)
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    out = options.out or default_out_path(device, options.quick)
    check_not_replacing(out, options.force)
    check_writable(out)
    only = options.ops
    link = open_peer(options.peer) if only is None or NETWORK_OP in only else None
    try:
        ctx = make_context(options, device)
        registry = build_registry(ctx, link, only)
        plans = plan_all(registry, ctx, options.budget_scale)
        results = _measure_all(registry, plans, ctx, clock or default_clock(device), now,
                               options)
    finally:
        if link is not None:
            link.close()
    profile = assemble(ctx, registry, plans, results, options, link, now() - started)
    write_profile(profile, out)
    return out, profile


def op_deadline(now_s: float, estimated_s: float, budget_scale: float,
                total_deadline_s: float) -> float:
    """When an op stops starting new points: DEADLINE_FACTOR times its plan's estimate (at least
    1 s) from now, stretched by a budget scale above 1 (a user who gives a slow host more time
    gives every op more, not only the run's total), and never past the run's total deadline.
    A scale below 1 already shrank the plan, so it does not shorten the deadline again."""
    stretch = max(budget_scale, 1.0)
    return min(total_deadline_s, now_s + DEADLINE_FACTOR * stretch * max(estimated_s, 1.0))


def _measure_all(registry: Registry, plans: dict[str, Plan], ctx: Context, clock: Clock,
                 now: Callable[[], float], options: RunOptions) -> dict[str, Any]:
    bar = ProgressBar(sum(len(p.points) for p in plans.values()), enabled=not options.quiet)
    results = {}
    total_deadline = now() + TOTAL_DEADLINE_FACTOR * max(
        ctx.settings.total_budget_s * options.budget_scale,
        sum(p.est_total_s for p in plans.values()))
    try:
        for spec in registry:
            plan = plans[spec.name]
            deadline = op_deadline(now(), plan.est_total_s, options.budget_scale, total_deadline)
            try:
                results[spec.name] = run_sweep(spec, plan, clock, ctx.settings.policy, ctx.seed,
                                               deadline, progress=bar.advance, now=now)
            except Exception as err:  # any failure of one op, when asked to keep going
                if not options.keep_going:
                    raise
                results[spec.name] = failed_sweep(spec.name, plan, err)
    finally:
        bar.close()
    return results


def failed_sweep(op: str, plan: Plan, err: BaseException) -> SweepResult:
    """Every point of `plan` skipped with the error's text; the traceback goes to stderr."""
    reason = f"failed: {type(err).__name__}: {err}".splitlines()[0][:300]
    print(f"calibrate: warning: op {op} failed and is skipped (--keep-going): {reason}",
          file=sys.stderr)
    traceback.print_exception(err, file=sys.stderr)
    return SweepResult(skipped=[{"params": dict(p.point.params), "reason": reason}
                                for p in plan.points])


def failed_ops(profile: dict[str, Any]) -> list[str]:
    """Ops of `profile` whose sweep failed outright (see `failed_sweep`)."""
    return [name for name, record in profile["grid"]["ops"].items()
            if any(str(s.get("reason", "")).startswith("failed: ") for s in record["skipped"])]


def assemble(ctx: Context, registry: Registry, plans: dict[str, Plan], results: dict[str, Any],
             options: RunOptions, link: PeerLink | None, wall_s: float) -> dict[str, Any]:
    """The profile dictionary (see profiles/README.md for every key)."""
    measurements = [m for spec in registry for m in results[spec.name].measurements]
    models = {}
    for spec in registry:
        if spec.ratio_of is not None:
            continue  # a working-set op: ratios to its paired timings, below
        points = [(m.params, m.median_s, m.held_out) for m in results[spec.name].measurements]
        model = build_cost_model(spec.params, spec.terms, spec.split_params, points)
        if model is not None:
            models[spec.name] = model
    bandwidths, latencies = headlines(measurements)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": ctx.settings.name, "device": ctx.device.type,
        "host": fingerprint(ctx.device, ctx.use_fbgemm),
        "measurements": [m.to_json() for m in measurements],
        "cost_models": models,
        "working_set_ratios": working_set_ratios(registry, results, ctx.flush_bytes),
        "bandwidths_bytes_per_s": bandwidths,
        "latencies_s": latencies,
        "grid": _grid_record(ctx, registry, plans, results, options, link),
        "run": {"wall_s": round(wall_s, 1), "seed": options.seed, "threads": options.threads,
                "budget_scale": options.budget_scale,
                "estimated_s": round(sum(p.est_total_s for p in plans.values()), 1),
                "timing_policy": vars(ctx.settings.policy),
                "spread": SPREAD_DEFINITION,
                "network_peer": link.label if link else None,
                "network_tcp_time": "one-way bytes plus a 1-byte acknowledgement (one RTT)",
                "weak_fits": weak_fits(registry, models)},
    }


def _grid_record(ctx: Context, registry: Registry, plans: dict[str, Plan],
                 results: dict[str, Any], options: RunOptions, link: PeerLink | None
                 ) -> dict[str, Any]:
    ops = {}
    for spec in registry:
        record = {"design": spec.design.describe(), **plans[spec.name].describe(),
                  "wall_s": round(results[spec.name].wall_s, 2)}
        record["skipped"] = record["skipped"] + results[spec.name].skipped
        ops[spec.name] = record
    return {"seed": options.seed, "memory_cap_bytes": ctx.memory_cap_bytes,
            "cache_flush_bytes": ctx.flush_bytes, "budget_s": ctx.settings.total_budget_s *
            options.budget_scale, "max_call_s": ctx.settings.max_call_s, "ops": ops}
