r"""The Transformer, trainable in numpy: one set of pieces for the encoder, the decoder and the language model.

``Attention`` (self- or cross-attention), ``FeedForward`` and ``LayerNorm`` make the pre-norm
``TransformerBlock``; ``EncoderBlock`` (self-attention over every position), ``DecoderBlock`` (causal
self-attention, then cross-attention to an encoder's output) and the decoder-only ``TransformerLM`` are
that block with its options set. Every layer has its backward pass (the conventions of
``attention.trainable``), and decoding has a key/value cache.

Notation: B batch, T positions, S key positions, D model width, H query heads, Hkv key/value heads,
V vocabulary.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._internal.module import Module
from ._internal.validation import as_class_ids, as_generator, as_real_array, check_int, check_real
from .backward import sdpa_backward
from .layers import gelu, gelu_backward
from .positional import rotary_embedding, sinusoidal_encoding
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax
from .trainable import Embedding, LayerNorm, Linear

__all__ = ["Attention", "FeedForward", "TransformerBlock", "EncoderBlock", "DecoderBlock", "TransformerLM"]


class Attention(Module):
    """Multi-head attention, trainable: self-attention, causal or not, or cross-attention to a memory.

    Queries come from ``x``; keys and values from ``x`` too, or from ``memory`` (cross-attention, as a
    decoder attends to its encoder's output). ``kv_heads`` key/value heads (grouped-query attention when
    fewer than ``heads``), optional RoPE on queries and keys (self-attention), a key padding mask, and a
    key/value cache for decoding one position at a time (causal self-attention).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Attention(8, heads=4, kv_heads=2, rope=True, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((2, 5, 8))          # (B, T, D)
    >>> layer.forward(x).shape, layer.backward(np.ones((2, 5, 8))).shape
    ((2, 5, 8), (2, 5, 8))
    >>> sorted(layer.parameters())[:2], layer.parameters()["k.weight"].shape   # 2 key heads of 2 dims
    (['k.bias', 'k.weight'], (4, 8))
    >>> cross = Attention(8, heads=2, causal=False, rng=np.random.default_rng(0))
    >>> memory = np.ones((2, 7, 8))                                       # (B, S, D)
    >>> cross.forward(x, memory).shape, cross.backward(np.ones((2, 5, 8))).shape, cross.memory_grad.shape
    ((2, 5, 8), (2, 5, 8), (2, 7, 8))
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, rope: bool = False, causal: bool = True,
                 rng: np.random.Generator | None = None):
        super().__init__()
        dim, heads = check_int("dim", dim, minimum=1), check_int("heads", heads, minimum=1)
        kv_heads = heads if kv_heads is None else check_int("kv_heads", kv_heads, minimum=1)
        if dim % heads or heads % kv_heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}), and heads by kv_heads ({kv_heads})")
        rng = as_generator(rng)
        self.dim, self.heads, self.kv_heads, self.head_dim = dim, heads, kv_heads, dim // heads
        self.rope, self.causal = rope, causal
        self.q = Linear(dim, dim, rng=rng)
        self.k = Linear(dim, kv_heads * self.head_dim, rng=rng)
        self.v = Linear(dim, kv_heads * self.head_dim, rng=rng)
        self.out = Linear(dim, dim, rng=rng)
        self.keep_weights = False  # set to keep the last forward's weights (B, H, T, S) in ``weights``

    def _split(self, x: np.ndarray, heads: int) -> np.ndarray:
        return x.reshape(*x.shape[:-1], heads, self.head_dim).swapaxes(-2, -3)  # (B, heads, T, hd)

    def forward(self, x: ArrayLike, memory: ArrayLike | None = None, *, key_padding_mask: ArrayLike | None = None,
                cache: dict[str, Any] | None = None) -> np.ndarray:
        """Attend from ``x`` (B, T, D) to ``x``, or to ``memory`` (B, S, D).

        ``key_padding_mask`` (B, S): True for a real key, False for padding. With ``cache``, ``x``
        continues the sequence the cache holds.
        """
        x = _checked("x", x, self.dim)
        B, T, _ = x.shape
        source = x if memory is None else _checked("memory", memory, self.dim, batch=B)
        if memory is not None and (self.causal or self.rope or cache is not None):
            raise ValueError("memory is for cross-attention, which is not causal and has no RoPE or cache: "
                             "make the layer with causal=False, rope=False")
        if cache is not None and not self.causal:
            raise ValueError("a cache continues a sequence one position at a time: only causal attention keeps one")
        start = 0 if cache is None else cache.get("length", 0)
        self.positions = np.arange(start, start + T)  # (T,)
        q = self._split(self.q.forward(x), self.heads)  # (B, H, T, hd)
        k = self._split(self.k.forward(source), self.kv_heads)  # (B, Hkv, S, hd)
        v = self._split(self.v.forward(source), self.kv_heads)  # (B, Hkv, S, hd)
        if self.rope:
            q, k = rotary_embedding(q, self.positions), rotary_embedding(k, self.positions)
        if cache is not None:  # decoding: this call's keys and values join the earlier ones
            k = np.concatenate([cache["k"], k], axis=2) if start else k  # (B, Hkv, S, hd)
            v = np.concatenate([cache["v"], v], axis=2) if start else v  # (B, Hkv, S, hd)
            cache.update(k=k, v=v, length=start + T)
        groups = self.heads // self.kv_heads
        self.qkv = q, np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)  # (B, H, T or S, hd) each
        self.allowed = _allowed(self.positions if self.causal else None, key_padding_mask, B, k.shape[2])
        o, weights = scaled_dot_product_attention(*self.qkv, self.allowed, return_weights=True)  # (B, H, T, hd)
        self.weights = weights if self.keep_weights else None
        self.cross = memory is not None
        return self.out.forward(o.swapaxes(1, 2).reshape(B, T, -1))  # (B, T, D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at ``x``, adding the parameters' gradients (at ``memory``: ``memory_grad``)."""
        B, T, _ = dy.shape
        do = self._split(self.out.backward(dy), self.heads)  # (B, H, T, hd)
        dq, dk, dv = sdpa_backward(do, *self.qkv, self.allowed)  # (B, H, T or S, hd) each
        G, S = self.heads // self.kv_heads, dk.shape[2]
        dk = dk.reshape(B, self.kv_heads, G, S, -1).sum(axis=2)  # (B, Hkv, S, hd): each group's heads summed
        dv = dv.reshape(B, self.kv_heads, G, S, -1).sum(axis=2)  # (B, Hkv, S, hd)
        if self.rope:  # the rotation's transpose rotates back by the same angles
            dq, dk = rotary_embedding(dq, -self.positions), rotary_embedding(dk, -self.positions)

        def merge(t: np.ndarray) -> np.ndarray:  # (B, heads, T, hd) -> (B, T, heads*hd)
            return t.swapaxes(1, 2).reshape(B, t.shape[2], -1)

        dx, dk_in, dv_in = self.q.backward(merge(dq)), self.k.backward(merge(dk)), self.v.backward(merge(dv))
        self.memory_grad = dk_in + dv_in if self.cross else None  # (B, S, D)
        return dx if self.cross else dx + dk_in + dv_in  # (B, T, D)


