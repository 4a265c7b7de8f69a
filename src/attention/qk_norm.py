r"""QK-norm: normalise queries and keys, and let a temperature set the sharpness.

$$\mathrm{score}(q, k) = g \cdot \frac{q}{\lVert q \rVert} \cdot \frac{k}{\lVert k \rVert}$$

The score is a cosine similarity times the temperature $g$, so it lies in $[-g, g]$ whatever
the size of $q$ and $k$: the scale of the weights that produce them (their initialisation,
or their growth during training) can no longer saturate the softmax.

Explained in the note ``docs/en/notes/qk-norm.md`` (中文 ``docs/zh/notes/qk-norm.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_real_array, check_real
from .scaled_dot_product import scaled_dot_product_attention

__all__ = ["l2_normalize", "qk_norm_attention"]


def l2_normalize(x: ArrayLike, *, eps: float = 1e-6) -> np.ndarray:
    """Divide each vector (last axis) by its Euclidean norm (or ``eps``, if larger).

    Parameters
    ----------
    x : array_like, shape (..., D)
    eps : float, default 1e-6
        Vectors shorter than this are divided by ``eps`` instead (so zero stays zero).

    Returns
    -------
    numpy.ndarray
        Same shape; rows of norm 1 (or less, for rows shorter than ``eps``).

    Raises
    ------
    TypeError, ValueError
        Non-numeric or 0-d ``x``; ``eps`` not a positive number.

    Examples
    --------
    >>> l2_normalize([[3.0, 4.0]])
    array([[0.6, 0.8]])
    """
    x = as_real_array("x", x, min_ndim=1)
    eps = check_real("eps", eps, positive=True)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def qk_norm_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = None,
                      is_causal: bool = False, *, temperature: float,
                      return_weights: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Scaled dot-product attention on L2-normalised queries and keys, scaled by ``temperature``.

    Parameters
    ----------
    query, key, value, attn_mask, is_causal, return_weights
        As in [scaled_dot_product_attention][attention.scaled_dot_product_attention].
    temperature : float
        The factor $g$ on the cosine similarities: every score lies in $[-g, g]$.

    Returns
    -------
    numpy.ndarray, or (output, weights) with ``return_weights``

    Raises
    ------
    TypeError, ValueError
        As [scaled_dot_product_attention][attention.scaled_dot_product_attention]; also for a
        ``temperature`` that is not a positive finite number.

    Examples
    --------
    Scaling the queries and keys by any factor changes nothing:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 4, 16))
    >>> a = qk_norm_attention(q, k, v, temperature=4.0)
    >>> b = qk_norm_attention(100 * q, 0.01 * k, v, temperature=4.0)
    >>> bool(np.allclose(a, b))
    True
    """
    temperature = check_real("temperature", temperature, positive=True)
    q = as_real_array("query", query, min_ndim=2)  # (..., L, E)
    k = as_real_array("key", key, min_ndim=2)  # (..., S, E)
    return scaled_dot_product_attention(l2_normalize(q), l2_normalize(k), value, attn_mask, is_causal=is_causal,
                                        scale=temperature, return_weights=return_weights)
