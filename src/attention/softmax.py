"""Numerically stable softmax with an optional boolean mask.

Explained in the note ``docs/en/notes/attention-mechanism.md`` (中文 ``docs/zh/notes/attention-mechanism.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.dense import softmax_inplace
from ._internal.validation import as_real_array, check_axis, working_dtype

__all__ = ["softmax"]


def softmax(x: ArrayLike, axis: int = -1, *, where: ArrayLike | None = None) -> np.ndarray:
    r"""Softmax along ``axis``, stable for any finite logits.

    Computes $\mathrm{softmax}(x)_i = e^{x_i - m} / \sum_j e^{x_j - m}$ with
    $m = \max_j x_j$. Subtracting the maximum changes nothing mathematically
    but keeps every exponent $\le 0$, so ``exp`` can never overflow.

    Parameters
    ----------
    x : array_like
        Logits. Integer and bool input is promoted to float64; float16/32/64
        keep their dtype (float16 is computed in float32).
    axis : int, default -1
        Axis to normalise over (one axis, an int).
    where : array_like of bool, optional
        Broadcastable to ``x``. Only entries where ``where`` is True take part;
        the others get weight 0.

    Returns
    -------
    numpy.ndarray
        Same shape and floating dtype as ``x``. Each slice along ``axis`` sums
        to 1, except a slice with no allowed entry (all masked, or all
        ``-inf``), which is all zeros instead of NaN.

    Raises
    ------
    TypeError
        If ``x`` is complex, not numeric or a masked array, ``where`` is not boolean, or
        ``axis`` is not an int.
    ValueError
        If ``x`` is 0-d, ``where`` does not broadcast to ``x.shape`` or ``axis`` is out of range.

    Notes
    -----
    NaN and ``+inf`` logits are not finite scores: a slice that holds one (where it is not
    masked out by ``where``) is NaN. ``-inf`` logits get weight 0. No RuntimeWarning is raised.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])

    Huge logits are exact, with no overflow warning (the naive formula gives NaN):

    >>> softmax(np.array([1e4, 0.0, -1e4]))
    array([1., 0., 0.])

    A fully masked row gives zeros, not NaN:

    >>> softmax(np.ones((2, 3)), where=np.array([[True, True, False], [False, False, False]]))
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ]])
    """
    x = as_real_array("x", x)
    if x.ndim == 0:
        raise ValueError(f"x must have at least 1 dimension to normalise over, got a 0-d array {x!r}")
    axis = check_axis(axis, x.ndim, x.shape)
    if where is not None:
        where = np.asarray(where)
        if where.dtype != np.bool_:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype} with shape {where.shape}")
        try:
            where = np.broadcast_to(where, x.shape)
        except ValueError:
            raise ValueError(f"where with shape {where.shape} does not broadcast to x with shape {x.shape}") from None
    work = x.astype(working_dtype(x.dtype), copy=True)
    return softmax_inplace(work, axis, where).astype(x.dtype, copy=False)
