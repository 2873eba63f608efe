"""Argument types shared by the subcommands: argparse turns their errors into one line and
exit status 2, before any work starts."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
                             "FRACTION (e.g. 0.01), at most --iterations")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the generated lookups")
