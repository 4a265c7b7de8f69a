"""The base class of the trainable layers (``attention.trainable``, ``attention.transformer``)."""

from __future__ import annotations

from typing import Any

import numpy as np


class Module:
    """Parameters (``params``), their gradients (``grads``) and sub-modules, by name."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call ``forward``, as a PyTorch module is called."""
        return self.forward(*args, **kwargs)  # type: ignore[attr-defined]  # each module defines its own

    def children(self) -> dict[str, Module]:
        return {name: m for name, m in vars(self).items() if isinstance(m, Module)} | {
            f"{name}.{i}": m for name, ms in vars(self).items() if isinstance(ms, list)
            for i, m in enumerate(ms) if isinstance(m, Module)}

    def parameters(self, prefix: str = "") -> dict[str, np.ndarray]:
        out = {prefix + k: v for k, v in self.params.items()}
        for name, child in self.children().items():
            out |= child.parameters(f"{prefix}{name}.")
        return out

    def gradients(self, prefix: str = "") -> dict[str, np.ndarray]:
        out = {prefix + k: self.grads.setdefault(k, np.zeros_like(v)) for k, v in self.params.items()}
        for name, child in self.children().items():
            out |= child.gradients(f"{prefix}{name}.")
        return out

    def zero_grad(self) -> None:
        for g in self.gradients().values():
            g[...] = 0

    def _add(self, name: str, grad: np.ndarray) -> None:
        self.grads.setdefault(name, np.zeros_like(self.params[name]))
        self.grads[name] += grad
