"""`dlrmsim sweep`: a job simulated at every combination of comma-separated settings (ranges for
whole numbers), ranked, with the best by throughput and by examples per joule."""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Callable
from typing import Any

from dlrmsim.commands import arguments
from dlrmsim.output import counted, format_table, print_json
from dlrmsim.sweep import MAX_POINTS, METRICS, Sweep, SweepPoint, combined_error, sweep
from sim.errors import DlrmsimInputError
from sim.paths import check_output_file
from sim.run import spec_files
from sim.specs.job import PACKINGS, PLACEMENTS, SHARDINGS

# (flag, what it names, choices or smallest value): each takes one value or a comma-separated
# list, the whole numbers ranges too. Parameter servers and readers may be 0 (GPU jobs need
# none), as in `simulate`.
_TEXT_FLAGS = (("--model", "model presets or YAML files", None),
               ("--platform", "trainer platform presets or YAML files", None),
               ("--ps-platform", "platforms of parameter servers and readers", None),
               ("--placement", "embedding placements", PLACEMENTS),
               ("--sharding", "GPU table shardings", SHARDINGS),
               ("--packing", "GPU table packings", PACKINGS))
_COUNT_FLAGS = (("--batch-size", "examples per batch (per CPU thread, per GPU server)", 1),
                ("--trainers", "trainer servers", 1), ("--sparse-ps", "sparse parameter servers", 0),
                ("--dense-ps", "dense parameter servers", 0), ("--readers", "reader servers", 0),
                ("--hogwild", "Hogwild threads per CPU trainer", 1),
                ("--gpus", "GPUs per trainer server (0: all)", 0))
_CSV_COLUMNS = ("throughput_examples_per_s", "throughput_rse", "examples_per_joule", "power_w",
                "bottleneck", "longest_phase", "error", "notes")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep", help="simulate a job at every combination of settings; rank them",
        description="Simulate a job preset (--job m2_cpu), or a model on a platform, at every "
                    "combination of the settings given as comma-separated lists (--trainers "
                    "4,8,16 --sparse-ps 4,8 runs 6 points), and rank the points by throughput "
                    "or examples per joule. A point whose tables do not fit is listed as failed; "
                    f"the others still run. The {arguments.RANGE_HELP}.")
    parser.add_argument("--job", help="job preset name or YAML file")
    for flag, what, choices in _TEXT_FLAGS:
        parser.add_argument(flag, type=_names(choices), action=_InOrder, metavar="A[,B...]",
                            help=what)
    for flag, what, minimum in _COUNT_FLAGS:
        parser.add_argument(flag, type=arguments.whole_numbers(minimum, MAX_POINTS),
                            action=_InOrder, metavar="N[,A..B[+S|*F]...]", help=what)
    arguments.add_simulation_options(parser, each=" and point")
    parser.add_argument("--jobs", type=arguments.at_least(1), default=1,
                        help="points simulated in parallel processes (default 1)")
    parser.add_argument("--sort", choices=METRICS, default="throughput",
                        help="rank the points by this (default throughput)")
    parser.add_argument("--top", type=arguments.at_least(1),
                        help="show only the best N points (the JSON and CSV keep them all)")
    parser.add_argument("--csv", metavar="FILE", help="also write every point to a CSV file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    axes = _axes(args)
    if args.csv is not None:
        check_output_file(args.csv, "--csv", inputs=[  # said before the sweep, not after it
            *spec_files([("--job", args.job), *((f"--{name.replace('_', '-')}", value)
                                                for name, values in axes.items()
                                                for value in values)]),
            ("--profile", args.profile), ("--trace", args.trace)])
    done = sweep(args.job, axes, profile=args.profile, trace=args.trace,
                 iterations=args.iterations, target_rse=args.target_rse, seed=args.seed,
                 jobs=arguments.jobs_for_cpus(args.jobs, "sweep"))
    if args.json:
        print_json(done.to_dict())
    else:
        print(summary(done, args.sort, args.top))
    if args.csv is not None:  # after the table: a folder gone since the check loses only the file
        write_csv(done, args.csv)
    return 0


class _InOrder(argparse.Action):
    """Store the values and note the setting's place on the command line (`axis_order`): the
    grid varies the first flag given slowest, as the user reads the command. A flag given
    twice keeps its last values and place."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        order = [name for name in getattr(namespace, "axis_order", ()) if name != self.dest]
        namespace.axis_order = (*order, self.dest)  # a new tuple: defaults are never mutated


def _axes(args: argparse.Namespace) -> dict[str, tuple[Any, ...]]:
    """The settings given on the command line, in the order they were given."""
    axes = {name: getattr(args, name) for name in getattr(args, "axis_order", ())}
    if args.job is None and not ({"model", "platform"} <= axes.keys()):
        raise DlrmsimInputError("give a job (e.g. --job m2_cpu), or a model and a platform "
                                "(--model m2_prod --platform big_basin)")
    return axes


def _names(choices: tuple[str, ...] | None) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names (each one of `choices` if given), repeats
    dropped, in the order given."""

    def parse(text: str) -> tuple[str, ...]:
        values = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
        if not values or "" in values:
            raise argparse.ArgumentTypeError(f"{text!r}: give names separated by commas, "
                                             "without empty ones")
        wrong = [v for v in values if choices is not None and v not in choices]
        if wrong and ".." in wrong[0]:
            raise argparse.ArgumentTypeError(f"{wrong[0]!r}: ranges (A..B) are for whole-number "
                                             "settings such as --trainers; list these by name, "
                                             f"separated by commas: {','.join(choices or ())}")
        if wrong:
            raise argparse.ArgumentTypeError(f"{wrong[0]!r}: give one of {', '.join(choices or ())}")
        return values

    parse.__name__ = "comma-separated names"
    return parse


def write_csv(done: Sweep, path: str) -> None:
    """Every point (grid order) with its settings and figures; whole or not at all."""
    from traces.atomic import atomic_output

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*done.axes, *_CSV_COLUMNS])
    for point in done.points:
        row = point.to_dict()
        writer.writerow([_csv_cell(row[k]) for k in (*done.axes, *_CSV_COLUMNS)])
    with atomic_output(path) as handle:
        handle.write(text.getvalue().encode())


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return " | ".join(value) if isinstance(value, list) else value


