"""Ranges of whole numbers in `dlrmsim sweep` (--batch-size 256..4096*2, --trainers 1..16+4):
the values they stand for, the errors for ranges that cannot be meant, and a sweep run by one."""

from __future__ import annotations

import argparse
import json

import pytest

from dlrmsim.cli import main
from dlrmsim.commands.arguments import whole_numbers


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `dlrmsim sweep ARGV`."""
    try:
        code = main(["sweep", *argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("text, values", [
    ("256..4096*2", (256, 512, 1024, 2048, 4096)),
    ("256..4096x2", (256, 512, 1024, 2048, 4096)),
    ("3..100*3", (3, 9, 27, 81)),          # 243 is past the end
    ("1..16+4", (1, 5, 9, 13)),            # 17 is past the end
    ("1..13+4", (1, 5, 9, 13)),            # the end is included when the count lands on it
    ("1..4", (1, 2, 3, 4)),                # counting by 1
    ("4..4", (4,)),
    ("1,2,4..16+4", (1, 2, 4, 8, 12, 16)),
    ("8,1..9+4", (8, 1, 5, 9)),            # in the order given
    ("4..8,6", (4, 5, 6, 7, 8)),           # repeats dropped
    (" 2 .. 6 + 2 ", (2, 4, 6)),
    ("7", (7,)),
])
def test_ranges_stand_for_their_values(text: str, values: tuple[int, ...]) -> None:
    assert whole_numbers(1, 1000)(text) == values


def test_a_count_that_may_be_zero_ranges_from_zero() -> None:
    assert whole_numbers(0, 1000)("0..4+2") == (0, 2, 4)


def test_the_limit_on_values_is_inclusive_and_checked_before_counting_out() -> None:
    assert whole_numbers(1, 1000)("1..1000") == tuple(range(1, 1001))
    assert whole_numbers(1, 1000)("1..2000+2")[-1] == 1999  # 1,000 values
    for text in ("1..1001", "1..1000000000000"):  # the second would take minutes to list
        with pytest.raises(argparse.ArgumentTypeError, match="more than a sweep runs"):
            whole_numbers(1, 1000)(text)


@pytest.mark.parametrize("argv, words", [
    (("--trainers", "1..16+0"), "argument --trainers: 1..16+0: the step must be a whole number "
                                ">= 1, e.g. 1..16+4"),
    (("--trainers", "1..16+-4"), "the step must be a whole number >= 1"),
    (("--trainers", "1..16+"), "the step must be a whole number >= 1"),
    (("--batch-size", "256..4096*1"), "argument --batch-size: 256..4096*1: the factor must be a "
                                      "whole number >= 2, e.g. 256..4096*2"),
    (("--batch-size", "256..4096*1.5"), "the factor must be a whole number >= 2"),
    (("--batch-size", "256..4096*0"), "the factor must be a whole number >= 2"),
    (("--trainers", "16..1"), "argument --trainers: 16..1: the range ends before it starts; "
                              "ranges count up, e.g. 1..16"),
    (("--sparse-ps", "0..64*2"), "a range that multiplies never leaves 0; start it at 1 or "
                                 "more, e.g. 1..64*2"),
    (("--trainers", "0..4"), "argument --trainers: 0: give a whole number >= 1"),
    (("--trainers", "1..a"), "'a': give a whole number"),
    (("--trainers", "1..16..2"), "write a range as A..B, A..B+STEP or A..B*FACTOR"),
    (("--trainers", "1..100000"), "argument --trainers: 1..100000: 100,000 values, more than a "
                                  "sweep runs (1,000); give a larger step or a shorter range"),
    (("--placement", "gpu..remote"), "argument --placement: 'gpu..remote': ranges (A..B) are "
                                     "for whole-number settings such as --trainers"),
])
def test_bad_ranges_are_one_line_naming_the_option_and_status_2(
        capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str) -> None:
    code, out, err = run(capsys, "--job", "test_suite_cpu", *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_help_explains_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "1..16+4 is 1,5,9,13" in " ".join(out.split())  # argparse wraps the lines
    assert "--trainers N[,A..B[+S|*F]...]" in out


def test_a_sweep_over_a_range_is_the_sweep_over_its_values(
        capsys: pytest.CaptureFixture[str]) -> None:
    common = ("--job", "test_suite_cpu", "--iterations", "4", "--json")
    code, ranged, err = run(capsys, *common, "--trainers", "1..3+2", "--batch-size", "100..200*2")
    assert code == 0, err
    data = json.loads(ranged)
    assert list(data["axes"].items()) == [("trainers", [1, 3]), ("batch_size", [100, 200])]
    assert [(p["trainers"], p["batch_size"]) for p in data["points"]] == [
        (1, 100), (1, 200), (3, 100), (3, 200)]
    listed = run(capsys, *common, "--trainers", "1,3", "--batch-size", "100,200")[1]
    assert ranged == listed
