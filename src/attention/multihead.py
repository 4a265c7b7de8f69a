r"""Multi-head attention with PyTorch's signature, parameter names and layout, and grouped-query attention.

Each of H heads attends in its own D = E / H dimensional subspace:
$$\mathrm{head}_h = \mathrm{Attention}(X_q W_q^{(h)}, X_k W_k^{(h)}, X_v W_v^{(h)}),\qquad
\mathrm{MHA} = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_o^\top + b_o.$$
Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import (
    as_generator,
    as_mask,
    as_real_array,
    check_bool,
    check_int,
    check_probability,
    working_dtype,
)
from .masks import causal_mask, combine_masks
from .scaled_dot_product import scaled_dot_product_attention

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention:
    r"""Multi-head attention, like ``torch.nn.MultiheadAttention``, in numpy.

    The signature, the defaults, the parameter names and shapes, the initial distribution and the ``(L, B, E)``
    layout (unless ``batch_first=True``) are PyTorch's, so code and weights port both ways. Two differences:
    boolean masks mean **True = may attend** (as in
    [scaled_dot_product_attention][attention.scaled_dot_product_attention]; PyTorch's module reads them as True =
    ignore, so pass ``~mask``), and a fully masked row gives 0, not NaN.

    Parameters
    ----------
    embed_dim : int
        Model dimension E; must be divisible by ``num_heads``.
    num_heads : int
        Number of query heads H; each has ``D = E // H`` features.
    dropout : float, default 0.0
        Dropout on the attention weights, applied while ``training`` is True.
    bias : bool, default True
        Whether the input and output projections have biases.
    kdim, vdim : int, optional
        Feature sizes of ``key`` and ``value``; default ``embed_dim``. When either differs,
        the input projection is stored as three matrices (PyTorch's layout for that case).
    batch_first : bool, default False
        Inputs and output are ``(B, L, E)`` if True, else PyTorch's default ``(L, B, E)``.
    num_kv_heads : int, optional
        Number of key/value heads (grouped-query attention, which PyTorch's module lacks): it must divide
        ``num_heads``, each group of ``H // num_kv_heads`` query heads shares one key/value head; default ``num_heads``.
    rng : numpy.random.Generator, optional
        For the initial weights and for dropout.

    Raises
    ------
    TypeError
        Sizes that are not integers, flags that are not bools, an ``rng`` that is not a
        ``numpy.random.Generator``.
    ValueError
        Sizes below 1, heads that do not divide, ``dropout`` outside ``[0, 1)``.

    Notes
    -----
    Parameters (``state_dict``), by PyTorch's names: ``in_proj_weight (3E, E)`` if
    ``kdim == vdim == E`` and no GQA, else ``q_proj_weight (E, E)``, ``k_proj_weight
    (Hkv*D, kdim)``, ``v_proj_weight (Hkv*D, vdim)``; ``out_proj.weight (E, E)``; with
    ``bias``, ``in_proj_bias (E + 2*Hkv*D,)`` and ``out_proj.bias (E,)``. Initialisation as
    PyTorch's: each input matrix Xavier-uniform over its own shape (packed: bound
    $\sqrt{6 / (E + 3E)}$), the output matrix uniform in $\pm 1/\sqrt{E}$, biases 0.

    Examples
    --------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(8, 2, batch_first=True, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((3, 5, 8))       # (B, L, E)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape                                           # weights averaged over heads
    ((3, 5, 8), (3, 5, 5))
    >>> sorted(mha.state_dict())
    ['in_proj_bias', 'in_proj_weight', 'out_proj.bias', 'out_proj.weight']

    A key-padding mask keeps True for real keys (PyTorch's would be ``~real``):

    >>> real = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] * 5])   # (B, S)
    >>> _, w = mha(x, x, x, key_padding_mask=real)
    >>> bool((w[1, :, 3:] == 0).all())
    True

    PyTorch's default layout is sequence first, ``(L, B, E)``:

    >>> seq_first = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    >>> xt = x.transpose(1, 0, 2)                                    # (L, B, E)
    >>> bool(np.allclose(seq_first(xt, xt, xt)[0].transpose(1, 0, 2), out))
    True
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, num_kv_heads: int | None = None,
                 rng: np.random.Generator | None = None):
        E = check_int("embed_dim", embed_dim, minimum=1)
        H = check_int("num_heads", num_heads, minimum=1)
        if E % H:
            raise ValueError(f"embed_dim {E} must be divisible by num_heads {H}")
        Hkv = H if num_kv_heads is None else check_int("num_kv_heads", num_kv_heads, minimum=1)
        if H % Hkv:
            raise ValueError(f"num_kv_heads must be a positive divisor of num_heads {H}, got {num_kv_heads!r}")
        self.embed_dim, self.num_heads, self.num_kv_heads, self.head_dim = E, H, Hkv, E // H
        self.kdim = E if kdim is None else check_int("kdim", kdim, minimum=1)
        self.vdim = E if vdim is None else check_int("vdim", vdim, minimum=1)
        self.dropout = check_probability("dropout", dropout)
        self.bias = check_bool("bias", bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.rng = as_generator(rng)
        self.training = True
        self._params = self._initial_parameters()

    def _initial_parameters(self) -> dict[str, np.ndarray]:
        E, Ekv, rng = self.embed_dim, self.num_kv_heads * self.head_dim, self.rng

        def xavier_uniform(rows: int, cols: int) -> np.ndarray:  # torch.nn.init.xavier_uniform_ on (rows, cols)
            bound = math.sqrt(6.0 / (rows + cols))
            return rng.uniform(-bound, bound, (rows, cols))

        if self.packed:
            params = {"in_proj_weight": xavier_uniform(3 * E, E)}  # (3E, E)
        else:
            params = {"q_proj_weight": xavier_uniform(E, E),  # (E, E)
                      "k_proj_weight": xavier_uniform(Ekv, self.kdim),  # (Hkv*D, kdim)
                      "v_proj_weight": xavier_uniform(Ekv, self.vdim)}  # (Hkv*D, vdim)
        if self.bias:
            params["in_proj_bias"] = np.zeros(E + 2 * Ekv)  # (E + 2*Hkv*D,)
        params["out_proj.weight"] = rng.uniform(-1 / math.sqrt(E), 1 / math.sqrt(E), (E, E))  # (E, E)
        if self.bias:
            params["out_proj.bias"] = np.zeros(E)  # (E,), PyTorch's order of names
        return params

    @property
    def packed(self) -> bool:
        """Whether the input projection is one ``(3E, E)`` matrix (PyTorch's ``_qkv_same_embed_dim``)."""
        return self.kdim == self.vdim == self.embed_dim and self.num_kv_heads == self.num_heads

    def train(self, mode: bool = True) -> MultiHeadAttention:
        """Set training mode (dropout on), as ``torch.nn.Module.train``; returns self."""
        self.training = check_bool("mode", mode)
        return self

    def eval(self) -> MultiHeadAttention:
        """Set evaluation mode (dropout off), as ``torch.nn.Module.eval``; returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return a copy of the parameters, by PyTorch's names."""
        return {name: value.copy() for name, value in self._params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Load parameters by name (e.g. a PyTorch ``state_dict`` converted with ``.numpy()``).

        Every entry is checked before any is changed: on an error the module is unchanged.

        Raises
        ------
        KeyError
            Missing or unexpected names.
        TypeError
            A parameter that is not a real numeric array.
        ValueError
            A parameter with the wrong shape or a non-finite entry.
        """
        missing, unexpected = self._params.keys() - state.keys(), state.keys() - self._params.keys()
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        loaded = {}
        for name, value in state.items():
            value = as_real_array(name, value).astype(np.float64)
            if value.shape != self._params[name].shape:
                raise ValueError(f"{name} must have shape {self._params[name].shape}, got {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"{name} holds non-finite entries")
            loaded[name] = value
        self._params.update(loaded)

    def _projections(self, dtype: np.dtype) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(weight, bias) for queries, keys and values, in ``dtype``."""
        p, E, Ekv = self._params, self.embed_dim, self.num_kv_heads * self.head_dim
        if self.packed:
            weights = np.split(p["in_proj_weight"], [E, 2 * E])  # (E, E) each
        else:
            weights = [p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]]
        biases: list[np.ndarray | None] = [*np.split(p["in_proj_bias"], [E, E + Ekv])] if self.bias else [None] * 3
        return [(w.astype(dtype), None if b is None else b.astype(dtype)) for w, b in zip(weights, biases)]

    def _heads(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, heads: int) -> np.ndarray:
        """Project ``x (B, n, ·)`` and split the result into ``heads``: ``(B, heads, n, D)``."""
        y = x @ weight.T if bias is None else x @ weight.T + bias  # (B, n, heads*D)
        B, n, _ = y.shape
        return y.reshape(B, n, heads, self.head_dim).transpose(0, 2, 1, 3)  # (B, heads, n, D)

    def forward(self, query: ArrayLike, key: ArrayLike, value: ArrayLike, key_padding_mask: ArrayLike | None = None,
                need_weights: bool = True, attn_mask: ArrayLike | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Attend ``query`` over ``key``/``value``, with ``torch.nn.MultiheadAttention.forward``'s arguments.

        Parameters
        ----------
        query : array_like, shape (L, B, E), (B, L, E) with ``batch_first``, or (L, E)
        key : array_like, shape (S, B, kdim), (B, S, kdim) with ``batch_first``, or (S, kdim)
        value : array_like, shape (S, B, vdim), (B, S, vdim) with ``batch_first``, or (S, vdim)
        key_padding_mask : array_like, shape (B, S) or (S,) unbatched, optional
            Boolean, True = a real key (PyTorch: True = padding), or floating (added).
        need_weights : bool, default True
            Also return the attention weights.
        attn_mask : array_like, shape (L, S) or (B*H, L, S), optional
            Boolean (True = may attend) or floating (added to the scores).
        average_attn_weights : bool, default True
            Average the weights over the heads.
        is_causal : bool, default False
            Causal attention. Alone, it applies [causal_mask][attention.causal_mask]. With
            ``attn_mask`` it is, as in PyTorch, a hint that ``attn_mask`` *is* the causal
            mask; a mask that is not raises ``ValueError`` (PyTorch's result would be wrong).

        Returns
        -------
        output : numpy.ndarray
            In the layout of ``query``, in the dtype ``query``, ``key`` and ``value`` promote to
            (``numpy.result_type``; float16 is computed in float32).
        weights : numpy.ndarray or None
            ``(B, L, S)`` averaged over heads, ``(B, H, L, S)`` per head (without B for
            unbatched input), in the working dtype (float32 for float16 inputs), or None when
            ``need_weights`` is False.

        Raises
        ------
        TypeError
            Non-numeric inputs or masks, flags that are not bools.
        ValueError
            Feature sizes other than ``embed_dim``/``kdim``/``vdim``, disagreeing batch sizes
            or lengths, masks of the wrong shape, or a non-causal mask with ``is_causal``.
        """
        need_weights = check_bool("need_weights", need_weights)
        average_attn_weights = check_bool("average_attn_weights", average_attn_weights)
        is_causal = check_bool("is_causal", is_causal)
        q_in, k_in, v_in, unbatched = self._batch_first_inputs(query, key, value)
        B, L, S = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        dtype = working_dtype(np.result_type(q_in, k_in, v_in))
        (wq, bq), (wk, bk), (wv, bv) = self._projections(dtype)
        q = self._heads(q_in, wq, bq, self.num_heads)  # (B, H, L, D)
        k = self._heads(k_in, wk, bk, self.num_kv_heads)  # (B, Hkv, S, D)
        v = self._heads(v_in, wv, bv, self.num_kv_heads)  # (B, Hkv, S, D)
        mask = self._mask(attn_mask, key_padding_mask, is_causal, B, L, S, unbatched)  # (B or 1, H or 1, L, S)
        dropout = self.dropout if self.training else 0.0
        result = scaled_dot_product_attention(q, k, v, mask, dropout, rng=self.rng if dropout else None,
                                              return_weights=need_weights, enable_gqa=True)
        heads, weights = result if isinstance(result, tuple) else (result, None)  # (B, H, L, D), (B, H, L, S)
        concat = heads.transpose(0, 2, 1, 3).reshape(B, L, self.embed_dim)  # (B, L, E)
        out = concat @ self._params["out_proj.weight"].astype(dtype).T  # (B, L, E)
        if self.bias:
            out = out + self._params["out_proj.bias"].astype(dtype)
        if weights is not None and average_attn_weights:
            weights = weights.mean(axis=1)  # (B, L, S)
        out = out.astype(np.result_type(q_in, k_in, v_in), copy=False)
        if unbatched:
            return out[0], None if weights is None else weights[0]
        return (out if self.batch_first else out.transpose(1, 0, 2)), weights

    __call__ = forward

    def _batch_first_inputs(self, query: ArrayLike, key: ArrayLike, value: ArrayLike
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Check the inputs and bring them to ``(B, n, features)``; also whether they were unbatched."""
        q = as_real_array("query", query, min_ndim=2)
        k = as_real_array("key", key, min_ndim=2)
        v = as_real_array("value", value, min_ndim=2)
        unbatched = q.ndim == 2
        layout = "({n}, {f})" if unbatched else "(B, {n}, {f})" if self.batch_first else "({n}, B, {f})"
        for name, x, n, f, dim in (("query", q, "L", "E", self.embed_dim), ("key", k, "S", "kdim", self.kdim),
                                   ("value", v, "S", "vdim", self.vdim)):
            if x.ndim != q.ndim or x.ndim > 3 or x.shape[-1] != dim:
                raise ValueError(f"{name} must have shape {layout.format(n=n, f=f'{f}={dim}')}, got {x.shape}")
        if unbatched:
            q, k, v = q[None], k[None], v[None]
        elif not self.batch_first:
            q, k, v = (x.transpose(1, 0, 2) for x in (q, k, v))  # (L, B, E) -> (B, L, E)
        if k.shape[:2] != v.shape[:2] or q.shape[0] != k.shape[0]:
            raise ValueError(f"query {q.shape}, key {k.shape} and value {v.shape} (as (B, n, features)) "
                             f"disagree on B or S")
        return q, k, v, unbatched

    def _mask(self, attn_mask: ArrayLike | None, key_padding_mask: ArrayLike | None, is_causal: bool, B: int, L: int,
              S: int, unbatched: bool) -> np.ndarray | None:
        """One mask for ``scaled_dot_product_attention``, broadcastable to ``(B, H, L, S)``."""
        H = self.num_heads
        if attn_mask is not None:
            attn_mask = as_mask("attn_mask", attn_mask)
            if attn_mask.shape == (B * H, L, S) and attn_mask.ndim == 3:
                attn_mask = attn_mask.reshape(B, H, L, S)  # PyTorch's 3-D layout: (B*H, L, S)
            elif attn_mask.shape != (L, S):
                raise ValueError(f"attn_mask must have shape (L, S) = {(L, S)} or (B*H, L, S) = {(B * H, L, S)}, "
                                 f"got {attn_mask.shape}")
        if is_causal:
            causal = causal_mask(L, S)  # (L, S)
            if attn_mask is None:
                attn_mask = causal
            elif not (attn_mask == causal if attn_mask.dtype == np.bool_ else (attn_mask == -np.inf) != causal).all():
                raise ValueError("is_causal=True is a hint that attn_mask is the causal mask, but attn_mask is not "
                                 "causal: pass is_causal=False to use attn_mask as it is")
        if key_padding_mask is not None:
            key_padding_mask = as_mask("key_padding_mask", key_padding_mask)
            expected = (S,) if unbatched else (B, S)
            if key_padding_mask.shape != expected:
                raise ValueError(f"key_padding_mask must have shape {expected}, got {key_padding_mask.shape}")
            key_padding_mask = key_padding_mask.reshape(-1, 1, 1, S)  # (B, 1, 1, S)
        return combine_masks(attn_mask, key_padding_mask)
