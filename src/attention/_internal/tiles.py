"""The online softmax over tiles of scores: the kernel of the blocked path (see ``attention.flash``).

Inputs are always finite here (``problem.prepare`` quarantines NaN and inf); masks arrive as
a boolean "forbidden" array or a float array with ``-inf`` for forbidden pairs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np

from .bounds import LOG2E, exp2_floor
from .threads import cores

#: Default number of keys per block: a 2048 x 256 float32 score tile is 2 MiB.
KEY_BLOCK = 256
#: Default number of queries per block (fewer when that leaves a core without work) ...
QUERY_BLOCK = 2048
#: ... but not fewer than this.
MIN_QUERY_BLOCK = 256
#: Fewest scores per tile that a ``block_size`` asks for: smaller tiles cost more in Python
#: overhead than in arithmetic, so the query block grows until a tile holds this many.
MIN_TILE = 4096
#: Largest scratch buffer kept per thread between calls, in bytes.
SCRATCH_KEEP = 4 * 2**20


def product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Multiply ``a @ b`` into ``out``: the products the forward and backward kernels write into their buffers.

    The kernels only see finite inputs (``problem`` sets non-finite rows aside), so an "invalid" flag
    raised in here is the BLAS kernel's own, from junk in lanes it does not use: seen in test runs, float32
    (10, 5) by (5, 1) in the forward and (1, 5) by (5, 1) in the backward, each once in thousands of runs.
    It is ignored; an overflow is still reported.
    """
    with np.errstate(invalid="ignore"):
        return np.matmul(a, b, out=out)


