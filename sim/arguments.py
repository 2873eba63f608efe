"""Checks of the arguments a notebook passes to the public entry points (`simulate`, the preset
and profile loaders, `dlrmsim.sweep`, `dlrmsim.reproduce`). The command line parses its flags
into the right types, so it never fails these; from Python, a value of the wrong type (a number
where a path goes, a ModelSpec where a platform goes) is named at the call, as an ArgumentError
that says what to give, instead of surfacing as an AttributeError or a TypeError from deep
inside."""

from __future__ import annotations

import dataclasses
import os

from sim.errors import ArgumentError


def shown(value: object) -> str:
    """`value` as a message shows it: a number as written, anything else as Python writes it,
    so that the string '3200' does not read as the number 3200."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return str(value) if is_number else repr(value)


def described(value: object) -> str:
    """`value` and its type, for a message about a value of the wrong type; a spec by its
    name, its fields being too long to show."""
    name = getattr(value, "name", None)
    if dataclasses.is_dataclass(value) and isinstance(name, str):
        return f"{type(value).__name__} {name!r}"
    return f"{shown(value)[:60]} ({type(value).__name__})"


def is_path(value: object) -> bool:
    return isinstance(value, str | os.PathLike)


def check_path(name: str, value: object, what: str,
               error: type[ValueError] = ArgumentError, *, optional: bool = True) -> None:
    """`error` unless `value` is a non-empty path (a str or os.PathLike), or None when
    `optional`; `what` names the file expected, e.g. "a calibration profile"."""
    if value is None and optional:
        return
    if isinstance(value, str | os.PathLike):
        if os.fspath(value):
            return
        got = "an empty path"
    else:
        got = described(value)
    raise error(f"{name} = {got}: give the path of {what}")


def check_whole(name: str, value: object, minimum: int) -> None:
    """ArgumentError unless `value` is a whole number >= `minimum` (a bool is not one)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ArgumentError(f"{name} = {shown(value)}: give a whole number >= {minimum}")
