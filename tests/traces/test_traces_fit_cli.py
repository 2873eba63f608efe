"""`dlrmsim trace fit` of a Meta locality-statistics file: bad entries are one line naming the
file, the entry and the line; the written model is an ordinary file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlrmsim.cli import main

LOCALITY = "meta_dlrm_datasets_2021_locality_stats.txt"


def _first_entry(data_dir: Path, tmp_path: Path, old: str, new: str) -> Path:
    """The file's first entry alone, with `old` replaced by `new`."""
    text = (data_dir / LOCALITY).read_text().split("\n\n")[0]
    assert old in text
    (tmp_path / "s.txt").write_text(text.replace(old, new, 1) + "\n")
    return tmp_path / "s.txt"


def test_a_bad_number_in_a_histogram_names_the_entry_and_line(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: ValueError: could not convert string to float: '0.47.3' (a traceback).
    source = _first_entry(data_dir, tmp_path, "(0, 1]: 0.473", "(0, 1]: 0.47.3")
    assert main(["trace", "fit", str(source), "--out", str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"dlrmsim trace: error: {source}, entry 0 (fbgemm_t856_bs65536.pt), histogram "
                   "of col sizes, line '(0, 1]: 0.47.3': '0.47.3' is not a number; correct the "
                   "line or fetch the file again")
    assert not (tmp_path / "m.yaml").exists()


def test_an_entry_whose_name_lacks_its_tables_names_the_flag(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: "s.txt, entry 0 (fbgemm_bs65536.pt): fbgemm_bs65536.pt: the number of tables is
    # unknown; pass it", with no flag to pass it by.
    from sim.presets import load_model

    source = _first_entry(data_dir, tmp_path, "fbgemm_t856_bs65536.pt", "fbgemm_bs65536.pt")
    out = tmp_path / "m.yaml"
    assert main(["trace", "fit", str(source), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"dlrmsim trace: error: {source}, entry 0 (fbgemm_bs65536.pt): its name does not say how "
        "many tables it covers (no _tN_ in it); give them with --entry-tables N")
    assert main(["trace", "fit", str(source), "--out", str(out), "--entry-tables", "856"]) == 0
    named = tmp_path / "named.yaml"
    assert main(["trace", "fit", str(data_dir / LOCALITY), "--out", str(named)]) == 0
    fitted, expected = load_model(str(out)).tables[0], load_model(str(named)).tables[0]
    assert (fitted.rows, fitted.popularity.zipf_s) == (expected.rows, expected.popularity.zipf_s)
