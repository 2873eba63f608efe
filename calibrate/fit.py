"""Cost models: time as a sum of non-negative monomials of an op's parameters, piecewise over
boxes of the parameter space, fitted by non-negative least squares on relative error.

Relative error is the objective because times span six orders of magnitude. Pieces come from a
small regression tree: a box is split at the threshold of one `split_params` parameter that most
reduces the squared relative error, while each side keeps enough points for its terms and the
gain is worth it. This captures cache regimes (a table that fits in cache versus one that does
not) without naming cache sizes. Non-negative coefficients keep every term physical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibrate.nnls import nnls

UNBOUNDED = 1e30  # upper end of an open range in a piece's `when` (JSON has no infinity)
MAX_PIECES = 6  # leaves of the regression tree (count)
MIN_SPLIT_GAIN = 0.15  # a split must remove this fraction of the squared relative error
EXACT_SSE = 1e-12  # squared relative error per point below which a fit is exact (no split)
MAX_THRESHOLDS = 40  # candidate split thresholds per parameter and box (count)
MIN_LEAF = 4  # fewest points (count) a piece is fitted on
MIN_LEAF_PER_TERM = 2.0  # and this many per term (leave-one-out on the first full CPU profile)

Powers = Mapping[str, float]


def monomials(params: Sequence[Mapping[str, float]], terms: Sequence[Powers]) -> np.ndarray:
    """Matrix [points, terms] of each term's monomial at each point."""
    return np.array([[float(np.prod([p[k] ** e for k, e in t.items()])) for t in terms]
                     for p in params], dtype=np.float64).reshape(len(params), len(terms))


