"""The first note's experiment: the source note's example, and what the naive formula does when
the scores grow (the ``demo`` command)."""

from __future__ import annotations

import numpy as np

from ..naive import naive_attention
from ..scaled_dot_product import scaled_dot_product_attention
from .plotting import pyplot, save

#: The source note's example: one query, two key-value pairs, d_k = 3.
Q = np.array([[1, 0, 1]])  # (L, E)
K = np.array([[1, 0, 1], [0, 1, 0]])  # (S, E)
V = np.array([[0.5, 0.5], [0.1, 0.9]])  # (S, Ev)

TEXT = {
    "en": {"factor": "inputs scaled by", "weights": "weights", "output": "output", "naive": "naive formula",
           "stable": "stable (max subtracted)", "key": "key", "title": "the source note's example"},
    "zh": {"factor": "输入放大倍数", "weights": "权重", "output": "输出", "naive": "原始公式",
           "stable": "稳定版（先减最大值）", "key": "键", "title": "原笔记的例子"},
}


def measure(factor: float = 1.0) -> dict:
    """The example with Q and K multiplied by ``factor``: scores, weights and output of the stable
    implementation, and the naive formula's output (NaN once ``exp`` overflows)."""
    q, k = factor * Q, factor * K  # (L, E), (S, E)
    out, weights = scaled_dot_product_attention(q, k, V, return_weights=True)  # (L, Ev), (L, S)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what this shows
        naive = naive_attention(q, k, V)  # (L, Ev)
    return {"scores": q @ k.T / np.sqrt(Q.shape[-1]), "weights": weights, "output": out, "naive": naive}


def table(*, lang: str = "en", factors=(1, 40)) -> str:
    """Scores, weights and outputs of both implementations, one row per factor, as Markdown."""
    t = TEXT[lang]
    lines = [f"| {t['factor']} | scores | {t['weights']} | {t['output']}: {t['stable']} "
             f"| {t['output']}: {t['naive']} |",
             "|---:|---|---|---|---|"]
    for f in factors:
        m = measure(f)
        cells = [np.array2string(m[key][0], precision=4) for key in ("scores", "weights", "output", "naive")]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(*, lang: str = "en", factors=(1, 40)):
    """The weights of the two keys for each factor: as the scores grow, all weight goes to key 1."""
    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(1, len(factors), figsize=(3.2 * len(factors), 2.8), sharey=True)
    for ax, f in zip(np.atleast_1d(axes), factors):
        w = measure(f)["weights"][0]  # (S,)
        ax.bar([f"{t['key']} 1", f"{t['key']} 2"], w, color=["#2a9d8f", "#e9c46a"])
        ax.set_title(f"{t['factor']} {f}")
        ax.set_ylim(0, 1)
    np.atleast_1d(axes)[0].set_ylabel(t["weights"])
    fig.suptitle(t["title"])
    fig.tight_layout()
    return fig


def _run(args) -> int:
    m = measure()
    print("weights:", np.array2string(m["weights"], precision=4))
    print("output: ", np.array2string(m["output"], precision=4))
    if args.plot:
        save(figure(lang=args.lang), args.plot)
    return 0


def register(commands) -> None:
    """Add the ``demo`` command: the source note's example."""
    commands.add("demo", help="run the source note's example", run=_run)
