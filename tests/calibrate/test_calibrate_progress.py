"""The progress bar: carriage returns on a terminal, silence otherwise."""

from __future__ import annotations

import io

from calibrate.progress import ProgressBar


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_draws_with_carriage_returns_on_a_terminal():
    stream = FakeTty()
    bar = ProgressBar(2, stream=stream)
    bar.advance("embedding_forward")
    bar.advance("embedding_forward")
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[") and "2/2" in text and text.endswith("\n")


def test_bar_is_silent_off_a_terminal_or_when_quiet():
    for stream, enabled in ((io.StringIO(), True), (FakeTty(), False)):
        bar = ProgressBar(3, enabled=enabled, stream=stream)
        bar.advance("x")
        bar.close()
        assert stream.getvalue() == ""
