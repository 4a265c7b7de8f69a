r"""A decoder-only Transformer that trains in numpy.

Every layer has its backward pass (the conventions of ``attention.trainable``), and decoding has a
key/value cache.

Notation: B batch, T positions, D model width, H query heads, Hkv key/value heads, V vocabulary.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._internal.module import Module
from ._internal.validation import as_class_ids, as_generator, check_int, check_real
from .backward import sdpa_backward
from .layers import gelu, gelu_backward
from .positional import rotary_embedding, sinusoidal_encoding
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax
from .trainable import Embedding, LayerNorm, Linear

__all__ = ["SelfAttention", "TransformerBlock", "TransformerLM"]


class SelfAttention(Module):
    """Causal multi-head self-attention, trainable, with a key/value cache.

    ``kv_heads`` key/value heads (grouped-query attention when fewer than ``heads``), optional RoPE
    on queries and keys, and a cache for decoding one position at a time.

    Examples
    --------
    >>> import numpy as np
    >>> layer = SelfAttention(8, heads=4, kv_heads=2, rope=True, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 8))          # (B, T, D)
    >>> layer.forward(x).shape, layer.backward(np.ones((2, 5, 8))).shape
    ((2, 5, 8), (2, 5, 8))
    >>> sorted(layer.parameters())[:2], layer.parameters()["k.weight"].shape   # 2 key heads of 2 dims
    (['k.bias', 'k.weight'], (4, 8))
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, rope: bool = False,
                 rng: np.random.Generator):
        super().__init__()
        kv_heads = heads if kv_heads is None else kv_heads
        if dim % heads or heads % kv_heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}), and heads by kv_heads ({kv_heads})")
        self.heads, self.kv_heads, self.head_dim, self.rope = heads, kv_heads, dim // heads, rope
        self.q = Linear(dim, dim, rng=rng)
        self.k = Linear(dim, kv_heads * self.head_dim, rng=rng)
        self.v = Linear(dim, kv_heads * self.head_dim, rng=rng)
        self.out = Linear(dim, dim, rng=rng)
        self.keep_weights = False  # set to keep the last forward's weights (B, H, T, S) in ``weights``

    def _split(self, x: np.ndarray, heads: int) -> np.ndarray:
        return x.reshape(*x.shape[:-1], heads, self.head_dim).swapaxes(-2, -3)  # (B, heads, T, hd)

    def forward(self, x: np.ndarray, cache: dict[str, Any] | None = None) -> np.ndarray:
        """Attend causally over ``x`` (B, T, D); with ``cache``, continue the sequence it holds."""
        B, T, _ = x.shape
        start = 0 if cache is None else cache.get("length", 0)
        self.positions = np.arange(start, start + T)  # (T,)
        q = self._split(self.q.forward(x), self.heads)  # (B, H, T, hd)
        k = self._split(self.k.forward(x), self.kv_heads)  # (B, Hkv, T, hd)
        v = self._split(self.v.forward(x), self.kv_heads)  # (B, Hkv, T, hd)
        if self.rope:
            q, k = rotary_embedding(q, self.positions), rotary_embedding(k, self.positions)
        if cache is not None:  # decoding: this call's keys and values join the earlier ones
            k = np.concatenate([cache["k"], k], axis=2) if start else k  # (B, Hkv, S, hd)
            v = np.concatenate([cache["v"], v], axis=2) if start else v  # (B, Hkv, S, hd)
            cache.update(k=k, v=v, length=start + T)
        groups = self.heads // self.kv_heads
        self.qkv = q, np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)  # (B, H, T or S, hd) each
        allowed = np.arange(start + T)[None, :] <= self.positions[:, None]  # (T, S): causal, offset by start
        o, weights = scaled_dot_product_attention(*self.qkv, allowed, return_weights=True)  # (B, H, T, hd)
        self.weights = weights if self.keep_weights else None
        self.allowed = allowed
        return self.out.forward(o.swapaxes(1, 2).reshape(B, T, -1))  # (B, T, D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients."""
        B, T, _ = dy.shape
        do = self._split(self.out.backward(dy), self.heads)  # (B, H, T, hd)
        dq, dk, dv = sdpa_backward(do, *self.qkv, self.allowed)  # (B, H, T, hd) each
        G = self.heads // self.kv_heads
        dk = dk.reshape(B, self.kv_heads, G, T, -1).sum(axis=2)  # (B, Hkv, T, hd): each group's heads summed
        dv = dv.reshape(B, self.kv_heads, G, T, -1).sum(axis=2)  # (B, Hkv, T, hd)
        if self.rope:  # the rotation's transpose rotates back by the same angles
            dq, dk = rotary_embedding(dq, -self.positions), rotary_embedding(dk, -self.positions)

        def merge(t: np.ndarray) -> np.ndarray:  # (B, heads, T, hd) -> (B, T, heads*hd)
            return t.swapaxes(1, 2).reshape(B, T, -1)

        return self.q.backward(merge(dq)) + self.k.backward(merge(dk)) + self.v.backward(merge(dv))


