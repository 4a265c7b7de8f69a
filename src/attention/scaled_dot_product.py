r"""Scaled dot-product attention with PyTorch's semantics, in numpy.

$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{E}} + M\right) V$$

Notation used everywhere in this package: ``query (..., L, E)``, ``key (..., S, E)``,
``value (..., S, Ev)``; L query length, S key length, E key dim, Ev value dim, and the
leading ``...`` are batch/head dims (B, H) that broadcast.

Explained in the note ``docs/en/notes/attention-mechanism.md`` (中文 ``docs/zh/notes/attention-mechanism.md``).
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from ._internal.blocked import blocked_attention
from ._internal.dense import softmax_inplace
from ._internal.problem import prepare
from ._internal.validation import check_bool, check_generator, check_probability
from .masks import causal_mask

#: From this many scores (L * S) on, scaled_dot_product_attention takes the blocked path
#: (unless it must return the weights or apply dropout): from about 512 x 512 on it is the
#: faster one on a 2-core machine, and its memory does not grow with L * S.
BLOCKED_MIN_SCORES = 512 * 512

__all__ = ["scaled_dot_product_attention"]


@overload
def scaled_dot_product_attention(
    query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = ..., dropout_p: float = ...,
    is_causal: bool = ..., *, scale: float | None = ..., rng: np.random.Generator | None = ...,
    return_weights: Literal[False] = ..., enable_gqa: bool = ...,
) -> np.ndarray: ...


@overload
def scaled_dot_product_attention(
    query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = ..., dropout_p: float = ...,
    is_causal: bool = ..., *, scale: float | None = ..., rng: np.random.Generator | None = ...,
    return_weights: Literal[True], enable_gqa: bool = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def scaled_dot_product_attention(
    query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = ..., dropout_p: float = ...,
    is_causal: bool = ..., *, scale: float | None = ..., rng: np.random.Generator | None = ...,
    return_weights: bool = ..., enable_gqa: bool = ...,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *,
    scale: float | None = None,
    rng: np.random.Generator | None = None,
    return_weights: bool = False,
    enable_gqa: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
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
        Apply [causal_mask][attention.causal_mask] (top-left aligned). Cannot be
        combined with ``attn_mask``.
    scale : float, optional
        Multiplies $QK^\top$; defaults to $1/\sqrt{E}$.
    rng : numpy.random.Generator, optional
        Source of randomness for dropout; required when ``dropout_p > 0``.
    return_weights : bool, default False
        Also return the attention weights (after dropout, i.e. the ones used).
    enable_gqa : bool, default False
        Grouped-query attention, as PyTorch's ``enable_gqa``: query ``(..., Hq, L, E)``,
        key and value ``(..., Hkv, S, ·)`` with ``Hkv`` dividing ``Hq``; query head ``h``
        uses key/value head ``h // (Hq // Hkv)``. Keys and values are not copied.

    Returns
    -------
    output : numpy.ndarray, shape (..., L, Ev)
    weights : numpy.ndarray, shape (..., L, S)
        Only when ``return_weights=True``.

    Raises
    ------
    TypeError
        Complex, non-numeric or masked-array inputs, an ``attn_mask`` that is neither
        bool nor floating, ``is_causal``/``return_weights``/``enable_gqa`` that are not
        bools, a ``scale`` that is not a real number, ``rng`` that is not a
        ``numpy.random.Generator``.
    ValueError
        Inputs with fewer than 2 dims or ragged nesting, ``E == 0``, mismatched ``E`` or
        ``S``, batch dims or ``attn_mask`` that do not broadcast, ``attn_mask`` with
        ``is_causal``, heads that do not divide with ``enable_gqa``, a non-finite
        ``scale``, ``dropout_p`` outside ``[0, 1)`` or without ``rng``.

    Notes
    -----
    Edge cases, one rule for every path (dense, blocked, [flash_attention][attention.flash_attention],
    any size and block size):

    - **Huge finite scores are exact**: the softmax subtracts each row's maximum first.
      float16/float32 inputs whose scores could leave float32's range are computed in
      float64; rows whose scores could leave float64's range count as non-finite: once
      ``E max|q| max|k| |scale|`` (plus the largest finite ``|float mask|``) passes 4.5e307
      (float64's largest / 4), each row whose ``|q| max|k| |scale|`` is above 2.2e307 (/ 8).
    - **Fully masked rows are 0.** A query row with no allowed key (boolean mask all
      False, float mask all ``-inf``, or ``S == 0``) gets weights 0 and output 0, whatever
      its inputs hold. A large finite penalty such as ``-1e9`` on every key is not a mask:
      the row still sums to 1 (uniform in float32, where the penalty swamps the scores).
    - **NaN and inf.** A row whose query, or any key, value or float-mask entry that the
      row may attend to, holds NaN or ``±inf``, gives NaN (output and weights). Keys and
      values the row may not attend to do not affect it, whatever they hold. No
      RuntimeWarning is raised. (PyTorch's math path agrees without masks, but lets NaN
      through from masked keys too; its fused kernels differ from it and among themselves.)
    - **Sizes.** ``L == 0`` gives an output of shape ``(..., 0, Ev)``; any batch dim of
      size 0 gives an empty output.
    - **dtypes.** The output has the inputs' common dtype: float16/32/64 are preserved
      (float16 is computed in float32); integer and bool inputs are promoted to float64.

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
    return_weights = check_bool("return_weights", return_weights)
    prob = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    dropout_p = check_probability("dropout_p", dropout_p)
    rng = check_generator(rng)
    if dropout_p > 0 and rng is None:
        raise ValueError("dropout_p > 0 needs rng=np.random.default_rng(seed), so that dropout is reproducible")
    L, S = prob.q.shape[-2], prob.k.shape[-2]
    if not return_weights and dropout_p == 0 and L * S >= BLOCKED_MIN_SCORES:
        # Large problems: the exact blocked (online-softmax) path never stores L x S scores.
        return blocked_attention(prob)

    scores_shape = (*prob.batch, L, S)
    mask = causal_mask(L, S) if prob.is_causal else prob.mask  # (..., L, S) or None
    q = np.multiply(prob.q, prob.q.dtype.type(prob.scale))  # (..., L, E): L*E products, not L*S on the scores
    # Q and K are finite here and the scores bounded far below overflow (``prepare``): an "invalid"
    # flag from the product is OpenBLAS's own (numpy#24067, OpenBLAS#1924), seen intermittently with
    # one BLAS thread, and would turn into a spurious RuntimeWarning.
    with np.errstate(invalid="ignore"):
        scores = np.matmul(q, np.swapaxes(prob.k, -1, -2))  # (..., L, S)
    scores = np.broadcast_to(scores, scores_shape).copy() if scores.shape != scores_shape else scores
    where = None
    if mask is not None and mask.dtype == np.bool_:
        where = np.broadcast_to(mask, scores_shape)  # (..., L, S)
    elif mask is not None:
        scores += mask  # (..., L, S)
    weights = softmax_inplace(scores, -1, where)  # (..., L, S)
    if dropout_p > 0:
        assert rng is not None  # checked above
        keep = rng.random(scores_shape) >= dropout_p  # (..., L, S)
        weights *= keep
        weights *= 1.0 / (1.0 - dropout_p)
    output = np.matmul(weights, prob.v)  # (..., L, Ev)
    if return_weights:
        return prob.finish(output, weights)
    return prob.finish(output)
