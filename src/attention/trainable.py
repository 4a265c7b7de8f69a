"""Trainable layers with their backward pass, for the models the notes train by hand.

Each module's ``forward`` keeps what its ``backward`` needs; ``backward(dy)`` returns the
gradient with respect to the module's input and adds the gradients of its parameters to
``grads`` (so a parameter used twice, like tied embeddings, sums both uses). Parameters and
gradients are plain arrays, by name: ``parameters()`` and ``gradients()`` give dicts whose
arrays are the module's own, so an optimiser can update them in place.

Explained in the note ``docs/en/notes/transformer.md`` (中文 ``docs/zh/notes/transformer.md``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._internal.module import Module
from ._internal.validation import as_class_ids, as_real_array, check_int, check_real

__all__ = ["Linear", "Embedding", "LayerNorm", "cross_entropy"]


class Linear(Module):
    """``y = x W^T + b``, initialised like ``torch.nn.Linear`` (uniform in ±1/sqrt(in)).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Linear(3, 2, rng=np.random.default_rng(0))
    >>> x = np.ones((4, 3))
    >>> layer.forward(x).shape, layer.backward(np.ones((4, 2))).shape
    ((4, 2), (4, 3))
    >>> layer.grads["bias"]                 # each output's gradient, summed over the 4 rows
    array([4., 4.])
    """

    def __init__(self, d_in: int, d_out: int, *, bias: bool = True, rng: np.random.Generator):
        super().__init__()
        bound = 1 / math.sqrt(d_in)
        self.params["weight"] = rng.uniform(-bound, bound, (d_out, d_in))  # (out, in)
        if bias:
            self.params["bias"] = np.zeros(d_out)  # (out,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute ``x W^T + b``, keeping ``x`` for the backward pass."""
        self.x = x  # (..., in)
        y = x @ self.params["weight"].T  # (..., out)
        return y + self.params["bias"] if "bias" in self.params else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients."""
        self._add("weight", dy.reshape(-1, dy.shape[-1]).T @ self.x.reshape(-1, self.x.shape[-1]))  # (out, in)
        if "bias" in self.params:
            self._add("bias", dy.reshape(-1, dy.shape[-1]).sum(axis=0))
        return dy @ self.params["weight"]  # (..., in)


class Embedding(Module):
    """A table of ``(V, D)`` rows, trainable.

    The rows are N(0, std²) at the start; ``logits`` reuses the table as the output projection (tied
    embeddings).

    Examples
    --------
    >>> import numpy as np
    >>> table = Embedding(5, 2, rng=np.random.default_rng(0))
    >>> table.forward(np.array([[1, 1, 4]])).shape            # (B, T) ids -> (B, T, D)
    (1, 3, 2)
    >>> table.backward(np.ones((1, 3, 2)))
    >>> table.grads["weight"][:, 0]                            # row 1 was used twice
    array([0., 2., 0., 0., 1.])
    """

    def __init__(self, num: int, dim: int, *, rng: np.random.Generator, std: float = 1.0):
        super().__init__()
        self.params["weight"] = std * rng.standard_normal((num, dim))  # (V, D)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """Look up the rows of ``ids`` (B, T)."""
        self.ids = ids  # (B, T)
        return self.params["weight"][ids]  # (B, T, D)

    def backward(self, dy: np.ndarray) -> None:
        """Add the gradient of the rows that were looked up."""
        grad = np.zeros_like(self.params["weight"])  # (V, D)
        np.add.at(grad, self.ids.reshape(-1), dy.reshape(-1, dy.shape[-1]))  # a row used twice gets both
        self._add("weight", grad)

    def logits(self, h: np.ndarray) -> np.ndarray:
        """Compute the logits ``h W^T`` with the table as the output projection."""
        self.h = h  # (B, T, D)
        return h @ self.params["weight"].T  # (B, T, V)

    def logits_backward(self, dlogits: np.ndarray) -> np.ndarray:
        """Return the gradient at ``h``, adding the table's gradient."""
        self._add("weight", dlogits.reshape(-1, dlogits.shape[-1]).T @ self.h.reshape(-1, self.h.shape[-1]))
        return dlogits @ self.params["weight"]  # (B, T, D)


