r"""Attention on a time series: kernel regression, and forecasting from past windows.

Nadaraya–Watson regression is attention with a Gaussian kernel: a query point $x$ attends
to the training points $x_i$ with weights $\mathrm{softmax}_i\big(-(x - x_i)^2 / 2h^2\big)$
and returns the weighted average of their targets $y_i$. Forecasting uses the same idea on
windows: the last ``window`` values are the query, every earlier window is a key, and the
value that followed each earlier window is its value.

Explained in the note ``docs/en/notes/timeseries.md`` (中文 ``docs/zh/notes/timeseries.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_real_array, check_int, check_real
from .softmax import softmax

__all__ = ["nadaraya_watson", "attention_forecast"]


def nadaraya_watson(x_query: ArrayLike, x_train: ArrayLike, y_train: ArrayLike, *,
                    bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Kernel regression as attention: returns ``(prediction (Lq,), weights (Lq, N))``.

    Parameters
    ----------
    x_query : array_like, shape (Lq,)
        Where to predict (the queries).
    x_train, y_train : array_like, shape (N,)
        The training points (keys) and their targets (values).
    bandwidth : float
        The kernel's width $h > 0$: small follows the nearest points, large averages all.

    Returns
    -------
    prediction : numpy.ndarray, shape (Lq,)
    weights : numpy.ndarray, shape (Lq, N)
        Each row sums to 1.

    Raises
    ------
    ValueError
        Mismatched lengths, or a ``bandwidth`` that is not a positive finite number.

    Examples
    --------
    A narrow kernel returns the nearest training point's target; a wide one returns the
    mean of all targets:

    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> y = np.array([0.0, 10.0, 50.0])
    >>> pred, w = nadaraya_watson(np.array([0.2]), x, y, bandwidth=0.1)
    >>> pred.round(3), w.round(3)
    (array([0.]), array([[1., 0., 0.]]))
    >>> pred, _ = nadaraya_watson(np.array([0.2]), x, y, bandwidth=100.0)
    >>> pred.round(3), round(float(y.mean()), 3)
    (array([19.999]), 20.0)
    """
    xq = as_real_array("x_query", x_query, min_ndim=1)  # (Lq,)
    xt = as_real_array("x_train", x_train, min_ndim=1)  # (N,)
    yt = as_real_array("y_train", y_train, min_ndim=1)  # (N,)
    if xt.shape != yt.shape:
        raise ValueError(f"x_train and y_train must have the same shape: {xt.shape} vs {yt.shape}")
    bandwidth = check_real("bandwidth", bandwidth, positive=True)
    scores = -((xq[:, None] - xt[None, :]) ** 2) / (2 * bandwidth**2)  # (Lq, N)
    weights = softmax(scores)  # (Lq, N)
    return weights @ yt, weights


def attention_forecast(values: ArrayLike, t: int, *, window: int = 12,
                       bandwidth: float = 0.1) -> tuple[float, np.ndarray]:
    """Forecast ``values[t]`` from ``values[:t]``; returns ``(forecast, weights over the past windows)``.

    Each window is compared after removing its mean (so a level shift does not hide a
    matching shape); the forecast is the current level plus the weighted average of what
    followed each past window, relative to that window's level.

    Parameters
    ----------
    values : array_like, shape (N,)
        The series; only ``values[:t]`` is read.
    t : int
        The step to forecast; needs ``2 * window <= t <= N``.
    window : int, default 12
        Length of the query window and of every key window.
    bandwidth : float, default 0.1
        Width of the Gaussian kernel on the windows' mean squared distance.

    Returns
    -------
    forecast : float
    weights : numpy.ndarray, shape (t - window,)
        ``weights[j]`` belongs to the window ``lag = len(weights) - j`` steps earlier than
        the query window.

    Raises
    ------
    TypeError, ValueError
        A non-integer ``t`` or ``window``, ``t`` outside ``2 * window .. N``, a bad ``bandwidth``.

    Examples
    --------
    On a series of period 4, the window one period back matches, and the forecast repeats it:

    >>> import numpy as np
    >>> series = np.tile([0.0, 1.0, 0.0, -1.0], 6)          # (24,)
    >>> forecast, w = attention_forecast(series, 20, window=4)
    >>> round(forecast, 6), series[20]
    (0.0, np.float64(0.0))
    """
    x = as_real_array("values", values, min_ndim=1)
    t, window = check_int("t", t), check_int("window", window, minimum=1)
    bandwidth = check_real("bandwidth", bandwidth, positive=True)
    if not 2 * window <= t <= len(x):
        raise ValueError(f"need 2 * window <= t <= len(values): t={t}, window={window}, len(values)={len(x)}")
    windows = np.lib.stride_tricks.sliding_window_view(x[:t], window)  # (t - window + 1, W)
    query, keys = windows[-1], windows[:-1]  # (W,), (M, W): key j ends at j + W - 1
    following = x[window:t]  # (M,): the value right after key window j
    q_level, k_level = query.mean(), keys.mean(axis=1)  # (), (M,)
    distance = (((keys - k_level[:, None]) - (query - q_level)) ** 2).mean(axis=1)  # (M,)
    weights = softmax(-distance / (2 * bandwidth**2))  # (M,)
    return float(q_level + weights @ (following - k_level)), weights
