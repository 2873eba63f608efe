"""The user-facing error of `dlrmsim reproduce`."""

from __future__ import annotations

from sim.errors import DlrmsimInputError


class ReproduceError(DlrmsimInputError):
    """A reproduction cannot start or finish because of its input: an output folder that cannot
    be written, an unknown experiment id. The CLI prints it as one line and exits 2."""
