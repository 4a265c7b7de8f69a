"""Input checks shared by the public functions.

Public functions validate once, at the boundary, and raise errors that name the argument
and its shape, dtype or value: ``TypeError`` for the wrong kind of thing, ``ValueError`` for
the right kind with a wrong value. Internal helpers trust their callers.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike


def as_real_array(name: str, x: object, *, min_ndim: int = 0) -> np.ndarray:
    """Return ``x`` as a real floating array; integers and bools become float64.

    Raises ``TypeError`` for complex, object, string or masked input and ``ValueError`` for
    ragged nested lists or fewer than ``min_ndim`` dimensions.
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array, whose mask would be ignored; pass its data "
            f"(x.filled(...)) and express the mask with attn_mask / where"
        )
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular array, got a ragged sequence ({exc})") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype} with shape {arr.shape}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype} with shape {arr.shape}")
    if kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (..., length, features), got shape {arr.shape}"
        )
    return arr


def as_mask(name: str, mask: object) -> np.ndarray:
    """``mask`` as a bool (True = may attend) or floating (added to the scores) array."""
    if isinstance(mask, np.ma.MaskedArray):
        raise TypeError(f"{name} is a numpy masked array; pass a plain bool or float array")
    try:
        arr = np.asarray(mask)
    except ValueError as exc:
        raise ValueError(f"{name} must be a rectangular array, got a ragged sequence ({exc})") from None
    if arr.dtype != np.bool_ and arr.dtype.kind != "f":
        raise TypeError(f"{name} must be bool (True = may attend) or floating (added to the scores), "
                        f"got dtype {arr.dtype} with shape {arr.shape}")
    return arr


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool; only ``bool`` and ``numpy.bool_`` are accepted (``"False"`` is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_int(name: str, value: object, *, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum``; Python and numpy integers are accepted, bools are not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        kind = "non-negative" if minimum == 0 else "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return int(value)


def check_real(name: str, value: object, *, positive: bool = False, what: str = "a real number") -> float:
    """``value`` as a finite float (and > 0 with ``positive``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be a {'positive ' if positive else ''}finite number, got {value!r}")
    return value


def check_probability(name: str, p: object) -> float:
    """Return ``p`` as a float in [0, 1), else raise naming ``name``."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1), got {p!r}")
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")
    return p


def check_scale(scale: object) -> float | None:
    """Return ``scale`` as a finite float (or None), else raise."""
    return None if scale is None else check_real("scale", scale, what="a real number or None")


def check_axis(axis: object, ndim: int, shape: tuple[int, ...], name: str = "x") -> int:
    """``axis`` as a non-negative int in range for an array of ``ndim`` dims."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with shape {shape}")
    return int(axis) % ndim


def check_generator(rng: object, *, name: str = "rng") -> np.random.Generator | None:
    """``rng`` if it is a numpy Generator or None, else ``TypeError``."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__} {rng!r}")
    return rng


def as_generator(rng: object, *, name: str = "rng") -> np.random.Generator:
    """``rng`` if it is a numpy Generator, a fresh one for None, else ``TypeError``."""
    checked = check_generator(rng, name=name)
    return np.random.default_rng() if checked is None else checked


def working_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """Return the dtype arithmetic runs in: float16 is computed in float32, others as they are."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def default_scale(E: int) -> float:
    """Return the scale of the scores when none is given: ``1 / sqrt(E)``."""
    return 1.0 / math.sqrt(E)


def as_class_ids(name: str, ids: object, classes: int, *, what: str = "class ids",
                 ignore: int | None = None) -> np.ndarray:
    """Return ``ids`` as an integer array of class ids, checked.

    ``ids`` as an integer array whose entries are in ``[0, classes)`` (or equal ``ignore``): a
    negative id would otherwise index from the end (-1 read as the last class).
    """
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer {what}, got dtype {arr.dtype} with shape {arr.shape}")
    used = arr if ignore is None else arr[arr != ignore]
    if used.size and (used.min() < 0 or used.max() >= classes):
        bad = used[(used < 0) | (used >= classes)][0]
        extra = "" if ignore is None else f" (or ignore_index={ignore})"
        raise ValueError(f"{name} must be {what} in [0, {classes}){extra}, got {bad}")
    return arr