class LayerNorm(Module):
    """Layer normalisation with its backward pass.

    It normalises the last axis, then scales and shifts (as ``torch.nn.LayerNorm``); its backward
    removes from the gradient its mean and its component along the normalised input.

    Examples
    --------
    >>> import numpy as np
    >>> ln = LayerNorm(4)
    >>> y = ln.forward(np.array([[1.0, 2.0, 3.0, 6.0]]))
    >>> float(abs(y.mean())) < 1e-12, round(float(y.std()), 4)
    (True, 1.0)
    >>> bool(abs(ln.backward(np.ones((1, 4))).sum()) < 1e-12)  # shifting every input changes nothing
    True
    """

    def __init__(self, dim: int, *, eps: float = 1e-5):
        super().__init__()
        self.params["weight"], self.params["bias"], self.eps = np.ones(dim), np.zeros(dim), eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``x`` over its last axis, then scale and shift."""
        mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
        self.rstd = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)  # (..., 1)
        self.xhat = (x - mu) * self.rstd  # (..., D)
        return self.xhat * self.params["weight"] + self.params["bias"]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return the gradient at the input, adding the parameters' gradients."""
        D = dy.shape[-1]
        self._add("weight", (dy * self.xhat).reshape(-1, D).sum(axis=0))
        self._add("bias", dy.reshape(-1, D).sum(axis=0))
        g = dy * self.params["weight"]  # (..., D) gradient at xhat
        # d xhat / dx removes the mean of g and its component along xhat, then scales by 1/std.
        along = self.xhat * (g * self.xhat).mean(axis=-1, keepdims=True)  # (..., D)
        return self.rstd * (g - g.mean(axis=-1, keepdims=True) - along)


def cross_entropy(logits: ArrayLike, targets: ArrayLike, *, ignore_index: int | None = None,
                  label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Compute the mean softmax cross-entropy and its gradient with respect to the logits.

    The mean is of ``logits (..., V)`` against ``targets (...)`` over the targets that are not
    ``ignore_index``. With label
    smoothing ``e`` the target distribution is ``(1 - e) one_hot + e / V``, as in PyTorch. Targets
    are class ids in ``[0, V)`` (``ignore_index`` aside); when every target is ignored there is
    nothing to learn from, and the loss is 0.0 with a zero gradient (PyTorch returns NaN).

    Examples
    --------
    >>> import numpy as np
    >>> loss, d = cross_entropy(np.zeros((1, 2, 4)), np.array([[3, -1]]), ignore_index=-1)
    >>> round(loss, 4), float(d[0, 1].sum())      # log 4; the ignored position gets no gradient
    (1.3863, 0.0)
    """
    logits = as_real_array("logits", logits, min_ndim=1)
    V = logits.shape[-1]
    if ignore_index is not None:
        ignore_index = check_int("ignore_index", ignore_index, minimum=-(2**63))
    targets = as_class_ids("targets", targets, V, ignore=ignore_index)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have the shape of logits without its last axis, {logits.shape[:-1]}, "
                         f"got {targets.shape}")
    label_smoothing = check_real("label_smoothing", label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    keep = np.ones(targets.shape, bool) if ignore_index is None else targets != ignore_index  # (...)
    count = max(int(keep.sum()), 1)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., V)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (..., V)
    want = np.full(logits.shape, label_smoothing / V)  # (..., V) the target distribution
    np.put_along_axis(want, np.where(keep, targets, 0)[..., None], 1 - label_smoothing + label_smoothing / V, axis=-1)
    want *= keep[..., None]
    loss = float(-(want * log_p).sum() / count) + 0.0  # every target ignored: 0.0 (not -0.0; torch gives NaN)
    return loss, (np.exp(log_p) * keep[..., None] - want) / count
