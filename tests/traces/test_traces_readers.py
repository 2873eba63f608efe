"""Readers of Meta .pt/.pt.gz, dlrm trace and distribution files, and Criteo logs."""

from __future__ import annotations

import contextlib
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traces import TraceError, open_native
from traces.criteo import read_criteo
from traces.dlrm_files import (
    generate_lru,
    read_dlrm_distribution,
    read_dlrm_trace,
    write_dlrm_trace,
)
from traces.meta_pt import open_meta
from traces.sources import ReadOptions, convert, detect_format, open_source

torch = pytest.importorskip("torch")


def _meta_file(path: Path, tables: int = 3, batch: int = 4, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, (tables, batch))
    per_table = [rng.integers(0, 20 + 10 * t, int(lengths[t].sum())) for t in range(tables)]
    indices = torch.tensor(np.concatenate(per_table), dtype=torch.int32)
    offsets = torch.tensor(np.concatenate(([0], np.cumsum(lengths.ravel()))), dtype=torch.int64)
    torch.save((indices, offsets, torch.tensor(lengths)), path)
    return per_table


@pytest.mark.parametrize("gz", [False, True])
def test_meta_tables_and_conversion(tmp_path: Path, gz: bool) -> None:
    per_table = _meta_file(tmp_path / "m.pt")
    path = tmp_path / "m.pt"
    if gz:
        with open(path, "rb") as src, gzip.open(tmp_path / "m.pt.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = tmp_path / "m.pt.gz"
    meta = open_meta(path)
    assert meta.num_tables == 3 and meta.batch_size == 4
    assert meta.table(1)[0].tolist() == per_table[1].tolist()
    source = open_source(path, options=ReadOptions(tables=(1, 3)))
    convert(source, tmp_path / "out")
    batch = next(open_native(tmp_path / "out").iter_batches())
    assert batch.table_indices(1).tolist() == per_table[2].tolist()


@pytest.mark.parametrize(("payload", "message"), [
    (lambda: [torch.zeros(3)], "expected \\(indices, offsets, lengths\\)"),
    (lambda: (torch.zeros(3, dtype=torch.int32), torch.zeros(4, dtype=torch.int64),
              torch.zeros(3, dtype=torch.int64)), "wrong tensor layout"),
    (lambda: (torch.zeros(3, dtype=torch.int32), torch.tensor([0, 1, 2]),
              torch.ones(1, 3, dtype=torch.int64)), "offsets has 3 entries"),
])
def test_meta_bad_layouts(tmp_path: Path, payload: object, message: str) -> None:
    torch.save(payload(), tmp_path / "bad.pt")  # type: ignore[operator]
    with pytest.raises(TraceError, match=message):
        open_meta(tmp_path / "bad.pt")


def test_meta_negative_length_names_table_and_bag(tmp_path: Path) -> None:
    offsets = torch.tensor([0, 2, 1, 3])
    torch.save((torch.zeros(3, dtype=torch.int32), offsets, torch.tensor([[2, -1, 2]])),
               tmp_path / "n.pt")
    with pytest.raises(TraceError, match="table #0, bag 1"):
        open_meta(tmp_path / "n.pt").table(0)


def test_meta_garbage_and_truncation(tmp_path: Path) -> None:
    _meta_file(tmp_path / "m.pt")
    raw = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.pt.gz").write_bytes(b"not gzip at all")
    for name in ("cut.pt", "junk.pt.gz"):
        with pytest.raises(TraceError, match=name):
            open_meta(tmp_path / name)


def test_dlrm_trace_text_and_binary(tmp_path: Path, data_dir: Path) -> None:
    ids = read_dlrm_trace(data_dir / "dlrm_trace.log")
    assert ids.tolist() == [1, 2, 3, 4, 5, 3, 4, 1, 1, 6, 3]
    for dtype in ("int32", "uint64"):
        write_dlrm_trace(tmp_path / "b", ids, binary=True, dtype=dtype)
        assert read_dlrm_trace(tmp_path / "b", binary=True, dtype=dtype).tolist() == ids.tolist()
    (tmp_path / "odd").write_bytes(b"\x01\x00\x00")
    with pytest.raises(TraceError, match="not a whole number"):
        read_dlrm_trace(tmp_path / "odd", binary=True)
    assert detect_format(data_dir / "dlrm_trace.log") == "dlrm"


def test_dlrm_distribution(data_dir: Path) -> None:
    dist = read_dlrm_distribution(data_dir / "dlrm_dist_emb.log")
    assert dist.unique_ids == (1, 2, 3, 4, 5, 6) and dist.cumulative[-1] == 1.0
    ids = generate_lru(dist, 2000, seed=1)
    assert set(ids.tolist()) <= set(dist.unique_ids)
    assert (generate_lru(dist, 2000, seed=1) == ids).all()
    assert detect_format(data_dir / "dlrm_dist_emb.log") == "dlrm-dist"


def test_criteo_csv_sample(data_dir: Path) -> None:
    batches = list(read_criteo(data_dir / "criteo_sample.csv", 1000, 64))
    assert [b.batch_size for b in batches] == [64, 64, 64, 8]
    assert all(b.num_tables == 26 and b.indices.max() < 1000 for b in batches)
    empty = next(iter(read_criteo(data_dir / "criteo_sample.csv", 1000, 200, missing="empty")))
    assert empty.indices.size < 200 * 26  # the sample has empty features


def test_criteo_tsv_and_errors(tmp_path: Path) -> None:
    good = "\t".join(["1"] + ["5"] * 13 + ["0000000a"] * 26)
    (tmp_path / "day_0").write_text(good + "\n" + good + "\n")
    (batch,) = read_criteo(tmp_path / "day_0", 7, 4)
    assert batch.batch_size == 2 and batch.indices.tolist() == [3] * 52
    (tmp_path / "bad").write_text(good + "\n" + good.replace("0000000a", "zz", 1) + "\n")
    with pytest.raises(TraceError, match="table 'C1', line 2"):
        list(read_criteo(tmp_path / "bad", 7, 4))
    (tmp_path / "short").write_text("1\t2\n")
    with pytest.raises(TraceError, match="line 1"):
        list(read_criteo(tmp_path / "short", 7, 4))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789, \n.-ab\t", max_size=60))
def test_text_readers_on_malformed_input(tmp_path: Path, text: str) -> None:
    (tmp_path / "f").write_text(text)
    for read in (read_dlrm_trace, read_dlrm_distribution,
                 lambda p: list(read_criteo(p, 10, 3))):
        with contextlib.suppress(TraceError):
            read(tmp_path / "f")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_meta_reader_on_damaged_files(tmp_path: Path, cut: int, flip: int) -> None:
    _meta_file(tmp_path / "m.pt")
    raw = bytearray((tmp_path / "m.pt").read_bytes())
    raw[flip % len(raw)] ^= 0xFF
    (tmp_path / "d.pt").write_bytes(bytes(raw[: max(1, len(raw) - cut)]))
    try:
        meta = open_meta(tmp_path / "d.pt")
        for t in range(meta.num_tables):
            meta.table(t)
    except TraceError:
        pass


@pytest.mark.parametrize("field", ["dim", "batch_size", "pooling", "length"])
def test_read_options_refuse_counts_below_one(field: str) -> None:
    with pytest.raises(TraceError, match=f"--{field.replace('_', '-')} 0: give a whole number"):
        ReadOptions(**{field: 0})  # type: ignore[arg-type]


def _distribution_text(unique_ids: int) -> str:
    ids = ", ".join(str(i) for i in range(unique_ids))
    return f"{ids}\n0, 1, 2\n0.5, 0.75, 1.0\n"


def test_a_distribution_file_with_a_long_first_line_is_detected(tmp_path: Path) -> None:
    # Its first line, the unique ids, is longer than one read of the file's head.
    path = tmp_path / "dist.log"
    path.write_text(_distribution_text(5000))
    assert len(path.read_text().splitlines()[0]) > 4096
    assert detect_format(path) == "dlrm-dist"


def test_a_line_too_long_to_tell_dlrm_formats_apart_asks_for_the_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("traces.sources.SNIFF_LIMIT", 1 << 20)
    path = tmp_path / "ids.log"
    path.write_bytes(b"1, " * (1 << 20))  # one line of 3 MiB: no end of line within the limit
    with pytest.raises(TraceError, match=r"ids\.log: no third line.*--format dlrm-dist"):
        detect_format(path)


def test_a_criteo_csv_without_its_header_is_read_as_csv(tmp_path: Path, data_dir: Path) -> None:
    lines = (data_dir / "criteo_sample.csv").read_text().splitlines(keepends=True)
    (tmp_path / "no_header.txt").write_text("".join(lines[1:]))
    assert detect_format(tmp_path / "no_header.txt") == "criteo"
    with_header = list(read_criteo(data_dir / "criteo_sample.csv", 1000, 64, missing="empty"))
    without = list(read_criteo(tmp_path / "no_header.txt", 1000, 64, missing="empty"))
    assert len(without) == len(with_header)
    for a, b in zip(with_header, without, strict=True):
        assert np.array_equal(a.indices, b.indices) and np.array_equal(a.offsets, b.offsets)


def test_a_dlrm_trace_of_forty_ids_is_not_taken_for_criteo(tmp_path: Path) -> None:
    (tmp_path / "forty.log").write_text(",".join(str(i) for i in range(40)))
    assert detect_format(tmp_path / "forty.log") == "dlrm"


def _criteo_line(label: str = "1", ids: str = "0000000a", sep: str = "\t") -> str:
    return sep.join([label] + ["5"] * 13 + [ids] * 26)


@pytest.mark.parametrize(("name", "text", "read", "message"), [
    ("ids.log", "", read_dlrm_trace, "no row ids"),
    ("ids.log", "\n \n", read_dlrm_trace, "no row ids"),
    ("ids.bin", "", lambda p: read_dlrm_trace(p, binary=True), "no row ids"),
    ("day_0", "", lambda p: list(read_criteo(p, 7, 4)), "no examples"),
    ("s.csv", "label," + ",".join(["I"] * 13 + ["C"] * 26) + "\n",
     lambda p: list(read_criteo(p, 7, 4)), "no examples"),
])
def test_a_file_without_lookups_is_refused_by_its_reader(
        tmp_path: Path, name: str, text: str, read: object, message: str) -> None:
    # Before, each gave no lookups without a word, and `trace convert` wrote an empty trace.
    (tmp_path / name).write_text(text)
    with pytest.raises(TraceError, match=f"{name}: {message}"):
        read(tmp_path / name)  # type: ignore[operator]


def test_a_distribution_file_without_ids_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "dist.log").write_text("\n0, 1\n0.5, 1.0\n")
    with pytest.raises(TraceError, match=r"dist\.log, line 1: no unique ids"):
        read_dlrm_distribution(tmp_path / "dist.log")


