"""Numerically stable softmax with an optional boolean mask."""

from __future__ import annotations

import numpy as np

from ._validation import as_real_array


def softmax(x, axis: int = -1, *, where=None) -> np.ndarray:
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
        Axis to normalise over.
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
        If ``x`` is complex or not numeric, or ``where`` is not boolean.
    ValueError
        If ``where`` does not broadcast to ``x.shape`` or ``axis`` is out of range.

    Notes
    -----
    ``+inf`` or NaN logits are not finite scores; they give NaN in their slice.

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
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise ValueError(f"axis {axis} is out of range for x with shape {x.shape}")
    if where is not None:
        where = np.asarray(where)
        if where.dtype != np.bool_:
            raise TypeError(f"where must be a boolean array, got dtype {where.dtype} with shape {where.shape}")
        try:
            where = np.broadcast_to(where, x.shape)
        except ValueError:
            raise ValueError(
                f"where with shape {where.shape} does not broadcast to x with shape {x.shape}"
            ) from None
    out_dtype = x.dtype
    work = x.astype(np.float32) if x.dtype == np.float16 else x.astype(x.dtype, copy=True)
    return stable_softmax_(work, axis, where).astype(out_dtype, copy=False)


def stable_softmax_(z: np.ndarray, axis: int = -1, where: np.ndarray | None = None) -> np.ndarray:
    """Softmax of the float array ``z`` computed in place; ``where`` is a boolean mask
    already broadcast to ``z.shape``. Internal: the caller owns ``z`` and has checked
    its inputs."""
    if where is not None:
        z[~where] = -np.inf
    m = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    # A row with nothing allowed has m = -inf; use 0 there so exp(-inf - 0) = 0, not NaN.
    m[np.isneginf(m)] = 0.0
    np.subtract(z, m, out=z)
    np.exp(z, out=z)
    total = np.sum(z, axis=axis, keepdims=True)
    # Rows that summed to 0 are the fully masked ones: leave them at 0 instead of 0/0.
    np.divide(z, total, out=z, where=total > 0)
    return z
