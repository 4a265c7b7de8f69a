"""Numeric limits of the blocked path.

How far scores may rise above a row's reference, how large
values may be, and where numpy's exp2 is fast.

The online softmax sums unnormalised terms ``e**(s - r)`` (and those times values) and divides
only at the end, so the terms must neither overflow the sums nor lose precision; these
functions turn that into numbers, per dtype and key length S.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import DTypeLike

#: ``e**x == 2**(x * LOG2E)``.
LOG2E = 1.4426950408889634
#: Largest exponent a lazily rescaled term may reach (e**40 ~ 2.4e17, far below float32's 3.4e38).
MAX_HEADROOM = 40


def sum_budget(S: int, dtype: DTypeLike) -> float:
    """Return the exponent budget B of S terms in ``dtype``.

    B with S * e**B = (largest float) * e**-8: S terms up to e**B, times values below 2, sum
    to at most twice that, a margin of e**8 / 2 below overflow.
    """
    return math.log(np.finfo(dtype).max) - 8 - math.log(S)


def headroom(S: int, dtype: DTypeLike) -> float:
    """Return how far (T) a score may rise above its row's reference.

    How far (T) above the reference a score may go before the reference must move: at most
    ``MAX_HEADROOM``, and never beyond the budget of ``sum_budget``.
    """
    return float(min(MAX_HEADROOM, max(0.0, sum_budget(S, dtype))))


def value_limit(S: int, dtype: DTypeLike, headroom: float) -> float:
    """Return the largest value |v| that keeps the sums far from overflow.

    Values below this keep the unnormalised sums as far from overflow as values below 2 do
    with terms up to e**budget: S terms up to e**headroom times it sum to at most
    2 * (largest float) * e**-8. In float32 with T = 40 and S = 4096 that is about 2e14.
    """
    return 2 * math.exp(sum_budget(S, dtype) - headroom)  # float64: at most e**(709.8 - 8 - 40), finite


def value_scale(vmax: float, limit: float) -> float:
    """Return the power of two V is divided by before the blocked pass.

    A power of two to divide V by: 1 if ``vmax`` = max|v| is below ``limit``, else one that
    brings it below 2.

    The online softmax sums up to S unnormalised terms times values, and only divides by
    the weights' sum at the end: values near the largest float would overflow on the way.
    Dividing by a power of two, and multiplying back at the end, is exact. Typical values
    are far below the limit, so V is used as it is, without a copy.
    """
    if vmax < limit:
        return 1.0
    return math.ldexp(1.0, math.frexp(vmax)[1] - 1)  # vmax < 2**e, so 2**(e-1) stays finite


def fixed_limit(headroom: float, mask: np.ndarray | None) -> float:
    """Return the score bound under which a query block needs no reference.

    Query blocks whose every ``|score|`` is at most this need no reference at all (see
    ``tiles.fixed_reference``): the headroom. -1 (no block) with a float mask, which may shift
    scores anywhere. Exp2's fast range does not limit it: ``MAX_HEADROOM`` lies far inside it
    for every dtype (``exp2_floor`` is 83 for float32).
    """
    if mask is not None and mask.dtype != np.bool_:
        return -1.0
    return headroom


def exp2_floor(dtype: DTypeLike) -> float:
    """Return how far below the reference a score may fall with exp2 still fast.

    Scores may fall this far (natural units) below the reference and still keep exp2 in
    its fast range; -inf when exp2 has no fast path on this machine.

    numpy's vectorised exp2 takes a slow path for results below the smallest normal number
    (and for -inf): up to 100x slower. Tiles where that could happen use exp instead, which
    is constant-time; the two agree to a few ulp.
    """
    if not exp2_is_vectorised(np.dtype(dtype).name):
        return -math.inf
    return (-np.finfo(dtype).minexp - 6) * math.log(2)


@cache
def exp2_is_vectorised(dtype_name: str) -> bool:
    """Tell whether numpy dispatches exp2 for this dtype to a SIMD kernel (not the baseline loop)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:  # numpy < 2.0
        return False
    char = np.dtype(dtype_name).char
    loops = opt_func_info(func_name="^exp2$", signature=f"^{dtype_name}$").get("exp2", {})
    return not loops.get(char * 2, {}).get("current", "baseline").startswith("baseline")


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of every row (last axis) of x."""
    return np.sqrt(np.einsum("...e,...e->...", x, x))  # (...)


def block_max(x: np.ndarray, block: int) -> np.ndarray:
    """Maximum of each run of ``block`` entries along the last axis (the last run may be shorter)."""
    starts = np.arange(0, x.shape[-1], block)
    return np.maximum.reduceat(x, starts, axis=-1)  # (..., ceil(S / block))