class TransformerBlock(Module):
    """Pre-norm Transformer block, trainable.

    ``x + Attention(LN(x))``, then ``x + FFN(LN(x))`` with a GELU FFN; the
    residual paths add the gradient that flows around each sub-layer to the one through it.

    Examples
    --------
    >>> import numpy as np
    >>> block = TransformerBlock(8, 2, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((1, 3, 8))).shape
    (1, 3, 8)
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, hidden: int | None = None,
                 rope: bool = False, rng: np.random.Generator):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(dim), LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, kv_heads=kv_heads, rope=rope, rng=rng)
        self.up, self.down = Linear(dim, hidden or 4 * dim, rng=rng), Linear(hidden or 4 * dim, dim, rng=rng)

    def forward(self, x: np.ndarray, cache: dict[str, Any] | None = None) -> np.ndarray:
        """Apply the block to ``x`` (B, T, D); with ``cache``, continue the sequence it holds."""
        x = x + self.attention.forward(self.ln1.forward(x), cache)  # (B, T, D)
        self.h = self.up.forward(self.ln2.forward(x))  # (B, T, F)
        return x + self.down.forward(gelu(self.h))  # (B, T, D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients."""
        dx = dy + self.ln2.backward(self.up.backward(gelu_backward(self.h, self.down.backward(dy))))  # residual
        return dx + self.ln1.backward(self.attention.backward(dx))


