r"""Exact attention in blocks with the online softmax (FlashAttention's idea, in numpy).

The naive form stores the whole $L \times S$ score matrix. Here keys are visited one
block at a time; each query row keeps a running maximum $m$, a running sum $\ell$ and an
unnormalised output $a$. When a new block of scores $s$ arrives:

$$m' = \max(m, \max_j s_j),\quad \ell' = e^{m - m'}\ell + \sum_j e^{s_j - m'},\quad
a' = e^{m - m'} a + \sum_j e^{s_j - m'} v_j,$$

and at the end the output is $a / \ell$. The rescaling by $e^{m - m'}$ makes the result
exactly the softmax over all keys, while memory stays $O(L \cdot \text{block})$.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .scaled_dot_product import Problem, prepare

#: Default number of keys per block: a (L_block x 512) float32 score tile stays in cache.
KEY_BLOCK = 512
#: Default number of queries per block (smaller blocks let causal attention skip more).
QUERY_BLOCK = 512


def flash_attention(query, key, value, attn_mask=None, is_causal: bool = False, *, scale: float | None = None,
                    block_size: int | None = None):
    r"""Exact scaled dot-product attention without ever storing the $L \times S$ scores.

    Same semantics and results as :func:`attention.scaled_dot_product_attention`
    (batch dims, boolean/float masks, ``is_causal``, fully masked rows give 0,
    dtypes), computed block by block with the online softmax. With
    ``is_causal=True`` key blocks that lie entirely in the future of a query
    block are skipped, not computed.

    Parameters
    ----------
    query, key, value, attn_mask, is_causal, scale
        As in :func:`attention.scaled_dot_product_attention`.
    block_size : int, optional
        Queries and keys per block (default 512).

    Returns
    -------
    numpy.ndarray, shape (..., L, Ev)

    Raises
    ------
    TypeError, ValueError
        As :func:`attention.scaled_dot_product_attention`; ``ValueError`` for a
        ``block_size`` that is not a positive integer.

    Notes
    -----
    Peak extra memory is about ``query_block * block_size`` scores per batch
    element plus the output, instead of ``L * S`` scores. There is no weights
    output: the weights *are* the $L \times S$ matrix this function avoids.

    Examples
    --------
    >>> import numpy as np
    >>> from attention import scaled_dot_product_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((2, 100, 8)), rng.standard_normal((2, 300, 8)), rng.standard_normal((2, 300, 4))
    >>> out = flash_attention(q, k, v, is_causal=True, block_size=64)
    >>> out.shape
    (2, 100, 4)
    >>> bool(np.abs(out - scaled_dot_product_attention(q, k, v, is_causal=True)).max() < 1e-12)
    True
    """
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    prob = prepare(query, key, value, attn_mask, is_causal, scale)
    return blocked_attention(prob, key_block=block_size or KEY_BLOCK, query_block=block_size or QUERY_BLOCK)


def blocked_attention(prob: Problem, *, key_block: int = KEY_BLOCK, query_block: int = QUERY_BLOCK) -> np.ndarray:
    """The blocked computation on validated inputs (see :func:`prepare`). Query blocks are
    independent, so they run on a small thread pool (numpy releases the GIL in matmul and exp)."""
    q, k, v = prob.q, prob.k, prob.v  # (..., L, E), (..., S, E), (..., S, Ev)
    L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
    out = np.zeros((*prob.batch, L, Ev), dtype=q.dtype)  # (..., L, Ev)
    if L == 0 or S == 0:
        return out.astype(prob.out_dtype, copy=False)
    kT = np.swapaxes(k, -1, -2)  # (..., E, S)
    mask = prob.mask
    if mask is not None:
        mask = mask.reshape((1,) * (len(prob.batch) + 2 - mask.ndim) + mask.shape)  # (..., L or 1, S or 1)
    starts = range(0, L, query_block)

    def run(i0: int) -> None:
        i1 = min(i0 + query_block, L)
        _query_block(q[..., i0:i1, :], kT, v, mask, prob.is_causal, i0, key_block, out[..., i0:i1, :])

    workers = min(len(starts), os.cpu_count() or 1, 4)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    else:
        for i0 in starts:
            run(i0)
    return out.astype(prob.out_dtype, copy=False)


def _query_block(qb, kT, v, mask, is_causal, i0, key_block, out):
    """Online softmax over the key blocks for queries ``i0 .. i0 + len(qb)``; writes ``out``."""
    Lb, S = qb.shape[-2], kT.shape[-1]
    m = np.full(out.shape[:-1] + (1,), -np.inf, dtype=qb.dtype)  # (..., Lb, 1) running max
    total = np.zeros_like(m)  # (..., Lb, 1) running sum of exp
    last_key = min(S, i0 + Lb) if is_causal else S  # causal: later keys are all in the future
    for j0 in range(0, last_key, key_block):
        j1 = min(j0 + key_block, last_key)
        s = qb @ kT[..., j0:j1]  # (..., Lb, Bk)
        if is_causal and j1 - 1 > i0:  # block straddles the diagonal
            future = np.arange(j0, j1) > np.arange(i0, i0 + Lb)[:, None]  # (Lb, Bk)
            s[..., future] = -np.inf
        if mask is not None:
            mb = mask[..., i0 : i0 + Lb if mask.shape[-2] > 1 else 1, j0:j1 if mask.shape[-1] > 1 else 1]
            if mb.dtype == np.bool_:
                s = np.where(mb, s, -np.inf)  # (..., Lb, Bk)
            else:
                s = s + mb  # (..., Lb, Bk)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))  # (..., Lb, 1)
        m_safe = np.where(np.isneginf(m_new), 0.0, m_new).astype(s.dtype)  # rows with nothing allowed yet
        np.subtract(s, m_safe, out=s)
        np.exp(s, out=s)  # (..., Lb, Bk), every exponent <= 0
        correction = np.exp(m - m_safe)  # (..., Lb, 1), 0 while m is still -inf
        total *= correction
        total += s.sum(axis=-1, keepdims=True)
        out *= correction
        out += s @ v[..., j0:j1, :]  # (..., Lb, Ev)
        m = m_new
    np.divide(out, total, out=out, where=total > 0)  # fully masked rows stay 0
