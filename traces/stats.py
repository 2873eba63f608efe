"""Statistics of a trace, overall and per table: lookups, unique rows, unique ratio, pooling,
once-accessed fraction, hottest-1% share, Meta-bin histograms and LRU hit-ratio curves.

Tables are measured one at a time (a native trace is memory-mapped, so a table's indices are
gathered from every batch without reading the others), so memory holds one table's lookups.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from sim.arguments import shown
from traces.batch import TraceBatch
from traces.errors import TraceError
from traces.locality import access_counts, locality_of_counts
from traces.lru import DEFAULT_MAX_ACCESSES, hit_ratio_curve, sample_mask
from traces.lru_estimate import Window, cut_windows, estimated_curve, window_bounds
from traces.native import open_native
from traces.progress import progress
from traces.sources import Source


def _batch_supplier(source: Source, max_batches: int | None, show_progress: bool
                    ) -> Callable[[], Iterator[TraceBatch]]:
    """A function that yields the batches again each call, validated once up front."""
    if source.format == "native":
        trace = open_native(source.path)
        for _ in trace.iter_batches(max_batches):  # checksums and ranges, once
            pass
        return lambda: trace.iter_batches(max_batches, validate=False)
    # Other formats are small or a single batch, so they are held; a Criteo log may not be, and
    # is read no further than `max_batches` asks, with a bar while it is read.
    kept = list(progress(itertools.islice(source.batches(), max_batches), total=max_batches,
                         desc="read", enabled=show_progress))
    return lambda: iter(kept)


def trace_stats(source: Source, *, max_batches: int | None = None, lru: bool = True,
                lru_max_accesses: int = DEFAULT_MAX_ACCESSES, show_progress: bool = True
                ) -> dict[str, Any]:
    """All statistics as a JSON-ready dict (keys: lookups, unique_rows, unique_ratio,
    once_fraction, top1pct_share, ..., tables). Raises TraceError on a corrupt trace, or on an
    argument of the wrong type (a path where the Source goes)."""
    _check_arguments(source, max_batches, lru_max_accesses)
    batches = _batch_supplier(source, max_batches, show_progress)
    first = next(batches(), None)
    sizes = sorted({b.batch_size for b in batches()})
    tables, all_counts = [], []
    for t in progress(range(len(source.tables)), total=len(source.tables), desc="stats",
                      enabled=show_progress):
        indices = np.concatenate([b.table_indices(t) for b in batches()] or [np.zeros(0, np.int64)])
        counts = access_counts(indices)
        all_counts.append(counts)
        entry = {"name": source.tables[t].name, "rows": source.tables[t].rows,
                 "dim": source.tables[t].dim, **_bag_lengths(batches, t),
                 **locality_of_counts(counts).as_dict()}
        if lru:
            entry["lru"] = _curve(indices, int(counts.size), lru_max_accesses)
        tables.append(entry)
    overall = locality_of_counts(np.concatenate(all_counts)).as_dict()
    report: dict[str, Any] = {
        "file": str(source.path), "format": source.format,
        "batches": sum(1 for _ in batches()), "batch_sizes": sizes,
        "num_tables": len(source.tables), **overall,
        "mean_pooling_per_table": float(np.mean([e["mean_pooling"] for e in tables])),
    }
    if lru and first is not None:
        report["lru"] = _overall_curve(source, batches, report["lookups"], report["unique_rows"],
                                       lru_max_accesses)
    report["tables"] = tables
    return report


def _check_arguments(source: object, max_batches: object, lru_max_accesses: object) -> None:
    """TraceError for an argument of the wrong type: a path where the Source goes, a count that
    is not a whole number >= 1 (max_batches 0 would give statistics of nothing)."""
    if not isinstance(source, Source):
        raise TraceError(f"source = {source!r:.60}: give a Source, e.g. "
                         "traces.sources.open_source(path)")
    counts = {"lru_max_accesses": lru_max_accesses}
    if max_batches is not None:
        counts["max_batches"] = max_batches
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TraceError(f"{name} = {shown(value)}: give a whole number >= 1")


def _bag_lengths(batches: Callable[[], Iterator[TraceBatch]], table: int) -> dict[str, float]:
    """Mean, spread and range of a table's bag lengths (`trace fit` fits its pooling law)."""
    lengths = np.concatenate([np.diff(b.offsets[table * b.batch_size:(table + 1) * b.batch_size + 1])
                              for b in batches()] or [np.zeros(1, np.int64)])
    return {"mean_pooling": float(lengths.mean()), "sd_pooling": float(lengths.std()),
            "min_pooling": int(lengths.min()), "max_pooling": int(lengths.max())}


