r"""Attention on a time series: kernel regression, then forecasting from past windows.

Nadaraya–Watson regression is attention with a Gaussian kernel: a query point $x$ attends
to the training points $x_i$ with weights $\mathrm{softmax}_i\big(-(x - x_i)^2 / 2h^2\big)$
and returns the weighted average of their targets $y_i$. Forecasting uses the same idea on
windows: the last ``window`` values are the query, every earlier window is a key, and the
value that followed each earlier window is its value.
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass

import numpy as np

from ._validation import as_real_array
from .softmax import softmax


def nadaraya_watson(x_query, x_train, y_train, *, bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Kernel regression as attention: returns ``(prediction (Lq,), weights (Lq, N))``.

    Raises
    ------
    ValueError
        Mismatched lengths or a non-positive ``bandwidth``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> y = np.array([0.0, 10.0, 20.0])
    >>> pred, w = nadaraya_watson(np.array([1.0]), x, y, bandwidth=0.1)   # a narrow kernel: the nearest point
    >>> pred.round(6), w.round(3)
    (array([10.]), array([[0., 1., 0.]]))
    >>> pred, _ = nadaraya_watson(np.array([1.0]), x, y, bandwidth=100.0)  # a wide kernel: the mean
    >>> pred.round(3)
    array([10.])
    """
    xq = as_real_array("x_query", x_query, min_ndim=1)  # (Lq,)
    xt = as_real_array("x_train", x_train, min_ndim=1)  # (N,)
    yt = as_real_array("y_train", y_train, min_ndim=1)  # (N,)
    if xt.shape != yt.shape:
        raise ValueError(f"x_train and y_train must have the same shape: {xt.shape} vs {yt.shape}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")
    scores = -((xq[:, None] - xt[None, :]) ** 2) / (2 * bandwidth**2)  # (Lq, N)
    weights = softmax(scores)  # (Lq, N)
    return weights @ yt, weights


@dataclass(frozen=True)
class Series:
    """A periodic series with a level shift: ``values (N,)``, ``period``, ``changepoint``."""

    values: np.ndarray
    period: int
    changepoint: int


def make_series(n: int = 240, *, period: int = 12, changepoint: int = 180, shift: float = 2.0,
                noise: float = 0.1, seed: int = 0) -> Series:
    """Two harmonics of ``period``, plus ``shift`` from ``changepoint`` on, plus Gaussian noise."""
    t = np.arange(n)  # (N,)
    phase = 2 * np.pi * t / period  # (N,)
    clean = np.sin(phase) + 0.5 * np.sin(2 * phase + 1.0) + shift * (t >= changepoint)  # (N,)
    return Series(clean + noise * np.random.default_rng(seed).standard_normal(n), period, changepoint)


def attention_forecast(values, t: int, *, window: int = 12, bandwidth: float = 0.1) -> tuple[float, np.ndarray]:
    """Forecast ``values[t]`` from ``values[:t]``; returns ``(forecast, weights over the past windows)``.

    Each window is compared after removing its mean (so a level shift does not hide a
    matching shape); the forecast is the current level plus the weighted average of what
    followed each past window, relative to that window's level. ``weights[j]`` belongs to
    the window ending at ``t - 1 - lag`` with ``lag = len(weights) - j``, i.e. the window
    ``lag`` steps earlier than the query window.
    """
    x = as_real_array("values", values, min_ndim=1)
    if not window <= t - window < len(x) + 1:
        raise ValueError(f"need window <= t - window: t={t}, window={window}")
    windows = np.lib.stride_tricks.sliding_window_view(x[:t], window)  # (t - window + 1, W)
    query, keys = windows[-1], windows[:-1]  # (W,), (M, W): key j ends at j + W - 1
    following = x[window : t]  # (M,): the value right after key window j
    q_level, k_level = query.mean(), keys.mean(axis=1)  # (), (M,)
    distance = (((keys - k_level[:, None]) - (query - q_level)) ** 2).mean(axis=1)  # (M,)
    weights = softmax(-distance / (2 * bandwidth**2))  # (M,)
    return float(q_level + weights @ (following - k_level)), weights


def moving_average_forecast(values, t: int, *, window: int = 12) -> float:
    """Baseline: the mean of the last ``window`` values."""
    return float(np.mean(values[t - window : t]))


def last_period_forecast(values, t: int, *, period: int = 12) -> float:
    """Baseline: the value one period ago."""
    return float(values[t - period])


