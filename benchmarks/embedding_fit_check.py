"""How well does a cost-model form predict an embedding op's points that its fit did not see?

For each calibration profile given (by default the committed full ones), fits the op's cost
model to its own microbenchmark measurements with every point (leave-one-out) or every fold
(k-fold) left out in turn, exactly as calibration fits it (calibrate.fit.fit_pieces: NNLS on
relative error, pieces split by a small regression tree), and prints the median, 90th
percentile and maximum of |predicted / measured - 1| over the left-out points, and their signed
median (a bias). Nothing is timed, and only a profile's `measurements` are read: the validation
files (`validate-*`, real training steps) are refused, so a form is never chosen on them.

It also prints, for two calibrations of one host (same seed, so the same grid points), how far
their times disagree point by point once their host-wide speed ratio is divided out, and how
well the first form's errors in one run correlate with its errors in the other. A fit to one
run's points cannot be expected to predict the host closer than the host repeats itself; errors
that repeat from run to run (correlation near 1) are the form's, the rest is each run's noise.

    python benchmarks/embedding_fit_check.py [--profile P ...] [--op OP] [--folds K] [--form F ...]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibrate.catalog_compute import (
    EMBEDDING_SPLIT_PARAMS,
    EMBEDDING_TERMS,
    FP32_BYTES,
    UNIQUE_TERMS,
)
from calibrate.crossval import cross_validated_errors, fold_labels, piecewise_monomial_fitter
from calibrate.errors import CalibrationError
from calibrate.fit import Powers, error_summary
from calibrate.profile import load_profile

DEFAULT_PROFILES = (  # the committed full profiles (profiles/README.md), CPU then GPU
    "profiles/cpu-vm-full.json", "profiles/cpu-vm-amd-epyc-full.json",
    "profiles/cpu-vm-amd-epyc-s9-full.json", "profiles/cpu-vm-s10-full.json",
    "profiles/cuda-h100-full.json", "profiles/cuda-h100-full-2.json",
)
OPS = ("embedding_forward", "embedding_backward_sgd", "embedding_backward_rowwise_adagrad")
_PER_BAG = {"batch": 1}  # per bag: its offsets and the pooled row it starts (tried, see FORMS)
_WORKSPACE = {"batch": 1.25, "pooling": 1.25, "dim": 1}  # the backward's gradient workspace


def _table_bytes_quarter(term: Powers) -> dict[str, float]:
    """A rows**0.25 term made (rows x dim)**0.25: cache misses follow a table's bytes, not its
    row count (the 4 bytes per element are a constant factor the coefficient absorbs)."""
    if "rows" not in term:
        return dict(term)
    return {**term, "dim": term.get("dim", 0) + term["rows"]}


_CURRENT = (*EMBEDDING_TERMS, *UNIQUE_TERMS)
# name: (terms, split params, what it tries). "current" is what calibration fits today.
FORMS: dict[str, tuple[tuple[Powers, ...], tuple[str, ...], str]] = {
    "current": (_CURRENT, EMBEDDING_SPLIT_PARAMS, "calibrate.catalog_compute's terms and splits"),
    "single_piece": (_CURRENT, (), "the same terms, no regression tree"),
    "no_workspace": (tuple(t for t in _CURRENT if t != _WORKSPACE), EMBEDDING_SPLIT_PARAMS,
                     "without the backward's workspace term (a forward has none)"),
    "table_bytes": (tuple(_table_bytes_quarter(t) for t in _CURRENT), EMBEDDING_SPLIT_PARAMS,
                    "rows**0.25 -> (rows x dim)**0.25: misses follow the table's bytes"),
    "table_bytes_split": (
        tuple(_table_bytes_quarter(t) for t in _CURRENT if t != _WORKSPACE),
        ("table_bytes", "zipf_s"), "the same without the workspace term, pieces split on "
        "table bytes (rows x dim x 4) instead of rows: cache regimes in bytes"),
    "per_bag": ((*_CURRENT, _PER_BAG), EMBEDDING_SPLIT_PARAMS, "plus a cost per bag"),
    "split_dim": (_CURRENT, (*EMBEDDING_SPLIT_PARAMS, "dim"),
                  "pieces may also split on dim (cache regimes are bytes, rows x dim)"),
}


Loaded = tuple[dict[str, Any], list[dict[str, float]], list[float]]  # profile, params, seconds


def load_points(path: Path, op: str) -> Loaded:
    """A profile, and the params and median seconds of its `op` points (time > 0, as fitted),
    each with `table_bytes` (rows x dim x 4, for the forms that split on it) added.
    Raises SystemExit naming the file when it is not a calibration profile or lacks the op."""
    try:
        data = load_profile(path)
    except CalibrationError as err:
        raise SystemExit(f"{err}; give a profile written by `dlrmsim calibrate`, not a "
                         "validation file") from err
    points = [m for m in data["measurements"] if m["op"] == op and m["median_s"] > 0]
    if len(points) < 2:
        raise SystemExit(f"{path}: {len(points)} measured points of {op}; need at least 2")
    params = [{**m["params"], "table_bytes": m["params"]["rows"] * m["params"]["dim"] * FP32_BYTES}
              for m in points]
    return data, params, [float(m["median_s"]) for m in points]


def form_errors(params: Sequence[Mapping[str, float]], times: Sequence[float], form: str,
                folds: int, seed: int) -> np.ndarray:
    terms, split, _ = FORMS[form]
    labels = fold_labels(len(times), folds, seed)
    return cross_validated_errors(params, times, piecewise_monomial_fitter(terms, split), labels)


def _percent(value: float | None) -> str:
    return "    -" if value is None else f"{100 * value:5.1f}"


def summary_line(errors: np.ndarray) -> str:
    s = error_summary(errors.tolist())
    return (f"{_percent(s['median_abs_rel'])} {_percent(s['p90_abs_rel'])} "
            f"{_percent(s['max_abs_rel'])} {100 * float(np.median(errors)):+7.1f}")


Points = tuple[list[dict[str, float]], list[float]]


def _keyed(params: list[dict[str, float]], values: Sequence[float]) -> dict[tuple, float]:
    """Values by grid point: its params without the observed `unique_rows`, which differs
    between two runs of one grid, and the derived `table_bytes`."""
    derived = ("unique_rows", "table_bytes")
    return {tuple(sorted((k, v) for k, v in p.items() if k not in derived)): float(x)
            for p, x in zip(params, values, strict=True)}


def repeatability(a: Points, b: Points) -> np.ndarray | None:
    """Relative deviations of b's times from a's at the grid points both measured, after
    dividing out their median ratio (the host-wide speed); None if they share no point."""
    ka, kb = _keyed(*a), _keyed(*b)
    common = sorted(set(ka) & set(kb))
    if not common:
        return None
    ratios = np.array([kb[k] / ka[k] for k in common])
    return ratios / np.median(ratios) - 1.0


def residual_correlation(a: Points, b: Points) -> float:
    """Pearson correlation of two runs' cross-validated errors at their common grid points:
    near 1 when a form misses the same points the same way in both runs (the form's fault),
    near 0 when the misses are each run's noise."""
    ka, kb = _keyed(*a), _keyed(*b)
    common = sorted(set(ka) & set(kb))
    return float(np.corrcoef([ka[k] for k in common], [kb[k] for k in common])[0, 1])


def _same_host(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def who(data: Mapping[str, Any]) -> tuple:
        return data["device"], data["host"].get("cpu_model"), data["host"].get("gpu_name")

    return who(a) == who(b)


def cross_validate_all(loaded: Mapping[Path, Loaded], forms: Sequence[str], folds: int, seed: int
                       ) -> dict[Path, tuple[dict[str, Any], list[dict[str, float]], list[float],
                                             dict[str, np.ndarray]]]:
    """Each profile's points and each form's cross-validated errors, printed as they come."""
    print(f"{'profile':24} {'form':17} {'n':>3} {'median':>6} {'p90':>5} {'max':>5} {'signed':>7}")
    results = {}
    for path, (data, params, times) in loaded.items():
        errors = {}
        for form in forms:
            errors[form] = form_errors(params, times, form, folds, seed)
            print(f"{path.stem:24} {form:17} {len(times):3d} {summary_line(errors[form])}",
                  flush=True)
        results[path] = (data, params, times, errors)
    return results


def print_repeatability(results: Mapping[Path, tuple], form: str) -> None:
    print("same host, same grid points, two calibrations: their times' deviation (host-wide "
          f"ratio divided out), and the correlation of the {form} form's errors:")
    for pa, pb in itertools.combinations(results, 2):
        (da, params_a, times_a, errors_a), (db, params_b, times_b, errors_b) = (
            results[pa], results[pb])
        deviations = repeatability((params_a, times_a), (params_b, times_b))
        if not _same_host(da, db) or deviations is None:
            continue
        correlation = residual_correlation((params_a, errors_a[form].tolist()),
                                           (params_b, errors_b[form].tolist()))
        print(f"  {pa.stem} vs {pb.stem}: {deviations.size} points, deviation "
              f"{summary_line(deviations)}; error correlation {correlation:+.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="profile JSON (repeatable)")
    parser.add_argument("--op", default="embedding_forward", choices=OPS)
    parser.add_argument("--folds", type=int, default=0, help="k-fold; 0: leave-one-out")
    parser.add_argument("--seed", type=int, default=0, help="fold assignment (k-fold only)")
    parser.add_argument("--form", action="append", choices=sorted(FORMS),
                        help="form to evaluate (repeatable; default all)")
    args = parser.parse_args()
    # every profile is read first, so that a wrong file stops the run before any output
    loaded = {Path(p): load_points(Path(p), args.op) for p in args.profile or DEFAULT_PROFILES}
    forms = args.form or list(FORMS)
    scheme = "leave-one-out" if args.folds == 0 else f"{args.folds}-fold, seed {args.seed}"
    print(f"{args.op}: cross-validated |predicted / measured - 1| ({scheme}), percent; "
          "signed: the median of predicted / measured - 1")
    for form in forms:
        print(f"  {form}: {FORMS[form][2]}")
    results = cross_validate_all(loaded, forms, args.folds, args.seed)
    print_repeatability(results, forms[0])


if __name__ == "__main__":
    main()
