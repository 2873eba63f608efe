"""Costs from datasheet rates times the platform's efficiency factors (a roofline per kernel).

For hardware nobody here has. Each kernel takes the longer of its compute time and its memory
time, and a fixed dispatch cost for each framework operator it issues (sim/costs/ops.py): on a
CPU added to it, on a GPU overlapping it unless the operator makes the host wait
(EfficiencySpec.gpu_async_dispatch). The memory bytes are reported so that the simulator can
share the memory bandwidth among concurrent kernels. A table small enough to stay in its share
of the last-level cache is gathered from the cache: it moves no DRAM/HBM bytes.
"""

from __future__ import annotations

from sim.costs import ops
from sim.costs.base import EmbeddingWork, OpCost, Processor, streamed_update
from sim.specs import CpuSocketSpec, EfficiencySpec, GpuSpec

CACHE_LINE_BYTES = 64  # x86 and NVIDIA L2 sector granularity is 32-64 B; rows round up to it


def row_bytes(dim: int, bytes_per_element: int) -> int:
    """Bytes a random access to one row really moves: whole cache lines."""
    raw = dim * bytes_per_element
    return -(-raw // CACHE_LINE_BYTES) * CACHE_LINE_BYTES


class AnalyticCosts:
    """CostModel from datasheet rates and an EfficiencySpec (see sim/specs/efficiency.py)."""

    name = "analytic"

    def __init__(self, efficiency: EfficiencySpec | None = None) -> None:
        self.eff = efficiency or EfficiencySpec()

    # Rates --------------------------------------------------------------------------------
    def flops_per_s(self, proc: Processor) -> float:
        if isinstance(proc.spec, GpuSpec):
            return proc.spec.peak_flops_per_s * self.eff.gpu_compute_efficiency
        return proc.spec.core_flops_per_s * proc.threads * self.eff.cpu_compute_efficiency

    def memory_bw_bytes_per_s(self, proc: Processor) -> float:
        return self._bw(proc, streaming=True)

    def _bw(self, proc: Processor, *, streaming: bool) -> float:
        if isinstance(proc.spec, GpuSpec):
            eff = self.eff.gpu_stream_efficiency if streaming else self.eff.gpu_gather_efficiency
            return proc.spec.hbm_bw_bytes_per_s * eff
        assert isinstance(proc.spec, CpuSocketSpec)
        eff = self.eff.cpu_stream_efficiency if streaming else self.eff.cpu_gather_efficiency
        socket_bw = proc.spec.mem_bw_bytes_per_s * eff
        return min(socket_bw, proc.threads * self.eff.core_mem_bw_bytes_per_s)

    def dispatch_s(self, proc: Processor, operators: int) -> float:
        per_op = self.eff.gpu_op_overhead_s if proc.kind == "gpu" else self.eff.cpu_op_overhead_s
        return operators * per_op

    def _cache_bytes(self, proc: Processor) -> float:
        return self.eff.gpu_cache_bytes if proc.kind == "gpu" else self.eff.cpu_cache_bytes

    def _cached(self, proc: Processor, work: EmbeddingWork) -> bool:
        """The whole table fits in its share of the cache, so its rows stay there."""
        table = work.rows * row_bytes(work.dim, work.bytes_per_element)
        return table <= self._cache_bytes(proc) * work.cache_share

    def _roofline(self, proc: Processor, flops: float, mem_bytes: float, operators: int, *,
                  streaming: bool = True, syncs: bool = False) -> OpCost:
        seconds = max(flops / self.flops_per_s(proc), mem_bytes / self._bw(proc, streaming=streaming))
        dispatch = self.dispatch_s(proc, operators)
        if proc.kind == "gpu" and self.eff.gpu_async_dispatch and not syncs:
            return OpCost(max(seconds, dispatch), mem_bytes, flops)  # host runs ahead
        return OpCost(seconds + dispatch, mem_bytes, flops)

    # Kernels ------------------------------------------------------------------------------
    def mlp(self, proc: Processor, batch: int, in_features: int, out_features: int,
            *, backward: bool, input_grad: bool = True) -> OpCost:
        bpe = 4  # MLPs train in fp32 in the paper's setups
        # Backward computes the weight gradient and, unless the input is data, the input's.
        passes = (2 if input_grad else 1) if backward else 1
        flops = 2.0 * batch * in_features * out_features * passes
        weights = in_features * out_features * bpe * (2 if backward else 1)
        activations = batch * (in_features + out_features) * bpe * passes
        operators = ops.MLP_FORWARD_OPS
        if backward:
            operators = ops.MLP_BACKWARD_OPS - (0 if input_grad else ops.MLP_INPUT_GRAD_OPS)
        return self._roofline(proc, flops, weights + activations, operators)

    def interaction(self, proc: Processor, batch: int, features: int, dim: int,
                    *, backward: bool) -> OpCost:
        bpe = 4
        passes = 2 if backward else 1
        flops = 2.0 * batch * features * features * dim * passes
        mem = batch * (features * dim + features * features) * bpe * passes
        operators = ops.INTERACTION_BACKWARD_OPS if backward else ops.INTERACTION_FORWARD_OPS
        return self._roofline(proc, flops, mem, operators)

    def concat(self, proc: Processor, batch: int, width: int, *, backward: bool) -> OpCost:
        # No arithmetic: the forward reads the parts and writes the [batch, width] fp32 tensor;
        # the backward splits the gradient, read once and written once as the parts' slices
        # (their consumers need them contiguous). One operator each way (sim/costs/ops.py).
        bpe = 4
        mem = 2.0 * batch * width * bpe
        operators = ops.CONCAT_BACKWARD_OPS if backward else ops.CONCAT_FORWARD_OPS
        return self._roofline(proc, 0.0, mem, operators)

    def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
        gathered = 0.0 if self._cached(proc, work) else work.lookups * row_bytes(
            work.dim, work.bytes_per_element)
        output = work.batch * work.dim * work.bytes_per_element
        flops = work.lookups * work.dim  # one add per element pooled
        gather = self._roofline(proc, flops, gathered, ops.EMBEDDING_FORWARD_OPS, streaming=False)
        write = output / self._bw(proc, streaming=True)
        return OpCost(gather.seconds + write, gathered + output, flops)

    def embedding_update(self, proc: Processor, work: EmbeddingWork, optimizer: str) -> OpCost:
        row = row_bytes(work.dim, work.bytes_per_element)
        # Gradients of every lookup are accumulated per unique row, then each unique row is
        # read and written once; row-wise Adagrad adds one fp32 state per row, Adagrad an fp32
        # row (the state is fp32 whatever the weights', as ModelSpec counts its bytes).
        state = {"sgd": 0, "rowwise_adagrad": CACHE_LINE_BYTES,
                 "adagrad": row_bytes(work.dim, 4)}[optimizer]
        grad_bytes = work.lookups * work.dim * work.bytes_per_element
        row_traffic = work.unique_rows * (2 * row + 2 * state)
        flops = work.lookups * work.dim + work.unique_rows * work.dim * 3
        if self._cached(proc, work):
            row_traffic = 0
        operators = ops.EMBEDDING_BACKWARD_OPS + ops.OPTIMIZER_OPS[optimizer]
        # coalescing the sparse gradient waits for the GPU (see EfficiencySpec)
        accumulate = self._roofline(proc, flops, grad_bytes, operators, syncs=True)
        update = row_traffic / self._bw(proc, streaming=False)
        return OpCost(accumulate.seconds + update, grad_bytes + row_traffic, flops)

    def dense_update(self, proc: Processor, tensors: int, parameters: int) -> OpCost:
        # The per-tensor dispatch is counted with each layer's backward (sim/costs/ops.py).
        return streamed_update(parameters, self.memory_bw_bytes_per_s(proc))

    def loss(self, proc: Processor, batch: int) -> OpCost:
        # A few elementwise operators on a [batch] vector: below this model's resolution next to
        # the MLPs, so left out here; a calibration profile times it (op `loss`).
        return OpCost(0.0)