def test_a_damaged_gzip_criteo_log_is_a_trace_error(tmp_path: Path, data_dir: Path) -> None:
    packed = bytearray(gzip.compress((data_dir / "criteo_sample.csv").read_bytes()))
    middle = len(packed) // 2
    packed[middle:middle + 64] = bytes(b ^ 0x55 for b in packed[middle:middle + 64])
    (tmp_path / "day.csv.gz").write_bytes(bytes(packed))
    with pytest.raises(TraceError, match=r"day\.csv\.gz: cannot read"):
        list(read_criteo(tmp_path / "day.csv.gz", 1000, 64))


@pytest.mark.parametrize("sep", ["\t", ","])
def test_a_criteo_header_of_any_name_is_skipped_not_read_as_an_example(
        tmp_path: Path, sep: str) -> None:
    # Its categorical names C1..C26 are hexadecimal numbers too: read as an example, they were
    # ids 0xC1, 0xC2, ... of a 2-example batch.
    header = sep.join(["Label"] + [f"I{i}" for i in range(1, 14)] +
                      [f"C{i}" for i in range(1, 27)])
    (tmp_path / "day_0").write_text(header + "\n" + _criteo_line(sep=sep) + "\n")
    (batch,) = read_criteo(tmp_path / "day_0", 1000, 4)
    assert batch.batch_size == 1 and batch.indices.tolist() == [10] * 26


