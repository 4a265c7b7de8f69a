"""The blocked backward pass behind ``flash_attention_backward``: FlashAttention-2's recomputation.

The forward saved, per query row, the log-sum-exp ``lse`` of its scores, so any tile of the
weights can be rebuilt exactly as ``P = exp(S - lse)`` without a max pass or a sum. With
``D = rowsum(dO * O)`` (which equals ``rowsum(dP * P)``, because ``O = P V`` and ``dP = dO V^T``),
the softmax backward of a tile needs nothing from other tiles either: ``dS = P * (dP - D)``.

Work items are (batch element, key block): each owns its rows of dK and dV, and visits the
query blocks that may see its keys (causal: none before the block's first key). dQ gathers
contributions from every key block: each is computed outside any lock and then added under a
lock for its rows (the addition is a thousandth of the tile's work, so threads rarely wait).
Extra memory is a scaled copy of Q and a few tiles per thread, never ``L * S``.

**Large scores.** ``exp(S - lse)`` is exact only to about eps times the largest |score|: the
forward computed its scores in other tiles, and ``lse`` itself is rounded to that size. Where
that error could reach the exponent's first bits (``MAX_EXPONENT_ERROR``: for E = 64, float32
scores above about 4,000, float64 above about 2e12), the rebuilt weights would be off by factors of e, up to inf. Those
problems first recompute, per row, the maximum ``m`` and the sum ``l`` of the very scores the
tiles below produce (same tiles, same operations, so the same numbers) and ``D`` from them:
then ``P = exp(S - m) / l`` is at most 1 and sums to 1, as in the dense backward, at the cost of
one more pass over the tiles.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .bounds import LOG2E, exp2_floor, row_norms
from .problem import Problem, allowed, score_bound, sum_to_shape
from .threads import run_each
from .tiles import KEY_BLOCK, causal_penalty, forbidden, mask_tile, product, scratch

#: Locks guarding the rows of dQ (query block i of batch element n takes lock (n * blocks + i) mod LOCKS).
LOCKS = 64
#: Queries per tile of the backward: two 512 x 256 float32 tiles (scores and dP) stay in a core's L2 cache.
BACKWARD_QUERY_BLOCK = 512
#: Largest error bound of the exponent ``S - lse`` at which the weights are rebuilt from ``lse``
#: (a relative error of e**(1/16) - 1 = 6 %, reached only by that bound, not by typical errors).
MAX_EXPONENT_ERROR = 1 / 16


def blocked_backward(prob: Problem, dO: np.ndarray, out: np.ndarray, lse: np.ndarray, *,
                     key_block: int = KEY_BLOCK, query_block: int = BACKWARD_QUERY_BLOCK
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute the gradients of the blocked attention, tile by tile.

    Gradients ``(dq, dk, dv)`` of the blocked attention of ``prob``, given the upstream
    gradient ``dO`` (..., L, Ev), the forward's output ``out`` and its ``lse`` (..., L), all three
    with the output's batch dims (validated by the caller). Each gradient has the shape of the
    argument it belongs to (before ``prepare``): the caller reshapes them.
    """
    q, k, v = prob.q, prob.k, prob.v  # (..., L, E), (..., S, E), (..., S, Ev); Q not yet scaled
    L, S, E, Ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    batch, dtype, scale = prob.batch, q.dtype, prob.scale
    # The output's batch dims as the problem's (GQA: heads split into (kv heads, group)).
    dO = np.ascontiguousarray(dO.reshape(*batch, L, Ev), dtype=dtype)  # (..., L, Ev)
    out = out.reshape(*batch, L, Ev).astype(dtype, copy=False)  # (..., L, Ev)
    lse = lse.reshape(*batch, L).astype(dtype)  # (..., L), a copy: bad rows are changed below

    # The one rule for non-finite input (see ``problem``): a row that is NaN in the forward, or
    # whose dO, output or lse is not finite, gives NaN in its dQ and in dK, dV of every key it may
    # attend to. Such rows are computed as contributing nothing and written NaN at the end.
    bad = ~(np.isfinite(dO).all(axis=-1) & np.isfinite(out).all(axis=-1)) | np.isnan(lse) | (lse == np.inf)
    if prob.nan_rows is not None:
        bad |= prob.nan_rows
    if bad.any():
        dO = np.where(bad[..., None], 0, dO).astype(dtype)
        out = np.where(bad[..., None], 0, out).astype(dtype)
    # lse = -inf marks a row that may attend to no key: it gets no gradient, like a bad row
    # (lse = +inf turns every weight of the row into exp(-inf) = 0).
    lse[bad | (lse == -np.inf)] = np.inf
    D = np.einsum("...le,...le->...l", dO, out)  # (..., L) = rowsum(dO * O)

    dq = np.zeros((*batch, L, E), dtype=dtype)  # (..., L, E)
    dk = np.zeros((*batch, S, E), dtype=dtype)  # (..., S, E)
    dv = np.zeros((*batch, S, Ev), dtype=dtype)  # (..., S, Ev)
    if L and S and math.prod(batch):
        kernel = Kernel(prob, forbidden(prob.mask, batch, dtype), dO, lse, D, query_block, key_block)
        if kernel.exponent_error() > MAX_EXPONENT_ERROR:
            kernel.normalise_rows_itself()
            run_each(kernel.row_normalisers, [(b, i0) for b in np.ndindex(batch) for i0 in range(0, L, query_block)])
        items = [(n, b, j0) for n, b in enumerate(np.ndindex(batch)) for j0 in range(0, S, key_block)]
        if prob.is_causal:  # early key blocks are seen by more queries: start them first
            items.sort(key=lambda item: item[2])

        def run(item: tuple[int, tuple[int, ...], int]) -> None:
            n, b, j0 = item
            j1 = min(j0 + key_block, S)
            kernel.key_block_grads(b, j0, j1, dq[b], dk[b][j0:j1], dv[b][j0:j1], lock_id=n * (-(-L // query_block)))

        run_each(run, items)
        if scale:  # else dQ = dK = 0 exactly: the kernel skipped them (0 * an overflowed dS K would be NaN)
            dq *= dtype.type(scale)
            dk *= dtype.type(scale)
    if bad.any():
        dq[bad] = np.nan
        hit = keys_seen(bad, prob.mask, prob.is_causal, batch, S)  # (..., S)
        dk[hit] = np.nan
        dv[hit] = np.nan
    return sum_to_shape(dq, q.shape), sum_to_shape(dk, k.shape), sum_to_shape(dv, v.shape)


class Kernel:
    """The per-tile work of the blocked backward pass.

    Shared by the threads (read-only, but for the rows'
    normalisers, each row written by one thread).
    """

    def __init__(self, prob: Problem, mask: np.ndarray | None, dO: np.ndarray, lse: np.ndarray, D: np.ndarray,
                 query_block: int, key_block: int) -> None:
        q, k, v, batch = prob.q, prob.k, prob.v, prob.batch
        L, dtype = q.shape[-2], q.dtype
        self.q = np.broadcast_to(q, (*batch, *q.shape[-2:]))  # (..., L, E)
        self.k = np.broadcast_to(k, (*batch, *k.shape[-2:]))  # (..., S, E)
        self.v = np.broadcast_to(v, (*batch, *v.shape[-2:]))  # (..., S, Ev)
        self.dO, self.D, self.mask, self.is_causal = dO, D, mask, prob.is_causal
        self.query_block, self.key_block = query_block, key_block
        self.mask_size = score_bound(0.0, prob.mask)  # the largest |finite entry| of a float mask, else 0
        # Weights come from exp2 where that is fast: every exponent s - lse >= -2 |q| max|k| - log S
        # (since lse <= |q| max|k| + log S) must stay above exp2's slow range; a float mask can
        # move scores anywhere, so it always takes exp.
        floor = exp2_floor(dtype)  # -inf when exp2 is not vectorised here
        with np.errstate(over="ignore"):
            self.reach = float(row_norms(q).max(initial=0)) * float(row_norms(k).max(initial=0)) * abs(prob.scale)
        self.base2 = (mask is None or mask.dtype == np.bool_) and 2 * self.reach + math.log(max(k.shape[-2], 1)) < floor
        factor = prob.scale * LOG2E if self.base2 else prob.scale
        self.qs = np.multiply(self.q, dtype.type(factor))  # (..., L, E): Q scale (log2 e)
        # Each row's reference, subtracted from its scores before the exponential: lse (in the
        # exponential's base), or the row's own maximum after ``normalise_rows_itself``.
        self.reference = lse * dtype.type(LOG2E) if self.base2 else lse  # (..., L)
        self.inverse_sum: np.ndarray | None = None  # (..., L): 1 / l of the rows, when normalised here
        self.exp = np.exp2 if self.base2 else np.exp
        self.L = L
        self.input_grads = prob.scale != 0  # with scale 0, dQ and dK are 0 whatever dS is
        self.locks = [threading.Lock() for _ in range(LOCKS)]

    def exponent_error(self) -> float:
        """Bound the error of the exponents ``S - lse`` the tiles compute.

        A bound on the error of ``S - lse`` as the tiles compute it: both the forward's scores
        and these are a dot product of E terms (each off by up to (E + 2) eps |q| |k| scale), and
        lse and the float mask are rounded to their own size.
        """
        eps = float(np.finfo(self.qs.dtype).eps)
        finite = self.reference[np.isfinite(self.reference)]
        size = float(np.abs(finite).max(initial=0.0)) + self.mask_size
        E = self.q.shape[-1]
        return eps * (2 * (E + 2) * self.reach * (LOG2E if self.base2 else 1.0) + size)

    def normalise_rows_itself(self) -> None:
        """Make room for each row's own maximum, 1 / sum and D (filled by ``row_normalisers``)."""
        self.reference = self.reference.copy()
        self.inverse_sum = np.zeros_like(self.reference)
        self.D = self.D.copy()

    def exponents(self, b: tuple[int, ...], i0: int, i1: int, j0: int, j1: int, out: np.ndarray) -> np.ndarray:
        """Compute one tile's exponents (scores in the exponential's base, -inf where forbidden).

        The scores of rows ``i0 .. i1`` and keys ``j0 .. j1`` of batch element ``b``, in the
        exponential's base, with -inf where the mask or causality forbids, into ``out`` (n, w).
        Both passes call this for the same tiles, so they see the same numbers.
        """
        product(self.qs[b][i0:i1], self.k[b][j0:j1].T, out)  # (n, w) = scores (log2 e)
        if self.is_causal and j1 - 1 > i0:  # some of these keys lie in the future of some rows
            out += causal_penalty(i1 - i0, j1 - j0, j0 - i0, out.dtype)
        if self.mask is not None:
            tile_mask = mask_tile(self.mask[b], i0, i1, j0, j1)
            if tile_mask.dtype == np.bool_:
                np.copyto(out, -np.inf, where=tile_mask)
            else:
                out += tile_mask
        return out

    def query_tiles(self, j0: int) -> list[tuple[int, int]]:
        """Return the query tiles that meet the key block starting at ``j0``.

        The rows ``(i0, i1)`` of the tiles of the key block from ``j0``: query blocks that start
        at multiples of the query block, each taken from its first row that may see these keys
        (causal: none before ``j0``). A tile never crosses a block, so each has one lock for dQ.
        """
        qb = self.query_block
        first = j0 if self.is_causal else 0
        starts = [first, *range((first // qb + 1) * qb, self.L, qb)] if first < self.L else []
        return [(i0, min((i0 // qb + 1) * qb, self.L)) for i0 in starts]

    def row_normalisers(self, item: tuple[tuple[int, ...], int]) -> None:
        """Compute the rows' own normalisers (maximum, 1 / sum, D) by an online softmax.

        For query rows ``i0 ..`` of batch element ``b``: their maximum m over the tiles' scores,
        1 / l with l = sum e**(s - m), and D = sum P dP, by the online softmax over key blocks.
        """
        b, i0 = item
        i1 = min(i0 + self.query_block, self.L)
        n, dtype, S = i1 - i0, self.qs.dtype, self.k.shape[-2]
        m = np.full(n, -np.inf, dtype=dtype)  # (n,)
        total, pdp = np.zeros(n, dtype=dtype), np.zeros(n, dtype=dtype)  # (n,), (n,)
        tile_buf = scratch(self.query_block * self.key_block, dtype, slot=0)
        dp_buf = scratch(self.query_block * self.key_block, dtype, slot=1)
        for j0 in range(0, min(S, i1) if self.is_causal else S, self.key_block):
            j1 = min(j0 + self.key_block, S)
            r0 = max(i0, j0) if self.is_causal else i0  # the rows of key_block_grads' tile (query_tiles)
            t, w = slice(r0 - i0, n), j1 - j0
            x = self.exponents(b, r0, i1, j0, j1, tile_buf[: (i1 - r0) * w].reshape(i1 - r0, w))  # (t, w)
            dp = dp_buf[: (i1 - r0) * w].reshape(i1 - r0, w)  # (t, w)
            product(self.dO[b][r0:i1], self.v[b][j0:j1].T, dp)  # (t, w) = dP
            new_m = np.maximum(m[t], x.max(axis=1))  # (t,)
            shift = np.where(new_m == -np.inf, 0, new_m)  # (t,): rows that see no key yet stay at 0
            rescale = self.exp(m[t] - shift)  # (t,)
            x -= shift[:, None]
            self.exp(x, out=x)  # (t, w) = e**(s - m)
            total[t] = total[t] * rescale + x.sum(axis=1)
            pdp[t] = pdp[t] * rescale + np.einsum("nw,nw->n", x, dp)
            m[t] = new_m
        rows = slice(i0, i1)
        assert self.inverse_sum is not None  # normalise_rows_itself made it
        seen = (total > 0) & np.isfinite(self.reference[b][rows])  # bad rows keep their +inf
        self.reference[b][rows] = np.where(seen, m, np.inf)
        self.inverse_sum[b][rows] = np.where(seen, 1 / np.where(seen, total, 1), 0)
        self.D[b][rows] = np.where(seen, pdp / np.where(seen, total, 1), 0)

    def key_block_grads(self, b: tuple[int, ...], j0: int, j1: int, dq: np.ndarray, dk: np.ndarray, dv: np.ndarray,
                        lock_id: int = 0) -> None:
        """Add one key block's gradients to ``dq``, ``dk`` and ``dv``.

        Add the gradients from keys ``j0 .. j1`` of batch element ``b``: into ``dk`` and ``dv``
        (these keys' rows, owned by the caller) and into ``dq`` (this batch element's rows, shared:
        query block ``i`` is added under lock ``lock_id + i``, modulo the number of locks).
        """
        w, dtype = j1 - j0, self.qs.dtype
        kb, vb = self.k[b][j0:j1], self.v[b][j0:j1]  # (w, E), (w, Ev)
        q, dO, reference, D = self.q[b], self.dO[b], self.reference[b], self.D[b]
        inverse_sum = None if self.inverse_sum is None else self.inverse_sum[b]
        p_buf = scratch(self.query_block * w, dtype, slot=0)
        ds_buf = scratch(self.query_block * w, dtype, slot=1)
        dq_buf = scratch(self.query_block * q.shape[-1], dtype, slot=2)
        for i0, i1 in self.query_tiles(j0):
            n = i1 - i0
            p = self.exponents(b, i0, i1, j0, j1, p_buf[: n * w].reshape(n, w))  # (n, w)
            p -= reference[i0:i1, None]  # (n, w) = scores - lse, <= 0 up to rounding
            if inverse_sum is not None:  # the row's own maximum: exactly <= 0, kept so
                np.minimum(p, 0, out=p)
            self.exp(p, out=p)  # (n, w) = P, the forward's weights
            if inverse_sum is not None:
                p *= inverse_sum[i0:i1, None]
            dv += p.T @ dO[i0:i1]  # (w, Ev) += P^T dO
            if not self.input_grads:
                continue
            ds = ds_buf[: n * w].reshape(n, w)  # (n, w)
            product(dO[i0:i1], vb.T, ds)  # (n, w) = dP = dO V^T
            ds -= D[i0:i1, None]
            ds *= p  # (n, w) = dS = P * (dP - D)
            dk += ds.T @ q[i0:i1]  # (w, E) += dS^T Q (times scale at the end)
            dq_part = dq_buf[: n * q.shape[-1]].reshape(n, -1)  # (n, E)
            product(ds, kb, dq_part)  # (n, E) = dS K (times scale at the end)
            with self.locks[(lock_id + i0 // self.query_block) % LOCKS]:
                dq[i0:i1] += dq_part


def keys_seen(rows: np.ndarray, mask: np.ndarray | None, is_causal: bool, batch: tuple[int, ...], S: int) -> np.ndarray:
    """Which keys at least one of ``rows`` (..., L) may attend to: bool (..., S)."""
    if is_causal:  # key j is seen by rows i >= j: every key up to the last such row
        L = rows.shape[-1]
        last = np.where(rows.any(axis=-1), L - 1 - np.argmax(rows[..., ::-1], axis=-1), -1)  # (...)
        return np.arange(S) <= last[..., None]
    some = np.asarray(rows.any(axis=-1))  # (...): whether any of the rows is one
    if mask is None:
        return np.broadcast_to(some[..., None], (*batch, S))
    ok = allowed(mask, False, rows.shape[-1], S)  # (..., L or 1, S or 1)
    ok = np.broadcast_to(ok, (*ok.shape[:-2], ok.shape[-2], S))
    if ok.shape[-2] == 1:
        return np.broadcast_to(ok[..., 0, :] & some[..., None], (*batch, S))
    return np.broadcast_to((ok & rows[..., None]).any(axis=-2), (*batch, S))
