"""K-fold and leave-one-out cross-validation of a cost-model form on a profile's own points.

A profile's `fit_error` measures a fit on the 8-9 held-out points of its Latin hypercube, too
few to tell two forms apart (profiles/README.md: those figures move by several points from run
to run). Cross-validation predicts every measured point from a fit that did not see it, so two
forms can be compared on all of an op's points without timing anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from calibrate.fit import Powers, fit_pieces, predict_s

Params = Mapping[str, float]
# (training params, training seconds, params to predict) -> predicted seconds, one per point
FitPredict = Callable[[Sequence[Params], Sequence[float], Sequence[Params]], Sequence[float]]


def fold_labels(count: int, folds: int, seed: int) -> np.ndarray:
    """The fold (0..folds-1) of each of `count` points: a seeded shuffle dealt round-robin, so
    fold sizes differ by at most one. `folds` of 0 or >= count means leave-one-out (point i is
    fold i). Raises ValueError for fewer than 2 points or 1 fold."""
    if count < 2:
        raise ValueError(f"cross-validation needs at least 2 points, got {count}")
    if folds == 1 or folds < 0:
        raise ValueError(f"folds must be >= 2, or 0 for leave-one-out; got {folds}")
    if folds == 0 or folds >= count:
        return np.arange(count)
    order = np.random.default_rng(seed).permutation(count)
    labels = np.empty(count, dtype=int)
    labels[order] = np.arange(count) % folds
    return labels


def cross_validated_errors(params: Sequence[Params], times_s: Sequence[float],
                           fit_predict: FitPredict, labels: np.ndarray) -> np.ndarray:
    """Relative error (predicted / measured - 1) of every point, each predicted by a fit on the
    points of the other folds. Raises ValueError when the lengths differ."""
    times = np.asarray(times_s, dtype=np.float64)
    if not len(params) == times.size == labels.size:
        raise ValueError(f"params ({len(params)}), times ({times.size}) and fold labels "
                         f"({labels.size}) must have the same length")
    errors = np.empty(times.size)
    for fold in np.unique(labels):
        test = np.flatnonzero(labels == fold)
        train = np.flatnonzero(labels != fold)
        predicted = fit_predict([params[int(i)] for i in train], times[train].tolist(),
                                [params[int(i)] for i in test])
        errors[test] = np.asarray(predicted, dtype=np.float64) / times[test] - 1.0
    return errors


def piecewise_monomial_fitter(terms: Sequence[Powers], split_params: Sequence[str] = ()
                              ) -> FitPredict:
    """The FitPredict of calibration's own fit (calibrate.fit.fit_pieces) with these terms."""

    def fit_predict(train: Sequence[Params], times: Sequence[float], test: Sequence[Params]
                    ) -> list[float]:
        model = {"pieces": fit_pieces(train, times, terms, split_params)}
        # The root box is unbounded and every split halves a box, so the pieces cover all
        # non-negative params: predict_s finds a piece for every test point.
        return [predict_s(model, p) for p in test]

    return fit_predict
