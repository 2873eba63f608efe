"""Field checks shared by the spec dataclasses; each raises SpecError naming spec and field."""

from __future__ import annotations

import math
from collections.abc import Iterable

from sim.errors import SpecError


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive_int(spec: str, field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(spec, field, value, "a whole number >= 1")


def non_negative_int(spec: str, field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SpecError(spec, field, value, "a whole number >= 0")


def positive(spec: str, field: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) \
            or value <= 0:
        raise SpecError(spec, field, value, "a finite number > 0")


def non_negative(spec: str, field: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) \
            or value < 0:
        raise SpecError(spec, field, value, "a finite number >= 0")


def fraction(spec: str, field: str, value: object, *, open_top: bool = False) -> None:
    ok = _is_number(value) and 0 <= value <= 1  # type: ignore[operator]
    if open_top and ok:
        ok = value < 1  # type: ignore[operator]
    if not ok:
        raise SpecError(spec, field, value, "a number in [0, 1)" if open_top else "a number in [0, 1]")


def one_of(spec: str, field: str, value: object, allowed: Iterable[str]) -> None:
    options = tuple(allowed)
    if value not in options:
        raise SpecError(spec, field, value, "one of " + ", ".join(repr(o) for o in options))


def non_empty_name(spec: str, field: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(spec, field, value, "a non-empty string")


def int_tuple(spec: str, field: str, value: object, *, allow_empty: bool = False) -> None:
    if not isinstance(value, tuple) or (not value and not allow_empty):
        raise SpecError(spec, field, value, "a non-empty list of whole numbers >= 1")
    for item in value:
        positive_int(spec, field, item)
