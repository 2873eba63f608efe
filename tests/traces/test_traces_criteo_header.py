"""A Criteo header that names the features is read by name, in any order; one that names some
of them only is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traces import TraceError
from traces.criteo import read_criteo

# Criteo's columns (label, I1..I13, C1..C26) in another order: label, C1..C26, I1..I13.
REORDERED = [0, *range(14, 40), *range(1, 14)]


def _rewrite(source: Path, target: Path, order: list[int], header: str | None = None) -> Path:
    lines = [line.split(",") for line in source.read_text().splitlines()]
    text = [",".join(fields[i] for i in order) for fields in lines]
    if header is not None:
        text[0] = header
    target.write_text("\n".join(text) + "\n")
    return target


def _ids(path: Path) -> np.ndarray:
    return np.concatenate([b.indices for b in read_criteo(path, 1000, 64)])


def test_a_reordered_header_is_read_by_name(tmp_path: Path, data_dir: Path) -> None:
    # Before, the columns were taken in Criteo's order whatever the header said: the integer
    # features were hashed as ids (or refused as "not a hexadecimal id").
    csv = data_dir / "criteo_sample.csv"
    reordered = _rewrite(csv, tmp_path / "r.csv", REORDERED)
    assert reordered.read_text().startswith("label,C1,C2,")
    assert _ids(reordered).tolist() == _ids(csv).tolist()


@pytest.mark.parametrize(("rename", "problem"), [
    (("C5", "C1"), "no C5; C1 more than once"),
    (("I13", "x"), "no I13"),
])
def test_a_header_naming_some_features_is_refused(tmp_path: Path, data_dir: Path,
                                                  rename: tuple[str, str], problem: str) -> None:
    csv = data_dir / "criteo_sample.csv"
    names = csv.read_text().splitlines()[0].split(",")
    header = ",".join(rename[1] if name == rename[0] else name for name in names)
    bad = _rewrite(csv, tmp_path / "b.csv", list(range(40)), header)
    with pytest.raises(TraceError, match=(
            f"b.csv, line 1: the header names Criteo's columns, but not the label, I1..I13 and "
            f"C1..C26 once each \\({problem}\\); fix the header, or remove it")):
        _ids(bad)


def test_a_header_of_other_names_keeps_criteos_order(tmp_path: Path) -> None:
    line = "\t".join(["1"] + ["5"] * 13 + ["0000000a"] * 26)
    header = "\t".join(f"f{i}" for i in range(40))
    (tmp_path / "day_0").write_text(f"{header}\n{line}\n")
    (batch,) = read_criteo(tmp_path / "day_0", 7, 4)
    assert batch.indices.tolist() == [3] * 26
