"""A write that fails half-way (a full disk, a file size limit) ends `dlrmsim trace` with one
line that names the file and the cause, exit status 2, and no temporary file left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
