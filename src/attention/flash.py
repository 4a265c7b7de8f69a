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
  (:func:`_fixed_reference`). That is the common case: for queries and keys of
  unit-variance features the bound stays far below the headroom.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache

import numpy as np

from .scaled_dot_product import Problem, prepare

#: Default number of keys per block: a 2048 x 256 float32 score tile is 2 MiB.
KEY_BLOCK = 256
#: Default number of queries per block (fewer when that leaves a core without work) ...
QUERY_BLOCK = 2048
#: ... but not fewer than this.
MIN_QUERY_BLOCK = 256
#: ``e**x == 2**(x * LOG2E)``.
LOG2E = 1.4426950408889634
#: Largest exponent a lazily rescaled term may reach (e**40 ~ 2.4e17, far below float32's 3.4e38).
MAX_HEADROOM = 40


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
        Queries and keys per block. By default keys come in blocks of 256 and
        queries in blocks of at most 2048, split evenly.

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
    Peak extra memory is one score tile (2 MiB in float32 by default) per
    thread, the output, and copies of V (only when its entries are huge) and of
    K with one extra column (only when some scores are not bounded, see the
    module notes); never
    ``L * S`` scores. There is no weights output: the weights *are* the
    $L \times S$ matrix this function avoids.

    Query blocks (of every batch element) run on one thread per core, the
    calling thread included. Meanwhile
    the BLAS library is limited to one thread (with ``threadpoolctl``), so that
    its threads and ours do not fight over the cores; BLAS calls made by other
    threads of the program during that time are single-threaded too.

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
    """
    if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    prob = prepare(query, key, value, attn_mask, is_causal, scale)
    return blocked_attention(prob, key_block=block_size or KEY_BLOCK, query_block=block_size)


def blocked_attention(prob: Problem, *, key_block: int = KEY_BLOCK, query_block: int | None = None) -> np.ndarray:
    """The blocked computation on validated inputs (see :func:`prepare`). ``query_block=None``
    splits the queries evenly into blocks of at most :data:`QUERY_BLOCK`."""
    q, k, v = prob.q, prob.k, prob.v  # (..., L, E), (..., S, E), (..., S, Ev); Q not yet scaled
    L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
    batch, dtype, scale = prob.batch, q.dtype, prob.scale
    if query_block is None:
        query_block = _even_query_block(L, math.prod(batch), prob.is_causal)
    if L == 0 or S == 0:
        return np.zeros((*batch, L, Ev), dtype=prob.out_dtype)
    out = np.empty((*batch, L, Ev), dtype=dtype)  # (..., L, Ev), every row written by one thread

    # Serial set-up is kept to what every block needs; the rest runs inside the threads.
    headroom = _headroom(S, dtype)
    v_scale = _value_scale(v, _value_limit(S, dtype, headroom))
    values = v if v_scale == 1 else np.multiply(v, dtype.type(1 / v_scale))  # (..., S, Ev): V / v_scale
    with np.errstate(over="ignore"):  # a norm of inf only makes the bound useless, not wrong
        key_norm_max = _block_max(_row_norms(k), key_block)  # (..., S/Bk)
    base2 = _exp2_is_vectorised(dtype.name)
    fixed_limit = _fixed_limit(headroom, dtype, prob.mask)

    mask = prob.mask
    if mask is not None:
        mask = mask.reshape((1,) * (len(batch) + 2 - mask.ndim) + mask.shape)  # (..., L or 1, S or 1)
        mask = np.logical_not(mask) if mask.dtype == np.bool_ else mask.astype(dtype, copy=False)
        mask = np.broadcast_to(mask, batch + mask.shape[-2:])
    q, k, values = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, values))
    key_norm_max = np.broadcast_to(key_norm_max, batch + key_norm_max.shape[-1:])
    key_norm_all = key_norm_max.max(axis=-1)  # (...)
    # [K, 1] for the general path, built by the first block that takes it (typical inputs: none).
    keys_with_ones = cache(lambda: np.broadcast_to(_with_ones_column(prob.k), batch + (S, k.shape[-1] + 1)))

    starts = range(0, L, query_block)
    if prob.is_causal:  # later query blocks see more keys: start them first so the threads finish together
        starts = starts[::-1]
    items = [(b, i0) for b in np.ndindex(batch) for i0 in starts]

    def run(item) -> None:
        b, i0 = item
        i1 = min(i0 + query_block, L)
        qb = q[b][i0:i1]  # (Lb, E), not yet scaled
        rows_mask = None if mask is None else mask[b][i0:i1] if mask.shape[-2] > 1 else mask[b]
        visits = tiles(i1 - i0, i0, S, key_block, prob.is_causal)
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN inputs propagate as in the dense form
            q_norm = _row_norms(qb) * abs(scale)  # (Lb,) norms of the scaled queries
            # "<=" is False for NaN, so blocks with NaN or inf in Q or K take the general path.
            if float(q_norm.max()) * float(key_norm_all[b]) <= fixed_limit:
                sums = _fixed_reference(qb, scale, k[b], values[b], rows_mask, visits, key_block, base2)
            else:
                rows = _OnlineSoftmax(qb, scale, q_norm, keys_with_ones()[b], values[b], key_norm_max[b],
                                      key_block, headroom, rows_mask)
                for r0, r1, j0, j1, causal_offset in visits:
                    rows.visit(r0, r1, j0, j1, causal_offset=causal_offset)
                sums = rows.sums
            sums.normalise(out[b][i0:i1])

    if len(items) > 1 and _threads() > 1:
        with _one_blas_thread():
            _run_on_all_cores(run, items)
    else:
        for item in items:
            run(item)
    if v_scale != 1:
        out *= v_scale
    return out.astype(prob.out_dtype, copy=False)


def tiles(Lb: int, i0: int, S: int, key_block: int, is_causal: bool):
    """The tiles the query rows ``i0 .. i0 + Lb`` visit, in order, as ``(r0, r1, j0, j1, causal_offset)``:
    rows ``r0 .. r1`` (relative to ``i0``) meet keys ``j0 .. j1``; ``causal_offset`` is None
    when every pair is allowed, else the tile is masked above its diagonal (see ``visit``)."""
    last_key = min(S, i0 + Lb) if is_causal else S  # causal: later keys are all in the future
    for j0 in range(0, last_key, key_block):
        j1 = min(j0 + key_block, last_key)
        if not is_causal or j1 - 1 <= i0:
            yield 0, Lb, j0, j1, None
            continue
        # Query i sees key j <= i: rows before j0 see none of this block, rows from j1 - 1 on see all
        # of it, the rows between see a triangle. Only that triangle is computed and then masked.
        lo = max(0, j0 - i0)
        hi = min(Lb, max(lo, j1 - 1 - i0))
        if hi > lo:
            yield lo, hi, j0, j1, j0 - i0 - lo
        if Lb > hi:
            yield hi, Lb, j0, j1, None


class _OnlineSoftmax:
    """The running state of the online softmax for one block of query rows.

    ``qb`` is these rows of Q before ``scale``, ``keys`` is ``[K, 1]`` and ``values`` is V
    (see :func:`blocked_attention`);
    ``mask`` holds these rows of the boolean "forbidden" mask or of the float mask.
    """

    def __init__(self, qb, scale, q_norm, keys, values, key_norm_max, key_block, headroom, mask):
        Lb, E = qb.shape
        dtype = qb.dtype
        self.E = E
        self.keys, self.values, self.mask = keys, values, mask
        self.key_norm_max, self.key_block, self.headroom = key_norm_max, key_block, headroom
        self.fast_floor = _exp2_floor(dtype)
        self.qa = np.zeros((Lb, E + 1), dtype=dtype)  # (Lb, E+1): [Q scale, -r]
        np.multiply(qb, dtype.type(scale), out=self.qa[:, :E])
        self.qa2 = np.zeros_like(self.qa)  # (Lb, E+1): [Q scale, -r] log2(e), for tiles that take exp2
        np.multiply(self.qa[:, :E], dtype.type(LOG2E), out=self.qa2[:, :E])
        self.q_norm = q_norm  # (Lb,)
        self.q_norm_max = float(self.q_norm.max())
        self.sums = _Sums(Lb, values.shape[1], dtype)  # a and l, both relative to e**r
        self.tile = _scratch(Lb * key_block, dtype)  # flat, so every (rows, width) view is contiguous
        self.bound_holds = mask is None or mask.dtype == np.bool_  # a float mask may raise the scores
        # The reference r of each row must be a score that row really has (so r <= its maximum).
        # Without a mask every row may see key 0, and q . k_0 is such a score; with one, the
        # first tile's maximum sets r.
        self.ref = np.zeros(Lb, dtype=dtype)  # (Lb,)
        self.seen = np.zeros(Lb, dtype=bool)  # (Lb,) rows whose r is a real score
        if mask is None:
            self.seen = np.isfinite(np.matmul(self.qa[:, :E], keys[0, :E], out=self.ref))  # (Lb,) r = q . k_0
            self.ref[~self.seen] = 0
            self._reference_changed(slice(0, Lb))
        self.all_seen = bool(self.seen.all())
        self.ref_lo = self.ref_hi = 0.0  # min and max of r, valid once every row is seen
        if self.all_seen:
            self.ref_lo, self.ref_hi = float(self.ref.min()), float(self.ref.max())

    def visit(self, r0: int, r1: int, j0: int, j1: int, *, causal_offset: int | None = None) -> None:
        """Add keys ``j0 .. j1`` to rows ``r0 .. r1``; with ``causal_offset``, key ``c`` of the
        block is masked for row ``r`` when ``c + causal_offset > r - r0``."""
        rows, n, w = slice(r0, r1), r1 - r0, j1 - j0
        ref, q_norm = self.ref[rows], self.q_norm[rows]
        s = self.tile[: n * w].reshape(n, w)  # (n, Bk)
        # Cauchy-Schwarz: |q . k| <= |q| max|k| on this block. The scalar tests first, the
        # per-row test only when they fail; "not <=" so that NaN fails them too.
        k_norm = float(self.key_norm_max[j0 // self.key_block])
        moves = not (self.bound_holds and self.all_seen)
        if not moves and not self.q_norm_max * k_norm - self.ref_lo <= self.headroom:
            moves = bool((q_norm * k_norm - ref > self.headroom).any())
        masked = causal_offset is not None or self.mask is not None
        fast = not (moves or masked or self.fast_floor == -math.inf) and (
            self.q_norm_max * k_norm + self.ref_hi < self.fast_floor
            or bool((q_norm * k_norm + ref < self.fast_floor).all()))
        if fast:  # every exponent lies in exp2's fast range: no max pass, no masking, half the exp cost
            np.matmul(self.qa2[rows], self.keys[j0:j1].T, out=s)  # (n, Bk) = (Q K^T - r) log2(e)
            np.exp2(s, out=s)  # (n, Bk) = e**(Q K^T - r)
        else:
            np.matmul(self.qa[rows], self.keys[j0:j1].T, out=s)  # (n, Bk) = Q K^T - r
            if causal_offset is not None:
                s += _causal_penalty(n, w, causal_offset, s.dtype)  # (n, Bk), -inf in the future
            if self.mask is not None:
                tile_mask = _mask_tile(self.mask, r0, r1, j0, j1)
                if tile_mask.dtype == np.bool_:
                    np.copyto(s, -np.inf, where=tile_mask)
                else:
                    s += tile_mask
            if moves:
                self._rebase(rows, s)
            np.exp(s, out=s)  # (n, Bk), every term <= e**headroom
        self.sums.add(r0, s, self.values[j0:j1])

    def _rebase(self, rows: slice, s: np.ndarray) -> None:
        """Move the reference of rows whose scores could overflow (or that see their first key)
        to their maximum, rescaling what they have accumulated."""
        m = s.max(axis=1)  # (n,) relative to r
        seen = self.seen[rows]
        first = ~seen & np.isfinite(m)
        shift = np.where(first | (seen & (m > self.headroom)), m, 0).astype(s.dtype)  # (n,)
        if shift.any():
            s -= shift[:, None]
            self.sums.rescale(rows, np.exp(-np.where(seen, shift, 0)).astype(s.dtype))
            self.ref[rows] += shift
            self._reference_changed(rows)
        seen |= first
        self.all_seen = bool(self.seen.all())
        if self.all_seen:
            self.ref_lo, self.ref_hi = float(self.ref.min()), float(self.ref.max())

    def _reference_changed(self, rows: slice) -> None:
        self.qa[rows, self.E] = -self.ref[rows]
        np.multiply(self.ref[rows], -self.qa.dtype.type(LOG2E), out=self.qa2[rows, self.E])


def _fixed_reference(qb, scale: float, k, values, mask, visits, key_block: int, base2: bool) -> _Sums:
    """The online softmax for query rows whose every score is known to lie in ``[-T, T]``
    (Cauchy–Schwarz: ``|q . k| <= |q| max|k|``), T at most the headroom and, with ``base2``,
    inside exp2's fast range. Then no reference is needed at all (r = 0 for every row):
    ``e**s`` can neither overflow the sums nor fall below the smallest normal number, so
    floating point keeps the same relative precision as with the row maximum subtracted,
    and there is no max pass, no rescaling, no extra column in Q and K.

    ``qb`` is these rows of Q before ``scale``, ``k`` is K (S, E), ``values`` is V (S, Ev);
    masked keys are zeroed after the exponential.
    Returns the sums a and l, as :class:`_OnlineSoftmax` accumulates them.
    """
    Lb, dtype = qb.shape[0], qb.dtype
    exp = np.exp2 if base2 else np.exp
    qx = np.multiply(qb, dtype.type(scale * LOG2E if base2 else scale))  # (Lb, E): e**s = 2**(s log2 e)
    sums = _Sums(Lb, values.shape[1], dtype)
    tile = _scratch(Lb * key_block, dtype)
    for r0, r1, j0, j1, causal_offset in visits:
        n, w = r1 - r0, j1 - j0
        s = tile[: n * w].reshape(n, w)  # (n, Bk)
        np.matmul(qx[r0:r1], k[j0:j1].T, out=s)  # (n, Bk) = Q K^T (log2 e)
        exp(s, out=s)  # (n, Bk) = e**(Q K^T), within [e**-T, e**T]
        if causal_offset is not None:
            s *= _causal_allowed(n, w, causal_offset, dtype)  # (n, Bk), 0 in the future
        if mask is not None:
            np.copyto(s, 0, where=_mask_tile(mask, r0, r1, j0, j1))
        sums.add(r0, s, values[j0:j1])
    return sums


def _fixed_limit(headroom: float, dtype, mask) -> float:
    """Query blocks whose every ``|score|`` is at most this take :func:`_fixed_reference`: it is
    the headroom, and with a vectorised exp2 also the edge of exp2's fast range. -1 (no block)
    with a float mask, which may shift scores anywhere."""
    if mask is not None and mask.dtype != np.bool_:
        return -1.0
    floor = _exp2_floor(dtype)  # -inf when exp is used instead: then only the headroom limits
    return headroom if floor == -math.inf else min(headroom, floor)


class _Sums:
    """The two sums of the online softmax for ``Lb`` query rows: ``a = sum_j p_j v_j`` (Lb, Ev)
    and ``l = sum_j p_j`` (Lb,), where ``p_j`` are the exponentials of one tile after another."""

    def __init__(self, Lb: int, Ev: int, dtype):
        self.a = np.zeros((Lb, Ev), dtype=dtype)  # (Lb, Ev)
        self.l = np.zeros(Lb, dtype=dtype)  # (Lb,)
        self._a_part = np.empty((Lb, Ev), dtype=dtype)  # (Lb, Ev)
        self._l_part = np.empty(Lb, dtype=dtype)  # (Lb,)

    def add(self, r0: int, p: np.ndarray, values: np.ndarray) -> None:
        """Add the tile ``p`` (n, w) of rows ``r0 .. r0 + n`` with its keys' ``values`` (w, Ev)."""
        n, w = p.shape
        np.matmul(p, values, out=self._a_part[:n])  # (n, Ev)
        self.a[r0:r0 + n] += self._a_part[:n]
        # l by gemv: faster than p.sum(axis=1), and no slower than a 65th column of ones in V.
        np.matmul(p, _ones(w, p.dtype), out=self._l_part[:n])  # (n,)
        self.l[r0:r0 + n] += self._l_part[:n]

    def rescale(self, rows: slice, factor: np.ndarray) -> None:
        """Multiply both sums of ``rows`` by ``factor`` (one per row), as the reference moves."""
        self.a[rows] *= factor[:, None]
        self.l[rows] *= factor

    def normalise(self, out: np.ndarray) -> None:
        """out = a / l; rows that saw no allowed key (l = 0, so a = 0 too) get 0."""
        np.divide(self.a, self.l[:, None], out=out)  # (Lb, Ev)
        if not self.l.all():
            out[self.l == 0] = 0


