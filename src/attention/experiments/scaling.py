r"""Why divide by $\sqrt{d_k}$: softmax saturation and vanishing gradients, measured.

For each key dimension $d_k$ and scale factor, draw $q, k \sim \mathcal N(0, 1)$ with a
fixed seed, attend each query over ``keys`` keys, and measure what the note discusses.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backward import sdpa_backward, softmax_backward
from ..softmax import softmax
from . import Commands
from .plotting import WIDTH, pyplot, save
from .widgets import embed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Scale factors as functions of d_k, by name.
SCALES: dict[str, Callable[[int], float]] = {
    "1": lambda d_k: 1.0,
    "1/sqrt(d_k)": lambda d_k: 1.0 / math.sqrt(d_k),
    "1/d_k": lambda d_k: 1.0 / d_k,
}
D_KS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
VALUE_DIM = 16  #: Ev, the same for every d_k


@dataclass(frozen=True)
class Measurement:
    """One row of the experiment: averages over ``rows`` independent queries."""

    d_k: int
    scale: str
    score_std: float  #: std of the scaled scores
    entropy: float  #: softmax entropy / log(keys): 1 = uniform, 0 = one-hot
    max_weight: float  #: mean of each row's largest weight
    score_grad: float  #: mean norm of the gradient reaching one row of scores
    query_grad: float  #: mean norm of the gradient reaching one query


def measure(d_k: int, scale: str | float, *, rows: int = 256, keys: int = 64, seed: int = 0) -> Measurement:
    """Measure one (d_k, scale) cell.

    Parameters
    ----------
    d_k : int
        Key dimension E.
    scale : str or float
        A key of :data:`SCALES`, or the factor itself.
    rows : int, default 256
        Independent queries, each with its own keys and values.
    keys : int, default 64
        Keys per query (S).
    seed : int, default 0

    Returns
    -------
    Measurement

    Raises
    ------
    ValueError
        For an unknown ``scale`` or non-positive sizes.

    Examples
    --------
    >>> m = measure(64, "1/sqrt(d_k)")
    >>> 0.9 < m.score_std < 1.1          # Var(q.k / sqrt(d_k)) = 1
    True
    """
    if isinstance(scale, str) and scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)} or a number, got {scale!r}")
    if min(d_k, rows, keys) < 1:
        raise ValueError(f"d_k, rows and keys must be positive, got {d_k}, {rows}, {keys}")
    return _measure(draws(d_k, rows=rows, keys=keys, seed=seed), scale)


def draws(d_k: int, *, rows: int = 256, keys: int = 64, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Draw the random ``(q, k, v, grad_out)`` of one d_k.

    The random ``(q, k, v, grad_out)`` of one d_k: the same for every scale (and for the QK-norm
    note's experiment), so a grid draws them once per d_k.
    """
    rng = np.random.default_rng([seed, d_k])
    q = rng.standard_normal((rows, 1, d_k))  # (R, L=1, E)
    k = rng.standard_normal((rows, keys, d_k))  # (R, S, E)
    # Ev is fixed so that only the scores change with d_k, not the size of what flows back.
    v = rng.standard_normal((rows, keys, VALUE_DIM))  # (R, S, Ev)
    grad_out = rng.standard_normal((rows, 1, VALUE_DIM))  # (R, 1, Ev): a random upstream gradient
    return q, k, v, grad_out


def _measure(drawn: tuple[np.ndarray, ...], scale: str | float) -> Measurement:
    """:func:`measure` of the draws ``drawn``."""
    q, k, v, grad_out = drawn  # (R, 1, E), (R, S, E), (R, S, Ev), (R, 1, Ev)
    d_k = q.shape[-1]
    factor = SCALES[scale](d_k) if isinstance(scale, str) else float(scale)

    entropy, max_weight, score_grad = row_statistics(factor * (q @ k.transpose(0, 2, 1)), v, grad_out)
    grad_q, _, _ = sdpa_backward(grad_out, q, k, v, scale=factor)  # (R, 1, E)
    return Measurement(
        d_k=d_k,
        scale=scale if isinstance(scale, str) else f"{factor:.4g}",
        score_std=float((factor * (q @ k.transpose(0, 2, 1))).std()),
        entropy=entropy,
        max_weight=max_weight,
        score_grad=score_grad,
        query_grad=float(np.linalg.norm(grad_q, axis=-1).mean()),
    )


