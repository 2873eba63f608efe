"""Command line: `python -m calibrate [options]`, `python -m calibrate serve --port N`, and the
same through `dlrmsim calibrate` (which calls `add_arguments` and `run`).

A user mistake raises CalibrationError; `main` prints it as one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from calibrate import arguments
from calibrate.device import DEVICE_CHOICES
from calibrate.errors import CalibrationError
from calibrate.kernels.network import SinkServer
from calibrate.quality import weak_fit_warning

DEFAULT_SERVE_HOST = "0.0.0.0"  # listen on every interface, so a remote host can reach it
# What an interrupted run leaves: the profile is written atomically at the very end, and an
# existing one is replaced only by that last rename.
INTERRUPTED = "interrupted; no profile written (a profile already at the output path is untouched)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add calibration options and the `serve` action to `parser`."""
    run_options = _add_run_options(parser)
    actions = parser.add_subparsers(dest="calibrate_action", metavar="ACTION")
    serve = actions.add_parser("serve", help="run a TCP sink that a `--peer` run measures")
    serve.add_argument("--port", type=arguments.port, required=True,
                       help="TCP port to listen on, 0 to 65535 (0: any free port)")
    serve.add_argument("--host", default=DEFAULT_SERVE_HOST,
                       help=f"address to bind (default {DEFAULT_SERVE_HOST}: every interface, "
                            "so that a remote host can reach it)")
    serve.set_defaults(run_options=run_options)


def _add_run_options(parser: argparse.ArgumentParser) -> dict[str, tuple[str, object]]:
    """Add the options of a calibration run to `parser`; {dest: (flag, default)} of each, for
    `serve` to say which of them were given, since it uses none."""
    added: list[argparse.Action] = []

    def add(*flags: str, **settings: Any) -> None:
        added.append(parser.add_argument(*flags, **settings))

    add("--device", default="auto", metavar="|".join(DEVICE_CHOICES),
        help="where to time kernels (default: auto, CUDA when present)")
    add("--quick", action="store_true",
        help="a small grid: under 3 minutes on a CPU (default: full grid)")
    add("--out", type=Path, default=None,
        help="profile path (default: profiles/<device>[-<gpu>]-<host>-<mode>.json)")
    add("--force", action="store_true",
        help="replace the profile at that path if it exists (default: refuse)")
    add("--peer", default=None, metavar="HOST:PORT",
        help="measure TCP to a `serve` peer (default: loopback)")
    add("--seed", type=int, default=0,
        help="seed of grids and inputs, 0 to 2^32 - 1 (default 0)")
    add("--quiet", action="store_true", help="no progress bar or summary")
    add("--no-fbgemm", dest="fbgemm", action="store_false",
        help="skip FBGEMM kernels even when fbgemm_gpu is installed")
    add("--ops", default=None, metavar="OP[,OP...]",
        help="calibrate only these ops (e.g. embedding_forward,mlp_forward; "
             "an unknown name lists those of this host and mode); default: all")
    add("--budget-scale", type=float, default=1.0, metavar="X",
        help="multiply the mode's time budget by X (default 1)")
    add("--threads", type=arguments.threads, default=None, metavar="N",
        help="torch intra-op threads, at most the CPUs this process may use "
             "(default: torch's choice, one per core)")
    add("--keep-going", action="store_true",
        help="when an op fails, record it as skipped with the error and go on; "
             "the profile is written and the exit status is 3")
    add("--json", action="store_true", help="print the summary as JSON")
    return {action.dest: (action.option_strings[0], action.default) for action in added}


def _note_ignored(args: argparse.Namespace) -> None:
    """Say on stderr which run options were given with `serve`, which uses none of them (a
    value equal to the default cannot be told from none)."""
    given = [flag for dest, (flag, default) in args.run_options.items()
             if getattr(args, dest, default) != default]
    if given:
        print(f"calibrate serve: note: {', '.join(given)} "
              f"{'does' if len(given) == 1 else 'do'} not apply to serve, which only runs the "
              "TCP sink that a `--peer` run measures (no profile is written); ignored",
              file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    _note_ignored(args)
    try:
        server = SinkServer(args.host, args.port)
    except OSError as err:
        raise CalibrationError(f"cannot listen on {args.host}:{args.port}: {err}") from err
    print(f"calibrate serve: listening on {args.host}:{server.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def summary(path: Path, profile: dict[str, Any]) -> dict[str, Any]:
    """A short account of a finished run: where it went, how long, each op's fit error, and the
    points each op lost to the deadline (a host slower than the plan's estimate)."""
    flagged: dict[str, int] = {}
    for m in profile["measurements"]:
        flagged[m["op"]] = flagged.get(m["op"], 0) + int(m["flagged"])
    late = deadline_skips(profile)
    return {
        "profile": str(path),
        "wall_s": profile["run"]["wall_s"],
        "estimated_s": profile["run"].get("estimated_s"),
        "ops": {name: {"points": model["fit_error"]["n_fit"] + model["fit_error"]["n_holdout"],
                       "flagged": flagged.get(name, 0),
                       "skipped_at_deadline": late.get(name, 0),
                       "holdout_median_abs_rel": model["fit_error"]["holdout_median_abs_rel"],
                       "pieces": len(model["pieces"])}
                for name, model in profile["cost_models"].items()},
        "skipped_at_deadline": late,
        "working_set_ratios": {base: {"kept": len(r["points"]), "excluded": len(r["excluded"])}
                               for base, r in profile.get("working_set_ratios", {}).items()},
    }


def deadline_skips(profile: dict[str, Any]) -> dict[str, int]:
    """Points per op (those with any) that were planned but not measured because the op ran
    past its deadline. The plan's own trims (duplicates, the op's budget) are by design and
    not counted."""
    counts: dict[str, int] = {}
    for op, record in profile.get("grid", {}).get("ops", {}).items():
        late = sum(1 for s in record.get("skipped", []) if s.get("reason") == "deadline")
        if late:
            counts[op] = late
    return counts


def _print_summary(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=1))
        return
    print(f"profile {info['profile']} written in {info['wall_s']:.0f} s")
    if info["ops"]:
        _print_ops_table(info["ops"])
    ratios = info["working_set_ratios"]
    if ratios:
        counts = ", ".join(f"{base} {r['kept']} kept, {r['excluded']} excluded as noisy"
                           for base, r in ratios.items())
        lead = "" if info["ops"] else "no cost model fitted (working-set ops only); "
        print(f"{lead}working-set ratios: {counts}")
    late = info["skipped_at_deadline"]
    if late:
        estimate = info["estimated_s"]
        pace = "" if not estimate else (f" (it took {info['wall_s']:.0f} s against the plan's "
                                        f"{estimate:.0f} s)")
        print(f"calibrate: warning: {sum(late.values())} planned point(s) were not measured "
              f"because their op ran past its deadline ({', '.join(sorted(late))}): this host "
              f"ran slower than planned{pace}; their fits rest on fewer points. Run again with "
              "--budget-scale 2 (or more) to measure the whole grid.", file=sys.stderr)


def _print_ops_table(ops: dict[str, Any]) -> None:
    print(f"{'op':42} {'points':>6} {'flagged':>7} {'late':>4} {'holdout err':>11} "
          f"{'pieces':>6}")
    for name, row in ops.items():
        err = row["holdout_median_abs_rel"]
        err_text = "-" if err is None else f"{100 * err:.1f}%"
        print(f"{name:42} {row['points']:6d} {row['flagged']:7d} "
              f"{row['skipped_at_deadline']:4d} {err_text:>11} {row['pieces']:6d}")


def run(args: argparse.Namespace) -> int:
    """Carry out parsed arguments. Raises CalibrationError for a user mistake."""
    if getattr(args, "calibrate_action", None) == "serve":
        return _serve(args)
    from calibrate.runner import RunOptions, calibrate, failed_ops  # torch loads when measuring

    options = RunOptions(
        device=args.device, quick=args.quick, out=args.out, peer=args.peer, seed=args.seed,
        quiet=args.quiet, fbgemm=args.fbgemm, budget_scale=args.budget_scale,
        threads=args.threads, keep_going=args.keep_going, force=args.force,
        ops=None if args.ops is None else tuple(s.strip() for s in args.ops.split(",")
                                                if s.strip()))
    path, profile = calibrate(options)
    if not args.quiet or args.json:
        _print_summary(summary(path, profile), args.json)
    weak = profile["run"].get("weak_fits")
    if weak:  # even with --quiet: a profile of guesses must not pass for measurements
        print(weak_fit_warning(weak, args.quick), file=sys.stderr)
    failed = failed_ops(profile)
    if failed:
        print(f"calibrate: {len(failed)} op(s) failed and were skipped: {', '.join(failed)}; "
              f"the profile {path} holds the rest", file=sys.stderr)
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m calibrate",
        description="Time embedding, MLP and interaction kernels and measure memory, PCIe and "
                    "network bandwidth on this host; write a dlrmsim profile.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CalibrationError as err:
        print(f"calibrate: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"calibrate: {INTERRUPTED}", file=sys.stderr)
        return 130