def summary(done: Sweep, metric: str, top: int | None = None) -> str:
    """The points that ran, best first by `metric`; the best of each metric; the failures."""
    varied = [f"{name} {','.join(str(v) for v in values)}" for name, values in done.axes.items()]
    shown = done.ranked(metric)[:top]
    headers = (*done.axes, "examples/s", "rse %", "examples/J", "power W", "bottleneck",
               "longest phase")
    rows = [(*p.settings.values(), round(p.outcome.throughput), 100 * p.outcome.throughput_rse,
             p.outcome.examples_per_joule, round(p.outcome.power_w), p.outcome.bottleneck,
             p.outcome.longest_phase)
            for p in shown]
    lines = [f"sweep of {done.job or 'a model on a platform'}: "
             f"{counted(len(done.points), 'point')} ({'; '.join(varied) or 'nothing varied'}), "
             f"seed {done.fixed['seed']}",
             f"ranked by {metric.replace('_', ' ')}"
             + (f", best {len(shown)} of {len(done.points) - len(done.failed)}" if top else ""),
             format_table(headers, rows, decimals={"rse %": 2, "examples/J": 1}),
             *_within_noise(done, metric), ""]
    for name, unit, digits in (("throughput", "examples/s", 0),
                               ("examples_per_joule", "examples/J", 1)):
        best = done.best(name)
        if best is not None:
            lines.append(f"best {name.replace('_', ' ')}: {best.label()} "
                         f"({best.figures()[name]:,.{digits}f} {unit})")
    lines += _failures(done.failed)
    lines += [f"note ({count} of {len(done.points)} points): {note}"
              for note, count in done.notes().items()]
    return "\n".join(lines)


def _within_noise(done: Sweep, metric: str) -> list[str]:
    """A line when the first two ranked points are closer than their combined error: their
    order may be the noise of the runs, not a difference between the settings."""
    close = done.within_noise(metric)
    if close is None:
        return []
    first, second = close
    best = first.figures()[metric]
    gap = (best - second.figures()[metric]) / best
    error = combined_error(first, second, metric) / best
    return [f"the first two differ by {gap:.2%}, less than their combined error ({error:.2%}): "
            "within noise; more --iterations or a smaller --target-rse may separate them"]


def _failures(failed: tuple[SweepPoint, ...]) -> list[str]:
    if not failed:
        return []
    return ["", f"{len(failed)} point{'s' if len(failed) > 1 else ''} failed:",
            *(f"  {p.label()}: {p.outcome.error}" for p in failed)]