def gradient_by_key(d_k: int, scale: str = "1", *, rows: int = 256, keys: int = 64, seed: int = 0) -> dict[str, Any]:
    """Measure where the gradient goes, key by key.

    Where the gradient goes, key by key, for the draws of :func:`measure`: averaged over rows,
    the norm of what the most-weighted key, the runner-up and all other keys together add to the
    query's gradient (``dQ = scale * sum_j dS_j k_j``), and the norm of each group's own gradient
    (``dK_j = scale * dS_j q``; for "rest", the mean over the other keys).
    """
    q, k, v, grad_out = draws(d_k, rows=rows, keys=keys, seed=seed)  # the same draws as measure()
    factor = SCALES[scale](d_k)
    p = softmax(factor * (q @ k.transpose(0, 2, 1)))[:, 0]  # (R, S)
    ds = softmax_backward(p, (grad_out @ v.transpose(0, 2, 1))[:, 0])  # (R, S)
    order = np.argsort(-p, axis=1)  # (R, S): keys by weight
    r = np.arange(rows)[:, None]
    to_query = factor * ds[..., None] * k  # (R, S, E): each key's share of dQ
    first, second, rest = order[:, :1], order[:, 1:2], order[:, 2:]
    def norm(x: np.ndarray) -> float:
        return float(np.linalg.norm(x, axis=-1).mean())

    key_grad = factor * np.abs(ds) * np.linalg.norm(q[:, 0], axis=-1, keepdims=True)  # (R, S) = |dK_j|
    return {"query": {"top": norm(to_query[r, first][:, 0]), "runner_up": norm(to_query[r, second][:, 0]),
                      "rest": norm(to_query[r, rest].sum(axis=1))},
            "keys": {"top": float(key_grad[r, first].mean()), "runner_up": float(key_grad[r, second].mean()),
                     "rest": float(key_grad[r, rest].mean())}}


def row_statistics(scores: np.ndarray, v: np.ndarray, grad_out: np.ndarray) -> tuple[float, float, float]:
    """Compute a row's entropy, largest weight and gradient at the scores, averaged.

    For scores ``(R, 1, S)``: mean normalised entropy, mean largest weight, and the mean norm
    of the gradient reaching the scores when ``grad_out (R, 1, Ev)`` flows back through ``v (R, S, Ev)``.
    """
    p = softmax(scores)  # (R, 1, S)
    grad_scores = softmax_backward(p, grad_out @ v.transpose(0, 2, 1))  # (R, 1, S)
    return float(entropy(p).mean()), float(p.max(-1).mean()), float(np.linalg.norm(grad_scores, axis=-1).mean())


