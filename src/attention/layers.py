"""Transformer building blocks around attention: LayerNorm, feed-forward, encoder and decoder blocks.

Pre-norm residual blocks, as in GPT-2 and most models since: ``x + f(LayerNorm(x))``.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_generator, as_real_array, check_generator, check_int, check_real
from .multihead import MultiHeadAttention

__all__ = ["layer_norm", "gelu", "gelu_backward", "FeedForward", "EncoderBlock", "DecoderBlock"]

_C = math.sqrt(2 / math.pi)


def gelu(x: np.ndarray) -> np.ndarray:
    r"""Compute GELU, tanh form (GPT-2's; ``torch.nn.GELU(approximate="tanh")``).

    $\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715 x^3)))$.

    Examples
    --------
    >>> import numpy as np
    >>> gelu(np.array([-3.0, 0.0, 3.0])).round(4)
    array([-0.0036,  0.    ,  2.9964])
    """
    return 0.5 * x * (1 + np.tanh(_C * x * (1 + 0.044715 * x * x)))  # x * x, not x**3: pow is 10x slower


def gelu_backward(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Return the gradient reaching ``x`` when ``dy`` reaches ``gelu(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> x, eps = np.array([-1.0, 0.5, 2.0]), 1e-6
    >>> numeric = (gelu(x + eps) - gelu(x - eps)) / (2 * eps)
    >>> bool(np.allclose(gelu_backward(x, np.ones(3)), numeric))
    True
    """
    x2 = x * x
    t = np.tanh(_C * x * (1 + 0.044715 * x2))
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _C * (1 + 3 * 0.044715 * x2))


def layer_norm(x: ArrayLike, weight: ArrayLike | None = None, bias: ArrayLike | None = None, *,
               eps: float = 1e-5) -> np.ndarray:
    r"""Normalise the last axis to mean 0 and variance 1, then scale and shift.

    $\mathrm{LN}(x) = \gamma \odot (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$, like
    ``torch.nn.functional.layer_norm`` over the last dimension (biased variance).

    Examples
    --------
    >>> import numpy as np
    >>> y = layer_norm(np.array([[1.0, 2.0, 3.0, 6.0]]))
    >>> float(abs(y.mean())) < 1e-12, round(float(y.std()), 4)
    (True, 1.0)
    """
    x = as_real_array("x", x, min_ndim=1)
    eps = check_real("eps", eps, positive=True)
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and np.shape(param) != x.shape[-1:]:
            raise ValueError(f"{name} must have shape {x.shape[-1:]} (the last axis of x), got {np.shape(param)}")
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = x.var(axis=-1, keepdims=True)  # (..., 1)
    y = (x - mu) / np.sqrt(var + eps)  # (..., E)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class FeedForward:
    """Position-wise feed-forward network: ``Linear(E, F) -> GELU -> Linear(F, E)``.

    Examples
    --------
    >>> import numpy as np
    >>> ff = FeedForward(8, 32, rng=np.random.default_rng(0))
    >>> ff(np.ones((2, 5, 8))).shape          # (B, L, E) -> (B, L, E)
    (2, 5, 8)
    """

    def __init__(self, embed_dim: int, hidden_dim: int, *, rng: np.random.Generator | None = None):
        embed_dim = check_int("embed_dim", embed_dim, minimum=1)
        hidden_dim = check_int("hidden_dim", hidden_dim, minimum=1)
        rng = as_generator(rng)
        # nn.Linear's default initialisation: uniform in +-1/sqrt(fan_in), here for both layers.
        self.w1 = rng.uniform(-1, 1, (hidden_dim, embed_dim)) / math.sqrt(embed_dim)  # (F, E)
        self.b1 = np.zeros(hidden_dim)  # (F,)
        self.w2 = rng.uniform(-1, 1, (embed_dim, hidden_dim)) / math.sqrt(hidden_dim)  # (E, F)
        self.b2 = np.zeros(embed_dim)  # (E,)

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Apply the network to ``x`` (..., E)."""
        h = gelu(np.asarray(x) @ self.w1.T + self.b1)  # (..., F)
        return h @ self.w2.T + self.b2  # (..., E)


class EncoderBlock:
    """Pre-norm encoder block: ``x + SelfAttention(LN(x))``, then ``x + FeedForward(LN(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> block = EncoderBlock(8, 2, rng=np.random.default_rng(0))
    >>> block(np.ones((2, 5, 8))).shape
    (2, 5, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, *, hidden_dim: int | None = None,
                 rng: np.random.Generator | None = None):
        rng = check_generator(rng)  # None: each part draws from a fresh generator
        self.attention = MultiHeadAttention(embed_dim, num_heads, batch_first=True, rng=rng)
        self.feed_forward = FeedForward(embed_dim, hidden_dim or 4 * embed_dim, rng=rng)

    def __call__(self, x: ArrayLike, key_padding_mask: ArrayLike | None = None) -> np.ndarray:
        """Apply the block to ``x`` (B, L, E), the keys where ``key_padding_mask`` is True left out."""
        h = layer_norm(x)  # (B, L, E)
        x = x + self.attention(h, h, h, key_padding_mask=key_padding_mask, need_weights=False)[0]  # (B, L, E)
        return x + self.feed_forward(layer_norm(x))  # (B, L, E)


class DecoderBlock:
    """Pre-norm decoder block: causal self-attention, cross-attention to ``memory``, feed-forward.

    Examples
    --------
    >>> import numpy as np
    >>> block = DecoderBlock(8, 2, rng=np.random.default_rng(0))
    >>> x, memory = np.ones((2, 5, 8)), np.ones((2, 7, 8))    # (B, L, E), (B, S, E)
    >>> block(x, memory).shape
    (2, 5, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, *, hidden_dim: int | None = None,
                 rng: np.random.Generator | None = None):
        rng = check_generator(rng)  # None: each part draws from a fresh generator
        self.self_attention = MultiHeadAttention(embed_dim, num_heads, batch_first=True, rng=rng)
        self.cross_attention = MultiHeadAttention(embed_dim, num_heads, batch_first=True, rng=rng)
        self.feed_forward = FeedForward(embed_dim, hidden_dim or 4 * embed_dim, rng=rng)

    def __call__(self, x: ArrayLike, memory: ArrayLike, memory_padding_mask: ArrayLike | None = None) -> np.ndarray:
        """Apply the block to ``x`` (B, L, E), attending to ``memory`` (B, S, E)."""
        h = layer_norm(x)  # (B, L, E)
        x = x + self.self_attention(h, h, h, need_weights=False, is_causal=True)[0]  # (B, L, E)
        h = layer_norm(x)  # (B, L, E)
        x = x + self.cross_attention(h, memory, memory, key_padding_mask=memory_padding_mask,
                                     need_weights=False)[0]  # (B, L, E)
        return x + self.feed_forward(layer_norm(x))  # (B, L, E)
