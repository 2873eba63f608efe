"""`dlrmsim trace`: generate, stats, fit, convert and plot embedding-lookup traces."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from dlrmsim.commands import arguments

_positive = arguments.at_least(1)  # counts and sizes: 0 or less would fail later, less clearly


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trace", help="generate, read, measure and fit lookup traces")
    sub = parser.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    _add_generate(sub)
    _add_stats(sub)
    _add_fit(sub)
    _add_convert(sub)
    _add_plot(sub)


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="write a synthetic trace of a model (native format)")
    p.add_argument("--model", required=True, help="model preset name or YAML file")
    p.add_argument("--batches", type=_positive, required=True, help="batches to write")
    p.add_argument("--batch-size", type=_positive, required=True, help="examples per batch")
    p.add_argument("--seed", type=arguments.seed, default=0,
                   help="seed of the generated lookups (default 0)")
    p.add_argument("--out", required=True, help="trace file to write")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from sim.presets import load_model, model_file
    from traces.generator import generate_trace

    model = load_model(args.model)
    _refuse_overwriting(args.out, os.fspath(model_file(args.model)), "the --model file")
    lookups = generate_trace(model, args.out, batches=args.batches, batch_size=args.batch_size,
                             seed=args.seed)
    result = {"out": args.out, "model": model.name, "batches": args.batches,
              "batch_size": args.batch_size, "seed": args.seed, "lookups": lookups}
    print(json.dumps(result) if args.json else
          f"wrote {args.out}: {model.name}, {args.batches} x {args.batch_size}, {lookups:,} lookups")
    return 0


def _add_read_options(p: argparse.ArgumentParser) -> None:
    from traces.dlrm_files import BINARY_DTYPES, DEFAULT_BINARY_DTYPE
    from traces.formats import DEFAULT_DIM, FORMATS

    p.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                   help="the file's format (default: told from its content and name)")
    p.add_argument("--rows", type=_positive, help="rows per table (Criteo hash size; dlrm: max id + 1)")
    p.add_argument("--dim", type=_positive, default=DEFAULT_DIM, help="embedding dim to record")
    p.add_argument("--batch-size", type=_positive, default=2048, help="bags per batch (dlrm, Criteo)")
    p.add_argument("--pooling", type=_positive, default=1,
                   help="ids per bag when a dlrm id sequence is cut into bags")
    p.add_argument("--tables", help="Meta .pt: table range FIRST:STOP")
    p.add_argument("--length", type=_positive, default=100_000, help="ids drawn from a dlrm dist file")
    p.add_argument("--seed", type=arguments.seed, default=0,
                   help="seed of the ids drawn from a dlrm dist file")
    p.add_argument("--binary-dtype", default=DEFAULT_BINARY_DTYPE, choices=BINARY_DTYPES,
                   help=f"integer type of a dlrm binary trace's ids (default {DEFAULT_BINARY_DTYPE}, "
                   "as dlrm reads and writes them)")
    p.add_argument("--missing", default="zero", choices=("zero", "empty"),
                   help="Criteo empty feature: row 0 (dlrm) or an empty bag")
    p.add_argument("--tmp-dir", help="Meta .pt.gz: folder to decompress it into, with room for "
                   "the whole file (default: TMPDIR, else the system's temporary folder)")


def _keep_defaults(p: argparse.ArgumentParser) -> None:
    """Record the defaults of the options that may not apply in `args.defaults`, to tell the
    ones the user gave."""
    names = [*_APPLIES_TO, "format", *_FIT_LOCALITY]
    p.set_defaults(defaults={name: p.get_default(name) for name in names})


# Options of `fit` that apply to a locality statistics file only.
_FIT_LOCALITY = ("entry", "fit_batch_size", "fit_tables", "entry_tables")

# Read options and the formats each applies to (the rest record what their files hold).
_APPLIES_TO = {
    "rows": ("criteo", "dlrm", "dlrm-bin", "dlrm-dist"),
    "dim": ("meta", "criteo", "dlrm", "dlrm-bin", "dlrm-dist"),
    "batch_size": ("criteo", "dlrm", "dlrm-bin", "dlrm-dist"),
    "pooling": ("dlrm", "dlrm-bin", "dlrm-dist"),
    "tables": ("meta",),
    "length": ("dlrm-dist",),
    "seed": ("dlrm-dist",),
    "binary_dtype": ("dlrm-bin",),
    "missing": ("criteo",),
    "tmp_dir": ("meta",),
}

_KINDS = {"native": "a native trace", "meta": "a Meta .pt trace", "criteo": "a Criteo log",
          "dlrm": "a dlrm trace", "dlrm-bin": "a dlrm binary trace",
          "dlrm-dist": "a dlrm distribution file"}


def _open(args: argparse.Namespace) -> Any:
    from traces.errors import TraceError
    from traces.sources import ReadOptions, detect_format, open_source

    tables = None
    if args.tables:
        try:
            first, stop = (int(x) for x in args.tables.split(":"))
        except ValueError:
            raise TraceError(f"--tables {args.tables!r}: give FIRST:STOP") from None
        tables = (first, stop)
    opts = ReadOptions(dim=args.dim, batch_size=args.batch_size, rows=args.rows,
                       pooling=args.pooling, tables=tables, length=args.length, seed=args.seed,
                       binary_dtype=args.binary_dtype, missing=args.missing, tmp_dir=args.tmp_dir)
    fmt = detect_format(args.source) if args.format == "auto" else args.format
    _note_ignored(args, [name for name, formats in _APPLIES_TO.items() if fmt not in formats],
                  _KINDS[fmt])
    return open_source(args.source, fmt, opts)


def _note_ignored(args: argparse.Namespace, names: list[str], what: str) -> None:
    """Say on stderr which of the options `names`, given other than their defaults, do not
    apply to `what` (a value equal to the default cannot be told from none)."""
    given = [f"--{name.replace('_', '-')}" for name in names
             if getattr(args, name) != args.defaults.get(name)]
    if given:
        print(f"dlrmsim trace {args.trace_command}: note: {', '.join(given)} "
              f"{'does' if len(given) == 1 else 'do'} not apply to {what}; ignored",
              file=sys.stderr)


def _refuse_overwriting(out: str, source: str, what: str = "the input file") -> None:
    """`--out` naming the input would replace it with what is made from it: refuse."""
    from traces.errors import TraceError

    if os.path.exists(out) and os.path.exists(source) and os.path.samefile(out, source):
        raise TraceError(f"--out {out}: is {what} {source}; give another name")


def _add_stats(sub: Any) -> None:
    p = sub.add_parser("stats", help="locality statistics of a trace, overall and per table")
    p.add_argument("source", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--max-batches", type=_positive, help="read at most this many batches")
    p.add_argument("--no-lru", action="store_true", help="skip the LRU hit-ratio curves")
    _add_read_options(p)
    _keep_defaults(p)
    p.set_defaults(func=_stats)


def _stats(args: argparse.Namespace) -> int:
    from traces.stats import format_stats, trace_stats

    report = trace_stats(_open(args), max_batches=args.max_batches, lru=not args.no_lru)
    print(json.dumps(report) if args.json else format_stats(report))
    return 0


def _add_fit(sub: Any) -> None:
    p = sub.add_parser("fit", help="fit generator parameters to a trace or a locality file")
    p.add_argument("source", metavar="SOURCE", help="trace file, or Meta locality_stats.txt")
    p.add_argument("--out", required=True, help="model YAML to write (trace generate --model)")
    p.add_argument("--entry", type=arguments.at_least(0), default=0, help="locality file: which entry")
    p.add_argument("--fit-batch-size", type=_positive, default=1024,
                   help="locality file: batch size the fit must reproduce the entry at")
    p.add_argument("--fit-tables", type=_positive, default=8, help="locality file: tables to model")
    p.add_argument("--entry-tables", type=_positive,
                   help="locality file: tables the entry covers (default: from its name, e.g. 856 "
                   "for fbgemm_t856_bs65536.pt)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_read_options(p)
    _keep_defaults(p)
    p.set_defaults(func=_fit)


def _fit(args: argparse.Namespace) -> int:
    from sim.presets import save_model
    from traces.atomic import check_output
    from traces.fit import fit_trace_stats
    from traces.locality_file import is_locality_file
    from traces.stats import trace_stats

    check_output(args.out)  # save_model would find a folder there only after the fit
    _refuse_overwriting(args.out, args.source)
    if is_locality_file(args.source):
        _note_ignored(args, [*(name for name in _APPLIES_TO if name != "dim"), "format"],
                      "a locality statistics file")
        model = _fit_locality(args)
    else:
        _note_ignored(args, list(_FIT_LOCALITY), "a trace")
        model = fit_trace_stats(trace_stats(_open(args), lru=False), name="fit")
    save_model(model, args.out)
    tables = [{"name": t.name, "rows": t.rows, "dim": t.dim, "zipf_s": t.popularity.zipf_s,
               "pooling": t.pooling.distribution, "mean_lookups": t.pooling.mean_lookups,
               **({"sigma": t.pooling.sigma} if t.pooling.distribution == "lognormal" else {})}
              for t in model.tables]
    print(json.dumps({"out": args.out, "num_tables": model.num_tables, "tables": tables,
                      "description": model.description}) if args.json else
          f"wrote {args.out}: {model.num_tables} tables; {model.description}")
    return 0


def _fit_locality(args: argparse.Namespace) -> Any:
    from traces.errors import TraceError
    from traces.fit import fit_locality_entry
    from traces.locality_file import read_locality_file

    entries = read_locality_file(args.source)
    if not 0 <= args.entry < len(entries):
        raise TraceError(f"{args.source}: no entry {args.entry}; entries are numbered from 0, "
                         f"so give --entry 0 to {len(entries) - 1}")
    entry = entries[args.entry]
    where = f"{args.source}, entry {args.entry} ({entry.file})"
    if entry.tables is None and args.entry_tables is None:
        raise TraceError(f"{where}: its name does not say how many tables it covers (no _tN_ in "
                         "it); give them with --entry-tables N")
    try:
        return fit_locality_entry(entry, batch_size=args.fit_batch_size, tables=args.fit_tables,
                                  dim=args.dim, source_tables=args.entry_tables)
    except TraceError as err:  # the fit knows the numbers, not where they came from
        raise TraceError(f"{where}: {err}") from err


def _add_convert(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert any readable trace to the native format")
    p.add_argument("source", metavar="FILE")
    p.add_argument("--out", required=True, help="native trace file to write")
    _add_read_options(p)
    _keep_defaults(p)
    p.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    from traces.sources import convert

    _refuse_overwriting(args.out, args.source)
    source = _open(args)
    batches = convert(source, args.out)
    print(f"wrote {args.out}: {batches} batches, {len(source.tables)} tables "
          f"(from {source.format})")
    return 0


def _add_plot(sub: Any) -> None:
    p = sub.add_parser("plot", help="Figures 6 and 7 (hash size vs lookups) for a model, PNG")
    p.add_argument("--model", required=True, help="model preset name or YAML file")
    p.add_argument("--out", required=True, help="folder for the PNG files")
    p.set_defaults(func=_plot)


def _plot(args: argparse.Namespace) -> int:
    from sim.presets import load_model
    from traces.plots import plot_model

    for path in plot_model(load_model(args.model), args.out):
        print(f"wrote {path}")
    return 0
