"""The QK-norm note's experiment.

Softmax entropy and the gradient at the scores against d_k,
with and without normalised queries and keys, at two initialisation scales.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..qk_norm import l2_normalize
from . import Commands
from .plotting import WIDTH, pyplot, save
from .scaling import draws, row_statistics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METHODS: dict[str, tuple[bool, Callable[[int], float]]] = {
    # name: (normalise q and k?, factor as a function of d_k)
    "1/sqrt(d_k)": (False, lambda d_k: 1 / math.sqrt(d_k)),
    "QK-norm, g = sqrt(d_k)": (True, math.sqrt),
    "QK-norm, g = 4": (True, lambda d_k: 4.0),
}
D_KS = (16, 64, 256, 1024)
INIT_SCALES = (1.0, 4.0)
#: ``{(method, init_scale): [(d_k, entropy, max_weight, score_grad), ...]}``: the experiment's results.
Grid = dict[tuple[str, float], list[tuple[int, float, float, float]]]


def measure(d_k: int, method: str, init_scale: float, *, rows: int = 256, keys: int = 64,
            seed: int = 0) -> tuple[float, float, float]:
    """``(entropy, max_weight, score_grad)`` for q, k ~ N(0, init_scale^2) (see the scaling experiment)."""
    drawn = draws(d_k, rows=rows, keys=keys, seed=seed)
    return _statistics(drawn, _product(drawn, init_scale, METHODS[method][0]), method)


def _product(drawn: tuple[np.ndarray, ...], init_scale: float, normalise: bool) -> np.ndarray:
    """Return q · k (R, 1, S) for the draws ``drawn`` times ``init_scale``, normalised or not, before any factor.

    What every method of that kind multiplies at that scale: the grid makes it once, not once per method
    (k is 256 x 64 x d_k).
    """
    q, k = (init_scale * x for x in drawn[:2])  # (R, 1, E), (R, S, E)
    if normalise:
        q, k = l2_normalize(q), l2_normalize(k)
    return q @ k.transpose(0, 2, 1)  # (R, 1, S)


def _statistics(drawn: tuple[np.ndarray, ...], product: np.ndarray, method: str) -> tuple[float, float, float]:
    """``(entropy, max_weight, score_grad)`` of ``method``'s scores: its factor times ``product``."""
    _, k, v, grad_out = drawn  # (R, S, E), (R, S, Ev), (R, 1, Ev)
    return row_statistics(METHODS[method][1](k.shape[-1]) * product, v, grad_out)


@functools.lru_cache(maxsize=1)
def run() -> Grid:
    """Measure the grid of methods, initialisation scales and d_k.

    ``{(method, init_scale): [(d_k, entropy, max_weight, score_grad), ...]}`` over the grid (the
    draws made once per d_k).
    """
    cells: Grid = {(m, s): [] for m in METHODS for s in INIT_SCALES}
    for d in D_KS:
        drawn = draws(d)
        products = {(s, normalise): _product(drawn, s, normalise) for s in INIT_SCALES for normalise in (False, True)}
        for m, s in cells:
            cells[(m, s)].append((d, *_statistics(drawn, products[(s, METHODS[m][0])], m)))
    return cells


TEXT = {
    "en": {"method": "method", "init": "init scale σ", "entropy": "entropy (norm.)", "grad": "‖∂ℓ/∂scores‖",
           "x": "key dimension $d_k$", "title_e": "softmax entropy", "title_g": "gradient norm at the scores"},
    "zh": {"method": "方法", "init": "初始化尺度 σ", "entropy": "熵（归一化）", "grad": "‖∂ℓ/∂分数‖",
           "x": "键维度 $d_k$", "title_e": "softmax 的熵", "title_g": "分数处的梯度范数"},
}


def table(*, lang: str = "en", d_ks: Sequence[int] = (16, 1024)) -> str:
    """Return the grid as a Markdown table (rows for ``d_ks`` only)."""
    t = TEXT[lang]
    lines = [f"| {t['method']} | {t['init']} | d_k | {t['entropy']} | {t['grad']} |", "|---|---:|---:|---:|---:|"]
    for (method, sigma), rows in run().items():
        for d, entropy, _, grad in rows:
            if d in d_ks:
                lines.append(f"| {method} | {sigma:g} | {d} | {entropy:.3f} | {grad:.3f} |")
    return "\n".join(lines)


def figure(*, lang: str = "en") -> Figure:
    """Entropy and gradient norm against d_k (two panels, stacked), one line per (method, init scale)."""
    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 8.2), sharex=True)
    for (method, sigma), rows in run().items():
        style = "-" if sigma == 1 else "--"
        for ax, col in zip(axes, (1, 3)):
            ax.plot([r[0] for r in rows], [r[col] for r in rows], style, marker="o", label=f"{method}, σ={sigma:g}")
    for ax, title in zip(axes, (t["title_e"], t["title_g"])):
        ax.set_xscale("log", base=2)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].set_xlabel(t["x"])
    axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncols=1)
    fig.tight_layout()
    return fig


def _run(args: argparse.Namespace) -> int:
    print("measuring entropy and gradients with and without QK-norm ...", file=sys.stderr)
    print(table(lang=args.lang, d_ks=D_KS))
    if args.plot:
        save(figure(lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``qk-norm`` command."""
    commands.add("qk-norm", help="entropy and gradients against d_k, with and without QK-norm", run=_run)
