"""The blocked (online-softmax) forward pass, query blocks on threads.

The computation behind ``flash_attention`` and the large-input path of
``scaled_dot_product_attention``: query blocks on threads, each visiting its key tiles (see
``attention.flash`` for the algorithm, ``tiles`` for the kernel).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .bounds import block_max, exp2_is_vectorised, fixed_limit, headroom, row_norms, value_limit, value_scale
from .problem import Problem
from .threads import run_each
from .tiles import KEY_BLOCK, OnlineSoftmax, even_query_block, fixed_reference, forbidden, tiles


def with_ones_column(x: np.ndarray) -> np.ndarray:
    """``[x, 1]``: x with a column of ones appended."""
    out = np.empty((*x.shape[:-1], x.shape[-1] + 1), dtype=x.dtype)  # (..., n, d+1)
    out[..., :-1] = x
    out[..., -1] = 1
    return out


def blocked_attention(prob: Problem, *, key_block: int = KEY_BLOCK, query_block: int | None = None,
                      return_lse: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Run the blocked forward pass on a validated problem.

    The blocked computation on a validated ``Problem``. ``query_block=None`` splits the
    queries evenly into blocks of at most ``QUERY_BLOCK``. With ``return_lse``, returns
    ``(out, lse)``, ``lse`` being each row's log-sum-exp of its scores (..., L).
    """
    q, k, v = prob.q, prob.k, prob.v  # (..., L, E), (..., S, E), (..., S, Ev); Q not yet scaled
    L, S, Ev = q.shape[-2], k.shape[-2], v.shape[-1]
    batch, dtype, scale = prob.batch, q.dtype, prob.scale
    lse = np.full((*batch, L), -np.inf, dtype=dtype) if return_lse else None  # (..., L)

    def finish(out: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        return (prob.finish(out), prob.finish_rows(lse)) if lse is not None else prob.finish(out)

    if L == 0 or S == 0 or math.prod(batch) == 0:  # nothing to attend to, or nothing to compute
        return finish(np.zeros((*batch, L, Ev), dtype=dtype))
    if query_block is None:
        query_block = even_query_block(L, math.prod(batch), prob.is_causal)
    out = np.empty((*batch, L, Ev), dtype=dtype)  # (..., L, Ev), every row written by one thread

    # Serial set-up is kept to what every block needs; the rest runs inside the threads.
    room = headroom(S, dtype)
    v_scale = value_scale(prob.v_max, value_limit(S, dtype, room))
    values = v if v_scale == 1 else np.multiply(v, dtype.type(1 / v_scale))  # (..., S, Ev): V / v_scale
    with np.errstate(over="ignore"):  # norms of huge keys may be inf: that only makes the bounds useless
        key_norm_max = block_max(row_norms(k), key_block)  # (..., S/Bk)
    base2 = exp2_is_vectorised(dtype.name)
    limit = fixed_limit(room, prob.mask)

    mask = forbidden(prob.mask, batch, dtype)  # (..., L or 1, S or 1)
    q, k, values = (np.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, values))
    key_norm_max = np.broadcast_to(key_norm_max, batch + key_norm_max.shape[-1:])
    key_norm_all = key_norm_max.max(axis=-1)  # (...)
    keys_with_ones = None  # [K, 1] for the general path, built by the first block that takes it (typical inputs: none)
    keys_lock = threading.Lock()  # blocks on other threads wait for it rather than build their own copy

    def general_keys() -> np.ndarray:
        nonlocal keys_with_ones
        with keys_lock:
            if keys_with_ones is None:
                keys_with_ones = np.broadcast_to(with_ones_column(prob.k), batch + (S, k.shape[-1] + 1))
        return keys_with_ones

    starts = range(0, L, query_block)
    if prob.is_causal:  # later query blocks see more keys: start them first so the threads finish together
        starts = starts[::-1]
    items = [(b, i0) for b in np.ndindex(batch) for i0 in starts]

    def run(item: tuple[tuple[int, ...], int]) -> None:
        b, i0 = item
        i1 = min(i0 + query_block, L)
        qb = q[b][i0:i1]  # (Lb, E), not yet scaled
        rows_mask = None if mask is None else mask[b][i0:i1] if mask.shape[-2] > 1 else mask[b]
        visits = tiles(i1 - i0, i0, S, key_block, prob.is_causal)
        with np.errstate(over="ignore"):
            q_norm = row_norms(qb) * abs(scale)  # (Lb,) norms of the scaled queries
        if float(q_norm.max()) * float(key_norm_all[b]) <= limit:
            sums = fixed_reference(qb, scale, k[b], values[b], rows_mask, visits, key_block, base2)
            ref: float | np.ndarray = 0  # the terms are e**s themselves
        else:
            rows = OnlineSoftmax(qb, scale, q_norm, general_keys()[b], values[b], key_norm_max[b], key_block, room,
                                 rows_mask)
            for r0, r1, j0, j1, causal_offset in visits:
                rows.visit(r0, r1, j0, j1, causal_offset=causal_offset)
            sums, ref = rows.sums, rows.ref
        sums.normalise(out[b][i0:i1], None if lse is None else lse[b][i0:i1], ref)

    run_each(run, items)
    if v_scale != 1:
        out *= v_scale
    return finish(out)
