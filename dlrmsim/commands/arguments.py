"""Argument types shared by the subcommands: argparse turns their errors into one line and
exit status 2, before any work starts."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterable


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text}: give a whole number >= {minimum}")
        return value

    parse.__name__ = f"whole number >= {minimum}"  # what argparse names in its messages
    return parse


seed = at_least(0)  # numpy's seed sequences take no negative seed

# A range of whole numbers: START..END, then optionally +STEP (arithmetic) or *FACTOR
# (geometric; `x` for `*`, which needs no quotes in a shell). The parts are checked one by
# one below, so that a bad one is named.
_RANGE = re.compile(r"(?P<start>[^.]*)\.\.(?P<end>[^.+*x]*)(?:(?P<op>[+*x])(?P<step>.*))?")
RANGE_HELP = ("whole-number settings also take ranges: A..B counts from A to B by 1, A..B+S by S "
              "(1..16+4 is 1,5,9,13), A..B*F or A..BxF multiplies by F (256..4096*2 is "
              "256,512,1024,2048,4096; quote the * in a shell); B is included when the count "
              "lands on it, and ranges mix with single values (1,2,4..16+4)")


def whole_numbers(minimum: int, most: int) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: comma-separated whole numbers >= `minimum` and ranges of them
    (RANGE_HELP), repeats dropped, in the order given; a range of more than `most` values is
    refused before it is counted out."""
    one = at_least(minimum)

    def parse(text: str) -> tuple[int, ...]:
        values: list[int] = []
        for part in (p.strip() for p in text.split(",")):
            values.extend(_range(part, one, most) if ".." in part else [one(part)])
        return tuple(dict.fromkeys(values))

    parse.__name__ = f"whole numbers >= {minimum}"
    return parse


def _range(text: str, one: Callable[[str], int], most: int) -> Iterable[int]:
    """The values of one range START..END[+STEP|*FACTOR]; ArgumentTypeError names what is wrong
    with it and how to write it."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: write a range as A..B, A..B+STEP or "
                                         "A..B*FACTOR, e.g. 1..16+4 or 256..4096*2")
    start, end = one(match["start"]), one(match["end"])
    if end < start:
        raise argparse.ArgumentTypeError(f"{text}: the range ends before it starts; ranges "
                                         f"count up, e.g. {end}..{start}")
    geometric = match["op"] in ("*", "x")
    step = _step(text, match["step"] if match["op"] else "1", geometric)
    if geometric and start < 1:
        raise argparse.ArgumentTypeError(f"{text}: a range that multiplies never leaves "
                                         f"{start}; start it at 1 or more, e.g. 1..{end}*{step}")
    count = _count(start, end, step, geometric)
    if count > most:
        raise argparse.ArgumentTypeError(
            f"{text}: {count:,} values, more than a sweep runs ({most:,}); give a larger "
            f"{'factor' if geometric else 'step'} or a shorter range")
    if not geometric:
        return range(start, end + 1, step)
    return [start * step**i for i in range(count)]


def _step(text: str, step_text: str, geometric: bool) -> int:
    name, least = ("factor", 2) if geometric else ("step", 1)
    try:
        step = int(step_text)
    except ValueError:
        step = least - 1  # refused below, with the same advice
    if step < least:
        example = "256..4096*2" if geometric else "1..16+4"
        raise argparse.ArgumentTypeError(f"{text}: the {name} must be a whole number >= "
                                         f"{least}, e.g. {example}")
    return step


def _count(start: int, end: int, step: int, geometric: bool) -> int:
    """How many values the range has, counted without listing them (1..10**12 is refused
    rather than counted out)."""
    if not geometric:
        return (end - start) // step + 1
    count, value = 1, start
    while value * step <= end:
        count, value = count + 1, value * step
    return count


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0 (nan would compare false with every
    time, -1 act as 0, and inf never end)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text}: give a finite number of seconds >= 0")
    return value


seconds.__name__ = "number of seconds"  # what argparse names in its messages


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (nan fails the test too)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a fraction such as 0.01") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give a fraction in (0, 1), such as 0.01")
    return value


fraction.__name__ = "fraction"


def add_simulation_options(parser: argparse.ArgumentParser, each: str = "") -> None:
    """The options every simulation of a command shares: --profile, --trace, --iterations,
    --target-rse, --seed. `each` names what they apply to, when several simulations run
    (" and point")."""
    from sim.run import DEFAULT_ITERATIONS  # here: the other commands' types need no simulator

    parser.add_argument("--profile", help="calibration profile (JSON) for calibrated costs")
    parser.add_argument("--trace", help="native lookup trace to replay instead of the model's "
                        "generator")
    parser.add_argument("--iterations", type=at_least(3), default=DEFAULT_ITERATIONS,
                        help=f"iterations per worker{each}, warm-up included (default "
                             f"{DEFAULT_ITERATIONS})")
    parser.add_argument("--target-rse", type=fraction, default=None, metavar="FRACTION",
                        help="stop once the throughput's relative standard error is below "
                             "FRACTION (e.g. 0.01), at most --iterations; the replayed batches "
                             "are drawn to half of it when that is below 0.5%%")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the generated lookups")


def jobs_for_cpus(jobs: int, command: str) -> int:
    """`--jobs`, at most the CPUs this process may use, with a note on stderr when it was more:
    each job is a process that simulates flat out, so more of them only take turns (500 jobs
    on 2 CPUs ran fig1 in 37 s against 7 s with one)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if jobs <= cpus:
        return jobs
    print(f"dlrmsim {command}: note: --jobs {jobs} is more than the {cpus} CPUs this machine "
          f"gives it; running {cpus} at a time", file=sys.stderr)
    return cpus
