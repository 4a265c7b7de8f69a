r"""Additive attention (Bahdanau, Cho & Bengio, 2014), the scoring function attention started with.

A small network scores each (query, key) pair:

$$s_{ij} = w^\top \tanh(W_q q_i + W_k k_j),$$

then softmax and the weighted sum of the values, as in dot-product attention. Queries and keys
may have different sizes, and no $1/\sqrt{d_k}$ is needed: $|\tanh| \le 1$ bounds every score by
$\lVert w \rVert_1$, whatever the size of $q$ and $k$.

Explained in the note ``docs/en/notes/scoring-functions.md`` (中文 ``docs/zh/notes/scoring-functions.md``).
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from ._internal.module import Module
from ._internal.problem import sum_to_shape
from ._internal.validation import as_generator, as_mask, as_real_array, check_int
from .backward import softmax_backward
from .softmax import softmax
from .trainable import Linear

__all__ = ["AdditiveAttention", "additive_attention", "additive_attention_backward"]


def _forward(query: ArrayLike, key: ArrayLike, value: ArrayLike, w_query: ArrayLike, w_key: ArrayLike,
             w_score: ArrayLike, attn_mask: ArrayLike | None) -> tuple[np.ndarray, ...]:
    q = as_real_array("query", query, min_ndim=2)  # (..., L, Eq)
    k = as_real_array("key", key, min_ndim=2)  # (..., S, Ek)
    v = as_real_array("value", value, min_ndim=2)  # (..., S, Ev)
    Wq = as_real_array("w_query", w_query, min_ndim=2)  # (H, Eq)
    Wk = as_real_array("w_key", w_key, min_ndim=2)  # (H, Ek)
    w = as_real_array("w_score", w_score, min_ndim=1)  # (H,)
    H = w.shape[0]
    if w.ndim != 1 or Wq.shape != (H, q.shape[-1]) or Wk.shape != (H, k.shape[-1]):
        raise ValueError(f"w_query must be (H, Eq), w_key (H, Ek) and w_score (H,): got w_query {Wq.shape}, "
                         f"w_key {Wk.shape}, w_score {w.shape} for query {q.shape} and key {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"key and value must have the same length S: key {k.shape} vs value {v.shape}")
    t = np.tanh((q @ Wq.T)[..., :, None, :] + (k @ Wk.T)[..., None, :, :])  # (..., L, S, H)
    scores = t @ w  # (..., L, S)
    allowed = None if attn_mask is None else np.broadcast_to(as_mask("attn_mask", attn_mask), scores.shape)
    if allowed is not None and allowed.dtype != np.bool_:
        raise TypeError(f"attn_mask must be boolean (True = may attend), got dtype {allowed.dtype}")
    p = softmax(scores, where=allowed)  # (..., L, S); a fully masked row is 0
    return q, k, v, Wq, Wk, w, t, p


@overload
def additive_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, w_query: ArrayLike, w_key: ArrayLike,
                       w_score: ArrayLike, attn_mask: ArrayLike | None = ..., *,
                       return_weights: Literal[False] = ...) -> np.ndarray: ...


@overload
def additive_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, w_query: ArrayLike, w_key: ArrayLike,
                       w_score: ArrayLike, attn_mask: ArrayLike | None = ..., *,
                       return_weights: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def additive_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, w_query: ArrayLike, w_key: ArrayLike,
                       w_score: ArrayLike, attn_mask: ArrayLike | None = ..., *,
                       return_weights: bool = ...) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def additive_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike, w_query: ArrayLike, w_key: ArrayLike,
                       w_score: ArrayLike, attn_mask: ArrayLike | None = None, *,
                       return_weights: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Attention with additive scores $s_{ij} = w^\top \tanh(W_q q_i + W_k k_j)$.

    Parameters
    ----------
    query : array_like, shape (..., L, Eq)
    key : array_like, shape (..., S, Ek)
        Eq and Ek may differ.
    value : array_like, shape (..., S, Ev)
    w_query : array_like, shape (H, Eq)
    w_key : array_like, shape (H, Ek)
    w_score : array_like, shape (H,)
    attn_mask : array_like of bool, optional
        Broadcastable to (..., L, S); True = may attend. A fully masked row gives 0.
    return_weights : bool, default False
        Also return the weights (..., L, S).

    Returns
    -------
    output : numpy.ndarray, shape (..., L, Ev)
    weights : numpy.ndarray, shape (..., L, S)
        Only with ``return_weights=True``.

    Raises
    ------
    TypeError, ValueError
        Naming the argument whose type or shape is wrong.

    Notes
    -----
    Memory and time are $O(L \cdot S \cdot H)$: every pair gets its own H-vector through
    ``tanh``, where dot-product attention needs one matrix product of $O(L \cdot S \cdot E)$
    multiply-adds and no ``tanh``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((2, 5)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    >>> Wq, Wk, w = rng.standard_normal((6, 5)), rng.standard_normal((6, 4)), rng.standard_normal(6)
    >>> out, p = additive_attention(q, k, v, Wq, Wk, w, return_weights=True)
    >>> out.shape, p.sum(axis=-1).round(12)
    ((2, 2), array([1., 1.]))

    Scores stay within ±‖w‖₁ however large the inputs:

    >>> big = additive_attention(1e6 * q, 1e6 * k, v, Wq, Wk, w, return_weights=True)[1]
    >>> bool(np.isfinite(big).all())
    True
    """
    *_, v, _, _, _, _, p = _forward(query, key, value, w_query, w_key, w_score, attn_mask)
    out = p @ v  # (..., L, Ev)
    return (out, p) if return_weights else out


