"""Boolean attention masks. Convention everywhere in this package: True = may attend."""

from __future__ import annotations

import numbers

import numpy as np


def _check_length(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


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
    ValueError
        If ``L`` or ``S`` is not a non-negative integer.

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
    L = _check_length("L", L)
    S = L if S is None else _check_length("S", S)
    return np.tri(L, S, dtype=bool)  # (L, S)


def padding_mask(lengths, S: int) -> np.ndarray:
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
    ValueError
        If ``lengths`` is not 1-D, not integer, or outside ``0..S``.

    Examples
    --------
    >>> padding_mask([3, 1], 4).astype(int)
    array([[[1, 1, 1, 0]],
    <BLANKLINE>
           [[1, 0, 0, 0]]])
    """
    S = _check_length("S", S)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
        raise ValueError(
            f"lengths must be a 1-D array of integers, got dtype {lengths.dtype} with shape {lengths.shape}"
        )
    if lengths.size and (lengths.min() < 0 or lengths.max() > S):
        raise ValueError(f"lengths must lie in 0..S={S}, got {lengths.tolist()}")
    return (np.arange(S) < lengths[:, None])[:, None, :]  # (B, 1, S)
