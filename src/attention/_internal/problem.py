"""The validated inputs of every attention function, and the one rule for non-finite inputs.

Every path (dense, blocked, flash; any size and block size) computes on a ``Problem``
made by ``prepare``, and hands its result to ``Problem.finish``. So they agree on:

- **Non-finite inputs.** A row whose query, or any key, value or float-mask entry it may
  attend to, holds NaN or ±inf gives NaN in that row. ``prepare`` finds those rows and
  replaces the non-finite entries by 0, so the kernels only ever see finite numbers (no
  RuntimeWarning, no NaN leaking through a masked key: ``0 * nan`` is NaN in a matrix
  product); ``finish`` writes the NaN rows.
- **Masked inputs do not matter.** A key or value a row may not attend to (bool mask False,
  float mask ``-inf``, causal future) does not affect that row, whatever it holds.
- **A fully masked row is 0**, whatever its query holds.
- **Scores stay in range.** float16/float32 inputs whose scores could leave float32's range
  are computed in float64. Rows whose scores could leave float64's range count as
  non-finite (NaN): when the bound ``E max|q| max|k| |scale|`` (+ the largest finite float mask
  entry) passes float64's largest value / 4, each row whose ``|q| max|k| |scale|`` is above
  largest / 8 (about 2.2e307).
"""

from __future__ import annotations

import math
from typing import NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike

from .validation import as_mask, as_real_array, check_bool, check_scale, default_scale, working_dtype


