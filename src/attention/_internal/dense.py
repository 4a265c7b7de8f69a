"""The stable softmax, in place: the kernel behind ``softmax`` and the dense attention path."""

from __future__ import annotations

import numpy as np


def softmax_inplace(z: np.ndarray, axis: int = -1, where: np.ndarray | None = None) -> np.ndarray:
    """Compute the softmax of ``z`` in place.

    Softmax of the float array ``z`` computed in place; ``where`` is a boolean mask already
    broadcast to ``z.shape`` (False = left out, weight 0). The caller owns ``z``.

    A slice with nothing allowed (all masked, or all ``-inf``) becomes 0; a slice with NaN or
    ``+inf`` becomes NaN, without a RuntimeWarning.
    """
    if where is not None:
        np.copyto(z, -np.inf, where=~where)
    m = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    # A slice with nothing allowed has m = -inf; use 0 there so exp(-inf - 0) = 0, not NaN.
    m[np.isneginf(m)] = 0.0
    with np.errstate(invalid="ignore"):  # inf - inf in a slice with +inf: NaN, by the documented rule
        np.subtract(z, m, out=z)
    np.exp(z, out=z)
    total = np.sum(z, axis=axis, keepdims=True)
    # Slices that summed to 0 are the fully masked ones: leave them at 0 instead of 0/0.
    np.divide(z, total, out=z, where=total != 0)
    return z