class TransformerLM(Module):
    """A decoder-only language model, trainable.

    Token embedding, positions (``"learned"``, ``"sinusoidal"``
    or ``"rope"``), ``layers`` blocks, a final LayerNorm and the output projection (tied to the
    token embedding by default).

    Examples
    --------
    >>> import numpy as np
    >>> model = TransformerLM(vocab=11, dim=16, layers=2, heads=4, kv_heads=2, max_len=32,
    ...                       rng=np.random.default_rng(0))
    >>> ids = np.array([[1, 2, 3, 4]])
    >>> model.forward(ids).shape                      # (B, T, V)
    (1, 4, 11)
    >>> out = model.generate(ids, steps=5)             # greedy, with the key/value cache
    >>> bool((out == model.generate(ids, steps=5, use_cache=False)).all())
    True
    """

    def __init__(self, vocab: int, dim: int, layers: int, heads: int, *, kv_heads: int | None = None,
                 max_len: int = 512, positions: str = "learned", tied: bool = True, hidden: int | None = None,
                 rng: np.random.Generator | None = None):
        super().__init__()
        vocab, dim, layers, heads = (check_int(n, x, minimum=1) for n, x in
                                     (("vocab", vocab), ("dim", dim), ("layers", layers), ("heads", heads)))
        if positions not in ("learned", "sinusoidal", "rope"):
            raise ValueError(f"positions must be 'learned', 'sinusoidal' or 'rope', got {positions!r}")
        rng = as_generator(rng)
        self.max_len, self.positions = check_int("max_len", max_len, minimum=1), positions
        # Rows of length about 1: tied to the output, they give logits of about unit size at the start.
        self.tokens = Embedding(vocab, dim, rng=rng, std=dim**-0.5)
        if positions == "learned":
            self.position = Embedding(max_len, dim, rng=rng, std=0.5)
        self.table = sinusoidal_encoding(max_len, dim) if positions == "sinusoidal" else None  # (max_len, D)
        self.blocks = [TransformerBlock(dim, heads, kv_heads=kv_heads, hidden=hidden, rope=positions == "rope",
                                        rng=rng) for _ in range(layers)]
        self.ln = LayerNorm(dim)
        self.head = None if tied else Linear(dim, vocab, bias=False, rng=rng)

    def forward(self, ids: ArrayLike, caches: list[dict[str, Any]] | None = None) -> np.ndarray:
        """Return the logits (B, T, V) for token ids (B, T).

        With ``caches`` (one dict per block), ``ids`` continue the sequence the caches hold.
        """
        ids = self._check_ids(ids)
        start = caches[0].get("length", 0) if caches else 0
        if start + ids.shape[1] > self.max_len:
            raise ValueError(f"sequence of {start + ids.shape[1]} positions is longer than max_len={self.max_len}")
        x = self.tokens.forward(ids)  # (B, T, D)
        if self.positions == "learned":
            x = x + self.position.forward(np.broadcast_to(np.arange(start, start + ids.shape[1]), ids.shape))
        elif self.table is not None:  # sinusoidal
            x = x + self.table[start:start + ids.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block.forward(x, None if caches is None else caches[i])  # (B, T, D)
        h = self.ln.forward(x)  # (B, T, D)
        return self.tokens.logits(h) if self.head is None else self.head.forward(h)  # (B, T, V)

    def _check_ids(self, ids: ArrayLike) -> np.ndarray:
        ids = as_class_ids("ids", ids, self.tokens.params["weight"].shape[0], what="token ids")
        if ids.ndim != 2:
            raise ValueError(f"ids must be (B, T): a batch of token sequences, got shape {ids.shape}")
        return ids

    def backward(self, dlogits: np.ndarray) -> None:
        """Add the gradients of every parameter, given dloss/dlogits of the last ``forward``."""
        dh = self.tokens.logits_backward(dlogits) if self.head is None else self.head.backward(dlogits)  # (B, T, D)
        dx = self.ln.backward(dh)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        self.tokens.backward(dx)
        if self.positions == "learned":
            self.position.backward(dx)

    def generate(self, ids: ArrayLike, steps: int, *, temperature: float = 0.0, rng: np.random.Generator | None = None,
                 use_cache: bool = True) -> np.ndarray:
        """Continue ``ids`` (B, T0) by ``steps`` tokens.

        Greedy at temperature 0, else sampled from
        softmax(logits / temperature). With the cache each step computes one position; without it,
        every step recomputes the whole sequence (same tokens, for comparison).
        """
        ids = np.array(self._check_ids(ids))
        steps = check_int("steps", steps)
        if check_real("temperature", temperature) < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature!r}")
        if ids.ndim != 2 or ids.shape[1] + steps > self.max_len:
            raise ValueError(f"ids must be (B, T0) with T0 + steps <= max_len={self.max_len}, got {ids.shape} "
                             f"and steps={steps}")
        rng = np.random.default_rng() if rng is None else rng
        caches: list[dict[str, Any]] | None = [{} for _ in self.blocks] if use_cache else None
        logits = self.forward(ids, caches)[:, -1]  # (B, V)
        for step in range(steps):
            if temperature > 0:
                p = softmax(logits / temperature)  # (B, V)
                nxt = np.array([rng.choice(p.shape[-1], p=row) for row in p])  # (B,)
            else:
                nxt = logits.argmax(axis=-1)  # (B,)
            ids = np.concatenate([ids, nxt[:, None]], axis=1)  # (B, T + 1)
            if step < steps - 1:
                logits = (self.forward(nxt[:, None], caches) if use_cache else self.forward(ids))[:, -1]  # (B, V)
        return ids


