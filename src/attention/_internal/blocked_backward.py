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
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .bounds import LOG2E, exp2_floor, row_norms
from .problem import Problem, sum_to_shape
from .threads import run_each
from .tiles import KEY_BLOCK, causal_penalty, forbidden, mask_tile, scratch

#: Locks guarding the rows of dQ (query block i of batch element n takes lock (n * blocks + i) mod LOCKS).
LOCKS = 64
#: Queries per tile of the backward: two 512 x 256 float32 tiles (scores and dP) stay in a core's L2 cache.
BACKWARD_QUERY_BLOCK = 512


def blocked_backward(prob: Problem, dO: np.ndarray, out: np.ndarray, lse: np.ndarray, *,
                     key_block: int = KEY_BLOCK, query_block: int = BACKWARD_QUERY_BLOCK):
    """Gradients ``(dq, dk, dv)`` of the blocked attention of ``prob``, given the upstream
    gradient ``dO`` (..., L, Ev), the forward's output ``out`` and its ``lse`` (..., L), all three
    with the output's batch dims (validated by the caller). Each gradient has the shape of the
    argument it belongs to (before ``prepare``): the caller reshapes them."""
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
        kernel = Kernel(prob, forbidden(prob.mask, batch, dtype), dO, lse, D, query_block)
        items = [(n, b, j0) for n, b in enumerate(np.ndindex(batch)) for j0 in range(0, S, key_block)]
        if prob.is_causal:  # early key blocks are seen by more queries: start them first
            items.sort(key=lambda item: item[2])

        def run(item) -> None:
            n, b, j0 = item
            j1 = min(j0 + key_block, S)
            kernel.key_block(b, j0, j1, dq[b], dk[b][j0:j1], dv[b][j0:j1], lock_id=n * (-(-L // query_block)))

        run_each(run, items)
        dq *= dtype.type(scale)
        dk *= dtype.type(scale)
    if bad.any():
        dq[bad] = np.nan
        hit = keys_seen(bad, prob.mask, prob.is_causal, batch, S)  # (..., S)
        dk[hit] = np.nan
        dv[hit] = np.nan
    return tuple(sum_to_shape(g, a.shape) for g, a in ((dq, q), (dk, k), (dv, v)))


class Kernel:
    """The per-tile work of the backward, shared by the threads (read-only)."""

    def __init__(self, prob: Problem, mask, dO, lse, D, query_block: int):
        q, k, v, batch = prob.q, prob.k, prob.v, prob.batch
        L, dtype = q.shape[-2], q.dtype
        self.q = np.broadcast_to(q, (*batch, *q.shape[-2:]))  # (..., L, E)
        self.k = np.broadcast_to(k, (*batch, *k.shape[-2:]))  # (..., S, E)
        self.v = np.broadcast_to(v, (*batch, *v.shape[-2:]))  # (..., S, Ev)
        self.dO, self.D, self.mask, self.is_causal = dO, D, mask, prob.is_causal
        self.query_block = query_block
        # Weights come from exp2 where that is fast: every exponent s - lse >= -2 |q| max|k| - log S
        # (since lse <= |q| max|k| + log S) must stay above exp2's slow range; a float mask can
        # move scores anywhere, so it always takes exp.
        floor = exp2_floor(dtype)  # -inf when exp2 is not vectorised here
        with np.errstate(over="ignore"):
            reach = float(row_norms(q).max(initial=0)) * float(row_norms(k).max(initial=0)) * abs(prob.scale)
        self.base2 = (mask is None or mask.dtype == np.bool_) and 2 * reach + math.log(max(k.shape[-2], 1)) < floor
        factor = prob.scale * LOG2E if self.base2 else prob.scale
        self.qs = np.multiply(self.q, dtype.type(factor))  # (..., L, E): Q scale (log2 e)
        self.lse = lse * dtype.type(LOG2E) if self.base2 else lse  # (..., L)
        self.exp = np.exp2 if self.base2 else np.exp
        self.L = L
        self.locks = [threading.Lock() for _ in range(LOCKS)]

    def key_block(self, b, j0: int, j1: int, dq, dk, dv, lock_id: int = 0) -> None:
        """Add the gradients from keys ``j0 .. j1`` of batch element ``b``: into ``dk`` and ``dv``
        (these keys' rows, owned by the caller) and into ``dq`` (this batch element's rows, shared:
        query block ``i`` is added under lock ``lock_id + i``, modulo the number of locks)."""
        w, dtype = j1 - j0, self.qs.dtype
        kb, vb = self.k[b][j0:j1], self.v[b][j0:j1]  # (w, E), (w, Ev)
        qs, q, dO, lse, D = self.qs[b], self.q[b], self.dO[b], self.lse[b], self.D[b]
        p_buf = scratch(self.query_block * w, dtype, slot=0)
        ds_buf = scratch(self.query_block * w, dtype, slot=1)
        dq_buf = scratch(self.query_block * q.shape[-1], dtype, slot=2)
        # Causal: rows before this block's first key see none of its keys.
        for i0 in range(j0 if self.is_causal else 0, self.L, self.query_block):
            i1 = min(i0 + self.query_block, self.L)
            n = i1 - i0
            p = p_buf[: n * w].reshape(n, w)  # (n, w)
            np.matmul(qs[i0:i1], kb.T, out=p)  # (n, w) = scores (log2 e)
            p -= lse[i0:i1, None]  # (n, w) = scores - lse, <= 0 up to rounding
            if self.is_causal and j1 - 1 > i0:  # some of these keys lie in the future of some rows
                p += causal_penalty(n, w, j0 - i0, dtype)
            if self.mask is not None:
                tile_mask = mask_tile(self.mask[b], i0, i1, j0, j1)
                if tile_mask.dtype == np.bool_:
                    np.copyto(p, -np.inf, where=tile_mask)
                else:
                    p += tile_mask
            self.exp(p, out=p)  # (n, w) = P, the forward's weights
            dv += p.T @ dO[i0:i1]  # (w, Ev) += P^T dO
            ds = ds_buf[: n * w].reshape(n, w)  # (n, w)
            np.matmul(dO[i0:i1], vb.T, out=ds)  # (n, w) = dP = dO V^T
            ds -= D[i0:i1, None]
            ds *= p  # (n, w) = dS = P * (dP - D)
            dk += ds.T @ q[i0:i1]  # (w, E) += dS^T Q (times scale at the end)
            dq_part = dq_buf[: n * q.shape[-1]].reshape(n, -1)  # (n, E)
            np.matmul(ds, kb, out=dq_part)  # (n, E) = dS K (times scale at the end)
            with self.locks[(lock_id + i0 // self.query_block) % LOCKS]:
                dq[i0:i1] += dq_part


def keys_seen(rows: np.ndarray, mask, is_causal: bool, batch, S: int) -> np.ndarray:
    """Which keys at least one of ``rows`` (..., L) may attend to: bool (..., S)."""
    if is_causal:  # key j is seen by rows i >= j: every key up to the last such row
        L = rows.shape[-1]
        last = np.where(rows.any(axis=-1), L - 1 - np.argmax(rows[..., ::-1], axis=-1), -1)  # (...)
        return np.arange(S) <= last[..., None]
    if mask is None:
        return np.broadcast_to(rows.any(axis=-1)[..., None], (*batch, S))
    ok = mask if mask.dtype == np.bool_ else mask != -np.inf  # (..., L or 1, S or 1)
    ok = np.broadcast_to(ok, (*ok.shape[:-2], ok.shape[-2], S))
    if ok.shape[-2] == 1:
        return np.broadcast_to(ok[..., 0, :] & rows.any(axis=-1)[..., None], (*batch, S))
    return np.broadcast_to((ok & rows[..., None]).any(axis=-2), (*batch, S))
