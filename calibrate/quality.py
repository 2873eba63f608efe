"""Cost models too weak to use: a run starved of points (a tiny --budget-scale, --quick on a
slow host) still writes a profile, and its fits must not pass for measurements silently.

An op is weak when its held-out median error is above MAX_HOLDOUT_MEDIAN_ABS_REL, when it was
fitted on fewer points than its cost model has terms (some coefficients are then guesses), or
when its fit kept only the constant (its time would not depend on any parameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibrate.opspec import Registry

# Absolute relative error; 0.5 means a typical prediction under half or over 1.5 times the
# measured time. The committed full CPU profiles' fitted ops stay at or below about 0.5 (the
# worst are network_tcp over loopback and the gloo collectives, on a shared 2-core VM), while
# the audit's starved quick run (--budget-scale 0.05) reached 4 to 33.
MAX_HOLDOUT_MEDIAN_ABS_REL = 0.5


def weak_fit_reasons(terms: int, model: Mapping[str, Any]) -> list[str]:
    """Why the cost model `model` of an op with `terms` terms is too weak to use ([] if not)."""
    error = model["fit_error"]
    reasons = []
    median = error["holdout_median_abs_rel"]
    if median is not None and median > MAX_HOLDOUT_MEDIAN_ABS_REL:
        reasons.append(f"held-out median error {100 * median:.0f}%")
    if error["n_fit"] < terms:
        reasons.append(f"{error['n_fit']} fitted point(s) for {terms} terms")
    elif terms > 1 and all(not t["powers"] for p in model["pieces"] for t in p["terms"]):
        reasons.append("its fit is a constant")
    return reasons


def weak_fits(registry: Registry, models: Mapping[str, Any]) -> dict[str, list[str]]:
    """{op: reasons} for every fitted op of `registry` whose model is too weak to use."""
    found = {}
    for spec in registry:
        if spec.name in models:
            reasons = weak_fit_reasons(len(spec.terms), models[spec.name])
            if reasons:
                found[spec.name] = reasons
    return found


def weak_fit_warning(weak: Mapping[str, list[str]], quick: bool) -> str:
    """One line naming each weak op and its reasons, and how to measure more points."""
    ops = "; ".join(f"{op} ({', '.join(reasons)})" for op, reasons in weak.items())
    more = "a larger --budget-scale (1 is the mode's budget)" + (" or without --quick"
                                                                  if quick else "")
    return (f"calibrate: warning: {len(weak)} op(s) have fits too weak to use: {ops}; "
            f"measure more points with {more}")
