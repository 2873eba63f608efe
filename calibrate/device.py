"""Turn the user's `--device` into a torch device, or explain why it cannot be used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calibrate.errors import CalibrationError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> torch.device:
    """"cpu", "cuda" (the current CUDA device) or "auto" (CUDA when present, else CPU).

    Raises CalibrationError for another name, or for "cuda" when no CUDA device is usable.
    """
    import torch  # here, so that `serve` on a peer host starts without loading torch

    if name not in DEVICE_CHOICES:
        raise CalibrationError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            built = "with" if torch.version.cuda else "without"
            raise CalibrationError(
                f"--device cuda: no CUDA device is available (torch {torch.__version__} was "
                f"built {built} CUDA); use --device cpu or auto")
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
