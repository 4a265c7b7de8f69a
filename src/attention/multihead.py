r"""Multi-head attention with PyTorch's parameter layout, and grouped-query attention.

Each of H heads attends in its own D = E / H dimensional subspace:

$$\mathrm{head}_h = \mathrm{Attention}(X_q W_q^{(h)}, X_k W_k^{(h)}, X_v W_v^{(h)}),\qquad
\mathrm{MHA} = [\mathrm{head}_1; \dots; \mathrm{head}_H]\, W_o^\top + b_o.$$
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._validation import as_real_array
from .scaled_dot_product import scaled_dot_product_attention


class MultiHeadAttention:
    r"""Batch-first multi-head attention, like ``torch.nn.MultiheadAttention(batch_first=True)``.

    Parameters
    ----------
    embed_dim : int
        Model dimension E; must be divisible by ``num_heads``.
    num_heads : int
        Number of query heads H; each has ``D = E // H`` features.
    num_kv_heads : int, optional
        Number of key/value heads (grouped-query attention). Must divide
        ``num_heads``; each group of ``H // num_kv_heads`` query heads shares one
        key/value head. Defaults to ``num_heads`` (standard attention).
    bias : bool, default True
        Whether the projections have biases.
    rng : numpy.random.Generator, optional
        For the initial weights (PyTorch's scheme: Xavier-uniform input
        projection, uniform $\pm 1/\sqrt{E}$ output projection, zero biases).

    Notes
    -----
    Parameters, with PyTorch's names and layout when ``num_kv_heads == num_heads``:
    ``in_proj_weight (3E, E)``, ``in_proj_bias (3E,)``, ``out_proj.weight (E, E)``,
    ``out_proj.bias (E,)``. With fewer key/value heads (PyTorch's module has no
    GQA) the input projection is split: ``q_proj_weight (E, E)``,
    ``k_proj_weight (Hkv*D, E)``, ``v_proj_weight (Hkv*D, E)``, and
    ``in_proj_bias (E + 2*Hkv*D,)``.

    Masks follow this package's convention, **True = may attend**, for both
    ``attn_mask`` and ``key_padding_mask``. PyTorch's ``MultiheadAttention`` uses
    the opposite for boolean masks (True = ignore): pass ``~mask`` to convert.

    Examples
    --------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((3, 5, 8))       # (B, L, E)
    >>> out, w = mha.forward(x, x, x)
    >>> out.shape, w.shape                                           # weights averaged over heads
    ((3, 5, 8), (3, 5, 5))
    >>> sorted(mha.state_dict())
    ['in_proj_bias', 'in_proj_weight', 'out_proj.bias', 'out_proj.weight']

    A key-padding mask keeps True for real keys (PyTorch's would be ``~real``):

    >>> real = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] * 5])   # (B, S)
    >>> _, w = mha.forward(x, x, x, key_padding_mask=real)
    >>> bool((w[1, :, 3:] == 0).all())
    True
    """

    def __init__(self, embed_dim: int, num_heads: int, *, num_kv_heads: int | None = None, bias: bool = True,
                 rng: np.random.Generator | None = None):
        if not (isinstance(embed_dim, int) and isinstance(num_heads, int) and embed_dim > 0 and num_heads > 0):
            raise ValueError(f"embed_dim and num_heads must be positive integers, got {embed_dim!r} and {num_heads!r}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        kv = num_heads if num_kv_heads is None else num_kv_heads
        if not (isinstance(kv, int) and kv > 0 and num_heads % kv == 0):
            raise ValueError(f"num_kv_heads must be a positive divisor of num_heads {num_heads}, got {num_kv_heads!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.embed_dim, self.num_heads, self.num_kv_heads, self.bias = embed_dim, num_heads, kv, bias
        self.head_dim = embed_dim // num_heads
        E, Ekv = embed_dim, kv * self.head_dim
        bound = math.sqrt(6.0 / (E + E))  # Xavier-uniform for a (E, E) block, as PyTorch
        params = {}
        if kv == num_heads:
            params["in_proj_weight"] = rng.uniform(-bound, bound, (3 * E, E))  # (3E, E)
        else:
            params["q_proj_weight"] = rng.uniform(-bound, bound, (E, E))  # (E, E)
            params["k_proj_weight"] = rng.uniform(-bound, bound, (Ekv, E))  # (Hkv*D, E)
            params["v_proj_weight"] = rng.uniform(-bound, bound, (Ekv, E))  # (Hkv*D, E)
        if bias:
            params["in_proj_bias"] = np.zeros(E + 2 * Ekv)  # (E + 2*Hkv*D,)
        params["out_proj.weight"] = rng.uniform(-1 / math.sqrt(E), 1 / math.sqrt(E), (E, E))  # (E, E)
        if bias:
            params["out_proj.bias"] = np.zeros(E)  # (E,)
        self._params = params

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the parameters, by PyTorch's names."""
        return {name: value.copy() for name, value in self._params.items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Load parameters by name (e.g. a PyTorch ``state_dict`` converted with ``.numpy()``).

        Raises
        ------
        KeyError
            Missing or unexpected names.
        ValueError
            A parameter with the wrong shape.
        """
        missing, unexpected = self._params.keys() - state.keys(), state.keys() - self._params.keys()
        if missing or unexpected:
            raise KeyError(f"state_dict mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        for name, value in state.items():
            value = as_real_array(name, np.asarray(value)).astype(np.float64)
            if value.shape != self._params[name].shape:
                raise ValueError(f"{name} must have shape {self._params[name].shape}, got {value.shape}")
            self._params[name] = value.copy()

    def _projections(self):
        p, E, Ekv = self._params, self.embed_dim, self.num_kv_heads * self.head_dim
        if "in_proj_weight" in p:
            wq, wk, wv = np.split(p["in_proj_weight"], [E, 2 * E])  # (E, E) each
        else:
            wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
        b = p.get("in_proj_bias")
        bq, bk, bv = (None, None, None) if b is None else np.split(b, [E, E + Ekv])
        return (wq, bq), (wk, bk), (wv, bv)

    def _split_heads(self, x, w, b, heads):
        y = x @ w.T if b is None else x @ w.T + b  # (B, L, heads*D)
        B, L, _ = y.shape
        return y.reshape(B, L, heads, self.head_dim).transpose(0, 2, 1, 3)  # (B, heads, L, D)

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None, is_causal: bool = False,
                need_weights: bool = True, average_attn_weights: bool = True):
        """Attend ``query (B, L, E)`` over ``key (B, S, E)`` / ``value (B, S, E)``.

        Unbatched ``(L, E)`` inputs are accepted too. ``attn_mask`` is ``(L, S)`` or
        ``(B, H, L, S)``-broadcastable, bool (True = may attend) or float (added);
        ``key_padding_mask`` is ``(B, S)`` bool, True = a real key. ``is_causal=True``
        applies the causal mask. Returns ``(output (B, L, E), weights)``, weights being
        ``(B, L, S)`` averaged over heads, ``(B, H, L, S)`` per head, or None.

        Raises
        ------
        ValueError
            Inputs whose last dim is not ``embed_dim``, or mismatched batch or lengths.
        """
        q_in = as_real_array("query", query, min_ndim=2)
        k_in = as_real_array("key", key, min_ndim=2)
        v_in = as_real_array("value", value, min_ndim=2)
        unbatched = q_in.ndim == 2
        if unbatched:
            q_in, k_in, v_in = q_in[None], k_in[None], v_in[None]
            key_padding_mask = None if key_padding_mask is None else np.asarray(key_padding_mask)[None]
        for name, x in (("query", q_in), ("key", k_in), ("value", v_in)):
            if x.ndim != 3 or x.shape[-1] != self.embed_dim:
                raise ValueError(f"{name} must have shape (B, L, E={self.embed_dim}) or (L, E), got {x.shape}")
        if k_in.shape[:2] != v_in.shape[:2] or q_in.shape[0] != k_in.shape[0]:
            raise ValueError(f"query {q_in.shape}, key {k_in.shape} and value {v_in.shape} disagree on B or S")
        (wq, bq), (wk, bk), (wv, bv) = self._projections()
        H, Hkv = self.num_heads, self.num_kv_heads
        q = self._split_heads(q_in, wq, bq, H)  # (B, H, L, D)
        k = np.repeat(self._split_heads(k_in, wk, bk, Hkv), H // Hkv, axis=1)  # (B, H, S, D)
        v = np.repeat(self._split_heads(v_in, wv, bv, Hkv), H // Hkv, axis=1)  # (B, H, S, D)
        mask = None if attn_mask is None else np.asarray(attn_mask)
        if key_padding_mask is not None:
            kpm = np.asarray(key_padding_mask)
            if kpm.dtype != np.bool_ or kpm.shape != (k_in.shape[0], k_in.shape[1]):
                raise ValueError(f"key_padding_mask must be a bool (B, S) = {k_in.shape[:2]} array, got {kpm.dtype} {kpm.shape}")
            kpm = kpm[:, None, None, :]  # (B, 1, 1, S)
            if mask is None:
                mask = kpm
            elif mask.dtype == np.bool_:
                mask = mask & kpm
            else:
                mask = np.where(kpm, mask, -np.inf)
        if is_causal and mask is not None:
            L, S = q.shape[-2], k.shape[-2]
            causal = np.tri(L, S, dtype=bool)  # (L, S)
            mask = (mask & causal) if mask.dtype == np.bool_ else np.where(causal, mask, -np.inf)
            is_causal = False
        result = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, return_weights=need_weights)
        heads, weights = result if need_weights else (result, None)  # (B, H, L, D), (B, H, L, S)
        B, _, L, _ = heads.shape
        concat = heads.transpose(0, 2, 1, 3).reshape(B, L, self.embed_dim)  # (B, L, E)
        out = concat @ self._params["out_proj.weight"].T  # (B, L, E)
        if self.bias:
            out = out + self._params["out_proj.bias"]
        if weights is not None and average_attn_weights:
            weights = weights.mean(axis=1)  # (B, L, S)
        if unbatched:
            out = out[0]
            weights = None if weights is None else weights[0]
        return out, weights