def solve_relative(x: np.ndarray, times_s: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative coefficients minimizing squared relative error, and that error's sum."""
    weighted = x / times_s[:, None]
    scale = np.linalg.norm(weighted, axis=0)
    scale[scale == 0] = 1.0
    coef = nnls(weighted / scale, np.ones(len(times_s))) / scale
    residual = weighted @ coef - 1.0
    return coef, float(residual @ residual)


@dataclass
class _Leaf:
    box: dict[str, list[float]]
    index: np.ndarray
    coef: np.ndarray
    sse: float


def _thresholds(values: np.ndarray) -> list[float]:
    distinct = np.unique(values)
    if distinct.size < 2:
        return []
    lo, hi = distinct[:-1], distinct[1:]
    cuts = np.where(lo > 0, np.sqrt(lo * hi), (lo + hi) / 2)
    if cuts.size > MAX_THRESHOLDS:
        cuts = cuts[np.linspace(0, cuts.size - 1, MAX_THRESHOLDS).round().astype(int)]
    return [float(c) for c in cuts]


def _leaf(box: dict[str, list[float]], index: np.ndarray, x: np.ndarray, y: np.ndarray) -> _Leaf:
    coef, sse = solve_relative(x[index], y[index])
    return _Leaf(box, index, coef, sse)


def _best_split(
    leaf: _Leaf, values: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, min_leaf: int
) -> tuple[float, _Leaf, _Leaf] | None:
    best = None
    for name, column in values.items():
        for cut in _thresholds(column[leaf.index]):
            left_index = leaf.index[column[leaf.index] < cut]
            right_index = leaf.index[column[leaf.index] >= cut]
            if min(left_index.size, right_index.size) < min_leaf:
                continue
            lo, hi = leaf.box.get(name, [0.0, UNBOUNDED])
            left = _leaf({**leaf.box, name: [lo, cut]}, left_index, x, y)
            right = _leaf({**leaf.box, name: [cut, hi]}, right_index, x, y)
            gain = leaf.sse - left.sse - right.sse
            if best is None or gain > best[0]:
                best = (gain, left, right)
    return best


def fit_pieces(
    params: Sequence[Mapping[str, float]],
    times_s: Sequence[float],
    terms: Sequence[Powers],
    split_params: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Pieces (`when` boxes and their terms) of a piecewise monomial-sum model.

    Raises ValueError when there are no points or a time is not positive.
    """
    y = np.asarray(times_s, dtype=np.float64)
    if y.size == 0 or np.any(y <= 0):
        raise ValueError("need at least one point, and every time must be > 0")
    x = monomials(params, terms)
    values = {name: np.array([p[name] for p in params], dtype=np.float64) for name in split_params}
    min_leaf = max(int(MIN_LEAF_PER_TERM * len(terms)), MIN_LEAF)
    leaves = [_leaf({}, np.arange(y.size), x, y)]
    while len(leaves) < MAX_PIECES:
        total = sum(leaf.sse for leaf in leaves)
        splits = [(i, _best_split(leaf, values, x, y, min_leaf)) for i, leaf in enumerate(leaves)]
        found = [(s[0], i, s) for i, s in splits if s is not None]
        if not found:
            break
        gain, i, (_, left, right) = max(found, key=lambda item: item[0])
        if gain < MIN_SPLIT_GAIN * total or total < EXACT_SSE * y.size:
            break
        leaves[i : i + 1] = [left, right]
    return [_piece(leaf, terms) for leaf in leaves]


def _piece(leaf: _Leaf, terms: Sequence[Powers]) -> dict[str, Any]:
    return {
        "when": {name: list(bounds) for name, bounds in sorted(leaf.box.items())},
        "terms": [{"coef": float(c), "powers": dict(t)} for c, t in zip(leaf.coef, terms, strict=True)
                  if c > 0] or [{"coef": 0.0, "powers": {}}],
    }


def predict_s(model: Mapping[str, Any], params: Mapping[str, float]) -> float:
    """Seconds predicted by a profile's cost model at `params`: the first piece whose ranges
    all contain the params. Raises KeyError when no piece does or a parameter is missing."""
    for piece in model["pieces"]:
        if all(lo <= params[k] < hi for k, (lo, hi) in piece["when"].items()):
            return float(sum(t["coef"] * np.prod([params[k] ** e for k, e in t["powers"].items()])
                             for t in piece["terms"]))
    raise KeyError(f"no piece covers {dict(params)}")


def error_summary(relative_errors: Sequence[float]) -> dict[str, float | None]:
    """Median, 90th percentile and maximum of absolute relative errors (None when empty)."""
    errors = np.abs(np.asarray(relative_errors, dtype=np.float64))
    if errors.size == 0:
        return {"median_abs_rel": None, "p90_abs_rel": None, "max_abs_rel": None}
    return {
        "median_abs_rel": float(np.median(errors)),
        "p90_abs_rel": float(np.percentile(errors, 90)),
        "max_abs_rel": float(errors.max()),
    }


def build_cost_model(
    param_names: Sequence[str],
    terms: Sequence[Powers],
    split_params: Sequence[str],
    points: Sequence[tuple[Mapping[str, float], float, bool]],
) -> dict[str, Any] | None:
    """The profile's `cost_models` entry from (params, median_s, held_out) points: fitted on the
    points not held out, its error measured on the held-out ones. None when nothing was fitted."""
    fit = [(p, t) for p, t, held in points if not held and t > 0]
    held_out = [(p, t) for p, t, held in points if held and t > 0]
    if not fit:
        return None
    model: dict[str, Any] = {
        "form": "piecewise_monomial_sum",
        "params": list(param_names),
        "pieces": fit_pieces([p for p, _ in fit], [t for _, t in fit], terms, split_params),
    }
    holdout = error_summary([predict_s(model, p) / t - 1.0 for p, t in held_out])
    in_sample = error_summary([predict_s(model, p) / t - 1.0 for p, t in fit])
    model["fit_error"] = {
        "n_fit": len(fit),
        "n_holdout": len(held_out),
        **{f"holdout_{k}": v for k, v in holdout.items()},
        "fit_median_abs_rel": in_sample["median_abs_rel"],
        "fit_max_abs_rel": in_sample["max_abs_rel"],
    }
    return model
