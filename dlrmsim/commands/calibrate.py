"""`dlrmsim calibrate`: the same options and code as `python -m calibrate`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from calibrate.cli import INTERRUPTED, add_arguments, run


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "calibrate",
        help="time kernels and bandwidths on this host and write a profile",
        description="Time embedding, MLP and interaction kernels and measure memory, PCIe and "
                    "network bandwidth on this host; write a dlrmsim profile (see "
                    "profiles/README.md).")
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # dlrmsim's own handler says only "interrupted"; a calibration can say what it left.
    try:
        return run(args)
    except KeyboardInterrupt:
        print(f"dlrmsim calibrate: {INTERRUPTED}", file=sys.stderr)
        return 130
