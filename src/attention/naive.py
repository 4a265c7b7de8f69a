"""The source note's algorithm, kept exactly as written, for teaching and benchmarks.

It computes ``exp`` of the raw scaled scores with no max-subtraction, so large
scores overflow to ``inf`` and the weights become ``inf / inf = NaN``. Use
[scaled_dot_product_attention][attention.scaled_dot_product_attention] for real work.

Explained in the note ``docs/en/notes/attention-mechanism.md`` (中文 ``docs/zh/notes/attention-mechanism.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["naive_attention"]


def naive_attention(Q: ArrayLike, K: ArrayLike, V: ArrayLike, d_k: int | None = None) -> np.ndarray:
    """Unstable 2-D attention: ``exp(Q K^T / sqrt(d_k))`` normalised, times ``V``.

    Parameters
    ----------
    Q : array_like, shape (L, E)
    K : array_like, shape (S, E)
    V : array_like, shape (S, Ev)
    d_k : int, optional
        Key dimension used for scaling; defaults to ``E``.

    Returns
    -------
    numpy.ndarray, shape (L, Ev)

    Examples
    --------
    On small scores it agrees with the stable version:

    >>> import numpy as np
    >>> from attention import scaled_dot_product_attention
    >>> Q = np.array([[1, 0, 1]])
    >>> K = np.array([[1, 0, 1], [0, 1, 0]])
    >>> V = np.array([[0.5, 0.5], [0.1, 0.9]])
    >>> naive_attention(Q, K, V).round(4)
    array([[0.4041, 0.5959]])

    With scores near 1000, ``exp`` overflows (float64 tops out near ``exp(709)``)
    and the result is NaN; the stable version is exact:

    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     naive_attention(Q * 40, K * 40, V)
    array([[nan, nan]])
    >>> scaled_dot_product_attention(Q * 40, K * 40, V)
    array([[0.5, 0.5]])
    """
    Q, K, V = (np.asarray(a, dtype=np.float64) for a in (Q, K, V))
    if d_k is None:
        d_k = Q.shape[-1]
    scores = np.dot(Q, K.T) / np.sqrt(d_k)  # (L, S)
    e = np.exp(scores)  # (L, S), overflows to inf for scores above ~709
    weights = e / np.sum(e, axis=-1, keepdims=True)  # (L, S)
    return np.dot(weights, V)  # (L, Ev)
