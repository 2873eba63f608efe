"""Costs from a calibration profile, with an analytic model for what the profile lacks.

The profile answers for processors of its own kind (a CPU profile for CPU work, a CUDA profile
for GPU work); everything else, and any op the profile did not measure, falls back to the
analytic model. This is how a calibrated GPU can stand in for the GPU of a modeled server.
An op whose fit calibrate called too weak to use (the profile's `run.weak_fits`) is still
charged from its fit, not analytically: only a missing op falls back, and the run's notes name
the weak ones it charged (sim.notes.weak_fits).
Memory bytes (for contention) always come from the analytic model's accounting.
"""

from __future__ import annotations

from sim.costs.analytic import AnalyticCosts
from sim.costs.base import COPY_TRAFFIC_PER_BYTE, EmbeddingWork, OpCost, Processor, streamed_update
from sim.profile import Profile

_DEVICE_KIND = {"cpu": "cpu", "cuda": "gpu"}
_COPY_KEY = {"cpu": "host_copy", "gpu": "device_copy"}  # profile bandwidth of each kind's memory
# The profile op that times each optimizer's embedding update (dlrmsim validate reads it to
# name the ops a step needs).
UPDATE_OPS = {
    "sgd": "embedding_backward_sgd",
    "rowwise_adagrad": "embedding_backward_rowwise_adagrad",
    "adagrad": "embedding_backward_rowwise_adagrad",  # closest measured kernel
}


class CalibratedCosts:
    """CostModel backed by a Profile; see the module docstring for what falls back."""

    name = "calibrated"

    def __init__(self, profile: Profile, fallback: AnalyticCosts | None = None) -> None:
        self.profile = profile
        self.fallback = fallback or AnalyticCosts()
        self.kind = _DEVICE_KIND.get(profile.device, profile.device)
        self.profile_threads = int(profile.host.get("torch_threads") or 1)
        # The profile ops this model has charged so far: a run's notes name the ones among
        # them whose fits calibrate called too weak (sim.notes.weak_fits).
        self.charged_ops: set[str] = set()

    def _covers(self, proc: Processor, op: str) -> bool:
        return proc.kind == self.kind and self.profile.has(op)

    def _scaled(self, proc: Processor, seconds: float) -> float:
        """Measured with `profile_threads` CPU threads; assume linear scaling to others."""
        if proc.kind != "cpu":
            return seconds
        return seconds * self.profile_threads / proc.threads

    def _measured(self, proc: Processor, op: str, analytic: OpCost, **params: float) -> OpCost:
        if not self._covers(proc, op):
            return analytic
        self.charged_ops.add(op)
        seconds = self._scaled(proc, self.profile.seconds(op, **params))
        return OpCost(seconds, analytic.mem_bytes, analytic.flops)

    def measures_kernels(self) -> bool:
        """Whether the profile times any op; a bandwidth-only profile leaves every kernel
        analytic, which the result must say."""
        return bool(self.profile.cost_functions)

    def measures_memory_bw(self) -> bool:
        """Whether the profile has the copy rate that memory_bw_bytes_per_s takes for its kind."""
        return bool(self.profile.bandwidths_bytes_per_s.get(_COPY_KEY.get(self.kind, "")))

    def memory_bw_bytes_per_s(self, proc: Processor) -> float:
        # The profile's copy headline is bytes copied per second; a copy reads and writes each
        # byte, so the memory traffic it sustains (what every user of this rate divides bytes
        # read + written by, as the analytic model's datasheet rate is) is twice that.
        measured = self.profile.bandwidths_bytes_per_s.get(_COPY_KEY[proc.kind])
        if proc.kind == self.kind and measured:
            return COPY_TRAFFIC_PER_BYTE * measured
        return self.fallback.memory_bw_bytes_per_s(proc)

    def mlp(self, proc: Processor, batch: int, in_features: int, out_features: int,
            *, backward: bool, input_grad: bool = True) -> OpCost:
        analytic = self.fallback.mlp(proc, batch, in_features, out_features, backward=backward,
                                     input_grad=input_grad)
        # A backward without the input gradient runs one GEMM of the forward's shape (the
        # weight gradient) and elementwise work like the forward's (bias sum, activation
        # gradient): the measured forward stands in for it, since calibration times the
        # backward with both gradients only.
        op = "mlp_backward" if backward and input_grad else "mlp_forward"
        return self._measured(proc, op, analytic, batch=batch, in_features=in_features,
                              out_features=out_features)

    def interaction(self, proc: Processor, batch: int, features: int, dim: int,
                    *, backward: bool) -> OpCost:
        analytic = self.fallback.interaction(proc, batch, features, dim, backward=backward)
        op = "interaction_backward" if backward else "interaction_forward"
        return self._measured(proc, op, analytic, batch=batch, features=features, dim=dim)

    def concat(self, proc: Processor, batch: int, width: int, *, backward: bool) -> OpCost:
        # Calibration times only the dot interaction (calibrate/kernels/interaction.py), so a
        # cat model's interaction is always the analytic one; sim.notes.analytic_interaction
        # says so in the result.
        return self.fallback.concat(proc, batch, width, backward=backward)

    def _embedding_params(self, work: EmbeddingWork) -> dict[str, float]:
        return {"batch": work.batch, "rows": work.rows, "dim": work.dim,
                "pooling": work.pooling, "zipf_s": work.zipf_s, "unique_rows": work.unique_rows}

    def _embedding(self, proc: Processor, op: str, analytic: OpCost, work: EmbeddingWork
                   ) -> OpCost:
        cost = self._measured(proc, op, analytic, **self._embedding_params(work))
        if cost is analytic:
            return cost
        # Colder than calibration's rotation when the step's tables exceed it (a large cache).
        factor = self.profile.working_set_factor(op, work.table_bytes, work.working_set_bytes)
        return OpCost(cost.seconds * factor, cost.mem_bytes, cost.flops)

    def embedding_forward(self, proc: Processor, work: EmbeddingWork) -> OpCost:
        analytic = self.fallback.embedding_forward(proc, work)
        return self._embedding(proc, "embedding_forward", analytic, work)

    def dense_update(self, proc: Processor, tensors: int, parameters: int) -> OpCost:
        # Without a timed optimizer step, stream the parameters at this host's copy bandwidth.
        streamed = streamed_update(parameters, self.memory_bw_bytes_per_s(proc))
        return self._measured(proc, "dense_optimizer_step", streamed, tensors=tensors,
                              elements=parameters)

    def loss(self, proc: Processor, batch: int) -> OpCost:
        analytic = self.fallback.loss(proc, batch)
        return self._measured(proc, "loss", analytic, batch=batch)

    def embedding_update(self, proc: Processor, work: EmbeddingWork, optimizer: str) -> OpCost:
        analytic = self.fallback.embedding_update(proc, work, optimizer)
        return self._embedding(proc, UPDATE_OPS[optimizer], analytic, work)