def _curve(keys: np.ndarray, unique: int, max_accesses: int) -> dict[str, object]:
    if keys.size <= max_accesses:
        return hit_ratio_curve(keys).as_dict()
    rate = max_accesses / keys.size
    windows = cut_windows(keys, window_bounds(keys.size, max_accesses))
    return estimated_curve(keys[sample_mask(keys, rate)], rate, windows, lookups=keys.size,
                           unique=unique).as_dict()


def _overall_curve(source: Source, batches: Callable[[], Iterator[TraceBatch]], lookups: int,
                   unique: int, max_accesses: int) -> dict[str, object]:
    """One cache shared by all tables: keys are (table, row) flattened, in trace order."""
    base = np.concatenate(([0], np.cumsum([t.rows for t in source.tables])[:-1])).astype(np.int64)
    rate = min(1.0, max_accesses / lookups) if lookups else 1.0
    bounds: list[tuple[int, int, int]] = []
    if rate < 1.0:  # windows spread over the phases of the batches, where the tables are
        starts = np.cumsum([0, *(b.indices.size for b in batches())], dtype=np.int64)
        bounds = window_bounds(lookups, max_accesses, starts)
    parts: list[np.ndarray] = []
    pieces: list[list[np.ndarray]] = [[] for _ in bounds]
    position = 0
    for batch in batches():
        table_of = np.repeat(np.arange(len(base)), np.diff(batch.table_bounds()))
        keys = batch.indices.astype(np.int64) + base[table_of]
        parts.append(keys[sample_mask(keys, rate)])
        for piece, (lead, _, stop) in zip(pieces, bounds, strict=True):
            lo, hi = max(lead, position), min(stop, position + keys.size)
            if lo < hi:
                piece.append(keys[lo - position:hi - position])
        position += keys.size
    sampled = np.concatenate(parts)
    if rate >= 1.0:
        return hit_ratio_curve(sampled).as_dict()
    windows = [Window(np.concatenate(piece), start - lead, lead == 0)
               for piece, (lead, start, _) in zip(pieces, bounds, strict=True)]
    return estimated_curve(sampled, rate, windows, lookups=lookups, unique=unique).as_dict()


def format_stats(report: dict[str, Any]) -> str:
    """A readable summary: the overall figures, one line per table, the Meta-bin histogram."""
    lines = [f"{report['file']} ({report['format']}): {report['batches']} batches of "
             f"{', '.join(map(str, report['batch_sizes']))}, {report['num_tables']} tables",
             f"lookups {report['lookups']:,}  unique rows {report['unique_rows']:,}  unique ratio "
             f"{report['unique_ratio']:.4f}  once {report['once_fraction']:.3f}  top 1% share "
             f"{report['top1pct_share']:.3f}", ""]
    lines += _columns(["table", "rows", "lookups", "unique", "ratio", "pool", "once", "top1%"],
                      [[t["name"], f"{t['rows']:,}", f"{t['lookups']:,}", f"{t['unique_rows']:,}",
                        f"{t['unique_ratio']:.4f}", f"{t['mean_pooling']:.2f}",
                        f"{t['once_fraction']:.3f}", f"{t['top1pct_share']:.3f}"]
                       for t in report["tables"]])
    lines += ["", f"{'accesses per unique row':<26}{'rows':>8}{'accesses':>10}"]
    for label, rows, share in zip(report["histogram_bins"], report["rows_histogram"],
                                  report["access_share"], strict=True):
        lines.append(f"{label:<26}{rows:>8.3f}{share:>10.3f}")
    if "lru" in report:
        curve = report["lru"]
        lines += ["", f"LRU hit ratio (one cache for all tables{_estimated(curve)}): " + ", ".join(
            f"{size:,} rows {hit:.3f}" for size, hit in
            zip(curve["cache_rows"], curve["hit_ratio"], strict=True))]
    return "\n".join(lines)


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of columns as wide as their widest cell, two spaces apart (so that no two numbers
    run together, however large); the first left-aligned, the others right-aligned."""
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
            for line in (header, *rows)]


def _estimated(curve: dict[str, Any]) -> str:
    """How an estimated curve was measured, for its heading; nothing for an exact one."""
    rate = curve["sample_rate"]
    if rate >= 1.0:
        return ""
    text = (f"; estimated: caches up to {curve['window_rows']:,} rows exactly over "
            f"{curve['windows']} windows of {curve['window_accesses']:,} accesses, larger ones "
            f"from rows sampled at rate {rate:.4g}")
    if curve["window_rows"] * rate < 0.5:  # a gap below 1/rate rows, where the sample is blind
        text += f" (none between {curve['window_rows']:,} and {1 / rate:,.0f} rows)"
    return text
