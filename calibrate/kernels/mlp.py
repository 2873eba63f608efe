"""One MLP layer (Linear then ReLU) and the calibration kernel that times its forward or its
backward (gradients of weights, bias and input), cycling through layer copies."""

from __future__ import annotations

import torch

from calibrate.kernels.rotation import rotation_copies

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
DIRECTIONS = ("forward", "backward")


class MlpLayer(torch.nn.Module):
    """Linear(in_features, out_features) followed by ReLU, fp32, the building block of DLRM's
    bottom and top MLPs. Raises ValueError for a non-positive width."""

    def __init__(self, in_features: int, out_features: int) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(f"widths must be >= 1, got {in_features}, {out_features}")
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x))


def layer_bytes(batch: float, in_features: float, out_features: float) -> float:
    """Bytes a layer call touches: weights, bias, input and output activations (fp32)."""
    return FP32_BYTES * (in_features * out_features + out_features
                         + batch * (in_features + out_features))


class MlpKernel:
    """Calibration kernel for `mlp_forward` ("forward") or `mlp_backward` ("backward"). The
    forward pass that a backward call needs runs in `prepare`, untimed. The forward records the
    autograd graph, as a training step's forward does (its input, the layer below's output,
    requires grad); the graph is dropped with the output.

    Raises ValueError for an unknown direction.
    """

    def __init__(
        self,
        params: dict[str, float],
        direction: str,
        device: torch.device,
        seed: int,
        flush_bytes: float,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        torch.manual_seed(seed)
        self.batch = int(params["batch"])
        self.in_features, out_features = int(params["in_features"]), int(params["out_features"])
        self.direction = direction
        copies = rotation_copies(layer_bytes(self.batch, self.in_features, out_features),
                                 flush_bytes)
        self.layers = [MlpLayer(self.in_features, out_features).to(device) for _ in range(copies)]
        self.device = device
        self.grad_out = torch.randn(self.batch, out_features, device=device)
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.calls = 0

    def _layer(self) -> MlpLayer:
        layer = self.layers[self.calls % len(self.layers)]
        self.calls += 1
        return layer

    def prepare(self, slots: int) -> None:
        self.inputs = [
            torch.randn(self.batch, self.in_features, device=self.device, requires_grad=True)
            for _ in range(slots)
        ]
        if self.direction == "backward":
            self.outputs = [self._layer()(x) for x in self.inputs]

    def run(self, slot: int) -> None:
        if self.direction == "forward":
            self._layer()(self.inputs[slot])
        else:
            self.outputs[slot].backward(self.grad_out)

    def close(self) -> None:
        self.layers.clear()
        self.inputs.clear()
        self.outputs.clear()
