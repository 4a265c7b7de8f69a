r"""Exact attention in blocks with the online softmax (FlashAttention's idea, in numpy).

The naive form stores the whole $L \times S$ score matrix. Here keys are visited one
block at a time; each query row keeps a running maximum $m$, a running sum $\ell$ and an
unnormalised output $a$. When a new block of scores $s$ arrives:

$$m' = \max(m, \max_j s_j),\quad \ell' = e^{m - m'}\ell + \sum_j e^{s_j - m'},\quad
a' = e^{m - m'} a + \sum_j e^{s_j - m'} v_j,$$

and at the end the output is $a / \ell$. The rescaling by $e^{m - m'}$ makes the result
exactly the softmax over all keys, while memory stays $O(L \cdot \text{block})$.

numpy cannot fuse the softmax into the matrix products, and each extra pass over a score
tile costs a sizeable fraction of the products. So the loop does, per tile, just the two
matrix products, one exponential and one matrix-vector product:

- **The reference moves into the product.** Q gets an extra column $-r$ and K a column of
  ones, so $[q, -r] \cdot [k, 1] = q \cdot k - r$ comes out of the product already shifted.
- **The sum is a matrix-vector product.** $\ell = p\,\mathbf 1$ is one BLAS ``gemv`` over
  the tile, faster than ``np.sum`` along its rows. (A column of ones appended to V would put
  it inside the second product, but BLAS computes columns in groups: a 65th column costs far
  more than 1/65 of the product.)
- **Lazy rescaling.** The reference $r$ of a row is always one of its real scores, so
  $r \le \max_j s_j$: the largest term is $\ge 1$ and nothing underflows that the textbook
  form keeps. $r$ has to move only when a score could exceed $r + T$ (terms up to $e^T$
  cannot overflow the sums). Cauchy–Schwarz bounds every score of a tile,
  $|q \cdot k| \le \lVert q\rVert \max_j \lVert k_j\rVert$, so the max pass over a tile
  runs only when that bound says it may be needed; for typical inputs, never.
- **exp2 where it is fast.** $e^x = 2^{x \log_2 e}$, and numpy's vectorised ``exp2`` is
  about twice as fast as ``exp`` in float32, except on results below the smallest normal
  number, where it is up to 100 times slower. The same bound tells when no score of a tile
  can get there; those tiles use Q scaled by $\log_2 e$ and ``exp2``, the others ``exp``.
- **Often no reference at all.** When the bound shows that every score of a query block lies
  within $\pm T$, $e^{s}$ itself can neither overflow nor underflow: the reference stays 0,
  Q and K need no extra column, and no tile is ever checked or rescaled
  (``tiles.fixed_reference`` in ``attention._internal``). That is the common case: for queries and keys of
  unit-variance features the bound stays far below the headroom.

Explained in the note ``docs/en/notes/long-sequences.md`` (中文 ``docs/zh/notes/long-sequences.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.blocked import blocked_attention
from ._internal.blocked_backward import blocked_backward
from ._internal.bounds import MAX_HEADROOM  # noqa: F401 - the long-sequences note explains it, as flash.MAX_HEADROOM
from ._internal.problem import Problem, prepare
from ._internal.tiles import KEY_BLOCK, MIN_TILE, QUERY_BLOCK  # noqa: F401 - likewise, the default block sizes
from ._internal.validation import as_real_array, check_bool, check_int

__all__ = ["flash_attention", "flash_attention_backward"]


def flash_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = None,
                    is_causal: bool = False, *, scale: float | None = None, block_size: int | None = None,
                    enable_gqa: bool = False, return_lse: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Exact scaled dot-product attention without ever storing the $L \times S$ scores.

    Same semantics and results as [scaled_dot_product_attention][attention.scaled_dot_product_attention]
    (batch dims, boolean/float masks, ``is_causal``, ``enable_gqa``, fully masked rows give 0,
    the NaN rule, dtypes), computed block by block with the online softmax. With
    ``is_causal=True`` key blocks that lie entirely in the future of a query block are
    skipped, not computed.

    Parameters
    ----------
    query, key, value, attn_mask, is_causal, scale, enable_gqa
        As in [scaled_dot_product_attention][attention.scaled_dot_product_attention].
    block_size : int, optional
        Keys per block, and queries per block, both capped at the sizes. So that Python's
        per-tile overhead does not dominate, the query block grows until a tile holds at
        least 4096 scores (a ``block_size`` of 1 means tiles of 4096 queries x 1 key). By
        default keys come in blocks of 256 and queries in blocks of at most 2048, split evenly.
    return_lse : bool, default False
        Also return each row's log-sum-exp of its scores, what
        [flash_attention_backward][attention.flash_attention_backward] needs to recompute the weights.

    Returns
    -------
    output : numpy.ndarray, shape (..., L, Ev)
    lse : numpy.ndarray, shape (..., L)
        Only with ``return_lse=True``: $\log \sum_j e^{s_{ij}}$ over the keys row $i$ may attend
        to ($s$ the scaled and masked scores), so that the weights are $e^{s_{ij} - \mathrm{lse}_i}$;
        $-\infty$ for a fully masked row, NaN for a NaN row. In the dtype the scores were computed
        in: float32 for float16 and float32 inputs (float64 when their scores could overflow
        float32), float64 for float64 inputs.

    Raises
    ------
    TypeError, ValueError
        As [scaled_dot_product_attention][attention.scaled_dot_product_attention]; for a
        ``block_size`` that is not an integer (``TypeError``) or below 1 (``ValueError``).

    Notes
    -----
    Peak extra memory is, per thread, one score tile (2 MiB in float32 by
    default) and its query block's working arrays (Q scaled, the running output
    and the part added to it: three (block, E) arrays, 1.5 MiB for a block of
    2,048 queries with E = 64 in float32); the output; and copies of V (only when its entries are huge) and of
    K with one extra column (only when some scores are not bounded, see the
    module notes); never ``L * S`` scores. There is no weights output: the weights
    *are* the $L \times S$ matrix this function avoids.

    Query blocks (of every batch element) run on one thread per core, the
    calling thread included. Meanwhile the BLAS library is limited to one
    thread (with ``threadpoolctl``; restored when the last concurrent call
    ends), so that its threads and ours do not fight over the cores; BLAS calls
    made by other threads of the program during that time are single-threaded
    too, from whichever thread they come. The pool is re-created in a child
    process after ``fork``. Ctrl-C starts no new block: the blocks already
    running finish, then ``KeyboardInterrupt`` is raised.

    Results agree with the dense form to rounding: the blocks add the terms in
    a different order, and ``exp`` and ``exp2`` differ by a few ulp.

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

    Scores of 1e6 do not overflow, as in the dense form:

    >>> big = np.array([[1e3, 0.0], [0.0, 1e3]])
    >>> flash_attention(big, big, np.eye(2), scale=1.0)
    array([[1., 0.],
           [0., 1.]])

    The log-sum-exp of a row whose two scores are 0 is log 2:

    >>> out, lse = flash_attention(np.zeros((1, 4)), np.zeros((2, 4)), np.ones((2, 1)), return_lse=True)
    >>> bool(np.isclose(lse[0], np.log(2)))
    True
    """
    return_lse = check_bool("return_lse", return_lse)
    prob = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    return blocked_attention(prob, **_block_sizes(prob, block_size), return_lse=return_lse)


