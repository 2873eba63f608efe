"""`dlrmsim validate`: predicted against measured DLRM training steps on this host."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrmsim.commands import arguments
from dlrmsim.validate.configs import MAX_SEED
from sim.errors import DlrmsimInputError

if TYPE_CHECKING:
    from dlrmsim.validate.report import ValidationRow

# The validation machinery imports torch (about 1 s): imported in `run`, so that other commands
# and `dlrmsim --help` do not wait for it.


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate", help="predict real DLRM training steps on this host and measure them",
        description="For each configuration: measure a real training step (torch), predict it "
                    "with the simulator from the calibration profile alone, and from nominal "
                    "rates (analytic), and report the errors.")
    parser.add_argument("--profile", type=Path, default=None,
                        help="calibration profile (default: the committed one for this host)")
    parser.add_argument("--configs", type=Path, default=None,
                        help="YAML/JSON list of {model: NAME|PATH|mapping, batch_size: N, name?}"
                             ", every table with fixed pooling (default: the built-in grid of 27)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where to run the real steps (default cpu)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of indices and weights")
    parser.add_argument("--min-time", type=arguments.seconds, default=1.0, metavar="S",
                        help="measure each configuration for at least S seconds (default 1)")
    parser.add_argument("--plot", type=Path, default=Path("validate_out/validate.png"),
                        help="where to write the predicted-vs-measured plot (default "
                             "validate_out/validate.png)")
    parser.add_argument("--rounds", type=arguments.at_least(1), default=2, metavar="N",
                        help="measure every configuration N times, round-robin, and take the "
                             "median (default 2: a shared host's slow minutes then spread over "
                             "all configurations)")
    parser.add_argument("--no-drift-check", dest="drift_check", action="store_false",
                        help="do not time the profile's probe points (a memory copy, an MLP "
                             "layer, an embedding bag) again before and after the steps; by "
                             "default their ratios to the profile's times show whether the "
                             "host's speed has moved since calibration (a few seconds)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _seed(text: str) -> int:
    value = arguments.seed(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number from 0 to 2**64 - 1 "
                                         f"({MAX_SEED}), the range torch's generators take")
    return value


_seed.__name__ = "seed"  # what argparse names in its messages


def _check_device(device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise DlrmsimInputError("--device cuda: no CUDA device here; use --device cpu")


def run(args: argparse.Namespace) -> int:
    from dlrmsim.output import print_json
    from dlrmsim.validate.configs import default_grid, load_configs
    from dlrmsim.validate.coverage import (
        check_coverage,
        coverage_warning,
        weak_fit_warning,
        weak_step_fits,
    )
    from dlrmsim.validate.host import other_host_warning, read_gpu_facts, read_host_facts
    from dlrmsim.validate.report import (
        check_plot_path,
        summary_text,
        table_text,
        to_json,
        write_plot,
    )
    from dlrmsim.validate.run import check_profile_device, default_profile, validate_all
    from sim.profile import load_profile

    _check_device(args.device)
    check_plot_path(args.plot)
    facts = read_host_facts()
    gpu = read_gpu_facts() if args.device == "cuda" else None
    path = args.profile or default_profile(facts, args.device,
                                           gpu_name=gpu.name if gpu else None)
    profile = load_profile(path)
    check_profile_device(profile, args.device)  # a refusal needs no warning before it
    warning = other_host_warning(profile, facts)
    if warning:
        print(warning, file=sys.stderr)
    configs = load_configs(args.configs) if args.configs else default_grid()
    models = [c.model for c in configs]
    uncovered = coverage_warning(profile, check_coverage(profile, models))
    weak = weak_fit_warning(profile, weak_step_fits(profile, models))
    for line in (uncovered, weak):  # before the minutes of measuring, and again in the summary
        if line:
            print(line, file=sys.stderr)

    def progress(name: str, round_: int, outcome: float | str) -> None:
        # On stderr also with --json: stdout holds only the JSON, and a long run shows life.
        status = outcome if isinstance(outcome, str) else f"{outcome:.2f} ms measured"
        where = f"[round {round_}/{args.rounds}] " if round_ else ""  # 0: not a round's step
        print(f"  {where}{name}: {status}", file=sys.stderr, flush=True)

    rows, meta = validate_all(configs, profile, device=args.device, seed=args.seed,
                              min_time_s=args.min_time, rounds=args.rounds, progress=progress,
                              gpu=gpu, drift_check=args.drift_check)
    data = to_json(rows, meta)
    data["plot"] = str(args.plot)
    # The results first: a plot that still cannot be written (disk full) must not lose them.
    if args.json:
        print_json(data)
    else:
        print(table_text(rows))
        print(summary_text(data))
    sys.stdout.flush()
    write_plot(rows, args.plot)
    if not args.json:
        print(f"plot: {args.plot}")
    return _nothing_compared(rows)


def _nothing_compared(rows: Sequence[ValidationRow]) -> int:
    """Exit status 2, with a line that says so, when no configuration could run: a run that
    compared nothing has not validated anything, and a script must not read it as a pass."""
    if any(r.skipped is None for r in rows):
        return 0
    print(f"dlrmsim validate: none of the {len(rows)} configuration(s) could be measured and "
          "predicted (the reasons are in the table); nothing was compared. Give configurations "
          "the host can run: every table with `distribution: fixed` pooling, within memory",
          file=sys.stderr)
    return 2
