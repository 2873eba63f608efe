"""`dlrmsim calibrate`: the same options and code as `python -m calibrate`."""

from __future__ import annotations

import argparse
from typing import Any

from calibrate.cli import add_arguments, run


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "calibrate",
        help="time kernels and bandwidths on this host and write a profile",
        description="Time embedding, MLP and interaction kernels and measure memory, PCIe and "
                    "network bandwidth on this host; write a dlrmsim profile (see "
                    "profiles/README.md).")
    add_arguments(parser)
    parser.set_defaults(func=run)
