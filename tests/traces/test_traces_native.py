"""Native format: round trip, and clear errors (never a crash) on damaged files."""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traces import TraceError, TraceTable, open_native
from traces.batch import TraceBatch
from traces.native import NativeWriter, write_native

TABLES = (TraceTable("x", 10, 4), TraceTable("y", 5, 4))


def _batch(indices: list[int], lengths: list[int], b: int) -> TraceBatch:
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return TraceBatch(np.asarray(indices, dtype=np.int64), offsets, b)


def _write(path: Path) -> bytes:
    write_native(path, TABLES, [_batch([1, 2, 9, 4, 0], [2, 1, 1, 1], 2),
                                _batch([3, 3], [1, 0, 0, 1], 2)], {"note": "test"})
    return path.read_bytes()


def test_round_trip(tmp_path: Path) -> None:
    _write(tmp_path / "t")
    trace = open_native(tmp_path / "t")
    assert trace.table_names == ("x", "y") and trace.source == {"note": "test"}
    first, second = trace.iter_batches()
    assert first.table_indices(0).tolist() == [1, 2, 9] and second.lengths().tolist() == [[1, 0],
                                                                                           [0, 1]]


def test_write_native_counts_every_batch(tmp_path: Path) -> None:
    # Batches large enough that the background thread is still writing the last one when the
    # loop ends: the count must include it.
    big = _batch([0] * 2_000_000, [1_000_000, 0, 0, 1_000_000], 2)
    assert write_native(tmp_path / "t", TABLES, [big] * 3) == 3
    assert open_native(tmp_path / "t").num_batches == 3


@pytest.mark.parametrize(("indices", "lengths", "message"), [
    ([1, 2, 11, 4, 0], [2, 1, 1, 1], "table 'x', batch 0, index 2 of the table"),
    ([1, 2, 3, 4, -1], [2, 1, 1, 1], "table 'y', batch 0, index 1 of the table"),
])
def test_writer_refuses_bad_batches_and_leaves_nothing(tmp_path: Path, indices: list[int],
                                                       lengths: list[int], message: str) -> None:
    with pytest.raises(TraceError, match=message), NativeWriter(tmp_path / "t", TABLES) as w:
        w.write(_batch(indices, lengths, 2))
    assert not list(tmp_path.iterdir())


def test_decreasing_offsets_name_the_bag(tmp_path: Path) -> None:
    batch = TraceBatch(np.array([1, 2, 3]), np.array([0, 2, 1, 3, 3]), 2)
    with pytest.raises(TraceError, match="table 'x', batch 0, bag 1"), \
            NativeWriter(tmp_path / "t", TABLES) as w:
        w.write(batch)


def _with_table_field(raw: bytes, field: str, value: int) -> bytes:
    """`raw` with the header's first table's `field` set to `value`, checksums kept right."""
    start, (json_len,) = 32, struct.unpack_from("<Q", raw, 16)  # the layout in traces/native.py
    meta = json.loads(raw[start:start + json_len])
    meta["tables"][0][field] = value
    text = json.dumps(meta).encode()
    text += b" " * (json_len - len(text))
    assert len(text) == json_len  # the same length, so that every position stays right
    trailer = bytearray(raw[-32:])
    trailer[-4:] = struct.pack("<I", zlib.crc32(text))
    return raw[:start] + text + raw[start + json_len:-32] + bytes(trailer)


@pytest.mark.parametrize(("field", "value"), [("rows", 0), ("rows", -3), ("dim", 0)])
def test_a_header_table_without_rows_or_dimension_is_corrupt(tmp_path: Path, field: str,
                                                             value: int) -> None:
    raw = _with_table_field(_write(tmp_path / "t"), field, value)
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(TraceError, match=f"bad: corrupt header .*table 'x'.*{value}"):
        open_native(tmp_path / "bad")


def test_truncated_file(tmp_path: Path) -> None:
    raw = _write(tmp_path / "t")
    for size in (0, 10, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut").write_bytes(raw[:size])
        with pytest.raises(TraceError, match="cut"):
            open_native(tmp_path / "cut")


def test_flipped_index_byte_is_caught_by_the_checksum(tmp_path: Path) -> None:
    raw = bytearray(_write(tmp_path / "t"))
    trace = open_native(tmp_path / "t")
    spot = int(trace.footer[0]["block"]) + 8 * 5  # the first index of batch 0
    raw[spot] ^= 0x01
    (tmp_path / "bad").write_bytes(bytes(raw))
    with pytest.raises(TraceError, match="batch 0: checksum"):
        list(open_native(tmp_path / "bad").iter_batches())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_is_a_trace_error_or_harmless(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(_write(tmp_path / "t"))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    (tmp_path / "d").write_bytes(bytes(raw[:cut]))
    try:
        trace = open_native(tmp_path / "d")
        for batch in trace.iter_batches():
            assert batch.indices.size == batch.offsets[-1]
    except TraceError:
        pass


def test_a_bad_batch_is_named_by_its_own_number_while_the_last_is_still_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The previous batch is written on a background thread; a slow disk keeps it there. Before,
    # the number came from the footer, which that thread had not yet grown: "batch 0".
    write_block = NativeWriter._write_block

    def slow(self: NativeWriter, *args: object) -> None:
        time.sleep(0.3)  # seconds: far longer than validating the next batch takes
        write_block(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(NativeWriter, "_write_block", slow)
    good, bad = _batch([1, 2, 9, 4, 0], [2, 1, 1, 1], 2), _batch([1, 2, 11, 4, 0], [2, 1, 1, 1], 2)
    with pytest.raises(TraceError, match="table 'x', batch 1, index 2"), \
            NativeWriter(tmp_path / "t", TABLES) as writer:
        writer.write(good)
        writer.write(bad)
    assert not list(tmp_path.iterdir())
