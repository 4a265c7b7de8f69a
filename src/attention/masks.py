"""Boolean attention masks. Convention everywhere in this package: True = may attend.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_mask, check_int

__all__ = ["causal_mask", "padding_mask", "combine_masks"]


def causal_mask(L: int, S: int | None = None) -> np.ndarray:
    """Lower-triangular mask: query ``i`` may attend to keys ``0..i``.

    Aligned top-left when ``L != S``, exactly like PyTorch's ``is_causal=True``.

    Parameters
    ----------
    L : int
        Query length.
    S : int, optional
        Key length; defaults to ``L``.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(L, S)``; True = may attend.

    Raises
    ------
    TypeError
        If ``L`` or ``S`` is not an integer.
    ValueError
        If ``L`` or ``S`` is negative.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    >>> causal_mask(2, 4).astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0]])
    """
    L = check_int("L", L)
    S = L if S is None else check_int("S", S)
    return np.tri(L, S, dtype=bool)  # (L, S)


def padding_mask(lengths: ArrayLike, S: int) -> np.ndarray:
    """Key-padding mask: in sequence ``b`` only the first ``lengths[b]`` keys are real.

    Parameters
    ----------
    lengths : array_like of int, shape (B,)
        Number of real (non-padding) keys in each sequence, each in ``0..S``.
    S : int
        Padded key length.

    Returns
    -------
    numpy.ndarray
        Boolean array of shape ``(B, 1, S)``, which broadcasts against scores of
        shape ``(B, L, S)``; use ``mask[:, None]`` for ``(B, H, L, S)``.

    Raises
    ------
    TypeError
        If ``S`` is not an integer.
    ValueError
        If ``S`` is negative, or ``lengths`` is not 1-D, not integer, or outside ``0..S``.

    Examples
    --------
    >>> padding_mask([3, 1], 4).astype(int)
    array([[[1, 1, 1, 0]],
    <BLANKLINE>
           [[1, 0, 0, 0]]])
    """
    S = check_int("S", S)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
        raise ValueError(
            f"lengths must be a 1-D array of integers, got dtype {lengths.dtype} with shape {lengths.shape}"
        )
    if lengths.size and (lengths.min() < 0 or lengths.max() > S):
        raise ValueError(f"lengths must lie in 0..S={S}, got {lengths.tolist()}")
    return (np.arange(S) < lengths[:, None])[:, None, :]  # (B, 1, S)


def combine_masks(*masks: ArrayLike | None) -> np.ndarray | None:
    """Combine attention masks into one that allows a pair only if every mask allows it.

    Boolean masks (True = may attend) combine by logical AND. If any mask is floating (added
    to the scores), the result is floating: boolean masks become 0 where allowed and
    ``-inf`` where not, and all are added. ``None`` entries are skipped; with no mask left
    the result is ``None``. Shapes broadcast against each other.

    Parameters
    ----------
    *masks : array_like or None
        Boolean or floating masks, broadcastable to one shape.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    TypeError
        If a mask is neither boolean nor floating.
    ValueError
        If the shapes do not broadcast.

    Examples
    --------
    A causal mask and a key-padding mask (the last key is padding):

    >>> combine_masks(causal_mask(3), padding_mask([2], 3)[0]).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 0]])
    >>> combine_masks(np.array([0.0, -1.0]), np.array([True, False]))
    array([ 0., -inf])
    >>> combine_masks(None, None) is None
    True
    """
    arrays = [as_mask(f"mask {i}", m) for i, m in enumerate(masks) if m is not None]
    if not arrays:
        return None
    try:
        shape = np.broadcast_shapes(*(m.shape for m in arrays))
    except ValueError:
        raise ValueError(f"masks with shapes {[m.shape for m in arrays]} do not broadcast") from None
    if all(m.dtype == np.bool_ for m in arrays):
        out = np.ones(shape, dtype=bool)
        for m in arrays:
            out &= m
        return out
    dtype = np.result_type(*(m.dtype for m in arrays if m.dtype != np.bool_))
    out = np.zeros(shape, dtype=dtype)
    for m in arrays:
        out += np.where(m, 0.0, -np.inf).astype(dtype) if m.dtype == np.bool_ else m
    return out