def test_a_line_whose_label_is_not_a_number_is_refused(tmp_path: Path) -> None:
    (tmp_path / "day_0").write_text(_criteo_line() + "\n" + _criteo_line(label="x") + "\n")
    with pytest.raises(TraceError, match=r"day_0, line 2: label 'x' is not a number"):
        list(read_criteo(tmp_path / "day_0", 7, 4))


def test_a_meta_file_without_bags_is_refused_when_opened(tmp_path: Path) -> None:
    # lengths [2, 0]: before, it opened, and converting it failed in numpy (a slice step of 0).
    torch.save((torch.zeros(0, dtype=torch.int32), torch.zeros(1, dtype=torch.int64),
                torch.zeros(2, 0, dtype=torch.int64)), tmp_path / "nobags.pt")
    with pytest.raises(TraceError, match=r"nobags\.pt: lengths has shape \[2, 0\]: no tables or "
                       "no bags"):
        open_meta(tmp_path / "nobags.pt")


def test_a_gzipped_criteo_log_named_like_terabytes_days_is_detected(tmp_path: Path) -> None:
    # Criteo's Terabyte logs are day_0.gz ... day_23.gz: only the content says they are Criteo.
    with gzip.open(tmp_path / "day_0.gz", "wt") as out:
        out.write(_criteo_line() + "\n")
    assert detect_format(tmp_path / "day_0.gz") == "criteo"
    (tmp_path / "other.gz").write_bytes(gzip.compress(b"1, 2, 3"))
    with pytest.raises(TraceError, match="unknown trace format"):
        detect_format(tmp_path / "other.gz")


def test_stack_distances_out_of_order_are_refused(tmp_path: Path) -> None:
    # generate_lru bisects them and takes the last as the largest: out of order, it drew from
    # the wrong law without a word.
    (tmp_path / "dist.log").write_text("1, 2, 3\n0, 3, 1\n0.5, 0.75, 1.0\n")
    with pytest.raises(TraceError, match=r"dist\.log, line 2: stack distances must increase"):
        read_dlrm_distribution(tmp_path / "dist.log")


def test_a_file_torch_cannot_load_says_what_it_should_be(tmp_path: Path) -> None:
    # torch's unpickler said only "(101)" (a KeyError on the byte 'e') for this file; it is now
    # refused by its first bytes, before torch reads it.
    (tmp_path / "hi.pt").write_text("hello\n")
    with pytest.raises(TraceError, match=r"hi\.pt: not a torch file: a Meta trace is a whole "
                       r"torch\.save file .*--format"):
        open_meta(tmp_path / "hi.pt")
    _meta_file(tmp_path / "m.pt")  # torch's own message still comes with a file it fails on
    (tmp_path / "cut.pt").write_bytes((tmp_path / "m.pt").read_bytes()[:100])
    with pytest.raises(TraceError, match=r"cut\.pt: cannot load as a torch file \(\w+Error: .*\); "
                       r"a Meta trace is a whole torch\.save file .*--format"):
        open_meta(tmp_path / "cut.pt")
