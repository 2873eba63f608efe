"""Range-checked argparse types of the calibrate command line, so that a number out of range ends
with one line and exit status 2 as the command line is read, not with a crash deep in the
socket library or torch. Imports no torch: `serve` runs on hosts that have none."""

from __future__ import annotations

import argparse
import os

MAX_PORT = 65535  # TCP ports are 16-bit; 0 asks the system for a free one


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else every CPU of the host)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number, got {text!r}") from None


def port(text: str) -> int:
    """A TCP port to listen on, 0 to MAX_PORT (0 picks a free one)."""
    value = _whole(text)
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_PORT} (0 picks a free port), "
                                         f"got {value}")
    return value


def threads(text: str) -> int:
    """Torch intra-op threads, 1 to usable_cpus()."""
    value = _whole(text)
    problem = threads_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def threads_problem(value: int) -> str | None:
    """Why `value` threads cannot be used, or None. More threads than CPUs only slow the kernels
    (they take turns on the same cores), and torch crashed with a segmentation fault at 100000."""
    most = usable_cpus()
    if 1 <= value <= most:
        return None
    return (f"must be from 1 to {most}, the CPUs this process may use (more only take turns "
            f"on the same cores), got {value}")
