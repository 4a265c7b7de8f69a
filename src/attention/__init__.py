"""attention: the code behind the attention study vault.

Exact, numerically stable numpy implementations with PyTorch-compatible semantics.
Notation: query (..., L, E), key (..., S, E), value (..., S, Ev).
"""

from .backward import sdpa_backward, softmax_backward
from .flash import flash_attention
from .gradcheck import gradcheck, numerical_gradient
from .masks import causal_mask, padding_mask
from .multihead import MultiHeadAttention
from .naive import naive_attention
from .positional import rotary_embedding, sinusoidal_encoding
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax

__all__ = [
    "MultiHeadAttention",
    "causal_mask",
    "flash_attention",
    "gradcheck",
    "naive_attention",
    "numerical_gradient",
    "padding_mask",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "sdpa_backward",
    "sinusoidal_encoding",
    "softmax",
    "softmax_backward",
]
