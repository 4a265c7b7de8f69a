"""Adam, for the small models the notes train."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma & Ba, 2015) over a dict of numpy parameters, updated in place.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"x": np.array([3.0])}
    >>> opt = Adam(params, lr=0.1)
    >>> for _ in range(200):
    ...     opt.step({"x": 2 * params["x"]})      # minimise x^2
    >>> bool(abs(params["x"][0]) < 0.05)
    True
    """

    def __init__(self, params: dict[str, np.ndarray], *, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for name, g in grads.items():
            self.m[name] = b1 * self.m[name] + (1 - b1) * g
            self.v[name] = b2 * self.v[name] + (1 - b2) * g * g
            m_hat = self.m[name] / (1 - b1**self.t)
            v_hat = self.v[name] / (1 - b2**self.t)
            self.params[name] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
