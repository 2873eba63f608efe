"""The one exception type that means "the user asked for something calibration cannot do"."""

from __future__ import annotations


class CalibrationError(RuntimeError):
    """A user mistake or an unusable environment: unknown or absent device, an output path that
    cannot be written, a peer that does not answer, a profile that does not match the schema.

    The command line prints its message as one line and exits with status 2.
    """
