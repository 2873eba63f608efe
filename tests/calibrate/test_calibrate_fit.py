"""Cost-model fitting: NNLS, exact recovery of monomial models, cache-regime pieces."""

from __future__ import annotations

import random

import numpy as np
import pytest

from calibrate.fit import UNBOUNDED, build_cost_model, fit_pieces, predict_s
from calibrate.nnls import nnls

TERMS = ({}, {"batch": 1, "pooling": 1}, {"batch": 1, "pooling": 1, "dim": 1})


def points(n: int, seed: int = 0) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [{"batch": float(rng.choice([64, 256, 1024, 4096])),
             "pooling": float(rng.randint(1, 128)), "dim": float(rng.choice([16, 64, 256])),
             "rows": float(10 ** rng.uniform(3, 7))} for _ in range(n)]


def truth(p: dict[str, float]) -> float:
    return 2e-5 + 1e-9 * p["batch"] * p["pooling"] + 3e-11 * p["batch"] * p["pooling"] * p["dim"]


def test_nnls_matches_unconstrained_solution_when_it_is_positive():
    rng = np.random.default_rng(0)
    a = rng.random((30, 4))
    x_true = np.array([1.0, 2.0, 0.5, 3.0])
    assert nnls(a, a @ x_true) == pytest.approx(x_true, rel=1e-8)


def test_nnls_clamps_negative_coefficients_to_zero():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    x = nnls(a, np.array([1.0, -1.0, 0.0]))
    assert (x >= 0).all() and x[1] == 0.0


def test_nnls_rejects_shape_mismatch():
    with pytest.raises(ValueError):
        nnls(np.ones((3, 2)), np.ones(4))


def test_fit_recovers_an_exact_monomial_model_in_one_piece():
    params = points(40)
    pieces = fit_pieces(params, [truth(p) for p in params], TERMS, split_params=("rows",))
    assert len(pieces) == 1 and pieces[0]["when"] == {}
    model = {"pieces": pieces}
    for p in points(10, seed=1):
        assert predict_s(model, p) == pytest.approx(truth(p), rel=1e-6)


def test_fit_splits_at_a_cache_regime_boundary():
    params = points(80)

    def regime(p: dict[str, float]) -> float:  # tables over 1e5 rows miss the cache: 4x slower
        return truth(p) * (4.0 if p["rows"] >= 1e5 else 1.0)

    pieces = fit_pieces(params, [regime(p) for p in params], TERMS, split_params=("rows",))
    assert len(pieces) >= 2
    cuts = sorted({b for piece in pieces for b in piece["when"]["rows"]} - {0.0, UNBOUNDED})
    assert any(5e4 < c < 2e5 for c in cuts)
    model = {"pieces": pieces}
    for p in points(20, seed=2):
        if not 0.8e5 < p["rows"] < 1.25e5:  # away from the boundary's uncertainty
            assert predict_s(model, p) == pytest.approx(regime(p), rel=1e-6)


def test_pieces_partition_the_space():
    params = points(80)
    times = [truth(p) * (3.0 if p["rows"] > 3e4 else 1.0) for p in params]
    model = {"pieces": fit_pieces(params, times, TERMS, split_params=("rows", "dim"))}
    for p in points(50, seed=3):
        matches = [all(lo <= p[k] < hi for k, (lo, hi) in piece["when"].items())
                   for piece in model["pieces"]]
        assert sum(matches) == 1


def test_predict_raises_when_no_piece_covers():
    model = {"pieces": [{"when": {"rows": [0, 10]}, "terms": [{"coef": 1.0, "powers": {}}]}]}
    with pytest.raises(KeyError):
        predict_s(model, {"rows": 20.0})


def test_build_cost_model_reports_holdout_error_on_unseen_points():
    fit_points = [(p, truth(p), False) for p in points(30)]
    held = [(p, 1.1 * truth(p), True) for p in points(5, seed=9)]  # 10% off the truth
    model = build_cost_model(("batch", "pooling", "dim"), TERMS, (), fit_points + held)
    assert model is not None
    error = model["fit_error"]
    assert (error["n_fit"], error["n_holdout"]) == (30, 5)
    assert error["holdout_median_abs_rel"] == pytest.approx(1 - 1 / 1.1, abs=1e-6)
    assert model["form"] == "piecewise_monomial_sum"
    assert all(t["coef"] >= 0 for piece in model["pieces"] for t in piece["terms"])


def test_build_cost_model_without_points_is_none():
    assert build_cost_model(("bytes",), ({},), (), []) is None
