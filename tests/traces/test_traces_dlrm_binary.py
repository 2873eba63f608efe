"""dlrm binary traces: uint64 ids by default, as facebookresearch/dlrm reads and writes them
(`dlrm_data_pytorch.py`), and a file of another width refused where it can be told."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlrmsim.cli import main
from traces import TraceError
from traces.dlrm_files import read_dlrm_trace, write_dlrm_trace

IDS = [1, 2, 3, 4, 5, 3, 4, 1, 1, 6, 3, 2]


def test_a_file_written_as_dlrm_does_is_read_by_default(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Before, it was read as int32: every id followed by a 0, twice the lookups.
    np.array(IDS).astype(np.uint64).tofile(tmp_path / "t.bin")  # dlrm's write_trace_to_file
    assert read_dlrm_trace(tmp_path / "t.bin", binary=True).tolist() == IDS
    assert main(["trace", "stats", str(tmp_path / "t.bin"), "--format", "dlrm-bin", "--no-lru",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lookups"] == len(IDS)


def test_the_writer_writes_what_dlrm_reads(tmp_path: Path) -> None:
    write_dlrm_trace(tmp_path / "t.bin", np.array(IDS), binary=True)
    assert np.fromfile(tmp_path / "t.bin", dtype=np.uint64).tolist() == IDS  # dlrm's read


@pytest.mark.parametrize(("extra", "shown"), [
    ([], "row id 25769803777 is 2^32 or more"),
    (["--rows", "1000"], "row id 25769803777 (>= --rows 1000) is 2^32 or more"),
])
def test_32_bit_ids_read_as_64_bit_ask_for_the_width(tmp_path: Path, extra: list[str], shown: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    np.array(IDS, dtype=np.int32).tofile(tmp_path / "t.bin")
    assert main(["trace", "stats", str(tmp_path / "t.bin"), "--format", "dlrm-bin", "--no-lru",
                 *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert f"t.bin, item 4: {shown}, as when 32-bit ids are read as uint64: if the file holds " \
           "32-bit ids, give --binary-dtype int32" in err and len(err.splitlines()) == 1
    assert main(["trace", "stats", str(tmp_path / "t.bin"), "--format", "dlrm-bin", "--no-lru",
                 "--binary-dtype", "int32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lookups"] == len(IDS)


def test_ids_past_2_to_the_32_pass_when_rows_cover_them(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    np.array([5, 2**33], dtype=np.uint64).tofile(tmp_path / "t.bin")
    assert main(["trace", "stats", str(tmp_path / "t.bin"), "--format", "dlrm-bin", "--no-lru",
                 "--rows", str(2**34), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lookups"] == 2


def test_an_odd_count_of_32_bit_ids_names_the_width(tmp_path: Path) -> None:
    np.array(IDS[:-1], dtype=np.int32).tofile(tmp_path / "t.bin")
    with pytest.raises(TraceError, match="44 bytes is not a whole number of uint64 ids \\(8 bytes "
                       "each\\): truncated, or of another width \\(--binary-dtype"):
        read_dlrm_trace(tmp_path / "t.bin", binary=True)
