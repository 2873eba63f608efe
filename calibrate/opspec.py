"""What the sweep needs to know about one operation, and a registry that refuses duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calibrate.grid import Design
from calibrate.types import Kernel, Params

Powers = Mapping[str, float]
KernelFactory = Callable[[dict[str, float], int], Kernel]
# Measures all points of an op at once (collectives in worker processes): params list in,
# one (samples_s, summary dict, flagged, attempts, calls_per_sample) per point out.
GroupMeasurer = Callable[[Sequence[dict[str, float]]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class OpSpec:
    """One operation to calibrate.

    name/backend: the profile's op and backend strings. params: the parameter names of its cost.
    design: which points to measure. terms: the monomials of its cost model. split_params: the
    parameters its cost model may be split on (cache regimes). estimate_s(params): a-priori
    seconds per call, used only to plan within the budget. setup_s(params): a-priori seconds to
    build the kernel. prepare_s(params): a-priori seconds to prepare inputs for one call.
    memory_bytes(params): peak bytes it allocates. shrink_for_memory /
    shrink_for_time: parameters halved, in order, until a point fits. make: builds the kernel
    for (params, seed); or measure_group measures every point at once.

    Raises ValueError when a term or split names a parameter that is not in `params`, or when
    neither or both of `make` and `measure_group` are given.
    """

    name: str
    backend: str
    params: tuple[str, ...]
    design: Design
    terms: tuple[Powers, ...]
    estimate_s: Callable[[Params], float]
    memory_bytes: Callable[[Params], float]
    split_params: tuple[str, ...] = ()
    setup_s: Callable[[Params], float] = field(default=lambda params: 0.0)
    prepare_s: Callable[[Params], float] = field(default=lambda params: 0.0)
    shrink_for_memory: tuple[str, ...] = ()
    shrink_for_time: tuple[str, ...] = ()
    make: KernelFactory | None = None
    measure_group: GroupMeasurer | None = None
    # The op this one is measured beside: it is not fitted, and each of its points becomes a
    # ratio to `paired_make`'s kernel at the same parameters (the profile's
    # `working_set_ratios`), timed right after it so that the host's drift cancels.
    ratio_of: str | None = None
    paired_make: KernelFactory | None = None

    def __post_init__(self) -> None:
        used = {name for term in self.terms for name in term} | set(self.split_params)
        used |= set(self.shrink_for_memory) | set(self.shrink_for_time)
        unknown = used - set(self.params)
        if unknown:
            raise ValueError(f"op {self.name}: unknown parameters {sorted(unknown)}")
        if (self.make is None) == (self.measure_group is None):
            raise ValueError(f"op {self.name}: give exactly one of make and measure_group")


class Registry:
    """Ops in insertion order; registering a name twice raises ValueError."""

    def __init__(self) -> None:
        self._ops: dict[str, OpSpec] = {}

    def add(self, spec: OpSpec) -> None:
        if spec.name in self._ops:
            raise ValueError(f"op {spec.name!r} is already registered")
        self._ops[spec.name] = spec

    def __iter__(self) -> Iterator[OpSpec]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    def names(self) -> list[str]:
        return list(self._ops)
