"""`sim.paths.check_output_file`: what a run may write over, said before the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.errors import DlrmsimInputError
from sim.paths import check_output_file


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_accepted_without_a_probe_file_beside_it(tmp_path: Path) -> None:
    pipe = tmp_path / "out.csv"
    os.mkfifo(pipe)
    check_output_file(str(pipe), "--csv")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_link_into_a_folder_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    # The file replaced is the link's target, so the target's folder is the one to write in.
    (tmp_path / "gone").mkdir()
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path / "gone" / "missing" / "out.csv")
    with pytest.raises(DlrmsimInputError, match="does not exist"):
        check_output_file(str(link), "--csv")


def test_an_input_reached_through_a_link_is_still_an_input(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text("kind: job\n")
    (tmp_path / "out.csv").symlink_to("job.yaml")
    with pytest.raises(DlrmsimInputError, match="names the file given to --job"):
        check_output_file(str(tmp_path / "out.csv"), "--csv",
                          inputs=[("--job", str(tmp_path / "job.yaml"))])
