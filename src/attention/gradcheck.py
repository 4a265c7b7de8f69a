"""Finite-difference gradient checks (central differences, float64).

Explained in the note ``docs/en/notes/scaling.md`` (中文 ``docs/zh/notes/scaling.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["numerical_gradient", "gradcheck"]


def numerical_gradient(loss: Callable[..., float], arrays: Sequence[np.ndarray], index: int, *,
                       eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``loss(*arrays)`` with respect to ``arrays[index]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda a: float((a**2).sum()), [x], 0).round(6)
    array([2., 4.])
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    x = arrays[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = loss(*arrays)
        x[i] = old - eps
        down = loss(*arrays)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def gradcheck(f: Callable[..., tuple[float, Sequence[np.ndarray]]], *arrays: np.ndarray, eps: float = 1e-6,
              rtol: float = 1e-6) -> tuple[float, ...]:
    """Check analytic gradients against central finite differences.

    Parameters
    ----------
    f : callable
        ``f(*arrays) -> (loss, grads)``: a scalar loss and one gradient per array.
    *arrays : array_like
        Points at which to check, converted to float64.
    eps : float, default 1e-6
        Finite-difference step.
    rtol : float, default 1e-6
        Largest allowed relative error ``|g_num - g| / max(|g_num| + |g|, 1e-12)``
        (norms over each whole array). An array also passes when ``|g_num - g|`` is
        below what round-off alone puts into central differences, ``8 * eps_64 *
        max(|loss|, 1) / eps`` per entry (eps_64 = 2.2e-16): a gradient that small
        cannot be checked by finite differences.

    Returns
    -------
    tuple of float
        The relative error for each array.

    Raises
    ------
    AssertionError
        If any relative error exceeds ``rtol``; the message lists all of them.
    ValueError
        If ``f`` does not return one gradient per array, with matching shapes.

    Examples
    --------
    >>> import numpy as np
    >>> def square(x):
    ...     return float((x**2).sum()), [2 * x]
    >>> errors = gradcheck(square, np.array([1.0, -2.0, 3.0]))
    >>> errors[0] < 1e-8
    True
    >>> gradcheck(lambda x: (float((x**2).sum()), [x]), np.array([1.0, 2.0]))
    Traceback (most recent call last):
    ...
    AssertionError: gradient of argument 0: relative error 0.333 > rtol 1e-06
    """
    inputs = [np.array(a, dtype=np.float64) for a in arrays]
    loss, grads = f(*inputs)
    if len(grads) != len(inputs):
        raise ValueError(f"f returned {len(grads)} gradients for {len(inputs)} arrays")
    errors, bad = [], []
    for i, (a, g) in enumerate(zip(inputs, grads)):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != a.shape:
            raise ValueError(f"gradient {i} has shape {g.shape}, but argument {i} has shape {a.shape}")
        num = numerical_gradient(lambda *xs: float(f(*xs)[0]), inputs, i, eps=eps)
        difference = float(np.linalg.norm(num - g))
        errors.append(difference / max(float(np.linalg.norm(num) + np.linalg.norm(g)), 1e-12))
        round_off = 8 * np.finfo(np.float64).eps * max(abs(float(loss)), 1.0) / eps * np.sqrt(a.size)
        if errors[-1] > rtol and difference > round_off:
            bad.append(f"gradient of argument {i}: relative error {errors[-1]:.3g} > rtol {rtol:g}")
    if bad:
        raise AssertionError("; ".join(bad))
    return tuple(errors)
