"""`dlrmsim simulate`: one job through the simulator, as a readable summary or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dlrmsim.commands import arguments
from dlrmsim.output import counted, format_table, human_bytes, print_json
from sim.results import SimResult
from sim.run import simulate
from sim.specs.job import PACKINGS, PLACEMENTS, SHARDINGS

_COUNTS = (("--trainers", "trainer servers"), ("--sparse-ps", "sparse parameter servers"),
           ("--dense-ps", "dense parameter servers"), ("--readers", "reader servers"),
           ("--hogwild", "Hogwild threads per CPU trainer"),
           ("--gpus", "GPUs per trainer server (0: all)"))


# Plurals of the role names; sparse_ps and dense_ps (parameter servers) read as plurals already.
_ROLE_PLURALS = {"trainer": "trainers", "reader": "readers"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate", help="simulate training a model on a fleet; throughput, utilization, power",
        description="Simulate a job preset (--job m2_gpu) or a model on a platform (--model, "
                    "--platform). Any flag given with --job overrides the preset.")
    parser.add_argument("--job", help="job preset name or YAML file")
    parser.add_argument("--model", help="model preset name or YAML file")
    parser.add_argument("--platform", help="trainer platform preset name or YAML file")
    parser.add_argument("--ps-platform", help="platform of parameter servers and readers")
    parser.add_argument("--placement", choices=PLACEMENTS, help="where the embedding tables live")
    parser.add_argument("--sharding", choices=SHARDINGS,
                        help="tables in GPU memory: whole tables per GPU, or rows split over GPUs")
    parser.add_argument("--packing", choices=PACKINGS,
                        help="tables in GPU memory: on the fewest GPUs that hold them, or over all")
    parser.add_argument("--batch-size", type=int, help="examples per batch (per CPU thread, per "
                        "GPU server)")
    for flag, what in _COUNTS:
        parser.add_argument(flag, type=int, help=f"number of {what}")
    arguments.add_simulation_options(parser)
    parser.add_argument("--chrome-trace", metavar="FILE",
                        help="write the timeline for chrome://tracing or Perfetto")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = simulate(
        args.job, model=args.model, platform=args.platform, ps_platform=args.ps_platform,
        placement=args.placement, sharding=args.sharding, packing=args.packing,
        batch_size=args.batch_size, trainers=args.trainers,
        sparse_ps=args.sparse_ps, dense_ps=args.dense_ps, readers=args.readers,
        hogwild=args.hogwild, gpus=args.gpus, profile=args.profile, trace=args.trace,
        iterations=args.iterations, seed=args.seed, chrome_trace=args.chrome_trace,
        target_rse=args.target_rse)
    if args.json:
        print_json(result.to_dict())
    else:
        print(summary(result))
    for note in result.notes:  # on stderr: with --json, stdout holds only the JSON
        print(f"note: {note}", file=sys.stderr)
    return 0


def phases(result: SimResult) -> str:
    """Where a mean iteration goes, phase by phase in the step's order (empty phases left out)."""
    mean = result.iteration_time_s["mean"]
    parts = [f"{name} {seconds * 1e3:.3f} ms ({seconds / mean:.0%})"
             for name, seconds in result.phase_time_s.items() if seconds > 0 and mean > 0]
    return ", ".join(parts) or "-"


def summary(result: SimResult) -> str:
    """The result as a few readable lines and a table of utilization by role."""
    servers = ", ".join(counted(n, role, _ROLE_PLURALS.get(role, role))
                        for role, n in result.servers.items() if n)
    it = result.iteration_time_s
    lines = [
        f"job {result.job}: model {result.model} on {result.trainer_platform}, "
        f"placement {result.placement}, batch {result.batch_size}, servers: {servers}",
        f"throughput   {result.throughput_examples_per_s:,.0f} examples/s "
        f"(relative standard error {result.throughput_rse:.2%}, of which the "
        f"{result.demand_batches} replayed batches {result.demand_rse:.2%})",
        f"iteration    mean {it['mean'] * 1e3:.3f} ms, p50 {it['p50'] * 1e3:.3f} ms, "
        f"p99 {it['p99'] * 1e3:.3f} ms",
        f"phases       {phases(result)}",
        f"bottleneck   {result.bottleneck} ({result.bottleneck_kind}, "
        f"{result.bottleneck_utilization:.0%} busy)",
        f"power        {result.power_w:,.0f} W, {result.examples_per_joule:,.1f} examples/J",
        f"costs        {result.costs}",
        "",
        "busy fraction by role:",
    ]
    # Every role reports the same resource classes (sim.results.by_role).
    kinds = list(next(iter(result.utilization.values()))) if result.utilization else []
    rows = [(role, *(round(v[k], 3) for k in kinds)) for role, v in result.utilization.items()]
    lines.append(format_table(("role", *kinds), rows))
    top = sorted(result.bytes_per_link.items(), key=lambda kv: -kv[1])[:5]
    if top:
        lines += ["", "busiest links (bytes in the measured window):"]
        lines += [f"  {name}: {human_bytes(nbytes)}" for name, nbytes in top]
    return "\n".join(lines)