@lru_cache(maxsize=8)
def _ones(n: int, dtype) -> np.ndarray:
    """(n,) read-only ones, shared by the threads."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def _row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of every row (last axis) of x."""
    return np.sqrt(np.einsum("...e,...e->...", x, x))  # (...)


def _mask_tile(mask: np.ndarray, r0: int, r1: int, j0: int, j1: int) -> np.ndarray:
    """Rows ``r0 .. r1`` and keys ``j0 .. j1`` of a mask whose axes may have size 1 (broadcast)."""
    return mask[slice(r0, r1) if mask.shape[0] > 1 else slice(0, 1), slice(j0, j1) if mask.shape[1] > 1 else slice(0, 1)]


@lru_cache(maxsize=32)
def _causal_allowed(rows: int, cols: int, offset: int, dtype) -> np.ndarray:
    """(rows, cols): 1 where column ``c`` may be seen by row ``r`` (``c + offset <= r``), else 0;
    read-only, shared by the threads. The lower triangle ``np.tri`` is
    :func:`attention.causal_mask`'s, shifted by ``offset``."""
    allowed = np.tri(rows, cols, -offset, dtype=dtype)
    allowed.flags.writeable = False
    return allowed


@lru_cache(maxsize=16)
def _causal_penalty(rows: int, cols: int, offset: int, dtype) -> np.ndarray:
    """(rows, cols): 0 where :func:`_causal_allowed`, -inf in the future; read-only."""
    penalty = np.where(_causal_allowed(rows, cols, offset, dtype), 0.0, -np.inf).astype(dtype)
    penalty.flags.writeable = False
    return penalty