def additive_attention_backward(grad_output: ArrayLike, query: ArrayLike, key: ArrayLike, value: ArrayLike,
                                w_query: ArrayLike, w_key: ArrayLike, w_score: ArrayLike,
                                attn_mask: ArrayLike | None = None) -> tuple[np.ndarray, ...]:
    r"""Gradients of [additive_attention][attention.additive_attention] with respect to its six inputs.

    With $t_{ijh} = \tanh(W_q q_i + W_k k_j)_h$, $s = t\,w$, $P = \mathrm{softmax}(s)$:
    $dV = P^\top dO$, $ds = P \odot (dP - \mathrm{rowsum}(dP \odot P))$ with $dP = dO\,V^\top$,
    $dw = \sum_{ij} ds_{ij}\, t_{ij}$, and $dz_{ij} = ds_{ij}\, w \odot (1 - t_{ij}^2)$ flows to
    $W_q q_i$ (summed over $j$) and to $W_k k_j$ (summed over $i$).

    Returns
    -------
    tuple of numpy.ndarray
        ``(d_query, d_key, d_value, d_w_query, d_w_key, d_w_score)``, each shaped like its input
        (the weight gradients summed over the batch dims).

    Examples
    --------
    >>> import numpy as np
    >>> from attention import gradcheck
    >>> rng = np.random.default_rng(1)
    >>> args = [rng.standard_normal(s) for s in [(2, 3), (4, 2), (4, 2), (5, 3), (5, 2), (5,)]]
    >>> R = rng.standard_normal((2, 2))
    >>> f = lambda *a: (float((R * additive_attention(*a)).sum()), additive_attention_backward(R, *a))
    >>> max(gradcheck(f, *args)) < 1e-6
    True
    """
    q, k, v, Wq, Wk, w, t, p = _forward(query, key, value, w_query, w_key, w_score, attn_mask)
    dO = as_real_array("grad_output", grad_output)
    if dO.shape != (p @ v).shape:
        raise ValueError(f"grad_output must have the output's shape {(p @ v).shape}, got {dO.shape}")
    dv = np.swapaxes(p, -1, -2) @ dO  # (..., S, Ev)
    ds = softmax_backward(p, dO @ np.swapaxes(v, -1, -2))  # (..., L, S)
    dz = ds[..., None] * w * (1 - t * t)  # (..., L, S, H): through tanh
    dhq, dhk = dz.sum(axis=-2), dz.sum(axis=-3)  # (..., L, H), (..., S, H)
    def flat(a: np.ndarray) -> np.ndarray:  # batch dims and rows together
        return a.reshape(-1, a.shape[-1])

    dw = flat(ds[..., None] * t).sum(axis=0)  # (H,)
    dq, dk = dhq @ Wq, dhk @ Wk  # (..., L, Eq), (..., S, Ek)
    dWq = flat(dhq).T @ flat(np.broadcast_to(q, dhq.shape[:-1] + q.shape[-1:]))  # (H, Eq)
    dWk = flat(dhk).T @ flat(np.broadcast_to(k, dhk.shape[:-1] + k.shape[-1:]))  # (H, Ek)
    return tuple(sum_to_shape(g, x.shape) for g, x in ((dq, q), (dk, k), (dv, v))) + (dWq, dWk, dw)


