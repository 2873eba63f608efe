"""Errors that mean the input was wrong, as opposed to a bug in the simulator."""

from __future__ import annotations


class DlrmsimInputError(ValueError):
    """Base of every error caused by the user's input; the CLI prints it as one line."""


class SpecError(DlrmsimInputError):
    """A spec field has a bad value. The message names the spec, the field, the value and the
    rule, unless `message` words it otherwise (e.g. by the command-line flag that set it)."""

    def __init__(self, spec: str, field: str, value: object, allowed: str,
                 message: str | None = None) -> None:
        self.spec, self.field, self.value, self.allowed = spec, field, value, allowed
        super().__init__(message or f"{spec}.{field} = {value!r} is not allowed: {allowed}")


class ArgumentError(DlrmsimInputError):
    """An argument of a public function (`simulate`, `sweep`, the loaders) is of the wrong type
    or out of range, e.g. a number where a path goes; the command line parses its flags into
    the right types, so mostly a Python caller's mistake (sim/arguments.py)."""


class PresetError(DlrmsimInputError):
    """A preset or a user's YAML file cannot be found, parsed or turned into a spec."""


class PlacementError(DlrmsimInputError):
    """Embedding tables do not fit where the placement puts them."""


class ProfileError(DlrmsimInputError):
    """A calibration profile cannot be read: missing, malformed, or of an unknown schema version."""