def _checked(name: str, x: ArrayLike, dim: int, *, batch: int | None = None) -> np.ndarray:
    """Return ``x`` as a real (B, T, D) array with D = ``dim`` (and B = ``batch``), else raise naming it."""
    x = as_real_array(name, x)
    if x.ndim != 3 or x.shape[-1] != dim or (batch is not None and x.shape[0] != batch):
        want = f"({batch if batch is not None else 'B'}, length, {dim})"
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    return x


def _allowed(positions: np.ndarray | None, key_padding_mask: ArrayLike | None, B: int, S: int) -> np.ndarray | None:
    """Return which keys each query may attend to, or None if every key is allowed.

    Causal (T, S) from the queries' ``positions``, and/or (B, 1, 1, S) from ``key_padding_mask``
    (True = a real key).
    """
    causal = None if positions is None else np.arange(S)[None, :] <= positions[:, None]  # (T, S)
    if key_padding_mask is None:
        return causal
    pad = np.asarray(key_padding_mask)
    if pad.dtype != np.bool_ or pad.shape != (B, S):
        raise ValueError(f"key_padding_mask must be a bool array of shape {(B, S)} (True = a real key), "
                         f"got {pad.dtype} {pad.shape}")
    pad = pad[:, None, None, :]  # (B, 1, 1, S)
    return pad if causal is None else causal & pad  # (B, 1, T, S)


