"""Which of a step's kernels the profile times. The simulator charges an op the profile lacks
at its analytic cost, so a "calibrated" prediction from a partial profile is partly (or wholly)
the analytic one under another name: validation names those ops, and refuses a profile that
times none of them. It also names the ops it times from fits that calibrate called too weak to
use, which the simulator charges from the profile all the same (sim.notes.weak_fits)."""

from __future__ import annotations

from collections.abc import Iterable

from sim.costs.calibrated import UPDATE_OPS
from sim.errors import DlrmsimInputError
from sim.notes import weak_fit_note
from sim.profile import Profile
from sim.specs import ModelSpec


def step_ops(model: ModelSpec) -> list[str]:
    """The profile ops that one training step of `model` is charged with. A cat interaction
    has none: calibration times only the dot one, so it is analytic with any profile."""
    ops = ["embedding_forward", UPDATE_OPS[model.optimizer], "mlp_forward", "mlp_backward",
           "loss", "dense_optimizer_step"]
    if model.interaction == "dot":
        ops += ["interaction_forward", "interaction_backward"]
    return ops


def uncalibrated_ops(profile: Profile, models: Iterable[ModelSpec]) -> list[str]:
    """The ops some step needs that `profile` does not time, in a stable order."""
    needed = dict.fromkeys(op for model in models for op in step_ops(model))
    return [op for op in needed if not profile.has(op)]


def check_coverage(profile: Profile, models: Iterable[ModelSpec]) -> list[str]:
    """The ops the steps need and `profile` lacks; DlrmsimInputError when it has none of them,
    since every "calibrated" prediction would then be the analytic one."""
    models = list(models)
    needed = list(dict.fromkeys(op for model in models for op in step_ops(model)))
    missing = uncalibrated_ops(profile, models)
    if needed and len(missing) == len(needed):
        raise DlrmsimInputError(
            f"{profile.path}: times none of the step's kernels ({', '.join(missing)}), so every "
            "calibrated prediction would be the analytic one; give a profile made with "
            "`dlrmsim calibrate` without --ops (or with --ops naming them)")
    return missing


def coverage_warning(profile: Profile, missing: list[str]) -> str | None:
    """A one-line warning naming the ops charged at analytic costs, else None."""
    if not missing:
        return None
    return (f"warning: profile {profile.path} does not time {', '.join(missing)}; the "
            "calibrated predictions charge them at analytic (nominal) costs")


def weak_step_fits(profile: Profile, models: Iterable[ModelSpec]) -> dict[str, list[str]]:
    """{op: calibrate's reasons} for the ops some step needs that `profile` times from a fit
    calibrate called too weak to use, in a stable order."""
    needed = dict.fromkeys(op for model in models for op in step_ops(model))
    return {op: list(profile.weak_fits[op]) for op in needed
            if profile.has(op) and op in profile.weak_fits}


def weak_fit_warning(profile: Profile, weak: dict[str, list[str]]) -> str | None:
    """The simulator's weak-fit note as a warning line, else None."""
    if not weak:
        return None
    return f"warning: {weak_fit_note(profile.path, weak, profile.mode)}"