class AdditiveAttention(Module):
    r"""Additive attention, trainable: one head from ``x`` to a ``memory``, as [Attention][attention.Attention] does.

    Scores $s_{ij} = w^\top \tanh(W_q x_i + W_k m_j)$ with ``w_query``, ``w_key`` (H, D) and
    ``w_score`` (H,); values and output through ``Linear`` layers (``v``, ``out``). Drawn from the same
    generator, ``w_query``, ``w_key``, ``v`` and ``out`` start where ``Attention(dim, 1)``'s ``q``, ``k``,
    ``v`` and ``out`` weights start (when H = D), so the two scorings can be compared from the same
    starting projections; ``w_score`` is drawn after them.

    Examples
    --------
    >>> import numpy as np
    >>> layer = AdditiveAttention(4, rng=np.random.default_rng(0))
    >>> x, memory = np.ones((2, 1, 4)), np.random.default_rng(1).standard_normal((2, 5, 4))   # (B, L, D), (B, S, D)
    >>> layer.forward(x, memory).shape, layer.backward(np.ones((2, 1, 4))).shape, layer.memory_grad.shape
    ((2, 1, 4), (2, 1, 4), (2, 5, 4))
    >>> sorted(layer.parameters())
    ['out.bias', 'out.weight', 'v.bias', 'v.weight', 'w_key', 'w_query', 'w_score']
    """

    def __init__(self, dim: int, hidden: int | None = None, *, rng: np.random.Generator | None = None):
        super().__init__()
        dim = check_int("dim", dim, minimum=1)
        hidden = dim if hidden is None else check_int("hidden", hidden, minimum=1)
        rng = as_generator(rng)
        self.dim = dim
        # drawn as Linear draws a weight (the additive score has no bias): as Attention's q and k are
        self.params["w_query"] = Linear(dim, hidden, bias=False, rng=rng).params["weight"]  # (H, D)
        self.params["w_key"] = Linear(dim, hidden, bias=False, rng=rng).params["weight"]  # (H, D)
        self.v = Linear(dim, dim, rng=rng)
        self.out = Linear(dim, dim, rng=rng)
        self.params["w_score"] = rng.standard_normal(hidden) / math.sqrt(hidden)  # (H,)
        self.keep_weights = False  # set to keep the last forward's weights (B, L, S) in ``weights``
        self.weights: np.ndarray | None = None
        self.memory_grad: np.ndarray | None = None

    def forward(self, x: ArrayLike, memory: ArrayLike) -> np.ndarray:
        """Attend from ``x`` (B, L, D) to ``memory`` (B, S, D)."""
        self.x = as_real_array("x", x, min_ndim=2)  # (B, L, D)
        self.memory = as_real_array("memory", memory, min_ndim=2)  # (B, S, D)
        for name, a in (("x", self.x), ("memory", self.memory)):
            if a.shape[-1] != self.dim:
                raise ValueError(f"{name} must end in the layer's size {self.dim}, got {a.shape}")
        self.values = self.v.forward(self.memory)  # (B, S, D)
        o, weights = additive_attention(self.x, self.memory, self.values, self.params["w_query"],
                                        self.params["w_key"], self.params["w_score"], return_weights=True)
        self.weights = weights if self.keep_weights else None  # (B, L, S)
        return self.out.forward(o)  # (B, L, D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at ``x``, adding the parameters' gradients (at ``memory``: ``memory_grad``)."""
        d_o = self.out.backward(dy)  # (B, L, D)
        dx, d_memory, d_values, dWq, dWk, dw = additive_attention_backward(
            d_o, self.x, self.memory, self.values, self.params["w_query"], self.params["w_key"], self.params["w_score"])
        self._add("w_query", dWq)
        self._add("w_key", dWk)
        self._add("w_score", dw)
        self.memory_grad = d_memory + self.v.backward(d_values)  # (B, S, D): through the scores and the values
        return dx  # (B, L, D)
