"""attention: the code behind the attention study vault.

Exact, numerically stable numpy implementations with PyTorch-compatible semantics.
Notation: query (..., L, E), key (..., S, E), value (..., S, Ev).
"""

from .masks import causal_mask, padding_mask
from .naive import naive_attention
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax

__all__ = [
    "causal_mask",
    "naive_attention",
    "padding_mask",
    "scaled_dot_product_attention",
    "softmax",
]
