"""A real DLRM training step in torch, built from a plain model description.

Bottom MLP, one sum-pooled embedding bag per table, the dot (or concatenation) interaction, top
MLP, binary cross-entropy, and an optimizer step that updates the embeddings sparsely (SGD or
row-wise Adagrad: only the rows a batch touched) and the MLPs densely. It reuses the very
kernels that calibration times (`calibrate.kernels`), so that a prediction built from their
costs and the real step differ only by what the step adds around them.

The description is a mapping with the keys of dlrmsim's model specs (dense_features, tables
with rows/dim, bottom_mlp, top_mlp, interaction, optimizer), so that this module needs nothing
but torch: `calibrate/` runs on a bare GPU host.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from calibrate.kernels.embedding import OPTIMIZERS, EmbeddingBagTable
from calibrate.kernels.interaction import dot_interaction
from calibrate.kernels.mlp import MlpLayer

DENSE_LEARNING_RATE = 0.01  # any small value; the timing does not depend on it


@dataclass(frozen=True)
class DlrmShape:
    """What a DLRM is made of. Raises ValueError on a bad field."""

    dense_features: int
    table_rows: tuple[int, ...]
    table_dims: tuple[int, ...]
    bottom_mlp: tuple[int, ...]
    top_mlp: tuple[int, ...]
    interaction: str = "dot"
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.interaction not in ("dot", "cat"):
            raise ValueError(f"interaction must be 'dot' or 'cat', got {self.interaction!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.table_rows or len(self.table_rows) != len(self.table_dims):
            raise ValueError("need one row count and one dimension per table, at least one table")
        if self.interaction == "dot" and len(set(self.table_dims)) != 1:
            raise ValueError("the dot interaction needs one dimension shared by all tables")

    @classmethod
    def from_mapping(cls, model: Mapping[str, Any]) -> DlrmShape:
        """From a model spec as plain data (the form `dlrmsim presets show --json` prints)."""
        tables = model["tables"]
        optimizer = model.get("optimizer", "sgd")
        return cls(
            dense_features=int(model["dense_features"]),
            table_rows=tuple(int(t["rows"]) for t in tables),
            table_dims=tuple(int(t["dim"]) for t in tables),
            bottom_mlp=tuple(int(w) for w in model["bottom_mlp"]),
            top_mlp=tuple(int(w) for w in model["top_mlp"]),
            interaction=str(model.get("interaction", "dot")),
            optimizer="rowwise_adagrad" if optimizer == "adagrad" else str(optimizer),
        )

    @property
    def bottom_widths(self) -> tuple[int, ...]:
        out = (self.table_dims[0],) if self.interaction == "dot" else ()
        return (self.dense_features, *self.bottom_mlp, *out)

    @property
    def top_input(self) -> int:
        features = len(self.table_rows) + 1
        if self.interaction == "dot":
            return self.bottom_widths[-1] + features * (features - 1) // 2
        return self.bottom_widths[-1] + sum(self.table_dims)


def _mlp(widths: Sequence[int], last_activation: bool) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = [MlpLayer(a, b) for a, b in itertools.pairwise(widths)]
    if not last_activation and layers:
        layers[-1] = torch.nn.Linear(widths[-2], widths[-1])  # the logit has no ReLU
    return torch.nn.Sequential(*layers)


class Dlrm:
    """A DLRM on `device` whose `step` runs one training iteration on one batch."""

    def __init__(self, shape: DlrmShape, device: torch.device, seed: int = 0,
                 dense_learning_rate: float = DENSE_LEARNING_RATE) -> None:
        torch.manual_seed(seed)
        generator = torch.Generator(device=device).manual_seed(seed)
        self.shape = shape
        self.bottom = _mlp(shape.bottom_widths, last_activation=True).to(device)
        self.top = _mlp((shape.top_input, *shape.top_mlp, 1), last_activation=False).to(device)
        self.tables = [EmbeddingBagTable(rows, dim, shape.optimizer, device, generator)
                       for rows, dim in zip(shape.table_rows, shape.table_dims, strict=True)]
        params = [*self.bottom.parameters(), *self.top.parameters()]
        self.dense_optimizer = torch.optim.SGD(params, lr=dense_learning_rate)
        self.loss = torch.nn.BCEWithLogitsLoss()

    def step(self, dense: torch.Tensor, bags: Sequence[torch.Tensor], labels: torch.Tensor,
             lap: Callable[[str], None] | None = None) -> float:
        """One iteration: `dense` [batch, dense_features], one [batch, pooling] index tensor per
        table, `labels` [batch] of 0/1. Returns the loss.

        `lap(part)`, if given, is called as each part of the step (PARTS) ends: the caller
        synchronizes and reads its clock there."""
        mark = lap or _no_lap
        self.dense_optimizer.zero_grad(set_to_none=True)
        bottom_out = self.bottom(dense)
        mark("bottom_forward")
        # Pooled embeddings enter the graph as leaves: their gradients then drive the same
        # fused backward-and-update kernel that calibration times, touching only used rows.
        pooled = [table.forward(idx).detach().requires_grad_()
                  for table, idx in zip(self.tables, bags, strict=True)]
        mark("embedding_forward")
        if self.shape.interaction == "dot":
            features = dot_interaction(bottom_out, pooled)
        else:
            features = torch.cat([bottom_out, *pooled], dim=1)
        logits = self.top(features).squeeze(1)
        loss = self.loss(logits, labels)
        mark("top_forward")
        loss.backward()
        mark("dense_backward")
        for table, idx, leaf in zip(self.tables, bags, pooled, strict=True):
            assert leaf.grad is not None
            table.backward_update(idx, leaf.grad)
        mark("embedding_update")
        self.dense_optimizer.step()
        mark("dense_optimizer_step")
        return float(loss.detach())


# The parts of a step that `Dlrm.step` reports to its `lap`, in order: zero_grad and the bottom
# MLP; the embedding lookups; the interaction, top MLP and loss; the backward through them and
# the bottom MLP; the embeddings' backward with their sparse update; the dense optimizer step.
PARTS = ("bottom_forward", "embedding_forward", "top_forward", "dense_backward",
         "embedding_update", "dense_optimizer_step")


def _no_lap(phase: str) -> None:
    pass