def _with_ones_column(x: np.ndarray) -> np.ndarray:
    """``[x, 1]``: x with a column of ones appended."""
    out = np.empty((*x.shape[:-1], x.shape[-1] + 1), dtype=x.dtype)  # (..., n, d+1)
    out[..., :-1] = x
    out[..., -1] = 1
    return out


_local = threading.local()


#: Largest scratch buffer kept per thread between calls, in bytes.
SCRATCH_KEEP = 4 * 2**20


def _scratch(size: int, dtype) -> np.ndarray:
    """A per-thread buffer of at least ``size`` elements, reused across calls (fresh
    megabyte-sized allocations cost page faults on every call); buffers larger than
    :data:`SCRATCH_KEEP` are not kept."""
    if size * np.dtype(dtype).itemsize > SCRATCH_KEEP:
        return np.empty(size, dtype=dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(np.dtype(dtype))
    if buf is None or buf.size < size:
        buf = buffers[np.dtype(dtype)] = np.empty(size, dtype=dtype)
    return buf[:size]


def _block_max(x: np.ndarray, block: int) -> np.ndarray:
    """Maximum of each run of ``block`` entries along the last axis (the last run may be shorter)."""
    starts = np.arange(0, x.shape[-1], block)
    return np.maximum.reduceat(x, starts, axis=-1)  # (..., ceil(S / block))


def _sum_budget(S: int, dtype) -> float:
    """B with S * e**B = (largest float) * e**-8: S terms up to e**B, times values below 2, sum
    to at most twice that, a margin of e**8 / 2 below overflow."""
    return math.log(np.finfo(dtype).max) - 8 - math.log(S)


def _headroom(S: int, dtype) -> float:
    """How far (T) above the reference a score may go before the reference must move: at most
    :data:`MAX_HEADROOM`, and never beyond the budget of :func:`_sum_budget`."""
    return float(min(MAX_HEADROOM, max(0.0, _sum_budget(S, dtype))))


def _value_limit(S: int, dtype, headroom: float) -> float:
    """Values below this keep the unnormalised sums as far from overflow as values below 2 do
    with terms up to e**budget: S terms up to e**headroom times it sum to at most
    2 * (largest float) * e**-8. In float32 with T = 40 and S = 4096 that is about 2e14."""
    return 2 * math.exp(min(700.0, _sum_budget(S, dtype) - headroom))


def _value_scale(v: np.ndarray, limit: float) -> float:
    """A power of two to divide V by: 1 if max|v| is below ``limit`` (or not finite), else one
    that brings it below 2.

    The online softmax sums up to S unnormalised terms times values, and only divides by
    the weights' sum at the end: values near the largest float would overflow on the way.
    Dividing by a power of two, and multiplying back at the end, is exact. Typical values
    are far below the limit, so V is used as it is, without a copy."""
    vmax = float(max(v.max(), -v.min())) if v.size else 0.0
    if not (math.isfinite(vmax) and vmax >= limit):
        return 1.0
    return math.ldexp(1.0, math.frexp(vmax)[1] - 1)  # vmax < 2**e, so 2**(e-1) stays finite


def _exp2_floor(dtype) -> float:
    """Scores may fall this far (natural units) below the reference and still keep exp2 in
    its fast range; -inf when exp2 has no fast path on this machine.

    numpy's vectorised exp2 takes a slow path for results below the smallest normal number
    (and for -inf): up to 100x slower. Tiles where that could happen use exp instead, which
    is constant-time; the two agree to a few ulp.
    """
    if not _exp2_is_vectorised(np.dtype(dtype).name):
        return -math.inf
    return (-np.finfo(dtype).minexp - 6) * math.log(2)


@cache
def _exp2_is_vectorised(dtype_name: str) -> bool:
    """True when numpy dispatches exp2 for this dtype to a SIMD kernel (not the baseline loop)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:  # numpy < 2.0
        return False
    char = np.dtype(dtype_name).char
    loops = opt_func_info(func_name="^exp2$", signature=f"^{dtype_name}$").get("exp2", {})
    return not loops.get(char * 2, {}).get("current", "baseline").startswith("baseline")


def _even_query_block(L: int, n_batch: int, is_causal: bool, threads: int | None = None) -> int:
    """Split L queries evenly into blocks of at most QUERY_BLOCK, and into enough blocks (down to
    MIN_QUERY_BLOCK) that every core has work: two per core when causal, whose blocks differ in size."""
    if L == 0:
        return 1
    wanted = -(-(threads or _threads()) * (2 if is_causal else 1) // n_batch)
    blocks = max(-(-L // QUERY_BLOCK), min(wanted, -(-L // MIN_QUERY_BLOCK)))
    return -(-L // blocks)


@cache
def _threads() -> int:
    """The number of cores, read once: ``os.cpu_count()`` takes microseconds a call."""
    return os.cpu_count() or 1


def _run_on_all_cores(run, items: list) -> None:
    """``run(item)`` for every item, in order of start, on the pool's threads and this one.

    The calling thread takes work too, so it starts at once instead of waiting for a pool
    thread to wake up (hundreds of microseconds on some virtual machines)."""
    queue = iter(items)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            run(item)

    helpers = [_executor().submit(worker) for _ in range(min(_threads(), len(items)) - 1)]
    try:
        worker()
    finally:
        for helper in helpers:
            helper.result()


@cache
def _executor() -> ThreadPoolExecutor:
    """One pool for the whole process: starting threads on every call costs milliseconds. The
    calling thread is the other worker (see :func:`_run_on_all_cores`)."""
    return ThreadPoolExecutor(max(1, _threads() - 1), thread_name_prefix="attention")


@cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """Limit the BLAS library to one thread while our own threads run matrix products."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
