"""A write that fails half-way (a full disk, a file size limit) ends `dlrmsim trace` with one
line that names the file and the cause, exit status 2, and no temporary file left behind."""

from __future__ import annotations

import errno
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from traces import TraceError

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 4096  # below every output written here, above what Python writes to start

# Run under RLIMIT_FSIZE, which makes a write past the limit fail with EFBIG (Python ignores the
# SIGXFSZ that would otherwise end the process).
_SCRIPT = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from dlrmsim.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    results.append([status, err.getvalue()])
print(json.dumps(results))
"""


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_size_limit_is_one_line_and_leaves_nothing(tmp_path: Path, data_dir: Path) -> None:
    # Before, each ended with the OSError's traceback and exit status 1.
    out = tmp_path / "out"
    out.mkdir()
    runs = [
        ["trace", "generate", "--model", "test_suite", "--batches", "4", "--batch-size", "64",
         "--out", str(out / "g.trace")],
        ["trace", "convert", str(data_dir / "criteo_sample.csv"), "--rows", "1000", "--out",
         str(out / "c.trace")],
        ["trace", "plot", "--model", "test_suite", "--out", str(out)],
    ]
    shown = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(limit=LIMIT_BYTES), json.dumps(runs)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    names = ["g.trace", "c.trace", "test_suite_fig6_hash_vs_lookups.png"]
    for (status, err), name in zip(json.loads(shown.stdout), names, strict=True):
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert f"{out / name}: cannot write: the file is larger than the system lets a process " \
               "write (`ulimit -f`" in err
    assert not list(out.iterdir())


def _meta_gz(path: Path, bags: int = 20_000) -> Path:
    """A Meta trace of one table, gzipped: about 480 kB once decompressed."""
    torch = pytest.importorskip("torch")
    plain = path.with_suffix("")
    torch.save((torch.zeros(bags, dtype=torch.int64), torch.arange(bags + 1),
                torch.ones(1, bags, dtype=torch.int64)), plain)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return path


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_pt_gz_too_large_to_decompress_names_the_limit(tmp_path: Path) -> None:
    # Before: "cannot load as a torch file (OSError: ...); ... fetch it again".
    gz = _meta_gz(tmp_path / "m.pt.gz")
    folder = tmp_path / "tmp"
    folder.mkdir()
    runs = [["trace", "stats", str(gz), "--no-lru", "--tmp-dir", str(folder)]]
    shown = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(limit=LIMIT_BYTES), json.dumps(runs)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    ((status, err),) = json.loads(shown.stdout)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{gz}: cannot decompress into the temporary folder {folder} (File too large); the " \
           "decompressed file is larger than a process may write; raise the limit" in err
    assert not list(folder.iterdir())


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_temporary_folder_is_named_with_the_way_around(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    from traces import meta_pt

    gz = _meta_gz(tmp_path / "m.pt.gz")
    folder = tmp_path / "tmp"
    folder.mkdir()

    def full(fd: int, data: object) -> int:
        raise OSError(code, os.strerror(code))

    with monkeypatch.context() as patched:  # meta_pt.os is the os module: patched for the read only
        patched.setattr(meta_pt.os, "write", full)
        with pytest.raises(TraceError) as caught:
            meta_pt.open_meta(gz, tmp_dir=str(folder))
    assert str(caught.value) == (
        f"{gz}: cannot decompress into the temporary folder {folder} ({os.strerror(code)}); free "
        "space there, or give a folder with room for the decompressed file (--tmp-dir, or the "
        "TMPDIR variable)")
    assert not list(folder.iterdir())


def test_a_missing_temporary_folder_is_named(tmp_path: Path) -> None:
    from traces.meta_pt import open_meta

    gz = _meta_gz(tmp_path / "m.pt.gz")
    with pytest.raises(TraceError) as caught:
        open_meta(gz, tmp_dir=str(tmp_path / "nowhere"))
    assert f"cannot decompress into the temporary folder {tmp_path / 'nowhere'} (No such file or " \
           "directory); give a folder you can write to" in str(caught.value)
