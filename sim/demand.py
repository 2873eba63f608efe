"""Per-batch embedding demand (lookups and distinct rows per table) from a trace or the model's
generator, computed vectorized before the run; the simulator replays it batch after batch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.errors import DlrmsimInputError
from sim.specs import ModelSpec

# Batches summarized when no trace is given: enough for the batch-to-batch spread of lookups
# and distinct rows, few enough to generate in a fraction of a second (the run cycles them).
DEFAULT_BATCHES = 8


@dataclass(frozen=True)
class Demand:
    """Lookups and distinct rows, int64 [batches, tables], for one batch size; read-only."""

    batch_size: int
    lookups: np.ndarray
    unique_rows: np.ndarray

    @property
    def num_batches(self) -> int:
        return int(self.lookups.shape[0])


def demand_for(model: ModelSpec, batch_size: int, *, seed: int, trace: str | None = None,
               batches: int = DEFAULT_BATCHES) -> Demand:
    """The demand of `trace` (rescaled to `batch_size`) or generated from `model`.

    Raises DlrmsimInputError when the trace's tables do not match the model's.
    """
    if trace is None:
        return _generated(model, batch_size, seed, batches)
    from traces.summary import summarize_trace  # traces/ is optional at import time of sim/

    summary = summarize_trace(trace, max_batches=batches)
    if summary.lookups.shape[1] != model.num_tables:
        raise DlrmsimInputError(
            f"trace {trace} has {summary.lookups.shape[1]} tables but model {model.name} has "
            f"{model.num_tables}; give a trace generated for this model (dlrmsim trace generate "
            f"--model {model.name}) or the model the trace was made for")
    if summary.num_batches == 0:
        raise DlrmsimInputError(f"trace {trace} holds no batches; give a non-empty trace")
    scale = batch_size / summary.batch_size
    # Lookups scale with the batch; distinct rows grow more slowly, so the sublinear law of the
    # trace itself is not known here: scaling them linearly, capped by rows, is the upper bound.
    rows = np.array([t.rows for t in model.tables], dtype=np.int64)
    lookups = np.rint(summary.lookups * scale).astype(np.int64)
    unique = np.minimum(np.rint(summary.unique_rows * scale).astype(np.int64), rows[None, :])
    return Demand(batch_size, lookups, np.minimum(unique, lookups))


@lru_cache(maxsize=32)
def _generated(model: ModelSpec, batch_size: int, seed: int, batches: int) -> Demand:
    from traces.summary import summarize_model

    summary = summarize_model(model, batches=batches, batch_size=batch_size, seed=seed)
    lookups, unique = summary.lookups, summary.unique_rows
    lookups.setflags(write=False)
    unique.setflags(write=False)
    return Demand(batch_size, lookups, unique)
