"""Position information: sinusoidal encodings (added to the input) and rotary embeddings (RoPE).

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_real_array, check_int, check_real

__all__ = ["sinusoidal_encoding", "rotary_embedding"]


def sinusoidal_encoding(L: int, E: int, *, base: float = 10000.0) -> np.ndarray:
    r"""Return the Transformer's fixed positional encoding, shape ``(L, E)``.

    $PE_{p, 2i} = \sin(p / \text{base}^{2i/E})$, $PE_{p, 2i+1} = \cos(p / \text{base}^{2i/E})$.

    Raises
    ------
    TypeError
        If ``L`` or ``E`` is not an integer, or ``base`` not a number.
    ValueError
        If ``L`` is negative, ``E`` is not a positive even integer, or ``base`` is not a
        finite number above 0.

    Examples
    --------
    >>> pe = sinusoidal_encoding(4, 6)
    >>> pe.shape
    (4, 6)
    >>> pe[0]                     # position 0: sin 0 = 0, cos 0 = 1
    array([0., 1., 0., 1., 0., 1.])
    """
    L, E = check_int("L", L), check_int("E", E, minimum=1)
    if E % 2:
        raise ValueError(f"E must be a positive even integer, got {E!r}")
    base = check_real("base", base, positive=True)
    positions = np.arange(L)[:, None]  # (L, 1)
    freqs = base ** (-np.arange(0, E, 2) / E)  # (E/2,)
    angles = positions * freqs  # (L, E/2)
    pe = np.empty((L, E))  # (L, E)
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def rotary_embedding(x: ArrayLike, positions: ArrayLike | None = None, *, base: float = 10000.0) -> np.ndarray:
    r"""Rotate feature pairs of ``x (..., L, D)`` by position-dependent angles (RoPE).

    Pair $(x_{2i}, x_{2i+1})$ at position $p$ is rotated by $p\,\theta_i$ with
    $\theta_i = \text{base}^{-2i/D}$. Applied to queries and keys, it makes
    $q_m \cdot k_n$ depend on positions only through $m - n$.

    Parameters
    ----------
    x : array_like, shape (..., L, D)
        D must be even.
    positions : array_like of int, shape (L,), optional
        Defaults to ``0 .. L-1``.

    Raises
    ------
    TypeError
        If ``x`` is not numeric, ``positions`` not integer, or ``base`` not a number.
    ValueError
        If D is odd, ``positions`` does not have shape (L,), or ``base`` is not a finite
        number above 0.

    Examples
    --------
    Relative positions are all that matter for the dot product:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    >>> a = rotary_embedding(q, [5]) @ rotary_embedding(k, [2]).T     # positions 5 and 2
    >>> b = rotary_embedding(q, [13]) @ rotary_embedding(k, [10]).T   # also 3 apart
    >>> bool(np.allclose(a, b))
    True
    """
    x = as_real_array("x", x, min_ndim=2)
    L, D = x.shape[-2], x.shape[-1]
    if D % 2:
        raise ValueError(f"x must have an even feature size D, got shape {x.shape}")
    base = check_real("base", base, positive=True)
    positions = np.arange(L) if positions is None else np.asarray(positions)
    if positions.size and positions.dtype.kind not in "iu":
        raise TypeError(f"positions must be integers, got dtype {positions.dtype}")
    if positions.shape != (L,):
        raise ValueError(f"positions must have shape (L,) = ({L},), got {positions.shape}")
    angles = positions[:, None] * base ** (-np.arange(0, D, 2) / D)  # (L, D/2)
    cos, sin = np.cos(angles), np.sin(angles)  # (L, D/2)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., L, D/2)
    out = np.empty_like(x)  # (..., L, D)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out
