"""attention: the code behind the attention study vault.

Exact, numerically stable numpy implementations with PyTorch-compatible semantics.
Notation: query (..., L, E), key (..., S, E), value (..., S, Ev).

The library is this package's top-level modules (everything re-exported here); the
experiments that make the notes' tables and figures are in ``attention.experiments``, the
command line in ``attention.cli``, and shared internals in ``attention._internal``.
"""

import importlib.metadata

from .additive import AdditiveAttention, additive_attention, additive_attention_backward
from .backward import sdpa_backward, softmax_backward
from .flash import flash_attention, flash_attention_backward
from .gradcheck import gradcheck, numerical_gradient
from .layers import gelu, gelu_backward, layer_norm
from .masks import causal_mask, combine_masks, padding_mask
from .multihead import MultiHeadAttention
from .naive import naive_attention
from .positional import rotary_embedding, sinusoidal_encoding
from .qk_norm import l2_normalize, qk_norm_attention
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax
from .timeseries import attention_forecast, nadaraya_watson
from .trainable import Embedding, LayerNorm, Linear, cross_entropy
from .transformer import Attention, DecoderBlock, EncoderBlock, FeedForward, TransformerBlock, TransformerLM
from .vision import patch_self_attention, patchify

__all__ = [
    "AdditiveAttention",
    "Attention",
    "DecoderBlock",
    "Embedding",
    "EncoderBlock",
    "FeedForward",
    "LayerNorm",
    "Linear",
    "MultiHeadAttention",
    "TransformerBlock",
    "TransformerLM",
    "additive_attention",
    "additive_attention_backward",
    "attention_forecast",
    "causal_mask",
    "combine_masks",
    "cross_entropy",
    "flash_attention",
    "flash_attention_backward",
    "gelu",
    "gelu_backward",
    "gradcheck",
    "l2_normalize",
    "layer_norm",
    "nadaraya_watson",
    "naive_attention",
    "numerical_gradient",
    "padding_mask",
    "patch_self_attention",
    "patchify",
    "qk_norm_attention",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "sdpa_backward",
    "sinusoidal_encoding",
    "softmax",
    "softmax_backward",
]

try:
    __version__ = importlib.metadata.version("attention-vault")  # the one source: pyproject.toml
except importlib.metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
