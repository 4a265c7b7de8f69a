"""The functions a Transformer block applies around attention: GELU (with its derivative) and LayerNorm.

The blocks themselves, trainable, are in ``attention.transformer``.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_real_array, check_real

__all__ = ["layer_norm", "gelu", "gelu_backward"]

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