@functools.lru_cache(maxsize=2)
def evaluate(seed: int = 0) -> dict:
    """Held-out one-step forecasts after the changepoint: mean squared error of each method,
    and the share of attention on windows a whole number of periods back."""
    s = make_series(seed=seed)
    ts = range(s.changepoint, len(s.values))
    truth = s.values[list(ts)]
    forecasts = {"attention": [], "moving average": [], "last period": []}
    on_period = []
    for t in ts:
        f, w = attention_forecast(s.values, t)
        forecasts["attention"].append(f)
        forecasts["moving average"].append(moving_average_forecast(s.values, t))
        forecasts["last period"].append(last_period_forecast(s.values, t, period=s.period))
        lags = np.arange(len(w), 0, -1)  # (M,)
        on_period.append(w[lags % s.period == 0].sum())
    sq = {name: (np.array(f) - truth) ** 2 for name, f in forecasts.items()}  # (T,) each
    mse = {name: float(e.mean()) for name, e in sq.items()}
    mse_first = {name: float(e[: s.period].mean()) for name, e in sq.items()}
    mse_later = {name: float(e[s.period :].mean()) for name, e in sq.items()}
    return {"mse": mse, "mse_first_period": mse_first, "mse_later": mse_later, "attention_on_whole_periods": float(np.mean(on_period)), "forecasts": forecasts,
            "truth": truth, "series": s}


TEXT = {
    "en": {"series": "series", "truth": "held-out truth", "attention": "attention", "ma": "moving average",
           "lp": "last period", "t": "time step", "lag": "lag (steps back)", "w": "attention weight",
           "nw": "Nadaraya–Watson: noisy samples and kernel fits", "h": "bandwidth", "weights": "weights of one forecast",
           "change": "changepoint", "method": "method", "mse": "MSE, all held-out steps",
           "first": "MSE, first period after the change", "later": "MSE, afterwards"},
    "zh": {"series": "序列", "truth": "留出的真实值", "attention": "注意力", "ma": "移动平均",
           "lp": "上一周期", "t": "时间步", "lag": "滞后（往回的步数）", "w": "注意力权重",
           "nw": "Nadaraya–Watson：带噪样本与核回归", "h": "带宽", "weights": "一次预测的注意力权重",
           "change": "变点", "method": "方法", "mse": "均方误差：全部留出步",
           "first": "均方误差：变点后第一个周期", "later": "均方误差：之后"},
}


def mse_table(*, lang: str = "en") -> str:
    """The held-out errors as a Markdown table."""
    t, r = TEXT[lang], evaluate()
    names = {"attention": t["attention"], "moving average": t["ma"], "last period": t["lp"]}
    rows = [f"| {names[k]} | {r['mse'][k]:.3f} | {r['mse_first_period'][k]:.3f} | {r['mse_later'][k]:.3f} |" for k in names]
    return "\n".join([f"| {t['method']} | {t['mse']} | {t['first']} | {t['later']} |", "|---|---:|---:|---:|", *rows])


def figure_svg(*, lang: str = "en") -> str:
    """Kernel regression, the forecasts after the changepoint, and one forecast's attention over lags."""
    from .plotting import pyplot, to_svg

    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 5, 60))
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(60)
    grid = np.linspace(0, 5, 200)
    axes[0].scatter(x, y, s=8, color="gray")
    for h in (0.05, 0.3, 2.0):
        axes[0].plot(grid, nadaraya_watson(grid, x, y, bandwidth=h)[0], label=f"{t['h']} {h}")
    axes[0].set_title(t["nw"], fontsize=10)
    axes[0].legend(fontsize=8)
    r = evaluate()
    s, ts = r["series"], np.arange(r["series"].changepoint, len(r["series"].values))
    axes[1].plot(np.arange(len(s.values)), s.values, color="lightgray", label=t["series"])
    axes[1].plot(ts, r["truth"], color="black", lw=1, label=t["truth"])
    for key, name in (("attention", "attention"), ("moving average", "ma"), ("last period", "lp")):
        axes[1].plot(ts, r["forecasts"][key], lw=1, label=t[name])
    axes[1].axvline(s.changepoint, color="crimson", ls="--", lw=1)
    axes[1].set_xlim(s.changepoint - 36, len(s.values))
    axes[1].set_xlabel(t["t"])
    axes[1].legend(fontsize=7)
    _, w = attention_forecast(s.values, s.changepoint + 3)
    axes[2].bar(np.arange(len(w), 0, -1), w, width=1.0)
    for k in range(s.period, len(w) + 1, s.period):
        axes[2].axvline(k, color="crimson", lw=0.5, ls=":")
    axes[2].set_xlabel(t["lag"])
    axes[2].set_ylabel(t["w"])
    axes[2].set_title(t["weights"], fontsize=10)
    fig.tight_layout()
    return to_svg(fig)


def _cli(args: argparse.Namespace) -> int:
    from .plotting import write_svg

    print("evaluating one-step forecasts after the changepoint ...", file=sys.stderr)
    print(mse_table(lang=args.lang))
    print(f"attention on whole-period lags: {evaluate()['attention_on_whole_periods']:.3f}")
    if args.plot:
        write_svg(args.plot, figure_svg(lang=args.lang))
    return 0


def register(commands) -> None:
    """Add the ``timeseries`` command."""
    p = commands.add_parser("timeseries", help="kernel regression and attention forecasting on a periodic series")
    p.add_argument("--plot", metavar="FILE.svg")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.set_defaults(run=_cli)