class Problem(NamedTuple):
    """Validated attention inputs in the working dtype, all finite.

    ``q`` is not yet multiplied
    by ``scale``: each path does that where it is cheapest. With GQA the heads axis is split
    into (kv heads, group), and ``finish`` merges it back.
    """

    q: np.ndarray  # (..., L, E)
    k: np.ndarray  # (..., S, E)
    v: np.ndarray  # (..., S, Ev)
    mask: np.ndarray | None  # broadcastable to (..., L, S); bool (True = may attend) or float
    is_causal: bool
    batch: tuple[int, ...]
    out_dtype: np.dtype
    scale: float
    nan_rows: np.ndarray | None  # broadcastable to (..., L): rows that come out NaN, or None
    out_batch: tuple[int, ...]  # the batch dims of the result (differs from batch with GQA)
    v_max: float  # max |v|

    @overload
    def finish(self, out: np.ndarray, weights: None = None) -> np.ndarray: ...

    @overload
    def finish(self, out: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def finish(self, out: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Apply the NaN rows, merge GQA groups back into heads and cast to the output dtype."""
        results = [out] if weights is None else [out, weights]
        for i, r in enumerate(results):
            if self.nan_rows is not None:  # every path hands over arrays of its own, writeable
                r[np.broadcast_to(self.nan_rows, r.shape[:-1])] = np.nan
            results[i] = r.reshape(*self.out_batch, *r.shape[-2:]).astype(self.out_dtype, copy=False)
        return results[0] if weights is None else (results[0], results[1])

    def finish_rows(self, x: np.ndarray) -> np.ndarray:
        """Finish a per-row result (NaN rows, GQA groups merged back).

        ``finish`` for one number per query row (..., L), such as the log-sum-exp: NaN rows,
        GQA groups merged back; the dtype stays the one the scores were computed in.
        """
        if self.nan_rows is not None:
            x[np.broadcast_to(self.nan_rows, x.shape)] = np.nan
        return x.reshape(*self.out_batch, x.shape[-1])


def prepare(query: ArrayLike, key: ArrayLike, value: ArrayLike, attn_mask: ArrayLike | None = None,
            is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> Problem:
    """Validate the inputs shared by every attention function and bring them to the working dtype."""
    q = as_real_array("query", query, min_ndim=2)  # (..., L, E)
    k = as_real_array("key", key, min_ndim=2)  # (..., S, E)
    v = as_real_array("value", value, min_ndim=2)  # (..., S, Ev)
    is_causal = check_bool("is_causal", is_causal)
    enable_gqa = check_bool("enable_gqa", enable_gqa)
    scale = check_scale(scale)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"query and key must have the same feature size E: query {q.shape} vs key {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"key and value must have the same length S: key {k.shape} vs value {v.shape}")
    if q.shape[-1] == 0:
        raise ValueError(f"query and key need E >= 1 features, got query {q.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError("pass either attn_mask or is_causal=True, not both")
    groups = _gqa_groups(q, k, v) if enable_gqa else 1
    try:
        out_batch = np.broadcast_shapes(q.shape[:-2], *(_heads_as(x, groups) for x in (k, v)))
    except ValueError:
        raise ValueError(f"batch dims of query {q.shape}, key {k.shape} and value {v.shape} do not broadcast") from None
    L, S = q.shape[-2], k.shape[-2]
    mask = None if attn_mask is None else check_mask(attn_mask, (*out_batch, L, S))
    if groups > 1:  # (..., Hq, L, E) -> (..., Hkv, G, L, E); keys and values get a group axis of 1
        q = q.reshape(*q.shape[:-3], q.shape[-3] // groups, groups, *q.shape[-2:])
        k, v = k[..., None, :, :], v[..., None, :, :]
        if mask is not None and mask.ndim >= 3:
            split = (mask.shape[-3] // groups, groups) if mask.shape[-3] > 1 else (1, 1)
            mask = mask.reshape(*mask.shape[:-3], *split, *mask.shape[-2:])
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    out_dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    work = working_dtype(out_dtype)
    scale = default_scale(q.shape[-1]) if scale is None else scale
    q, k, v = (x.astype(work, copy=False) for x in (q, k, v))
    if mask is not None and mask.dtype != np.bool_:
        mask = mask.astype(work, copy=False)
    nan_rows = None
    extent = [_abs_max(x) for x in (q, k, v)]  # inf when an entry is not finite
    if math.inf in extent or not (mask is None or mask.dtype == np.bool_ or _finite_or_neg_inf(mask)):
        q, k, v, mask, nan_rows = _quarantine(q, k, v, mask, is_causal, batch)
        extent = [_abs_max(x) for x in (q, k, v)]
    if scale == 0:  # every score is 0 (plus the mask) however large Q is: no product of Q may overflow
        q = np.zeros_like(q)
        extent[0] = 0.0
    bound = score_bound(q.shape[-1] * extent[0] * extent[1] * abs(scale), mask)
    if work != np.float64 and bound > float(np.finfo(work).max) / 4:
        work = np.dtype(np.float64)  # scores could overflow float32: compute them in float64
        q, k, v = (x.astype(work) for x in (q, k, v))
        mask = mask if mask is None or mask.dtype == np.bool_ else mask.astype(work)
    if bound > np.finfo(np.float64).max / 4:
        q, nan_rows = _drop_overflowing_rows(q, k, scale, mask, is_causal, nan_rows, batch)
    return Problem(q, k, v, mask, is_causal, batch, out_dtype, float(scale), nan_rows, out_batch, extent[2])


def _gqa_groups(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> int:
    """Query heads per key/value head, for ``enable_gqa=True``: heads are dim -3."""
    if min(q.ndim, k.ndim, v.ndim) < 3:
        raise ValueError(f"enable_gqa needs a heads dim (..., H, L, E): query {q.shape}, key {k.shape}, "
                         f"value {v.shape}")
    Hq, Hk, Hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if Hk != Hv or Hk == 0 or Hq % Hk:
        raise ValueError(
            f"enable_gqa needs key and value heads that divide the query heads: query heads {Hq}, "
            f"key heads {Hk}, value heads {Hv}"
        )
    return Hq // Hk


def _heads_as(x: np.ndarray, groups: int) -> tuple[int, ...]:
    """Return the batch dims of ``x`` with its heads counted as the query's (for broadcasting with GQA)."""
    if groups == 1:
        return x.shape[:-2]
    return (*x.shape[:-3], x.shape[-3] * groups)


def check_mask(attn_mask: object, scores_shape: tuple[int, ...]) -> np.ndarray:
    """``attn_mask`` as a bool or floating array that broadcasts to ``scores_shape``."""
    mask = as_mask("attn_mask", attn_mask)
    try:
        ok = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"attn_mask with shape {mask.shape} does not broadcast to the scores' shape (..., L, S) = {scores_shape}"
        )
    return mask


def allowed(mask: np.ndarray | None, is_causal: bool, L: int, S: int,
            cols: slice | np.ndarray = slice(None)) -> np.ndarray:
    """Which (row, key) pairs may attend, for the keys ``cols``: bool, broadcastable to (..., L, len(cols))."""
    if is_causal:
        return np.arange(L)[:, None] >= np.arange(S)[cols][None, :]  # (L, n): the causal mask's lower triangle
    if mask is None:
        return np.ones((1, 1), dtype=bool)
    sub = mask if mask.shape[-1] == 1 else mask[..., cols]
    return sub if sub.dtype == np.bool_ else np.not_equal(sub, -np.inf)


def attends(mask: np.ndarray | None, is_causal: bool, L: int, S: int) -> np.ndarray:
    """Rows that may attend to at least one key: bool, broadcastable to (..., L)."""
    if S == 0:
        return np.zeros(1, dtype=bool)
    if mask is None or is_causal:  # causal: every row sees key 0
        return np.ones(1, dtype=bool)
    return np.asarray(allowed(mask, False, L, S).any(axis=-1))  # (..., L)


def _finite_or_neg_inf(mask: np.ndarray) -> bool:
    """No NaN and no +inf: both show in the maximum (NaN propagates), which needs no temporary array."""
    return bool(distinct(mask).max(initial=-np.inf) < np.inf)


def _quarantine(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, is_causal: bool,
                batch: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Find the rows that come out NaN (see the module notes) and zero the non-finite entries."""
    L, S = q.shape[-2], k.shape[-2]
    bad_q = ~np.isfinite(q).all(axis=-1)  # (..., L)
    bad_kv = ~(np.isfinite(k).all(axis=-1) & np.isfinite(v).all(axis=-1))  # (..., S)
    bad_kv = np.broadcast_to(bad_kv, (*batch, S))
    rows = np.zeros((*batch, L), dtype=bool)  # (..., L)
    cols = np.flatnonzero(bad_kv.any(axis=tuple(range(bad_kv.ndim - 1))))  # keys bad in some batch element, (n,)
    if cols.size:
        rows |= (allowed(mask, is_causal, L, S, cols) & bad_kv[..., None, cols]).any(axis=-1)
    if mask is not None and mask.dtype != np.bool_:
        bad_mask = ~np.isfinite(mask) & (mask != -np.inf)  # NaN or +inf entries, (..., L or 1, S or 1)
        if bad_mask.any():
            rows |= np.broadcast_to(bad_mask.any(axis=-1), (*batch, L))
            mask = np.where(bad_mask, 0, mask).astype(mask.dtype)
    if bad_q.any():
        rows |= bad_q & attends(mask, is_causal, L, S)
    q, k, v = (np.where(np.isfinite(x), x, 0).astype(x.dtype) for x in (q, k, v))
    return q, k, v, mask, rows


def distinct(x: np.ndarray) -> np.ndarray:
    """Return ``x`` with each broadcast axis taken once.

    ``x`` with each axis of stride 0 (a broadcast view's repeats) taken once: what a scan of its
    values needs. A view broadcast to a batch of 10**9 is then scanned in no time, and the
    allocation of the output fails at once when it cannot fit.
    """
    if x.size == 0 or 0 not in x.strides:
        return x
    return x[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in x.strides)]


def _abs_max(x: np.ndarray) -> float:
    """Max |x|, or inf when x holds NaN or inf (both propagate through min and max): one pass each."""
    if not x.size:
        return 0.0
    x = distinct(x)
    lo, hi = float(x.min()), float(x.max())
    return max(-lo, hi) if math.isfinite(lo) and math.isfinite(hi) else math.inf


def score_bound(bound: float, mask: np.ndarray | None) -> float:
    """Return an upper bound on |scale q.k| + |mask|, from ``bound`` = E max|q| max|k| |scale|."""
    if mask is not None and mask.dtype != np.bool_ and mask.size:
        mask = distinct(mask)
        # Entries are finite or -inf here (prepare quarantined the rest): the largest |finite entry| from
        # the maximum and the least finite entry, with no float temporary the size of the mask.
        hi = float(np.max(mask, initial=0.0))
        lo = float(np.min(mask, where=mask != -np.inf, initial=0.0))
        bound += max(hi, -lo)
    return bound if math.isfinite(bound) else math.inf


def _norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of every row, without overflow for entries above sqrt(largest float)."""
    m = np.abs(x).max(axis=-1, initial=0.0)  # (...,)
    unit = np.where(m > 0, m, 1.0)[..., None]
    return m * np.sqrt(((x / unit) ** 2).sum(axis=-1))


def _drop_overflowing_rows(q: np.ndarray, k: np.ndarray, scale: float, mask: np.ndarray | None, is_causal: bool,
                           nan_rows: np.ndarray | None, batch: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Make rows whose scores could overflow float64 NaN rows.

    Rows that attend somewhere and whose scores could overflow float64 become NaN rows (their
    query is zeroed, so that nothing overflows on the way).
    """
    L, S = q.shape[-2], k.shape[-2]
    q_norm = _norms(q)  # (..., L)
    k_max = _norms(k).max(axis=-1, initial=0.0)[..., None]  # (..., 1)
    with np.errstate(over="ignore"):
        over = q_norm * k_max * abs(scale) > np.finfo(np.float64).max / 8  # (..., L)
    over = np.broadcast_to(over & attends(mask, is_causal, L, S), (*batch, L))
    nan_rows = over if nan_rows is None else nan_rows | over
    q = np.where(np.broadcast_to(over[..., None], (*batch, *q.shape[-2:])), 0, q)
    return q, nan_rows


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes that were broadcast to reach it."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad
