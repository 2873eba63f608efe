"""`dlrmsim reproduce`: every experiment of the paper, a report beside it, a table of claims."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dlrmsim.commands import arguments
from dlrmsim.output import format_table, print_json
from dlrmsim.reproduce import DEFAULT_OUT, Reproduction, Settings, reproduce
from dlrmsim.reproduce.types import FULL_ITERATIONS, QUICK_ITERATIONS

# Timed on the 2-core development VM: --quick 16-30 s on its Xeon host (quiet to busy), the full
# run 66-117 s; on its AMD EPYC host (session 13) --quick 47-50 s, or 35 s with --jobs 2 against
# a full run of 132 s (README's figures).
QUICK_HELP = (f"{QUICK_ITERATIONS} simulated iterations per worker instead of {FULL_ITERATIONS}, "
              "and fewer samples: a quarter to a third of the full run's time (on a 2-core VM, "
              "16-50 s against 1-2.5 minutes)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reproduce", help="run every experiment of Acun et al. (HPCA 2021); write a report",
        description="Simulate every experiment of the paper from the presets and write a report "
                    "(Markdown, HTML, PNG figures, CSV data) with the paper's claims and whether "
                    "they hold. The folder is replaced only when the run completes.")
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT}/)")
    parser.add_argument("--jobs", type=arguments.at_least(1), default=1,
                        help="simulations run in parallel processes (default 1)")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of lookups, noise and samples")
    parser.add_argument("--only", type=_ids, default=(),
                        help="comma-separated experiment ids (fig1,fig5,fig6_7,fig9,fig10,"
                             "fig11,fig12,fig13,fig14,table3)")
    parser.add_argument("--json", action="store_true", help="print the claims as JSON")
    parser.set_defaults(func=run)


def _ids(text: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    if not ids:  # an empty selection would otherwise mean every experiment
        raise argparse.ArgumentTypeError("name at least one experiment, e.g. --only fig1,table3 "
                                         "(leave --only out to run them all)")
    return ids


def run(args: argparse.Namespace) -> int:
    settings = Settings.for_mode(args.quick, seed=args.seed, only=args.only)
    try:
        done = reproduce(args.out, settings, jobs=arguments.jobs_for_cpus(args.jobs, "reproduce"))
    except KeyboardInterrupt:  # dlrmsim's own handler would say only "interrupted"
        print(f"dlrmsim reproduce: interrupted; {args.out} is as it was (results go in only "
              "when a run completes)", file=sys.stderr)
        return 130
    if args.json:
        print_json({"out": str(done.out), "report": str(done.report),
                    "seconds": round(done.seconds, 1), "simulations": done.simulations,
                    "claims": [c.to_dict() for c in done.claims]})
    else:
        print(summary(done))
    return 0


def summary(done: Reproduction) -> str:
    rows = [(c.claim.id, c.claim.source, c.verdict.status, c.claim.statement) for c in done.claims]
    return "\n".join([
        f"{done.simulations} simulations in {done.seconds:.0f} s",
        format_table(("claim", "source", "verdict", "the paper says"), rows),
        "",
        f"report: {done.report} (and report.html, figures/, data/)",
    ])
