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