class FeedForward(Module):
    """Position-wise feed-forward network, trainable: ``Linear(D, F) -> GELU -> Linear(F, D)``.

    Examples
    --------
    >>> import numpy as np
    >>> ff = FeedForward(8, 32, rng=np.random.default_rng(0))
    >>> ff(np.ones((2, 5, 8))).shape          # (B, T, D) -> (B, T, D)
    (2, 5, 8)
    >>> ff.parameters()["up.weight"].shape, ff.parameters()["down.weight"].shape
    ((32, 8), (8, 32))
    """

    def __init__(self, dim: int, hidden: int, *, rng: np.random.Generator | None = None):
        super().__init__()
        dim, hidden = check_int("dim", dim, minimum=1), check_int("hidden", hidden, minimum=1)
        rng = as_generator(rng)
        self.up, self.down = Linear(dim, hidden, rng=rng), Linear(hidden, dim, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply the network to ``x`` (..., D)."""
        self.h = self.up.forward(x)  # (..., F)
        return self.down.forward(gelu(self.h))  # (..., D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients."""
        return self.up.backward(gelu_backward(self.h, self.down.backward(dy)))


class TransformerBlock(Module):
    """Pre-norm Transformer block, trainable: the one block the encoder, the decoder and the language model use.

    ``x + Attention(LN(x))``; with ``cross=True``, then ``x + CrossAttention(LN(x), memory)``; then
    ``x + FeedForward(LN(x))``. The residual paths add the gradient that flows around each sub-layer to
    the one through it. ``causal`` self-attention lets position i see positions up to i only.

    Examples
    --------
    >>> import numpy as np
    >>> block = TransformerBlock(8, 2, rng=np.random.default_rng(0))
    >>> block.forward(np.ones((1, 3, 8))).shape
    (1, 3, 8)
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, hidden: int | None = None,
                 rope: bool = False, causal: bool = True, cross: bool = False, rng: np.random.Generator | None = None):
        super().__init__()
        rng = as_generator(rng)
        self.ln1, self.ln2 = LayerNorm(dim), LayerNorm(dim)
        self.attention = Attention(dim, heads, kv_heads=kv_heads, rope=rope, causal=causal, rng=rng)
        if cross:
            self.ln_cross = LayerNorm(dim)
            self.cross_attention = Attention(dim, heads, kv_heads=kv_heads, causal=False, rng=rng)
        self.feed_forward = FeedForward(dim, 4 * dim if hidden is None else hidden, rng=rng)

    def forward(self, x: ArrayLike, memory: ArrayLike | None = None, *, key_padding_mask: ArrayLike | None = None,
                memory_padding_mask: ArrayLike | None = None, cache: dict[str, Any] | None = None) -> np.ndarray:
        """Apply the block to ``x`` (B, T, D), attending to ``memory`` (B, S, D) if it has cross-attention.

        ``key_padding_mask`` (B, T) and ``memory_padding_mask`` (B, S): True for a real position, False
        for padding. With ``cache``, ``x`` continues the sequence the cache holds.
        """
        y = _checked("x", x, self.attention.dim)  # (B, T, D)
        y = y + self.attention.forward(self.ln1.forward(y), key_padding_mask=key_padding_mask, cache=cache)
        if hasattr(self, "cross_attention"):
            if memory is None:
                raise ValueError("memory is required: this block attends to an encoder's output (B, S, D)")
            y = y + self.cross_attention.forward(self.ln_cross.forward(y), memory,
                                                 key_padding_mask=memory_padding_mask)  # (B, T, D)
        elif memory is not None or memory_padding_mask is not None:
            raise ValueError("memory is only for a block with cross-attention (cross=True, or a DecoderBlock)")
        return y + self.feed_forward.forward(self.ln2.forward(y))  # (B, T, D)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients (at ``memory``: ``memory_grad``)."""
        dx = dy + self.ln2.backward(self.feed_forward.backward(dy))  # residual
        if hasattr(self, "cross_attention"):
            dx = dx + self.ln_cross.backward(self.cross_attention.backward(dx))
            self.memory_grad = self.cross_attention.memory_grad
        return dx + self.ln1.backward(self.attention.backward(dx))


class EncoderBlock(TransformerBlock):
    """Pre-norm encoder block: ``x + Attention(LN(x))`` over every position, then ``x + FeedForward(LN(x))``.

    A [TransformerBlock][attention.TransformerBlock] with non-causal self-attention; a padded batch
    passes ``key_padding_mask`` (B, T), True for a real position.

    Examples
    --------
    >>> import numpy as np
    >>> block = EncoderBlock(8, 2, rng=np.random.default_rng(0))
    >>> pad = np.array([[True, True, True, True, False], [True] * 5])    # the first sequence has 4 tokens
    >>> block(np.ones((2, 5, 8)), key_padding_mask=pad).shape
    (2, 5, 8)
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, hidden: int | None = None,
                 rope: bool = False, rng: np.random.Generator | None = None):
        super().__init__(dim, heads, kv_heads=kv_heads, hidden=hidden, rope=rope, causal=False, rng=rng)


class DecoderBlock(TransformerBlock):
    """Pre-norm decoder block: causal self-attention, cross-attention to ``memory``, feed-forward.

    A [TransformerBlock][attention.TransformerBlock] with causal self-attention and cross-attention to an
    encoder's output; ``memory_padding_mask`` (B, S) marks the memory's real positions.

    Examples
    --------
    >>> import numpy as np
    >>> block = DecoderBlock(8, 2, rng=np.random.default_rng(0))
    >>> x, memory = np.ones((2, 5, 8)), np.ones((2, 7, 8))    # (B, T, D), (B, S, D)
    >>> block(x, memory).shape
    (2, 5, 8)
    """

    def __init__(self, dim: int, heads: int, *, kv_heads: int | None = None, hidden: int | None = None,
                 rope: bool = False, rng: np.random.Generator | None = None):
        super().__init__(dim, heads, kv_heads=kv_heads, hidden=hidden, rope=rope, causal=True, cross=True, rng=rng)


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
            x = block.forward(x, cache=None if caches is None else caches[i])  # (B, T, D)
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