def entropy(p: np.ndarray) -> np.ndarray:
    """Return the softmax entropy over the last axis, normalised.

    Softmax entropy over the last axis, divided by its largest value log(S): 1 for uniform
    weights, 0 for one-hot ones.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)  # (..., S)
    return -plogp.sum(-1) / math.log(p.shape[-1])  # (...)


@functools.lru_cache(maxsize=4)
def run(d_ks: tuple[int, ...] = D_KS, scales: tuple[str, ...] = tuple(SCALES), *, seed: int = 0,
        progress: Callable[[int, int, int], None] | None = None) -> tuple[Measurement, ...]:
    """All cells of the grid, in order of d_k then scale; cached, so the site's table and figures share one run.

    ``progress``, if given, is called as ``progress(done, total, d_k)`` after each d_k.
    """
    out = []
    for i, d_k in enumerate(d_ks):
        drawn = draws(d_k, seed=seed)
        out += [_measure(drawn, s) for s in scales]
        if progress is not None:
            progress(i + 1, len(d_ks), d_k)
    return tuple(out)


TEXT: dict[str, dict[str, Any]] = {
    "en": {"headers": ["d_k", "scale", "score std", "entropy (norm.)", "max weight", "‖∂ℓ/∂scores‖", "‖∂ℓ/∂q‖"],
           "entropy": "softmax entropy (normalised)", "max_weight": "largest weight",
           "score_grad": "gradient norm at the scores", "query_grad": "gradient norm at the query",
           "x": "key dimension $d_k$", "scale": "scale"},
    "zh": {"headers": ["d_k", "缩放因子", "分数标准差", "熵（归一化）", "最大权重", "‖∂ℓ/∂分数‖", "‖∂ℓ/∂q‖"],
           "entropy": "softmax 熵（归一化）", "max_weight": "最大权重",
           "score_grad": "分数处的梯度范数", "query_grad": "查询处的梯度范数",
           "x": "键维度 $d_k$", "scale": "缩放因子"},
}


def table(results: Sequence[Measurement] | None = None, *, lang: str = "en",
          d_ks: Sequence[int] = (4, 64, 1024)) -> str:
    """Return the results as a Markdown table (rows for ``d_ks`` only, to stay readable)."""
    results = run() if results is None else results
    headers = TEXT[lang]["headers"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for m in results:
        if m.d_k in d_ks:
            d_k, scale, *numbers = astuple(m)
            lines.append(f"| {d_k} | `{scale}` | " + " | ".join(f"{x:.3g}" for x in numbers) + " |")
    return "\n".join(lines)


def figure(results: Sequence[Measurement] | None = None, *, lang: str = "en") -> Figure:
    """Draw the four measurements against d_k.

    The four measurements against d_k, one panel each (stacked), one line per scale. The gradient
    at the scores is on a linear axis, so that a factor of 3 looks like one; the gradient at the
    query, which spans three orders of magnitude, is on a log axis.
    """
    plt = pyplot()
    results = run() if results is None else results
    labels = TEXT[lang]
    fig, axes = plt.subplots(4, 1, figsize=(WIDTH, 10.5), sharex=True)
    for ax, field in zip(axes, ["entropy", "max_weight", "score_grad", "query_grad"]):
        for scale in dict.fromkeys(m.scale for m in results):
            rows = [m for m in results if m.scale == scale]
            ax.plot([m.d_k for m in rows], [getattr(m, field) for m in rows], marker="o", label=scale)
        ax.set_xscale("log", base=2)
        ax.set_title(labels[field])
        ax.grid(alpha=0.3)
        if field == "query_grad":
            ax.set_yscale("log")
    axes[-1].set_xlabel(labels["x"])
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, title=labels["scale"], ncols=3, loc="upper center")
    return fig


#: Keys of the widget's one row.
WIDGET_KEYS = 16
WIDGET_TEXT: dict[str, dict[str, Any]] = {
    "en": {"caption": "Move the sliders to change d_k and the scale: the bars are one query's weights over "
                      "16 keys. This row, unscaled, has a largest weight of {raw_max_4} at d_k = 4 and {raw_max_1024} "
                      "at 1024, and a Jacobian norm (how much gradient can get through) of {raw_j_4} and "
                      "{raw_j_1024}. Divided by √d_k its largest weight still moves ({max_4}, {max_64}, {max_1024} "
                      "at d_k = 4, 64, 1024): every d_k draws new vectors, and one row is noisy; averaged over 256 "
                      "rows, as in the table above, the scaled curves are flat.",
           "dk": "d_k", "scale": "scale", "weights": "the weights of one query over 16 keys", "keys": "keys",
           "entropy": "entropy (normalised)", "jacobian": "‖softmax Jacobian‖", "max": "largest weight",
           "scales": {"1": "none (1)", "1/sqrt(d_k)": "1/√d_k", "1/d_k": "1/d_k"},
           "headers": ["d_k", "scale", "entropy (norm.)", "‖J‖", "max weight"]},
    "zh": {"caption": "拖动两个滑块改变 d_k 和缩放方式：柱子是一个查询在 16 个键上的权重。这一行不缩放时，"
                      "最大权重在 d_k = 4 时是 {raw_max_4}，在 1024 时是 {raw_max_1024}；"
                      "雅可比矩阵的范数（最多能传回多少梯度）从 {raw_j_4} 变为 {raw_j_1024}。"
                      "除以 √d_k 后，它的最大权重仍在变化（d_k = 4、64、1024 时分别是 "
                      "{max_4}、{max_64}、{max_1024}）：每个 d_k 都重新抽取向量，单独一行有噪声；"
                      "像上面的表那样对 256 行取平均，缩放后的曲线是平的。",
           "dk": "d_k", "scale": "缩放", "weights": "一个查询在 16 个键上的权重", "keys": "键",
           "entropy": "熵（归一化）", "jacobian": "‖softmax 雅可比矩阵‖", "max": "最大权重",
           "scales": {"1": "不缩放 (1)", "1/sqrt(d_k)": "1/√d_k", "1/d_k": "1/d_k"},
           "headers": ["d_k", "缩放", "熵（归一化）", "‖J‖", "最大权重"]},
}


def widget_scores(d_k: int, *, seed: int = 0) -> np.ndarray:
    """Return the widget's row: the unscaled scores (WIDGET_KEYS,) of one query q ~ N(0, 1) with keys ~ N(0, 1)."""
    rng = np.random.default_rng([seed, d_k, 1])
    q = rng.standard_normal(d_k)  # (E,)
    k = rng.standard_normal((WIDGET_KEYS, d_k))  # (S, E)
    return k @ q  # (S,)


