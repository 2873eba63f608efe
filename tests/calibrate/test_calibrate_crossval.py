"""Cross-validation of a cost-model form: fold assignment and the per-point arithmetic, checked
on cases small enough to compute by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from calibrate.crossval import cross_validated_errors, fold_labels, piecewise_monomial_fitter


def mean_of_training(train: Sequence[Mapping[str, float]], times: Sequence[float],
                     test: Sequence[Mapping[str, float]]) -> list[float]:
    """A constant model: every test point is predicted at the mean of the training times."""
    return [sum(times) / len(times)] * len(test)


def test_leave_one_out_predicts_each_point_from_the_others():
    # times 1, 2, 4 s: point 0 is predicted (2 + 4) / 2 = 3 -> +200%; point 1 (1 + 4) / 2 = 2.5
    # -> +25%; point 2 (1 + 2) / 2 = 1.5 -> 1.5 / 4 - 1 = -62.5%.
    params = [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]
    errors = cross_validated_errors(params, [1.0, 2.0, 4.0], mean_of_training,
                                    fold_labels(3, 0, seed=0))
    assert errors.tolist() == pytest.approx([2.0, 0.25, -0.625])


def test_k_fold_predicts_a_fold_from_the_other_folds():
    # folds {0, 2} and {1, 3}: fold 0 from times 2 and 4 (mean 3): 3/1 - 1 = 2, 3/3 - 1 = 0;
    # fold 1 from times 1 and 3 (mean 2): 2/2 - 1 = 0, 2/4 - 1 = -0.5.
    params = [{"x": float(i)} for i in range(4)]
    errors = cross_validated_errors(params, [1.0, 2.0, 3.0, 4.0], mean_of_training,
                                    np.array([0, 1, 0, 1]))
    assert errors.tolist() == pytest.approx([2.0, 0.0, 0.0, -0.5])


def test_folds_are_balanced_and_seeded():
    labels = fold_labels(23, 5, seed=7)
    assert sorted(np.bincount(labels).tolist()) == [4, 4, 5, 5, 5]
    assert fold_labels(23, 5, seed=7).tolist() == labels.tolist()
    assert fold_labels(23, 5, seed=8).tolist() != labels.tolist()
    assert fold_labels(4, 9, seed=0).tolist() == [0, 1, 2, 3]  # more folds than points: LOO


@pytest.mark.parametrize(("count", "folds", "message"), [
    (1, 0, "at least 2 points"), (10, 1, "folds must be >= 2"), (10, -2, "folds must be >= 2")])
def test_bad_fold_requests_are_refused(count: int, folds: int, message: str):
    with pytest.raises(ValueError, match=message):
        fold_labels(count, folds, seed=0)


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="same length"):
        cross_validated_errors([{"x": 1.0}], [1.0, 2.0], mean_of_training, np.array([0, 1]))


def test_an_exact_form_cross_validates_to_zero_error():
    # t = 1e-5 + 2e-9 * x: any two points determine it, so every held-out point is exact.
    params = [{"x": float(x)} for x in (10, 100, 1000, 5000, 20000, 70000)]
    times = [1e-5 + 2e-9 * p["x"] for p in params]
    fitter = piecewise_monomial_fitter(({}, {"x": 1}))
    errors = cross_validated_errors(params, times, fitter, fold_labels(6, 3, seed=0))
    assert np.abs(errors).max() < 1e-9


def embedding_points(count: int, seed: int) -> list[dict[str, float]]:
    """Points over calibration's embedding ranges (calibrate.catalog_compute._embedding_axes)."""
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(count):
        rows, batch, pooling = 10 ** rng.uniform(3, 7), 2 ** rng.uniform(6, 16), rng.uniform(1, 128)
        lookups = batch * pooling
        points.append({"rows": rows, "dim": float(rng.choice([16, 32, 64, 128, 256])),
                       "pooling": pooling, "batch": batch, "zipf_s": float(rng.choice([0, 1.05])),
                       # distinct rows: below both the table and the lookups
                       "unique_rows": lookups * rows / (lookups + rows)})
    return points


def hand_written_forward_s(p: Mapping[str, float]) -> float:
    """A made-up embedding forward: 4 us per call, 3 ns per lookup, 0.02 ns per element
    gathered, 0.05 ns per element of a distinct row, 0.4 ns per lookup x rows^0.25."""
    lookups = p["batch"] * p["pooling"]
    return (4e-6 + 3e-9 * lookups + 2e-11 * lookups * p["dim"]
            + 5e-11 * p["unique_rows"] * p["dim"] + 4e-10 * lookups * p["rows"] ** 0.25)


def test_the_embedding_fit_recovers_a_hand_written_cost():
    from calibrate.catalog_compute import EMBEDDING_SPLIT_PARAMS, EMBEDDING_TERMS, UNIQUE_TERMS
    from calibrate.fit import fit_pieces

    params = embedding_points(60, seed=0)
    terms = (*EMBEDDING_TERMS, *UNIQUE_TERMS)
    pieces = fit_pieces(params, [hand_written_forward_s(p) for p in params], terms,
                        EMBEDDING_SPLIT_PARAMS)
    assert len(pieces) == 1  # an exact fit needs no pieces
    coef = {tuple(sorted(t["powers"].items())): t["coef"] for t in pieces[0]["terms"]}
    expected = {(): 4e-6, (("batch", 1), ("pooling", 1)): 3e-9,
                (("batch", 1), ("dim", 1), ("pooling", 1)): 2e-11,
                (("dim", 1), ("unique_rows", 1)): 5e-11,
                (("batch", 1), ("pooling", 1), ("rows", 0.25)): 4e-10}
    assert set(coef) == set(expected)  # NNLS leaves the formula's missing terms at zero
    for key, value in expected.items():
        assert coef[key] == pytest.approx(value, rel=1e-6)
