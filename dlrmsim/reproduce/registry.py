"""The registry of experiments: an ordered set that refuses a duplicate id, and the default one
with every experiment of the paper in the order of the paper."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from dlrmsim.reproduce.errors import ReproduceError
from dlrmsim.reproduce.types import Experiment


class Registry:
    """Experiments by id, in the order added. Raises ValueError on a duplicate id."""

    def __init__(self, experiments: Iterable[Experiment] = ()) -> None:
        self._items: dict[str, Experiment] = {}
        for experiment in experiments:
            self.add(experiment)

    def add(self, experiment: Experiment) -> None:
        if experiment.id in self._items:
            raise ValueError(f"experiment id '{experiment.id}' is registered twice")
        self._items[experiment.id] = experiment

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        return list(self._items)

    def get(self, experiment_id: str) -> Experiment:
        return self._items[experiment_id]

    def select(self, ids: Sequence[str]) -> list[Experiment]:
        """The experiments named (all when `ids` is empty), in registry order.

        Raises ReproduceError naming an unknown id and the known ones.
        """
        unknown = [i for i in ids if i not in self._items]
        if unknown:
            raise ReproduceError(f"unknown experiment {', '.join(unknown)}; known: "
                                 f"{', '.join(self._items)}")
        wanted = set(ids)
        return [e for e in self._items.values() if not wanted or e.id in wanted]


def default_registry() -> Registry:
    """Every experiment of issue 7, in the paper's order. Imported here, not at module import,
    so that the registry module stays free of the plotting and simulation imports."""
    from dlrmsim.reproduce.exp_fleet import FIGURE_1, FIGURE_14, TABLE_3
    from dlrmsim.reproduce.exp_population import FIGURE_5, FIGURE_9, FIGURES_6_7
    from dlrmsim.reproduce.exp_suite import EXPERIMENTS as SUITE

    return Registry([FIGURE_1, FIGURE_5, FIGURES_6_7, FIGURE_9, *SUITE, FIGURE_14, TABLE_3])
