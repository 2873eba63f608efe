"""The phases on which a measured step and its prediction are compared: groups of the real
step's parts (calibrate.dlrm.PARTS) and of the simulator's phases (SimResult.phase_time_s) that
do the same work. On a CPU trainer the simulator's phases follow the real step's closely. A GPU
step overlaps its embedding updates with the MLPs' backward, so there only the forward (bottom
MLP and lookups, after any wait for inputs) and the rest of the step are compared."""

from __future__ import annotations

from collections.abc import Mapping

# group -> (the real step's parts, the simulator's phases), per kind of trainer
GROUPS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "cpu": {
        "dense_forward": (("bottom_forward", "top_forward"), ("mlp_forward",)),
        "embedding_forward": (("embedding_forward",), ("lookups",)),
        "dense_backward": (("dense_backward", "dense_optimizer_step"), ("mlp_backward",)),
        "embedding_update": (("embedding_update",), ("updates",)),
    },
    "gpu": {
        "forward": (("bottom_forward", "embedding_forward"), ("inputs", "forward")),
        "rest": (("top_forward", "dense_backward", "embedding_update", "dense_optimizer_step"),
                 ("all_to_all", "top_mlp", "backward")),
    },
}


def _grouped(seconds: Mapping[str, float], kind: str, side: int) -> dict[str, float]:
    groups = GROUPS[kind]
    known = {name for members in groups.values() for name in members[side]}
    unknown = {name for name, value in seconds.items() if name not in known and value > 0}
    if unknown:  # a part or phase that no group holds would drop out of the comparison
        raise ValueError(f"{sorted(unknown)} belong to no {kind} phase group")
    return {group: sum(seconds.get(name, 0.0) for name in members[side])
            for group, members in groups.items()}


def measured_groups(parts_s: Mapping[str, float], kind: str) -> dict[str, float]:
    """The real step's parts (seconds) summed into the phase groups of `kind` (cpu or gpu)."""
    return _grouped(parts_s, kind, 0)


def predicted_groups(phase_time_s: Mapping[str, float], kind: str) -> dict[str, float]:
    """The simulator's phases (seconds) summed into the phase groups of `kind`; a phase the
    validation setup never runs (a CPU trainer's EASGD without dense PS) must take no time."""
    return _grouped(phase_time_s, kind, 1)
