r"""The backward pass of scaled dot-product attention, by hand.

Forward: $S = \text{scale}\cdot QK^\top + M$, $P = \mathrm{softmax}(S)$, $O = PV$.
Backward, given $dO = \partial \ell / \partial O$:

$$dV = P^\top dO,\quad dP = dO\,V^\top,\quad dS = P \odot \big(dP - \mathrm{rowsum}(dP \odot P)\big),$$
$$dQ = \text{scale}\cdot dS\,K,\qquad dK = \text{scale}\cdot dS^\top Q.$$

Explained in the note ``docs/en/notes/scaling.md`` (中文 ``docs/zh/notes/scaling.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.problem import sum_to_shape
from ._internal.validation import as_real_array, check_axis, default_scale, working_dtype
from .scaled_dot_product import scaled_dot_product_attention

__all__ = ["softmax_backward", "sdpa_backward"]


def softmax_backward(weights: ArrayLike, grad_weights: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax: the gradient reaching the logits.

    With $p = \mathrm{softmax}(s)$ and upstream gradient $g = \partial\ell/\partial p$,
    the Jacobian is $\mathrm{diag}(p) - pp^\top$, so
    $\partial\ell/\partial s = p \odot (g - \langle g, p\rangle)$.

    Parameters
    ----------
    weights : array_like
        The softmax output ``p``.
    grad_weights : array_like
        Upstream gradient ``g``, same shape as ``weights``.
    axis : int, default -1
        The axis softmax normalised over.

    Returns
    -------
    numpy.ndarray
        Same shape as ``weights``. Entries with ``p = 0`` (masked keys, fully
        masked rows) get gradient 0.

    Raises
    ------
    ValueError
        If the two shapes differ.

    Examples
    --------
    A saturated softmax passes almost no gradient back; a uniform one passes the most:

    >>> import numpy as np
    >>> g = np.array([1.0, 0.0, 0.0])
    >>> softmax_backward(np.array([1.0, 0.0, 0.0]), g) == 0
    array([ True,  True,  True])
    >>> softmax_backward(np.full(3, 1 / 3), g).round(4)
    array([ 0.2222, -0.1111, -0.1111])
    """
    p = as_real_array("weights", weights, min_ndim=1)
    g = as_real_array("grad_weights", grad_weights, min_ndim=1)
    if p.shape != g.shape:
        raise ValueError(f"weights and grad_weights must have the same shape: weights {p.shape} vs "
                         f"grad_weights {g.shape}")
    axis = check_axis(axis, p.ndim, p.shape, "weights")
    return p * (g - np.sum(g * p, axis=axis, keepdims=True))


def sdpa_backward(grad_output: ArrayLike, query: ArrayLike, key: ArrayLike, value: ArrayLike,
                  attn_mask: ArrayLike | None = None, is_causal: bool = False, *,
                  scale: float | None = None, enable_gqa: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of [scaled_dot_product_attention][attention.scaled_dot_product_attention] with respect to its inputs.

    Same semantics as the forward function (broadcast batch dims, boolean or
    float masks, ``is_causal``, ``scale``, ``enable_gqa``), without dropout.

    Parameters
    ----------
    grad_output : array_like, shape (..., L, Ev)
        Gradient of the loss with respect to the attention output.
    query, key, value, attn_mask, is_causal, scale, enable_gqa
        As in [scaled_dot_product_attention][attention.scaled_dot_product_attention].

    Returns
    -------
    grad_query : numpy.ndarray, shape of ``query``
    grad_key : numpy.ndarray, shape of ``key``
    grad_value : numpy.ndarray, shape of ``value``
        Where an input was broadcast over batch dims, its gradient is summed
        over them, and with ``enable_gqa`` over each group of query heads that
        shares a key/value head. Fully masked query rows contribute zero gradient.

    Raises
    ------
    TypeError, ValueError
        As the forward function; also if ``grad_output`` does not have the
        output's shape.

    Notes
    -----
    With $S = \text{scale}\cdot QK^\top + M$, $P = \mathrm{softmax}(S)$, $O = PV$:
    $dV = P^\top dO$, $dP = dO V^\top$, $dS = P \odot (dP - \mathrm{rowsum}(dP \odot P))$,
    $dQ = \text{scale}\cdot dS K$, $dK = \text{scale}\cdot dS^\top Q$.

    Examples
    --------
    The source note's example, with the loss = sum of the outputs:

    >>> import numpy as np
    >>> Q = np.array([[1.0, 0.0, 1.0]])
    >>> K = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> V = np.array([[0.5, 0.5], [0.1, 0.9]])
    >>> dq, dk, dv = sdpa_backward(np.ones((1, 2)), Q, K, V)
    >>> dv.round(4)           # each value row receives its weight
    array([[0.7604, 0.7604],
           [0.2396, 0.2396]])
    >>> dq                    # both values sum to 1, so moving the weights changes nothing
    array([[0., 0., 0.]])
    """
    out, weights = scaled_dot_product_attention(
        query, key, value, attn_mask, is_causal=is_causal, scale=scale, return_weights=True, enable_gqa=enable_gqa
    )  # (..., L, Ev), (..., L, S)
    dO = as_real_array("grad_output", grad_output)
    if dO.shape != out.shape:
        raise ValueError(f"grad_output must have the output's shape (..., L, Ev) = {out.shape}, got {dO.shape}")
    dtype = out.dtype
    work = working_dtype(dtype)
    q, k, v = (np.asarray(x, dtype=work) for x in (query, key, value))  # checked by the forward call
    groups = q.shape[-3] // k.shape[-3] if enable_gqa else 1  # query heads per key/value head
    k_heads, v_heads = (np.repeat(x, groups, axis=-3) if groups > 1 else x for x in (k, v))  # (..., Hq, S, E|Ev)
    P = weights.astype(work)  # (..., L, S)
    dO = dO.astype(work)  # (..., L, Ev)
    scale = default_scale(q.shape[-1]) if scale is None else float(scale)

    dV = np.swapaxes(P, -1, -2) @ dO  # (..., Hq, S, Ev)
    dP = dO @ np.swapaxes(v_heads, -1, -2)  # (..., L, S)
    dS = softmax_backward(P, dP)  # (..., L, S)
    dS *= scale  # before the products: with scale 0 they are 0, where scale * (dS @ K) could be 0 * inf
    dQ = dS @ k_heads  # (..., L, E)
    dK = np.swapaxes(dS, -1, -2) @ q  # (..., Hq, S, E)
    if groups > 1:  # each key/value head gets the sum over its group of query heads
        dK, dV = (g.reshape(*g.shape[:-3], g.shape[-3] // groups, groups, *g.shape[-2:]).sum(axis=-3) for g in (dK, dV))
    dq, dk, dv = (sum_to_shape(g, a.shape).astype(dtype, copy=False) for g, a in ((dQ, q), (dK, k), (dV, v)))
    return dq, dk, dv
