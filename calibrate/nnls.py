"""Non-negative least squares (Lawson and Hanson, "Solving Least Squares Problems", 1974,
ch. 23), in numpy, because scipy may be absent on a bare GPU host."""

from __future__ import annotations

import numpy as np


def nnls(matrix: np.ndarray, target: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """The x >= 0 that minimizes ||matrix @ x - target||_2. Raises ValueError on shape mismatch."""
    a = np.asarray(matrix, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.ndim != 2 or b.shape != (a.shape[0],):
        raise ValueError(f"need matrix [m, n] and target [m], got {a.shape} and {b.shape}")
    n = a.shape[1]
    x = np.zeros(n)
    active = np.zeros(n, dtype=bool)  # the "passive" set P of the book: x free there
    tol = 10 * np.finfo(np.float64).eps * np.abs(a).sum(axis=0).max(initial=0.0) * max(a.shape)
    for _ in range(max_iter or 3 * n + 10):
        gradient = a.T @ (b - a @ x)
        free = ~active & (gradient > tol)
        if not free.any():
            break
        active[np.argmax(np.where(free, gradient, -np.inf))] = True
        x = _inner_loop(a, b, x, active, tol)
    return x


def _inner_loop(
    a: np.ndarray, b: np.ndarray, x: np.ndarray, active: np.ndarray, tol: float
) -> np.ndarray:
    """Solve on the active set, stepping back whenever a coefficient would turn negative."""
    while True:
        z = np.zeros_like(x)
        z[active] = np.linalg.lstsq(a[:, active], b, rcond=None)[0]
        if (z[active] > tol).all():
            return z
        blocking = active & (z <= tol)
        step = np.min(x[blocking] / np.maximum(x[blocking] - z[blocking], 1e-300))
        x = x + step * (z - x)
        active &= x > tol
        x[~active] = 0.0
        if not active.any():
            return x
