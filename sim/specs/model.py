"""Specs of what is trained: embedding tables (with their lookup statistics) and the model."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from sim.specs import checks

POOLING_DISTRIBUTIONS = ("fixed", "uniform", "lognormal", "power_law")
POPULARITY_LAWS = ("uniform", "zipf")
INTERACTIONS = ("dot", "cat")
OPTIMIZERS = ("sgd", "rowwise_adagrad", "adagrad")
BYTES_PER_ELEMENT = (2, 4)  # fp16/bf16 or fp32 embeddings and activations


@dataclass(frozen=True)
class PoolingSpec:
    """How many rows one bag (one example's feature) looks up.

    `mean_lookups` is the mean before truncation; `max_lookups` truncates every bag (the paper's
    test suite uses 32). `sigma` shapes a lognormal, `alpha` a power law P(L) ~ L^-alpha.
    Raises SpecError on a bad field.
    """

    mean_lookups: float
    distribution: str = "fixed"
    sigma: float = 1.0
    alpha: float = 2.0
    max_lookups: int | None = None

    def __post_init__(self) -> None:
        checks.one_of("PoolingSpec", "distribution", self.distribution, POOLING_DISTRIBUTIONS)
        checks.positive("PoolingSpec", "mean_lookups", self.mean_lookups)
        checks.positive("PoolingSpec", "sigma", self.sigma)
        if not isinstance(self.alpha, int | float) or isinstance(self.alpha, bool) or self.alpha <= 1:
            raise checks.SpecError("PoolingSpec", "alpha", self.alpha, "a number > 1")
        if self.max_lookups is not None:
            checks.positive_int("PoolingSpec", "max_lookups", self.max_lookups)

    @property
    def effective_mean_lookups(self) -> float:
        """The mean bag length after truncation at `max_lookups`, exactly for every law: the
        generator rounds X stochastically (floor(X + U)), which keeps E[min(X, m)] for a whole
        m, so this is E[min(X, m)] of the law's continuous X (traces/pooling.py)."""
        mean, cap = float(self.mean_lookups), self.max_lookups
        if cap is None or cap >= _largest_draw(self):
            return mean
        if self.distribution == "uniform":  # X uniform on [0, 2 mean)
            return cap - cap * cap / (4.0 * mean)
        if self.distribution == "lognormal":
            return _lognormal_capped_mean(mean, self.sigma, float(cap))
        if self.distribution == "power_law" and self.alpha > 2.0:
            tail = self.alpha - 1.0
            return pareto_capped_mean(mean * (tail - 1.0) / tail, tail, float(cap))
        # fixed; and a power law of alpha <= 2, whose scale is set so that the mean of the
        # draws capped at max_lookups is the mean (traces/pooling.py _power_law)
        return min(mean, float(cap))


def _largest_draw(spec: PoolingSpec) -> float:
    """An upper bound of the law's X: a cap at or above it truncates nothing."""
    if spec.distribution == "fixed":
        return float(spec.mean_lookups)
    if spec.distribution == "uniform":
        return 2.0 * spec.mean_lookups
    return math.inf


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _lognormal_capped_mean(mean: float, sigma: float, cap: float) -> float:
    """E[min(X, cap)] for X lognormal with mean `mean` and log-sd `sigma`."""
    mu = math.log(mean) - sigma * sigma / 2.0
    z = (math.log(cap) - mu) / sigma
    return mean * _normal_cdf(z - sigma) + cap * (1.0 - _normal_cdf(z))


def pareto_capped_mean(x_min: float, tail: float, cap: float) -> float:
    """E[min(X, cap)] for X Pareto of scale `x_min` and tail index `tail` (a finite mean needs
    no tail > 1 here: the cap bounds it). traces/pooling.py sets its power laws' scale by it."""
    if cap <= x_min:
        return cap
    ratio = x_min / cap
    if abs(tail - 1.0) < 1e-12:
        body = x_min * (1.0 + math.log(cap / x_min)) - cap * ratio
    else:
        body = x_min * tail / (tail - 1.0) * (1.0 - ratio ** (tail - 1.0))
    return body + cap * ratio ** tail


@dataclass(frozen=True)
class PopularitySpec:
    """Which rows the lookups hit.

    `law` zipf: the row of popularity rank k (k = 1 is hottest) is hit with probability
    proportional to k^-zipf_s. `heavy_hitters` lists the share of all lookups taken by each of a
    few explicit hot rows, on top of the law. `reuse_fraction` of a batch's lookups repeat rows of
    the previous batch. Raises SpecError on a bad field.
    """

    law: str = "zipf"
    zipf_s: float = 1.05
    heavy_hitters: tuple[float, ...] = ()
    reuse_fraction: float = 0.0

    def __post_init__(self) -> None:
        checks.one_of("PopularitySpec", "law", self.law, POPULARITY_LAWS)
        checks.non_negative("PopularitySpec", "zipf_s", self.zipf_s)
        checks.fraction("PopularitySpec", "reuse_fraction", self.reuse_fraction, open_top=True)
        if not isinstance(self.heavy_hitters, tuple):
            raise checks.SpecError("PopularitySpec", "heavy_hitters", self.heavy_hitters, "a list")
        for share in self.heavy_hitters:
            checks.fraction("PopularitySpec", "heavy_hitters", share, open_top=True)
        if sum(self.heavy_hitters) >= 1:
            raise checks.SpecError(
                "PopularitySpec", "heavy_hitters", self.heavy_hitters, "shares summing to < 1"
            )


@dataclass(frozen=True)
class TableSpec:
    """One embedding table: `rows` (hash size) by `dim`, with its lookup statistics.

    Raises SpecError on a bad field.
    """

    name: str
    rows: int
    dim: int
    pooling: PoolingSpec
    popularity: PopularitySpec = field(default_factory=PopularitySpec)

    def __post_init__(self) -> None:
        checks.non_empty_name("TableSpec", "name", self.name)
        checks.positive_int("TableSpec", "rows", self.rows)
        checks.positive_int("TableSpec", "dim", self.dim)
        if len(self.popularity.heavy_hitters) > self.rows:
            raise checks.SpecError(
                "TableSpec", "popularity.heavy_hitters", self.popularity.heavy_hitters,
                f"at most rows = {self.rows} entries",
            )

    def weight_bytes(self, bytes_per_element: int) -> int:
        return self.rows * self.dim * bytes_per_element


@dataclass(frozen=True)
class ModelSpec:
    """A DLRM-style model: dense features through a bottom MLP, embedding tables, an interaction
    and a top MLP.

    `bottom_mlp` and `top_mlp` list hidden-layer widths. For the `dot` interaction the bottom MLP
    ends in an implied layer of width `dim` (all tables share one dimension); the top MLP ends in
    an implied layer of width 1 (the logit). Raises SpecError on a bad field.
    """

    name: str
    dense_features: int
    tables: tuple[TableSpec, ...]
    bottom_mlp: tuple[int, ...]
    top_mlp: tuple[int, ...]
    interaction: str = "dot"
    bytes_per_element: int = 4
    optimizer: str = "rowwise_adagrad"
    description: str = ""

    def __post_init__(self) -> None:
        checks.non_empty_name("ModelSpec", "name", self.name)
        checks.positive_int("ModelSpec", "dense_features", self.dense_features)
        if not isinstance(self.tables, tuple) or not self.tables:
            raise checks.SpecError("ModelSpec", "tables", self.tables, "at least one table")
        checks.int_tuple("ModelSpec", "bottom_mlp", self.bottom_mlp, allow_empty=True)
        checks.int_tuple("ModelSpec", "top_mlp", self.top_mlp, allow_empty=True)
        checks.one_of("ModelSpec", "interaction", self.interaction, INTERACTIONS)
        checks.one_of("ModelSpec", "optimizer", self.optimizer, OPTIMIZERS)
        if self.bytes_per_element not in BYTES_PER_ELEMENT:
            raise checks.SpecError(
                "ModelSpec", "bytes_per_element", self.bytes_per_element, "2 or 4"
            )
        self._check_tables()

    def _check_tables(self) -> None:
        names = [t.name for t in self.tables]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise checks.SpecError("ModelSpec", "tables", duplicates, "unique table names")
        dims = {t.dim for t in self.tables}
        if self.interaction == "dot" and len(dims) > 1:
            raise checks.SpecError(
                "ModelSpec", "tables.dim", sorted(dims),
                "one dimension shared by all tables for the dot interaction (or use cat)",
            )

    # Derived figures -------------------------------------------------------------------------
    @property
    def num_tables(self) -> int:
        return len(self.tables)

    @property
    def embedding_bytes(self) -> int:
        return sum(t.weight_bytes(self.bytes_per_element) for t in self.tables)

    def optimizer_state_bytes_per_table(self, table: TableSpec) -> int:
        """Optimizer state kept beside a table's weights (fp32 accumulators)."""
        if self.optimizer == "rowwise_adagrad":
            return table.rows * 4
        if self.optimizer == "adagrad":
            return table.rows * table.dim * 4
        return 0

    @property
    def optimizer_state_bytes(self) -> int:
        return sum(self.optimizer_state_bytes_per_table(t) for t in self.tables)

    @property
    def mean_lookups_per_example(self) -> float:
        return sum(t.pooling.effective_mean_lookups for t in self.tables)

    @property
    def bottom_layer_widths(self) -> tuple[int, ...]:
        """Input, hidden and output widths of the bottom MLP."""
        out = (self.tables[0].dim,) if self.interaction == "dot" else ()
        return (self.dense_features, *self.bottom_mlp, *out)

    @property
    def interaction_width(self) -> int:
        """Width of the interaction's output, the input of the top MLP."""
        bottom_out = self.bottom_layer_widths[-1]
        if self.interaction == "dot":
            features = self.num_tables + 1
            return bottom_out + features * (features - 1) // 2
        return bottom_out + sum(t.dim for t in self.tables)

    @property
    def top_layer_widths(self) -> tuple[int, ...]:
        return (self.interaction_width, *self.top_mlp, 1)

    @property
    def dense_parameters(self) -> int:
        """Weights and biases of both MLPs."""
        total = 0
        for widths in (self.bottom_layer_widths, self.top_layer_widths):
            total += sum(a * b + b for a, b in itertools.pairwise(widths))
        return total
