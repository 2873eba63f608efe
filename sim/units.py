"""Quantities with units in preset files: "16 GiB", "900 GB/s", "25 Gbit/s", "15.7 TFLOP/s".

The unit a field expects is named by its suffix (`_bytes`, `_bytes_per_s`, `_flops_per_s`,
`_w`, `_s`); a plain number is taken in that base unit, also when written as text (YAML 1.1, as
PyYAML reads it, takes `1e9` for a string).
"""

from __future__ import annotations

import math
import re

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_PREFIX = r"(?P<prefix>Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?"

# suffix -> list of (unit regex after the prefix, multiplier into the base unit)
_UNITS: dict[str, list[tuple[str, float]]] = {
    "_bytes_per_s": [(r"B/s", 1.0), (r"(bit/s|bps)", 1 / 8)],
    "_flops_per_s": [(r"FLOP/s", 1.0)],
    "_bytes": [(r"B", 1.0)],
    "_w": [(r"W", 1.0)],
    "_s": [(r"s", 1.0), (r"ms", 1e-3), (r"us", 1e-6), (r"ns", 1e-9)],
}
_NUMBER = r"(?P<number>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)"


def unit_suffix(field_name: str) -> str | None:
    """The unit suffix of a field name, or None when the field takes plain numbers."""
    for suffix in ("_bytes_per_s", "_flops_per_s", "_bytes", "_w", "_s"):
        if field_name.endswith(suffix):
            return suffix
    return None


def parse_quantity(field_name: str, value: object) -> float:
    """Return `value` in the base unit of `field_name`; raise ValueError saying what was expected."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    # A plain number as text: PyYAML (YAML 1.1) reads 1e9, 1.0e9 and 1e-6 as strings.
    plain = re.fullmatch(_NUMBER, value.strip()) if isinstance(value, str) else None
    if plain and math.isfinite(float(plain["number"])):
        return float(plain["number"])
    suffix = unit_suffix(field_name)
    if suffix is None or not isinstance(value, str):
        raise ValueError(f"{field_name}: expected a number, got {value!r}")
    text = value.strip()
    if suffix == "_s":
        match = re.fullmatch(_NUMBER + r"\s*(?P<unit>ns|us|ms|s)", text)
        if match:
            factor = dict(_UNITS["_s"])[match["unit"]]
            return float(match["number"]) * factor
    for unit_re, factor in _UNITS[suffix]:
        match = re.fullmatch(_NUMBER + r"\s*" + _PREFIX + unit_re, text)
        if match:
            prefix = match["prefix"] or ""
            scale = _BINARY.get(prefix) or _DECIMAL[prefix]
            result = float(match["number"]) * scale * factor
            if math.isfinite(result):
                return result
    examples = {
        "_bytes": "'16 GiB', '256 GB', 1024",
        "_bytes_per_s": "'900 GB/s', '25 Gbit/s', 1e9",
        "_flops_per_s": "'15.7 TFLOP/s', 1e12",
        "_w": "'300 W', '1.2 kW'",
        "_s": "'2 us', '1.5 ms', 0.001",
    }[suffix]
    raise ValueError(f"{field_name}: cannot read {value!r} as a quantity; write e.g. {examples}")
