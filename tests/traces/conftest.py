"""Small models and trace files shared by the traces tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def small_model(**popularity: object) -> ModelSpec:
    tables = (
        TableSpec("a", 1000, 8, PoolingSpec(4.0, "lognormal", max_lookups=32),
                  PopularitySpec("zipf", 1.05, **popularity)),  # type: ignore[arg-type]
        TableSpec("b", 50_000, 8, PoolingSpec(2.5, "fixed")),
        TableSpec("c", 30, 8, PoolingSpec(3.0, "uniform"), PopularitySpec("uniform")),
        TableSpec("d", 10_000_000, 8, PoolingSpec(6.0, "power_law", alpha=2.5, max_lookups=32)),
    )
    return ModelSpec("small", 4, tables, (16,), (16,))


@pytest.fixture
def model() -> ModelSpec:
    return small_model()


@pytest.fixture
def make_model() -> object:
    """The small model's factory, for tests that vary its popularity."""
    return small_model


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip("shared/data is not beside the repository")
    return DATA
