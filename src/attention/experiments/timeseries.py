"""The time-series note's experiments.

Kernel regression on noisy samples, and one-step forecasts
of a periodic series with a changepoint, by attention over past windows and two baselines.
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..timeseries import attention_forecast, nadaraya_watson
from . import Commands
from .plotting import WIDTH, pyplot, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


def moving_average_forecast(values: np.ndarray, t: int, *, window: int = 12) -> float:
    """Baseline: the mean of the last ``window`` values."""
    return float(np.mean(values[t - window : t]))


def last_period_forecast(values: np.ndarray, t: int, *, period: int = 12) -> float:
    """Baseline: the value one period ago."""
    return float(values[t - period])


@functools.lru_cache(maxsize=2)
def evaluate(seed: int = 0) -> dict[str, Any]:
    """Evaluate the one-step forecasts after the changepoint.

    Held-out one-step forecasts after the changepoint: mean squared error of each method,
    and the share of attention on windows a whole number of periods back.
    """
    s = make_series(seed=seed)
    ts = range(s.changepoint, len(s.values))
    truth = s.values[list(ts)]
    forecasts: dict[str, list[float]] = {"attention": [], "moving average": [], "last period": []}
    on_period = []
    for t in ts:
        f, w = attention_forecast(s.values, t)
        forecasts["attention"].append(f)
        forecasts["moving average"].append(moving_average_forecast(s.values, t))
        forecasts["last period"].append(last_period_forecast(s.values, t, period=s.period))
        lags = np.arange(len(w), 0, -1)  # (M,)
        on_period.append(w[lags % s.period == 0].sum())
    sq = {name: (np.array(f) - truth) ** 2 for name, f in forecasts.items()}  # (T,) each
    return {"mse": {name: float(e.mean()) for name, e in sq.items()},
            "mse_first_period": {name: float(e[: s.period].mean()) for name, e in sq.items()},
            "mse_later": {name: float(e[s.period :].mean()) for name, e in sq.items()},
            "attention_on_whole_periods": float(np.mean(on_period)), "forecasts": forecasts, "truth": truth,
            "series": s}


TEXT = {
    "en": {"series": "series", "truth": "held-out truth", "attention": "attention", "ma": "moving average",
           "lp": "last period", "t": "time step", "lag": "lag (steps back)", "w": "attention weight",
           "nw": "Nadaraya–Watson: kernel fits", "h": "h =",
           "weights": "weights of one forecast",
           "change": "changepoint", "method": "method", "mse": "MSE, all held-out steps",
           "first": "MSE, first period after the change", "later": "MSE, afterwards",
           "forecasts": "one-step forecasts after the changepoint"},
    "zh": {"series": "序列", "truth": "留出的真实值", "attention": "注意力", "ma": "移动平均",
           "lp": "上一周期", "t": "时间步", "lag": "滞后（往回的步数）", "w": "注意力权重",
           "nw": "Nadaraya–Watson 核回归", "h": "h =", "weights": "一次预测的注意力权重",
           "change": "变点", "method": "方法", "mse": "均方误差：全部留出步",
           "first": "均方误差：变点后第一个周期", "later": "均方误差：之后",
           "forecasts": "变点之后的单步预测"},
}
METHODS = {"attention": "attention", "moving average": "ma", "last period": "lp"}


def table(*, lang: str = "en") -> str:
    """Return the held-out errors as a Markdown table."""
    t, r = TEXT[lang], evaluate()
    rows = [f"| {t[key]} | {r['mse'][name]:.3f} | {r['mse_first_period'][name]:.3f} | {r['mse_later'][name]:.3f} |"
            for name, key in METHODS.items()]
    return "\n".join([f"| {t['method']} | {t['mse']} | {t['first']} | {t['later']} |", "|---|---:|---:|---:|", *rows])


def figure(*, lang: str = "en") -> Figure:
    """Draw the time-series note's three panels.

    Three panels, stacked: kernel regression at three bandwidths, the forecasts after the
    changepoint, and one forecast's attention over lags.
    """
    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(3, 1, figsize=(WIDTH, 10.5))
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 5, 60))
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(60)
    grid = np.linspace(0, 5, 200)
    axes[0].scatter(x, y, s=8, color="gray")
    for h in (0.05, 0.3, 2.0):
        axes[0].plot(grid, nadaraya_watson(grid, x, y, bandwidth=h)[0], label=f"{t['h']} {h}")
    axes[0].set_title(t["nw"])
    axes[0].legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    r = evaluate()
    s, ts = r["series"], np.arange(r["series"].changepoint, len(r["series"].values))
    axes[1].plot(np.arange(len(s.values)), s.values, color="gray", lw=1, alpha=0.6, label=t["series"])
    axes[1].plot(ts, r["truth"], color="#888888", lw=2.5, label=t["truth"])
    for name, key in METHODS.items():
        axes[1].plot(ts, r["forecasts"][name], lw=1.2, label=t[key])
    axes[1].axvline(s.changepoint, color="crimson", ls="--", lw=1)
    axes[1].set_xlim(s.changepoint - 36, len(s.values))
    axes[1].set_xlabel(t["t"])
    axes[1].set_title(t["forecasts"])
    axes[1].legend(ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    _, w = attention_forecast(s.values, s.changepoint + 3)
    axes[2].bar(np.arange(len(w), 0, -1), w, width=1.0)
    for k in range(s.period, len(w) + 1, s.period):
        axes[2].axvline(k, color="crimson", lw=0.6, ls=":")
    axes[2].set_xlabel(t["lag"])
    axes[2].set_ylabel(t["w"])
    axes[2].set_title(t["weights"])
    fig.tight_layout()
    return fig


def _run(args: argparse.Namespace) -> int:
    print("evaluating one-step forecasts after the changepoint ...", file=sys.stderr)
    print(table(lang=args.lang))
    print(f"attention on whole-period lags: {evaluate()['attention_on_whole_periods']:.3f}")
    if args.plot:
        save(figure(lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``timeseries`` command."""
    commands.add("timeseries", help="kernel regression and attention forecasting on a periodic series", run=_run)