def _block_sizes(prob: Problem, block_size: int | None) -> dict[str, int]:
    """Return the key and query block sizes a ``block_size`` asks for (see ``flash_attention``); {} for the defaults."""
    if block_size is None:
        return {}
    block_size = check_int("block_size", block_size, minimum=1)
    L, S = prob.q.shape[-2], prob.k.shape[-2]
    key_block = min(block_size, max(S, 1))
    return {"key_block": key_block, "query_block": min(max(block_size, -(-MIN_TILE // key_block)), max(L, 1))}


def flash_attention_backward(grad_output: ArrayLike, query: ArrayLike, key: ArrayLike, value: ArrayLike,
                             output: ArrayLike, lse: ArrayLike, attn_mask: ArrayLike | None = None,
                             is_causal: bool = False, *, scale: float | None = None, block_size: int | None = None,
                             enable_gqa: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of [flash_attention][attention.flash_attention] without ever storing the $L \times S$ weights.

    FlashAttention-2's backward: each tile of the weights is recomputed from the scores and
    the saved log-sum-exp, $P = e^{S - \mathrm{lse}}$, and the softmax backward needs one
    number per row from the forward, $D_i = \sum_e dO_{ie} O_{ie}$ (equal to
    $\sum_j dP_{ij} P_{ij}$, since $O = PV$ and $dP = dO\,V^\top$):

    $$dV = P^\top dO,\quad dP = dO\,V^\top,\quad dS = P \odot (dP - D),\quad
    dQ = \text{scale}\cdot dS\,K,\quad dK = \text{scale}\cdot dS^\top Q.$$

    Parameters
    ----------
    grad_output : array_like, shape (..., L, Ev)
        Gradient of the loss with respect to the output.
    query, key, value, attn_mask, is_causal, scale, enable_gqa
        As given to the forward call.
    output, lse : array_like, shapes (..., L, Ev) and (..., L)
        What ``flash_attention(..., return_lse=True)`` returned.
    block_size : int, optional
        Keys per block (each block's dK and dV are one work item); by default 256.

    Returns
    -------
    grad_query, grad_key, grad_value : numpy.ndarray
        Shaped like ``query``, ``key`` and ``value`` (summed over the dims they were broadcast
        over, and over each group of query heads with ``enable_gqa``), in the output's dtype.
        A fully masked row contributes no gradient. A row that is NaN in the forward, or whose
        ``grad_output``, ``output`` or ``lse`` is not finite (other than the ``lse`` of $-\infty$
        of a fully masked row), gives NaN in its row of ``grad_query`` and in the rows of
        ``grad_key`` and ``grad_value`` of every key it may attend to.

    Raises
    ------
    TypeError, ValueError
        As [flash_attention][attention.flash_attention]; also when ``grad_output`` or
        ``output`` does not have the output's shape or ``lse`` not its rows' shape.

    Notes
    -----
    Matches [sdpa_backward][attention.sdpa_backward] (and PyTorch's autograd) to rounding.
    Precision rule, tested by property over score magnitudes up to the dtype's overflow bound:
    wherever the dense backward is finite, each gradient's error is at most **4 times the dense
    backward's error** plus $16\,\epsilon\,(1 + (E+2)\max|S|)$ times the size of its terms (the
    rebuilt weights $e^{S - \mathrm{lse}}$ carry the rounding of the scores in their exponent).
    When that rounding could reach the exponent's first bits ($2(E+2)\epsilon\max|S|$ above
    1/16: for $E = 64$, float32 scores above about 4,000, float64 above about $2 \cdot 10^{12}$),
    each row's maximum and sum are first recomputed from the
    same tiles, so that the weights are at most 1 and sum to 1 as in the dense form; this costs
    one more pass over the tiles. With ``scale=0``, ``grad_query`` and ``grad_key`` are 0.
    Key blocks run on one thread per core; with ``is_causal=True`` a key block visits only the
    queries that may see it. Extra memory besides the gradients: a scaled copy of Q, and per thread two
    tiles of 512 x 256 scores, never $L \times S$. Threads add into dQ in an order that
    varies from call to call, so float32 results may differ in the last bits between calls.

    Examples
    --------
    >>> import numpy as np
    >>> from attention import sdpa_backward
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((2, 100, 8)), rng.standard_normal((2, 300, 8)), rng.standard_normal((2, 300, 4))
    >>> out, lse = flash_attention(q, k, v, is_causal=True, return_lse=True)
    >>> dO = rng.standard_normal(out.shape)
    >>> grads = flash_attention_backward(dO, q, k, v, out, lse, is_causal=True)
    >>> dense = sdpa_backward(dO, q, k, v, is_causal=True)
    >>> [bool(np.abs(g - d).max() < 1e-12) for g, d in zip(grads, dense)]
    [True, True, True]
    """
    prob = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    sizes = _block_sizes(prob, block_size)
    L, Ev = prob.q.shape[-2], prob.v.shape[-1]
    rows = (*prob.out_batch, L)
    dO = as_real_array("grad_output", grad_output)
    out = as_real_array("output", output)
    lse = as_real_array("lse", lse)
    for name, x, shape in (("grad_output", dO, (*rows, Ev)), ("output", out, (*rows, Ev)), ("lse", lse, rows)):
        if x.shape != shape:
            dims = "(..., L)" if name == "lse" else "(..., L, Ev)"
            raise ValueError(f"{name} must have shape {dims} = {shape} for these inputs, got {x.shape}")
    grads = blocked_backward(prob, dO, out, lse, **({"key_block": sizes["key_block"]} if sizes else {}))
    shapes = [np.shape(x) for x in (query, key, value)]
    dq, dk, dv = (g.reshape(shape).astype(prob.out_dtype, copy=False) for g, shape in zip(grads, shapes))
    return dq, dk, dv
