"""Position information: sinusoidal encodings (added to the input) and rotary embeddings (RoPE)."""

from __future__ import annotations

import numpy as np

from ._validation import as_real_array


def sinusoidal_encoding(L: int, E: int, *, base: float = 10000.0) -> np.ndarray:
    r"""The Transformer's fixed positional encoding, shape ``(L, E)``.

    $PE_{p, 2i} = \sin(p / \text{base}^{2i/E})$, $PE_{p, 2i+1} = \cos(p / \text{base}^{2i/E})$.

    Raises
    ------
    ValueError
        If ``L`` is negative or ``E`` is not a positive even integer.

    Examples
    --------
    >>> pe = sinusoidal_encoding(4, 6)
    >>> pe.shape
    (4, 6)
    >>> pe[0]                     # position 0: sin 0 = 0, cos 0 = 1
    array([0., 1., 0., 1., 0., 1.])
    """
    if not isinstance(L, (int, np.integer)) or L < 0:
        raise ValueError(f"L must be a non-negative integer, got {L!r}")
    if not isinstance(E, (int, np.integer)) or E <= 0 or E % 2:
        raise ValueError(f"E must be a positive even integer, got {E!r}")
    positions = np.arange(L)[:, None]  # (L, 1)
    freqs = base ** (-np.arange(0, E, 2) / E)  # (E/2,)
    angles = positions * freqs  # (L, E/2)
    pe = np.empty((L, E))  # (L, E)
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def rotary_embedding(x, positions=None, *, base: float = 10000.0) -> np.ndarray:
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
    ValueError
        If D is odd or ``positions`` does not have length L.

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
    positions = np.arange(L) if positions is None else np.asarray(positions)
    if positions.shape != (L,):
        raise ValueError(f"positions must have shape (L,) = ({L},), got {positions.shape}")
    angles = positions[:, None] * base ** (-np.arange(0, D, 2) / D)  # (L, D/2)
    cos, sin = np.cos(angles), np.sin(angles)  # (L, D/2)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., L, D/2)
    out = np.empty_like(x)  # (..., L, D)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out
