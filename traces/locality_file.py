"""Parser of Meta's `locality_stats.txt` (facebookresearch/dlrm_datasets, embedding_bag/2021):
per trace file, the indices, unique rows, mean accesses per row, and the histograms of accesses
per unique row (share of rows, share of accesses) in the bins of `traces.locality`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from traces.errors import trace_error
from traces.locality import BIN_LABELS


@dataclass(frozen=True)
class LocalityEntry:
    """One file's block of the statistics file."""

    file: str
    batches: int
    batch_size: int
    lookups: int
    unique_rows: int
    rows_histogram: tuple[float, ...]
    access_share: tuple[float, ...]
    tables: int | None  # from the file name (`_t856_`), if it says

    @property
    def unique_ratio(self) -> float:
        return self.unique_rows / self.lookups

    @property
    def once_fraction(self) -> float:
        return self.rows_histogram[0]


# Words every entry of the file holds; how `trace stats` and `trace fit` know the file.
LOCALITY_MARKER = b"Locality stats after processing"


def is_locality_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file's first 4 KB hold LOCALITY_MARKER (False if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return LOCALITY_MARKER in handle.read(4096)
    except OSError:
        return False


_NUMBER = {"batches": r"processing (\d+) batches", "batch_size": r"batches of size (\d+)",
           "lookups": r"Avg # of indices: (\d+)", "unique_rows": r"Avg # of unique cols: (\d+)"}


def read_locality_file(path: str | os.PathLike[str]) -> list[LocalityEntry]:
    """All entries of the file, in order. Raises TraceError naming the entry and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise trace_error(p, f"cannot read ({err})") from err
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if not blocks:
        raise trace_error(p, "no entries")
    return [_entry(p, n, block) for n, block in enumerate(blocks)]


def _entry(p: Path, n: int, block: str) -> LocalityEntry:
    name = block.splitlines()[0].strip()
    where = f"entry {n} ({name})"
    values = {}
    for key, pattern in _NUMBER.items():
        found = re.search(pattern, block)
        if not found:
            raise trace_error(p, f"missing {key.replace('_', ' ')}", position=where)
        values[key] = int(found.group(1))
    parts = block.split("Ratio of index distribution")
    if len(parts) != 2:
        raise trace_error(p, "missing the access-share histogram", position=where)
    rows_hist = _histogram(p, parts[0], f"{where}, histogram of col sizes")
    share = _histogram(p, parts[1], f"{where}, ratio of index distribution")
    tables = re.search(r"_t(\d+)_", name)
    if values["batches"] < 1 or values["batch_size"] < 1:  # the fit divides by both
        raise trace_error(p, f"{values['batches']} batches of size {values['batch_size']}; both "
                          "must be >= 1", position=where)
    if values["lookups"] < 1 or not 0 < values["unique_rows"] <= values["lookups"]:
        raise trace_error(p, "unique rows must be in [1, indices]", position=where)
    return LocalityEntry(name, values["batches"], values["batch_size"], values["lookups"],
                         values["unique_rows"], rows_hist, share,
                         int(tables.group(1)) if tables else None)


def _histogram(p: Path, text: str, where: str) -> tuple[float, ...]:
    found = dict(re.findall(r"^(\(\d+(?:, \d+\]|\+)): ([0-9.]+)\s*$", text, flags=re.M))
    missing = [label for label in BIN_LABELS if label not in found]
    if missing:
        raise trace_error(p, f"histogram lacks bins {missing[:3]}", position=where)
    return tuple(_share(p, label, found[label], where) for label in BIN_LABELS)


def _share(p: Path, label: str, text: str, where: str) -> float:
    """A bin's value; the pattern lets through digits and dots only, so `0.47.3` reaches here."""
    try:
        return float(text)
    except ValueError:
        raise trace_error(p, f"{text!r} is not a number; correct the line or fetch the file "
                          "again", position=f"{where}, line '{label}: {text}'") from None