def even_query_block(L: int, n_batch: int, is_causal: bool, threads: int | None = None) -> int:
    """Return a query block size that splits L queries evenly.

    Split L queries evenly into blocks of at most QUERY_BLOCK, and into enough blocks (down to
    MIN_QUERY_BLOCK) that every core has work: two per core when causal, whose blocks differ in size.
    """
    if L == 0 or n_batch == 0:
        return 1
    wanted = -(-(threads or cores()) * (2 if is_causal else 1) // n_batch)
    blocks = max(-(-L // QUERY_BLOCK), min(wanted, -(-L // MIN_QUERY_BLOCK)))
    return -(-L // blocks)


def tiles(Lb: int, i0: int, S: int, key_block: int, is_causal: bool) -> Iterator[tuple[int, int, int, int, int | None]]:
    """Yield the tiles the query rows ``i0 .. i0 + Lb`` visit, in order.

    The tiles the query rows ``i0 .. i0 + Lb`` visit, in order, as ``(r0, r1, j0, j1, causal_offset)``:
    rows ``r0 .. r1`` (relative to ``i0``) meet keys ``j0 .. j1``; ``causal_offset`` is None
    when every pair is allowed, else the tile is masked above its diagonal (see ``visit``).
    """
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


class OnlineSoftmax:
    """The running state of the online softmax for one block of query rows.

    ``qb`` is these rows of Q before ``scale``, ``keys`` is ``[K, 1]`` and ``values`` is V;
    ``mask`` holds these rows of the boolean "forbidden" mask or of the float mask.
    """

    def __init__(self, qb: np.ndarray, scale: float, q_norm: np.ndarray, keys: np.ndarray, values: np.ndarray,
                 key_norm_max: np.ndarray, key_block: int, headroom: float, mask: np.ndarray | None) -> None:
        Lb, E = qb.shape
        dtype = qb.dtype
        self.E = E
        self.keys, self.values, self.mask = keys, values, mask
        self.key_norm_max, self.key_block, self.headroom = key_norm_max, key_block, headroom
        self.fast_floor = exp2_floor(dtype)
        self.qa = np.zeros((Lb, E + 1), dtype=dtype)  # (Lb, E+1): [Q scale, -r]
        np.multiply(qb, dtype.type(scale), out=self.qa[:, :E])
        self.qa2 = np.zeros_like(self.qa)  # (Lb, E+1): [Q scale, -r] log2(e), for tiles that take exp2
        np.multiply(self.qa[:, :E], dtype.type(LOG2E), out=self.qa2[:, :E])
        self.q_norm = q_norm  # (Lb,)
        self.q_norm_max = float(self.q_norm.max())
        self.sums = Sums(Lb, values.shape[1], dtype)  # a and l, both relative to e**r
        self.tile = scratch(Lb * key_block, dtype)  # flat, so every (rows, width) view is contiguous
        self.bound_holds = mask is None or mask.dtype == np.bool_  # a float mask may raise the scores
        # The reference r of each row must be a score that row really has (so r <= its maximum).
        # Without a mask every row may see key 0, and q . k_0 is such a score; with one, the
        # first tile's maximum sets r.
        self.ref = np.zeros(Lb, dtype=dtype)  # (Lb,)
        self.seen = np.zeros(Lb, dtype=bool)  # (Lb,) rows whose r is a real score
        if mask is None:
            product(self.qa[:, :E], keys[0, :E], self.ref)  # (Lb,) r = q . k_0
            self.seen[:] = True
            self._reference_changed(slice(0, Lb))
        self.all_seen = bool(self.seen.all())
        self.ref_lo = self.ref_hi = self.ref_abs = 0.0  # min, max and max |r|, valid once every row is seen
        if self.all_seen:
            self.ref_lo, self.ref_hi = float(self.ref.min()), float(self.ref.max())
            self.ref_abs = max(-self.ref_lo, self.ref_hi)
        self.rounding = (E + 2) * float(np.finfo(dtype).eps)  # relative error of the product [q, -r] [k, 1]

    def visit(self, r0: int, r1: int, j0: int, j1: int, *, causal_offset: int | None = None) -> None:
        """Add keys ``j0 .. j1`` to rows ``r0 .. r1``.

        With ``causal_offset``, key ``c`` of the
        block is masked for row ``r`` when ``c + causal_offset > r - r0``.
        """
        rows, n, w = slice(r0, r1), r1 - r0, j1 - j0
        ref, q_norm = self.ref[rows], self.q_norm[rows]
        s = self.tile[: n * w].reshape(n, w)  # (n, Bk)
        # Cauchy-Schwarz: |q . k| <= |q| max|k| on this block, and the product q.k - r itself may be
        # off by up to (E + 2) eps (|q| max|k| + |r|). The scalar tests first, the per-row test only
        # when they fail.
        k_norm = float(self.key_norm_max[j0 // self.key_block])
        moves = not (self.bound_holds and self.all_seen)
        if not moves and not (self.q_norm_max * k_norm - self.ref_lo
                              + self.rounding * (self.q_norm_max * k_norm + self.ref_abs) <= self.headroom):
            with np.errstate(over="ignore", invalid="ignore"):  # a bound of inf or NaN (0 * inf) moves
                reach = q_norm * k_norm  # (n,)
                moves = not bool((reach - ref + self.rounding * (reach + np.abs(ref)) <= self.headroom).all())
        masked = causal_offset is not None or self.mask is not None
        fast = not (moves or masked or self.fast_floor == -math.inf) and (
            self.q_norm_max * k_norm + self.ref_hi < self.fast_floor
            or bool((q_norm * k_norm + ref < self.fast_floor).all()))
        if fast:  # every exponent lies in exp2's fast range: no max pass, no masking, half the exp cost
            product(self.qa2[rows], self.keys[j0:j1].T, s)  # (n, Bk) = (Q K^T - r) log2(e)
            np.exp2(s, out=s)  # (n, Bk) = e**(Q K^T - r)
        elif moves:
            # The reference may have to move: take the scores themselves (not q.k - r, whose rounding
            # grows with |r|), move r to the maximum where needed, and subtract it as the dense form does.
            self._scores(s, r0, r1, j0, j1, causal_offset, shifted=False)  # (n, Bk) = Q K^T
            self._rebase(rows, s)
            s -= self.ref[rows][:, None]
            np.exp(s, out=s)  # (n, Bk), every term <= e**headroom
        else:
            self._scores(s, r0, r1, j0, j1, causal_offset, shifted=True)  # (n, Bk) = Q K^T - r
            np.exp(s, out=s)  # (n, Bk), every term <= e**headroom
        self.sums.add(r0, s, self.values[j0:j1])

    def _scores(self, s: np.ndarray, r0: int, r1: int, j0: int, j1: int, causal_offset: int | None, *,
                shifted: bool) -> None:
        """S = Q K^T (- r if ``shifted``) on this tile, with -inf where the tile is masked."""
        n, w = s.shape
        if shifted:
            product(self.qa[r0:r1], self.keys[j0:j1].T, s)  # (n, Bk) = [Q, -r] [K, 1]^T
        else:
            product(self.qa[r0:r1, :self.E], self.keys[j0:j1, :self.E].T, s)  # (n, Bk)
        if causal_offset is not None:
            s += causal_penalty(n, w, causal_offset, s.dtype)  # (n, Bk), -inf in the future
        if self.mask is not None:
            tile_mask = mask_tile(self.mask, r0, r1, j0, j1)
            if tile_mask.dtype == np.bool_:
                np.copyto(s, -np.inf, where=tile_mask)
            else:
                s += tile_mask

    def _rebase(self, rows: slice, s: np.ndarray) -> None:
        """Move the reference of rows whose scores outgrew it.

        Rows whose scores ``s`` (not shifted) exceed it by more than the
        headroom, or that hold nothing yet, to their maximum, rescaling what they have accumulated.
        """
        m = s.max(axis=1)  # (n,)
        ref, seen = self.ref[rows], self.seen[rows]
        # A row that holds nothing yet (l = 0: no key seen, or every term so far 0) takes this tile's
        # maximum as it is, up or down. Its reference q . k_0 came from another product, whose rounding
        # ((E + 2) eps |q . k_0|) exceeds exp's range when scores are huge (float32 scores of 1e9):
        # every term of the row would underflow to 0.
        empty = self.sums.l[rows] == 0  # (n,)
        first = empty & np.isfinite(m)
        move = first | (seen & (m - ref > self.headroom))  # (n,)
        if move.any():
            new = np.where(move, m, ref).astype(s.dtype)  # (n,) each a score the row really has
            # Rows that hold nothing have nothing to rescale (factor 0, not exp of anything).
            with np.errstate(under="ignore"):
                factor = np.where(empty, 0, np.exp(np.where(empty, 0, ref - new))).astype(s.dtype)
            self.sums.rescale(rows, factor)
            self.ref[rows] = new
            self._reference_changed(rows)
        seen |= first
        self.all_seen = bool(self.seen.all())
        if self.all_seen:
            self.ref_lo, self.ref_hi = float(self.ref.min()), float(self.ref.max())
            self.ref_abs = max(-self.ref_lo, self.ref_hi)

    def _reference_changed(self, rows: slice) -> None:
        self.qa[rows, self.E] = -self.ref[rows]
        np.multiply(self.ref[rows], -self.qa.dtype.type(LOG2E), out=self.qa2[rows, self.E])


def fixed_reference(qb: np.ndarray, scale: float, k: np.ndarray, values: np.ndarray, mask: np.ndarray | None,
                    visits: Iterable[tuple[int, int, int, int, int | None]], key_block: int, base2: bool) -> Sums:
    """Run the online softmax with no reference, for rows whose scores are bounded.

    The online softmax for query rows whose every score is known to lie in ``[-T, T]``
    (Cauchy–Schwarz: ``|q . k| <= |q| max|k|``), T at most the headroom and, with ``base2``,
    inside exp2's fast range. Then no reference is needed at all (r = 0 for every row):
    ``e**s`` can neither overflow the sums nor fall below the smallest normal number, so
    floating point keeps the same relative precision as with the row maximum subtracted,
    and there is no max pass, no rescaling, no extra column in Q and K.

    ``qb`` is these rows of Q before ``scale``, ``k`` is K (S, E), ``values`` is V (S, Ev);
    masked keys are zeroed after the exponential.
    Returns the sums a and l, as ``OnlineSoftmax`` accumulates them.
    """
    Lb, dtype = qb.shape[0], qb.dtype
    exp = np.exp2 if base2 else np.exp
    qx = np.multiply(qb, dtype.type(scale * LOG2E if base2 else scale))  # (Lb, E): e**s = 2**(s log2 e)
    sums = Sums(Lb, values.shape[1], dtype)
    tile = scratch(Lb * key_block, dtype)
    for r0, r1, j0, j1, causal_offset in visits:
        n, w = r1 - r0, j1 - j0
        s = tile[: n * w].reshape(n, w)  # (n, Bk)
        product(qx[r0:r1], k[j0:j1].T, s)  # (n, Bk) = Q K^T (log2 e)
        exp(s, out=s)  # (n, Bk) = e**(Q K^T), within [e**-T, e**T]
        if causal_offset is not None:
            s *= causal_allowed(n, w, causal_offset, dtype)  # (n, Bk), 0 in the future
        if mask is not None:
            np.copyto(s, 0, where=mask_tile(mask, r0, r1, j0, j1))
        sums.add(r0, s, values[j0:j1])
    return sums


class Sums:
    """The two sums of the online softmax for ``Lb`` query rows.

    ``a = sum_j p_j v_j`` (Lb, Ev)
    and ``l = sum_j p_j`` (Lb,), where ``p_j`` are the exponentials of one tile after another.
    """

    def __init__(self, Lb: int, Ev: int, dtype: np.typing.DTypeLike) -> None:
        self.a = np.zeros((Lb, Ev), dtype=dtype)  # (Lb, Ev)
        self.l = np.zeros(Lb, dtype=dtype)  # (Lb,)
        self._a_part = np.empty((Lb, Ev), dtype=dtype)  # (Lb, Ev)
        self._l_part = np.empty(Lb, dtype=dtype)  # (Lb,)

    def add(self, r0: int, p: np.ndarray, values: np.ndarray) -> None:
        """Add the tile ``p`` (n, w) of rows ``r0 .. r0 + n`` with its keys' ``values`` (w, Ev)."""
        n, w = p.shape
        product(p, values, self._a_part[:n])  # (n, Ev)
        self.a[r0:r0 + n] += self._a_part[:n]
        # l by gemv: faster than p.sum(axis=1), and no slower than a 65th column of ones in V.
        product(p, ones(w, p.dtype), self._l_part[:n])  # (n,)
        self.l[r0:r0 + n] += self._l_part[:n]

    def rescale(self, rows: slice, factor: np.ndarray) -> None:
        """Multiply both sums of ``rows`` by ``factor`` (one per row), as the reference moves."""
        self.a[rows] *= factor[:, None]
        self.l[rows] *= factor

    def normalise(self, out: np.ndarray, lse: np.ndarray | None = None, ref: float | np.ndarray = 0) -> None:
        """Write out = a / l (and the log-sum-exp).

        out = a / l; rows that saw no allowed key (l = 0, so a = 0 too) get 0. With ``lse``
        also the row log-sum-exp ``ref + log l`` (-inf where l = 0), ``ref`` being what the
        terms were taken relative to (``e**(s - ref)``).
        """
        np.divide(self.a, self.l[:, None], out=out, where=self.l[:, None] > 0)  # (Lb, Ev)
        if not self.l.all():
            out[self.l == 0] = 0
        if lse is not None:
            with np.errstate(divide="ignore"):  # log 0 = -inf: the fully masked rows
                np.log(self.l, out=lse)  # (Lb,)
            lse += ref


@lru_cache(maxsize=8)
def ones(n: int, dtype: np.typing.DTypeLike) -> np.ndarray:
    """(n,) read-only ones, shared by the threads."""
    vector = np.ones(n, dtype=dtype)
    vector.flags.writeable = False
    return vector


def forbidden(mask: np.ndarray | None, batch: tuple[int, ...], dtype: np.typing.DTypeLike) -> np.ndarray | None:
    """Return a problem's mask as the kernels read it.

    A problem's mask as the kernels read it: broadcast to (..., L or 1, S or 1) over ``batch``,
    boolean masks inverted (True = forbidden), float masks in ``dtype``.
    """
    if mask is None:
        return None
    mask = mask.reshape((1,) * (len(batch) + 2 - mask.ndim) + mask.shape)  # (..., L or 1, S or 1)
    mask = np.logical_not(mask) if mask.dtype == np.bool_ else mask.astype(dtype, copy=False)
    return np.broadcast_to(mask, batch + mask.shape[-2:])


def mask_tile(mask: np.ndarray, r0: int, r1: int, j0: int, j1: int) -> np.ndarray:
    """Rows ``r0 .. r1`` and keys ``j0 .. j1`` of a mask whose axes may have size 1 (broadcast)."""
    rows = slice(r0, r1) if mask.shape[0] > 1 else slice(0, 1)
    return mask[rows, slice(j0, j1) if mask.shape[1] > 1 else slice(0, 1)]


@lru_cache(maxsize=32)
def causal_allowed(rows: int, cols: int, offset: int, dtype: np.dtype) -> np.ndarray:
    """Return the (rows, cols) 0/1 causal mask of a tile, shared and read-only.

    (rows, cols): 1 where column ``c`` may be seen by row ``r`` (``c + offset <= r``), else 0;
    read-only, shared by the threads. The lower triangle ``np.tri`` is
    [causal_mask][attention.causal_mask]'s, shifted by ``offset``.
    """
    allowed = np.tri(rows, cols, -offset, dtype=dtype)
    allowed.flags.writeable = False
    return allowed


@lru_cache(maxsize=16)
def causal_penalty(rows: int, cols: int, offset: int, dtype: np.dtype) -> np.ndarray:
    """(rows, cols): 0 where ``causal_allowed``, -inf in the future; read-only."""
    penalty = np.where(causal_allowed(rows, cols, offset, dtype), 0.0, -np.inf).astype(dtype)
    penalty.flags.writeable = False
    return penalty


_local = threading.local()


def scratch(size: int, dtype: np.typing.DTypeLike, slot: int = 0) -> np.ndarray:
    """Return a per-thread scratch buffer of at least ``size`` elements.

    A per-thread buffer of at least ``size`` elements, reused across calls (fresh
    megabyte-sized allocations cost page faults on every call); buffers larger than
    ``SCRATCH_KEEP`` are not kept. Different ``slot``s are different buffers.
    """
    if size * np.dtype(dtype).itemsize > SCRATCH_KEEP:
        return np.empty(size, dtype=dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    key = (np.dtype(dtype), slot)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = buffers[key] = np.empty(size, dtype=dtype)
    return buf[:size]
