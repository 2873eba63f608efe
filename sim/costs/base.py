"""The one interface through which the simulator asks what an operation costs.

Two implementations stand behind it: `AnalyticCosts` (datasheet rates times efficiency factors,
for hardware nobody here has) and `CalibratedCosts` (cost functions fitted to a profile written
by `calibrate/`). The simulator never asks anything else about kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sim.specs import CpuSocketSpec, GpuSpec, ModelSpec
from sim.specs.checks import SpecError

PROCESSOR_KINDS = ("cpu", "gpu")


@dataclass(frozen=True)
class Processor:
    """Where an operation runs: a GPU, or `threads` cores of one CPU socket.

    Raises SpecError on a bad field.
    """

    kind: str
    spec: CpuSocketSpec | GpuSpec
    threads: int = 1

    def __post_init__(self) -> None:
        if self.kind not in PROCESSOR_KINDS:
            raise SpecError("Processor", "kind", self.kind, "'cpu' or 'gpu'")
        if (self.kind == "gpu") != isinstance(self.spec, GpuSpec):
            raise SpecError("Processor", "spec", type(self.spec).__name__, f"a spec of a {self.kind}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise SpecError("Processor", "threads", self.threads, "a whole number >= 1")


@dataclass(frozen=True)
class OpCost:
    """What one operation costs when it runs alone.

    `seconds` is its duration without contention; `mem_bytes` the bytes it moves through the
    processor's memory (DRAM or HBM), which the simulator shares among concurrent operations;
    `flops` its floating-point work, for utilization figures.
    """

    seconds: float
    mem_bytes: float = 0.0
    flops: float = 0.0

    def __add__(self, other: OpCost) -> OpCost:
        return OpCost(self.seconds + other.seconds, self.mem_bytes + other.mem_bytes,
                      self.flops + other.flops)


DENSE_BYTES = 4  # fp32 MLP parameters and gradients (the paper's setups train in fp32)


# Memory traffic of a copy per byte copied: each byte is read once and written once.
COPY_TRAFFIC_PER_BYTE = 2.0


def streamed_update(parameters: int, bw_bytes_per_s: float) -> OpCost:
    """A dense optimizer step as a stream: read weights and gradients, write weights."""
    nbytes = 3.0 * parameters * DENSE_BYTES
    return OpCost(nbytes / bw_bytes_per_s, nbytes, 2.0 * parameters)


@dataclass(frozen=True)
class EmbeddingWork:
    """One table's share of one batch: the figures an embedding kernel's cost depends on.

    `pooling` is the mean lookups per bag, `unique_rows` the distinct rows the batch touches
    (from the trace), `rows` the table's (or shard's) hash size, `cache_share` the part of the
    processor's last-level cache this table gets while it shares the processor with others,
    `working_set_bytes` the bytes of all the tables on that processor.
    """

    batch: int
    rows: int
    dim: int
    pooling: float
    unique_rows: int
    zipf_s: float
    bytes_per_element: int = 4
    cache_share: float = 1.0
    # Bytes of all the tables the processor cycles through each step (this one included): how
    # cold a call runs on a host with a large cache (sim.profile.WorkingSetCurve). 0: unknown.
    working_set_bytes: float = 0.0

    @property
    def table_bytes(self) -> float:
        return float(self.rows) * self.dim * self.bytes_per_element

    @property
    def lookups(self) -> float:
        return self.batch * self.pooling


class CostModel(Protocol):
    """Costs of the kernels of a DLRM training step on a processor, each run alone."""

    name: str

    def mlp(self, proc: Processor, batch: int, in_features: int, out_features: int,
            *, backward: bool, input_grad: bool = True) -> OpCost:
        """One fully connected layer with its activation, forward or backward: the weight
        gradient, and the input gradient unless `input_grad` is false (the first layer of the
        bottom MLP, whose input is data)."""
        ...

    def interaction(self, proc: Processor, batch: int, features: int, dim: int,
                    *, backward: bool) -> OpCost:
        """The dot-product feature interaction over `features` vectors of width `dim`."""
        ...

    def concat(self, proc: Processor, batch: int, width: int, *, backward: bool) -> OpCost:
        """The `cat` interaction: the bottom MLP's output and the pooled embeddings joined into
        `width` features per example (forward), or that gradient split back (backward)."""
        ...

    def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
        """Pooled (sum) lookups of one table for one batch."""
        ...

    def embedding_update(self, proc: Processor, work: EmbeddingWork, optimizer: str) -> OpCost:
        """Backward of one table with the optimizer's update of the touched rows."""
        ...

    def dense_update(self, proc: Processor, tensors: int, parameters: int) -> OpCost:
        """The dense optimizer's step over the MLPs' `tensors` parameter tensors holding
        `parameters` fp32 values in all."""
        ...

    def loss(self, proc: Processor, batch: int) -> OpCost:
        """The loss on `batch` logits, forward and backward."""
        ...

    def memory_bw_bytes_per_s(self, proc: Processor) -> float:
        """Memory traffic (bytes read plus bytes written) per second that the processor
        sustains for streaming kernels: a copy of n bytes takes 2n over this rate."""
        ...


def feature_interaction(costs: CostModel, proc: Processor, model: ModelSpec, batch: int,
                        *, backward: bool) -> OpCost:
    """The model's interaction for `batch` examples: `dot` over its tables and the bottom MLP's
    output (num_tables + 1 vectors of the shared dimension), or `cat` of them into the top MLP's
    input (ModelSpec.interaction_width features)."""
    if model.interaction == "cat":
        return costs.concat(proc, batch, model.interaction_width, backward=backward)
    return costs.interaction(proc, batch, model.num_tables + 1, model.tables[0].dim,
                             backward=backward)
