"""Turn plain mappings (parsed YAML or JSON) into spec dataclasses, and specs back into mappings.

Field types are read from the dataclasses' annotations, so a new spec field needs no code here.
Unknown keys and missing fields are errors that name the path of the offending key.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from sim.errors import PresetError, SpecError
from sim.units import parse_quantity

T = TypeVar("T")
# Keys a preset may carry beside a spec's fields: documentation, not data.
DOC_KEYS = frozenset({"source", "sources", "note", "notes", "kind"})


def from_mapping(cls: type[T], data: object, path: str = "") -> T:
    """Build `cls` from `data`; raise PresetError naming the field path on any problem."""
    where = path or "top level"
    if not isinstance(data, dict):
        raise PresetError(f"{where}: expected a mapping of {cls.__name__} fields, got {data!r}")
    hints = _type_hints(cls)  # type: ignore[arg-type]
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields) - DOC_KEYS)
    if unknown:
        raise PresetError(
            f"{where}: unknown field(s) {', '.join(unknown)} for {cls.__name__}; "
            f"allowed: {', '.join(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, spec_field in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{path}.{name}".lstrip("."), name)
        elif _is_required(spec_field):
            raise PresetError(f"{where}: missing field '{name}' of {cls.__name__}; add it")
    try:
        return cls(**kwargs)
    except SpecError as err:
        raise PresetError(f"{where}: {err}") from err


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """The field types of a spec class. Cached: get_type_hints evaluates the string annotations
    on every call (about 0.25 ms a class), and a model with 127 tables builds 382 specs."""
    return get_type_hints(cls)


def _is_required(spec_field: dataclasses.Field[Any]) -> bool:
    return (
        spec_field.default is dataclasses.MISSING
        and spec_field.default_factory is dataclasses.MISSING
    )


def _convert(hint: Any, value: object, path: str, name: str) -> object:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return None if value is None else _convert(options[0], value, path, name)
    if origin is tuple:
        return _convert_tuple(hint, value, path, name)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, path)  # type: ignore[arg-type]
    if hint is float:
        return _quantity(value, path, name)
    if hint is int:
        number = _quantity(value, path, name)
        # YAML reads .nan and .inf as floats, which int() refuses with a traceback
        if not math.isfinite(number) or number != int(number):
            raise PresetError(f"{path}: expected a whole number, got {value!r}")
        return int(number)
    if hint is bool and not isinstance(value, bool):
        raise PresetError(f"{path}: expected true or false, got {value!r}")
    if hint is str and not isinstance(value, str):
        raise PresetError(f"{path}: expected text, got {value!r}")
    return value


def _convert_tuple(hint: Any, value: object, path: str, name: str) -> tuple[object, ...]:
    if not isinstance(value, list | tuple):
        raise PresetError(f"{path}: expected a list, got {value!r}")
    item_hint = get_args(hint)[0]
    return tuple(_convert(item_hint, v, f"{path}[{i}]", name) for i, v in enumerate(value))


def _quantity(value: object, path: str, name: str) -> float:
    if isinstance(value, bool):
        raise PresetError(f"{path}: expected a number, got {value!r}")
    try:
        return parse_quantity(name, value)
    except ValueError as err:
        raise PresetError(f"{path}: {str(err).removeprefix(name + ': ')}") from err


def to_mapping(spec: object) -> object:
    """A spec as plain data (lists, dicts, numbers), fit for YAML or JSON, defaults included."""
    if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        return {f.name: to_mapping(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
    if isinstance(spec, tuple | list):
        return [to_mapping(v) for v in spec]
    return spec
