"""How many framework operators each kernel of a DLRM training step issues.

Each operator pays a fixed dispatch cost (EfficiencySpec.cpu_op_overhead_s / gpu_op_overhead_s)
beside its roofline time, so the step's fixed cost follows from what the step runs rather than
from a per-step fudge. The counts are those of an eager PyTorch 1.x step as DLRM's reference
code (github.com/facebookresearch/dlrm, 2020) runs it: one operator per line below.
"""

from __future__ import annotations

# Optimizer on the unique rows (per table) or on one dense parameter tensor: SGD one fused
# add; Adagrad (row-wise or not) reads and updates the state, then updates the weights.
OPTIMIZER_OPS = {"sgd": 1, "rowwise_adagrad": 3, "adagrad": 3}
# A fully connected layer has two parameter tensors (weight and bias), each updated separately.
TENSORS_PER_LAYER = 2
# Fully connected layer: forward = addmm, activation; backward = activation backward, mm for the
# input gradient, mm for the weight gradient, sum for the bias gradient, then the SGD step of
# its weight and bias (counted here, since the dense step's cost has no per-layer view).
MLP_FORWARD_OPS = 2
MLP_BACKWARD_OPS = 4 + TENSORS_PER_LAYER * OPTIMIZER_OPS["sgd"]
MLP_INPUT_GRAD_OPS = 1  # the mm for the input gradient, skipped when the input is data
# Dot interaction: forward = cat of the vectors, bmm, gather of the lower triangle, cat with the
# dense output; backward = the triangle's scatter, two bmm, split of the gradient.
INTERACTION_FORWARD_OPS = 4
INTERACTION_BACKWARD_OPS = 4
# Cat interaction (DLRM's `--arch-interaction-op cat`): forward = one cat of the dense output
# and the pooled embeddings; backward = one split of the gradient into their slices.
CONCAT_FORWARD_OPS = 1
CONCAT_BACKWARD_OPS = 1
# EmbeddingBag forward: offsets to bag ids, pooled gather.
EMBEDDING_FORWARD_OPS = 2
# EmbeddingBag backward to a sparse gradient: sort indices by row, find segment boundaries,
# reduce each segment, and coalesce into unique rows.
EMBEDDING_BACKWARD_OPS = 4
