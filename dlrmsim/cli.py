"""The `dlrmsim` command: one parser, one module per subcommand under `dlrmsim.commands`.

A user's mistake (bad YAML, unknown preset, a file that cannot be read) ends with one line on
stderr and exit status 2, never a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from dlrmsim import __version__
from dlrmsim.errors import user_error_types
from sim.demand_cache import CacheWarning

# Subcommand modules, each with `register(subparsers)`; the module sets `func` on its parser.
# Listed by name so that a command whose optional dependencies are missing fails alone, when used.
COMMAND_MODULES = (
    "dlrmsim.commands.presets",
    "dlrmsim.commands.trace",
    "dlrmsim.commands.calibrate",
    "dlrmsim.commands.simulate",
    "dlrmsim.commands.validate",
    "dlrmsim.commands.reproduce",
    "dlrmsim.commands.sweep",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlrmsim",
        description=(
            "Predict how fast DLRM-style recommendation models train on CPU clusters and GPU "
            "servers: calibrate kernels, generate and read lookup traces, simulate, validate, "
            "and reproduce the experiments of Acun et al. (HPCA 2021)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dlrmsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # the command is not written yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:  # the subcommands' imports take about a second, so Ctrl-C often comes during them
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("dlrmsim: interrupted", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        with _terminate_as_exit(), _warnings_as_lines(args.command):
            result = args.func(args)
    except user_error_types() as err:
        print(f"dlrmsim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError as err:  # numpy says how much it wanted; the user can ask for less
        print(f"dlrmsim {args.command}: error: out of memory ({err}); {_ask_for_less(args)}",
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `dlrmsim presets | head`: the reader left, nothing to say
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"dlrmsim {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


@contextlib.contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """The project's own warnings (e.g. a demand cache that cannot be written) print as one line
    like its errors; other warnings keep Python's format, which points at the code. The format
    before comes back after."""
    plain = warnings.formatwarning

    def format_warning(message: Warning | str, category: type[Warning], *rest: Any,
                       **named: Any) -> str:
        if issubclass(category, CacheWarning):
            return f"dlrmsim {command}: warning: {message}\n"
        return plain(message, category, *rest, **named)

    warnings.formatwarning = format_warning
    try:
        yield
    finally:
        warnings.formatwarning = plain


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit, so that with blocks and finally clauses run as on Ctrl-C (the
    atomic writer removes its hidden temporary file); the previous handler comes back after.
    Only the main thread may set handlers: elsewhere SIGTERM keeps its handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # the status a shell reports for a process the signal ended


def _ask_for_less(args: argparse.Namespace) -> str:
    if getattr(args, "batch_size", None):
        return f"try a smaller --batch-size than {args.batch_size}"
    return "try a smaller model or fewer batches"


if __name__ == "__main__":
    sys.exit(main())
