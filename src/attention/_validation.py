"""Input checks shared by the public functions.

Public functions validate once, at the boundary, and raise errors that name the
argument, its shape and its dtype; internal helpers trust their callers.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_real_array(name: str, x, *, min_ndim: int = 0) -> np.ndarray:
    """Return ``x`` as a real floating array; integers and bools become float64.

    Raises ``TypeError`` for complex, object or string input and ``ValueError``
    when ``x`` has fewer than ``min_ndim`` dimensions.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype} with shape {arr.shape}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype} with shape {arr.shape}")
    if kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (..., length, features), "
            f"got shape {arr.shape}"
        )
    return arr


def check_probability(name: str, p) -> float:
    """Return ``p`` as a float in [0, 1), else raise naming ``name``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1), got {p!r}")
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")
    return p


def check_scale(scale) -> float | None:
    """Return ``scale`` as a float (or None), else raise."""
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a real number or None, got {scale!r}")
    return float(scale)
