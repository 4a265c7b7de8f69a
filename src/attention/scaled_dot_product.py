r"""Scaled dot-product attention with PyTorch's semantics, in numpy.

$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{E}} + M\right) V$$

Notation used everywhere in this package: ``query (..., L, E)``, ``key (..., S, E)``,
``value (..., S, Ev)``; L query length, S key length, E key dim, Ev value dim, and the
leading ``...`` are batch/head dims (B, H) that broadcast.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validation import as_real_array, check_probability, check_scale
from .masks import causal_mask
from .softmax import stable_softmax_


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *,
    scale: float | None = None,
    rng: np.random.Generator | None = None,
    return_weights: bool = False,
):
    r"""Attention of ``query`` over ``key``/``value``, like ``torch.nn.functional.scaled_dot_product_attention``.

    Parameters
    ----------
    query : array_like, shape (..., L, E)
    key : array_like, shape (..., S, E)
    value : array_like, shape (..., S, Ev)
        ``Ev`` may differ from ``E``. Leading dims broadcast against each other.
        2-D inputs are a single sequence.
    attn_mask : array_like, optional
        Broadcastable to ``(..., L, S)``. Boolean: True = may attend. Floating:
        added to the scores (use ``-inf`` to forbid).
    dropout_p : float, default 0.0
        Probability of dropping an attention weight, in ``[0, 1)``. Kept weights
        are scaled by ``1 / (1 - dropout_p)``. Needs ``rng``.
    is_causal : bool, default False
        Apply :func:`attention.causal_mask` (top-left aligned). Cannot be
        combined with ``attn_mask``.
    scale : float, optional
        Multiplies $QK^\top$; defaults to $1/\sqrt{E}$.
    rng : numpy.random.Generator, optional
        Source of randomness for dropout; required when ``dropout_p > 0``.
    return_weights : bool, default False
        Also return the attention weights (after dropout, i.e. the ones used).

    Returns
    -------
    output : numpy.ndarray, shape (..., L, Ev)
    weights : numpy.ndarray, shape (..., L, S)
        Only when ``return_weights=True``.

    Raises
    ------
    TypeError
        Complex or non-numeric inputs, an ``attn_mask`` that is neither bool nor
        floating, ``rng`` that is not a ``numpy.random.Generator``.
    ValueError
        Inputs with fewer than 2 dims, ``E == 0``, mismatched ``E`` or ``S``,
        batch dims or ``attn_mask`` that do not broadcast, ``attn_mask`` with
        ``is_causal``, ``dropout_p`` outside ``[0, 1)`` or without ``rng``.

    Notes
    -----
    Edge cases, all defined:

    - Huge scores are exact: the softmax subtracts each row's maximum first.
    - A query row with no allowed key (fully masked by a boolean mask or by
      ``-inf``) gets weights 0 and output 0, as PyTorch's operator gives. A
      large finite penalty such as ``-1e9`` on every key is not a mask: the
      row still sums to 1 (uniform in float32, where the penalty swamps the
      scores).
    - ``L == 0`` gives an output of shape ``(..., 0, Ev)``; ``S == 0`` means
      every query has nothing to attend to, so the output is zeros.
    - float16/32/64 are preserved (float16 is computed in float32); integer and
      bool inputs are promoted to float64.

    Examples
    --------
    The source note's example (integer Q and K are promoted to float64):

    >>> import numpy as np
    >>> Q = np.array([[1, 0, 1]])
    >>> K = np.array([[1, 0, 1], [0, 1, 0]])
    >>> V = np.array([[0.5, 0.5], [0.1, 0.9]])
    >>> out, w = scaled_dot_product_attention(Q, K, V, return_weights=True)
    >>> w.round(4)
    array([[0.7604, 0.2396]])
    >>> out.round(4)
    array([[0.4041, 0.5959]])

    Batch and head dims broadcast; ``Ev`` may differ from ``E``:

    >>> rng = np.random.default_rng(0)
    >>> q = rng.standard_normal((2, 4, 5, 8))   # (B, H, L, E)
    >>> k = rng.standard_normal((2, 4, 7, 8))   # (B, H, S, E)
    >>> v = rng.standard_normal((2, 4, 7, 3))   # (B, H, S, Ev)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (2, 4, 5, 3)

    A fully masked row gives 0. A ``-1e9`` penalty on every key is not a mask: in
    float32 it swamps the scores, so the row becomes uniform (in float64 it is a
    mere shift, and the row keeps its unmasked weights). Either way it is not 0:

    >>> Q2 = np.vstack([Q, Q])                  # (L=2, E)
    >>> mask = np.array([[True, True], [False, False]])
    >>> scaled_dot_product_attention(Q2, K, V, mask, return_weights=True)[1].round(4)
    array([[0.7604, 0.2396],
           [0.    , 0.    ]])
    >>> penalty = np.where(mask, 0.0, -1e9).astype(np.float32)
    >>> Q32, K32, V32 = (a.astype(np.float32) for a in (Q2, K, V))
    >>> scaled_dot_product_attention(Q32, K32, V32, penalty, return_weights=True)[1].round(4)
    array([[0.7604, 0.2396],
           [0.5   , 0.5   ]], dtype=float32)
    """
    prob = prepare(query, key, value, attn_mask, is_causal, scale)
    dropout_p = check_probability("dropout_p", dropout_p)
    if dropout_p > 0 and rng is None:
        raise ValueError("dropout_p > 0 needs rng=np.random.default_rng(seed), so that dropout is reproducible")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    L, S = prob.q.shape[-2], prob.k.shape[-2]
    if not return_weights and dropout_p == 0 and L * S >= BLOCKED_MIN_SCORES:
        # Large problems: the exact blocked (online-softmax) path never stores L x S scores.
        from .flash import blocked_attention

        return blocked_attention(prob)

    scores_shape = (*prob.batch, L, S)
    mask = causal_mask(L, S) if prob.is_causal else prob.mask  # (..., L, S) or None
    q = np.multiply(prob.q, prob.q.dtype.type(prob.scale))  # (..., L, E): L*E products, not L*S on the scores
    scores = np.matmul(q, np.swapaxes(prob.k, -1, -2))  # (..., L, S)
    scores = np.broadcast_to(scores, scores_shape).copy() if scores.shape != scores_shape else scores
    where = None
    if mask is not None and mask.dtype == np.bool_:
        where = np.broadcast_to(mask, scores_shape)  # (..., L, S)
    elif mask is not None:
        scores += mask.astype(prob.q.dtype, copy=False)  # (..., L, S)
    weights = stable_softmax_(scores, -1, where)  # (..., L, S)
    if dropout_p > 0:
        keep = rng.random(scores_shape) >= dropout_p  # (..., L, S)
        weights *= keep
        weights *= 1.0 / (1.0 - dropout_p)
    output = np.matmul(weights, prob.v).astype(prob.out_dtype, copy=False)  # (..., L, Ev)
    if return_weights:
        return output, weights.astype(prob.out_dtype, copy=False)
    return output


#: From this many scores (L * S) on, scaled_dot_product_attention takes the blocked path
#: (unless it must return the weights or apply dropout): from about 512 x 512 on it is the
#: faster one on a 2-core machine, and its memory does not grow with L * S.
BLOCKED_MIN_SCORES = 512 * 512


class Problem(NamedTuple):
    """Validated attention inputs, in the working dtype. ``q`` is not yet multiplied by
    ``scale``: each path does that where it is cheapest."""

    q: np.ndarray  # (..., L, E)
    k: np.ndarray  # (..., S, E)
    v: np.ndarray  # (..., S, Ev)
    mask: np.ndarray | None  # broadcastable to (..., L, S); bool or float
    is_causal: bool
    batch: tuple[int, ...]
    out_dtype: np.dtype
    scale: float


def prepare(query, key, value, attn_mask=None, is_causal=False, scale=None) -> Problem:
    """Validate the inputs shared by every attention function and bring them to the working dtype."""
    q = as_real_array("query", query, min_ndim=2)  # (..., L, E)
    k = as_real_array("key", key, min_ndim=2)  # (..., S, E)
    v = as_real_array("value", value, min_ndim=2)  # (..., S, Ev)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"query and key must have the same feature size E: query {q.shape} vs key {k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"key and value must have the same length S: key {k.shape} vs value {v.shape}")
    if q.shape[-1] == 0:
        raise ValueError(f"query and key need E >= 1 features, got query {q.shape}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch dims of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None
    if is_causal and attn_mask is not None:
        raise ValueError("pass either attn_mask or is_causal=True, not both")
    mask = None if attn_mask is None else _check_mask(attn_mask, (*batch, q.shape[-2], k.shape[-2]))
    scale = check_scale(scale)
    out_dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    work_dtype = np.float32 if out_dtype == np.float16 else out_dtype
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    q = q.astype(work_dtype, copy=False)  # (..., L, E)
    k = k.astype(work_dtype, copy=False)  # (..., S, E)
    v = v.astype(work_dtype, copy=False)  # (..., S, Ev)
    return Problem(q, k, v, mask, bool(is_causal), batch, out_dtype, float(scale))


def _check_mask(attn_mask, scores_shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(attn_mask)
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise TypeError(
            f"attn_mask must be bool (True = may attend) or floating (added to scores), "
            f"got dtype {mask.dtype} with shape {mask.shape}"
        )
    try:
        ok = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"attn_mask with shape {mask.shape} does not broadcast to the scores' shape "
            f"(..., L, S) = {scores_shape}"
        )
    return mask