def widget_row(d_k: int, scale: str, *, seed: int = 0) -> dict[str, Any]:
    """Compute what the widget shows for one (d_k, scale).

    What the widget shows for one (d_k, scale): normalised entropy, the Frobenius norm of the
    softmax Jacobian diag(p) - p pᵀ, and the largest weight.
    """
    p = softmax(SCALES[scale](d_k) * widget_scores(d_k, seed=seed))  # (S,)
    return {"entropy": float(entropy(p)), "jacobian": float(np.linalg.norm(np.diag(p) - np.outer(p, p))),
            "max": float(p.max())}


def widget_table(*, lang: str = "en", d_ks: Sequence[int] = (4, 64, 1024)) -> str:
    """Return the widget's values at ``d_ks`` for every scale, as the widget prints them (3 decimals)."""
    t = WIDGET_TEXT[lang]
    lines = ["| " + " | ".join(t["headers"]) + " |", "|" + "---:|" * len(t["headers"])]
    for d_k in d_ks:
        for scale in SCALES:
            row = widget_row(d_k, scale)
            lines.append(f"| {d_k} | {t['scales'][scale]} | {row['entropy']:.3f} | {row['jacobian']:.3f} "
                         f"| {row['max']:.3f} |")
    return "\n".join(lines)


def widget_caption(*, lang: str = "en") -> str:
    """Write the widget's caption, its numbers from the widget's own rows (as :func:`widget_table` prints them)."""
    raw = {d_k: widget_row(d_k, "1") for d_k in (4, 1024)}
    scaled = {d_k: widget_row(d_k, "1/sqrt(d_k)") for d_k in (4, 64, 1024)}
    return WIDGET_TEXT[lang]["caption"].format(
        raw_max_4=f"{raw[4]['max']:.3f}", raw_max_1024=f"{raw[1024]['max']:.3f}",
        raw_j_4=f"{raw[4]['jacobian']:.3f}", raw_j_1024=f"{raw[1024]['jacobian']:.3f}",
        **{f"max_{d_k}": f"{row['max']:.3f}" for d_k, row in scaled.items()})


def widget(*, lang: str = "en") -> str:
    """Make the scale-and-temperature widget: the raw scores of every d_k and each scale's factors."""
    t = WIDGET_TEXT[lang]
    state = {"dks": D_KS, "raw": [widget_scores(d_k) for d_k in D_KS], "dk_index": D_KS.index(64),
             "scales": [{"name": name, "label": t["scales"][name], "factors": [f(d_k) for d_k in D_KS]}
                        for name, f in SCALES.items()],
             "scale_index": list(SCALES).index("1/sqrt(d_k)"),
             "labels": {key: t[key] for key in ("dk", "scale", "weights", "keys", "entropy", "jacobian", "max")}}
    return embed("scaling", state, widget_caption(lang=lang))


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()

    def progress(done: int, total: int, d_k: int) -> None:
        print(f"[{done}/{total}] d_k={d_k} done ({time.perf_counter() - start:.1f} s)", file=sys.stderr)

    results = run(seed=args.seed, progress=progress)
    print(table(results, lang=args.lang, d_ks=D_KS))
    if args.plot:
        save(figure(results, lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``scaling`` command to ``python -m attention``."""
    p = commands.add("scaling", help="measure softmax saturation and gradients against d_k and scale", run=_run)
    p.add_argument("--seed", type=int, default=0)
