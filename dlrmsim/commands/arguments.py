"""Argument types shared by the subcommands: argparse turns their errors into one line and
exit status 2, before any work starts."""

from __future__ import annotations

import argparse
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
