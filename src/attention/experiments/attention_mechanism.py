"""The first note's experiment.

The source note's example, and what the naive formula does when
the scores grow (the ``demo`` command).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..naive import naive_attention
from ..scaled_dot_product import scaled_dot_product_attention
from ..softmax import softmax
from . import Commands
from .plotting import pyplot, save
from .widgets import embed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def saturation(d_k: int, scale: float, *, rows: int = 400, keys: int = 16, seed: int = 1) -> tuple[float, float]:
    """Measure the largest weight and the softmax Jacobian's norm for random scores.

    Over ``rows`` random queries, each with ``keys`` random keys (entries N(0, 1)), scores times
    ``scale``: the mean largest weight and the mean Frobenius norm of the softmax Jacobian
    diag(p) - p pᵀ (how much gradient can get from the weights back to the scores).
    """
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((rows, 1, d_k))  # (rows, 1, E)
    k = rng.standard_normal((rows, keys, d_k))  # (rows, S, E)
    p = softmax(scale * (q @ k.transpose(0, 2, 1)))[:, 0]  # (rows, S)
    jacobian = p[:, :, None] * (np.eye(keys) - p[:, None, :])  # (rows, S, S)
    return float(p.max(axis=1).mean()), float(np.linalg.norm(jacobian, axis=(1, 2)).mean())


SATURATION_HEADERS = {"en": ["d_k", "max weight, raw", "max weight, scaled", "‖J‖, raw", "‖J‖, scaled"],
                      "zh": ["d_k", "最大权重，不缩放", "最大权重，缩放", "‖J‖，不缩放", "‖J‖，缩放"]}


def saturation_table(*, lang: str = "en", d_ks: Sequence[int] = (4, 64, 1024)) -> str:
    """:func:`saturation` unscaled (raw) and divided by √d_k (scaled), as a Markdown table."""
    headers = SATURATION_HEADERS[lang]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    for d_k in d_ks:
        (m1, j1), (m2, j2) = saturation(d_k, 1.0), saturation(d_k, 1 / np.sqrt(d_k))
        lines.append(f"| {d_k} | {m1:.2f} | {m2:.2f} | {j1:.3f} | {j2:.3f} |")
    return "\n".join(lines)


def measure(factor: float = 1.0) -> dict[str, Any]:
    """Compute the example with Q and K multiplied by ``factor``.

    The example with Q and K multiplied by ``factor``: scores, weights and output of the stable
    implementation, and the naive formula's output (NaN once ``exp`` overflows).
    """
    q, k = factor * Q, factor * K  # (L, E), (S, E)
    out, weights = scaled_dot_product_attention(q, k, V, return_weights=True)  # (L, Ev), (L, S)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what this shows
        naive = naive_attention(q, k, V)  # (L, Ev)
    return {"scores": q @ k.T / np.sqrt(Q.shape[-1]), "weights": weights, "output": out, "naive": naive}


def table(*, lang: str = "en", factors: Sequence[float] = (1, 40)) -> str:
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


def figure(*, lang: str = "en", factors: Sequence[float] = (1, 40)) -> Figure:
    """Draw the weights of the two keys for each factor: as the scores grow, all weight goes to key 1."""
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


#: The attention-map widget's sentence, one token per entry, and how many trailing tokens its
#: "padding" toggle masks.
SENTENCE = {"en": ["The", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired"],
            "zh": ["猫", "坐", "在", "垫子", "上", "因为", "它", "累", "了"]}
PADDING = 2
WIDGET_TEXT = {
    "en": {"map_caption": "Nothing here is trained: the words get random vectors and a random projection, so "
                          "the weights say nothing about meaning, only the masks' rules are real. Click a word (or "
                          "use the arrow keys) to see where it attends. Turn on the causal mask, pad the last two "
                          "words, or fully mask the selected row, and watch the weights change.",
           "tokens": "query tokens", "causal": "causal mask", "pad": f"pad the last {PADDING} tokens",
           "fullmask": "fully mask this row",
           "map": "attention weights, one row per query; the colour scale under the map runs from 0 (left) "
                  "to the largest weight (right)",
           "row": "weights of the selected query",
           "rule": "A fully masked row has no key to attend to: its weights (and its output) are 0, "
                   "the rule every function of the package follows.",
           "source_caption": "Edit any number of Q, K or V. Then press ×40: the naive formula overflows "
                             "(NaN) while the stable one still gives the right answer. Reset restores the "
                             "source note's example.",
           "scores": "scores QKᵀ", "scaled": "scaled scores QKᵀ/√3", "weights": "weights (stable softmax)",
           "output": "output (stable)", "naive": "output (naive formula)", "reset": "reset"},
    "zh": {"map_caption": "这里没有任何训练：词向量和投影都是随机的，所以权重不代表词义，只有掩码的规则是真实的。"
                          "点击一个词（或用方向键）查看它把注意力放在哪里。打开因果掩码、把最后两个词当作填充，"
                          "或把选中的这一行完全屏蔽，看权重怎样变化。",
           "tokens": "查询词元", "causal": "因果掩码", "pad": f"把最后 {PADDING} 个词元当作填充",
           "fullmask": "完全屏蔽这一行", "map": "注意力权重，每个查询一行；图下的色标从 0（左）到最大权重（右）",
           "row": "选中查询的权重",
           "rule": "完全被屏蔽的行没有可以关注的键：它的权重（和输出）都是 0，本库的每个函数都遵循这条规则。",
           "source_caption": "可以修改 Q、K、V 中的任意数字。然后按 ×40：原始公式溢出（NaN），稳定版仍然给出"
                             "正确答案。“重置”恢复原笔记的例子。",
           "scores": "分数 QKᵀ", "scaled": "缩放后的分数 QKᵀ/√3", "weights": "权重（稳定的 softmax）",
           "output": "输出（稳定版）", "naive": "输出（原始公式）", "reset": "重置"},
}


def map_state(*, lang: str = "en", d: int = 8, seed: int = 0) -> dict[str, Any]:
    """Make the attention-map widget's inputs.

    The attention-map widget's inputs: Q and K of the sentence's tokens from a fixed random
    projection of fixed random embeddings (nothing is trained; the widget is about masks).
    """
    tokens = SENTENCE[lang]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((len(tokens), d))  # (L, d) token embeddings
    W_q, W_k = rng.standard_normal((2, d, d)) / d**0.25  # (d, d) each: rows neither uniform nor one-hot
    t = WIDGET_TEXT[lang]
    labels = {key: t[key] for key in ("tokens", "causal", "pad", "fullmask", "map", "row", "rule")}
    # The first word is selected: a random row picked for a pronoun would read as learnt coreference.
    return {"tokens": tokens, "Q": X @ W_q, "K": X @ W_k, "pad": PADDING, "selected": 0, "labels": labels}


def map_widget(*, lang: str = "en") -> str:
    """Make the attention-map widget: tokens, masks and the fully masked rule."""
    return embed("attention-map", map_state(lang=lang), WIDGET_TEXT[lang]["map_caption"])


def source_widget(*, lang: str = "en", factor: int = 40) -> str:
    """Make the source note's Q, K and V in editable grids; the ×factor button overflows the naive formula."""
    t = WIDGET_TEXT[lang]
    labels = {key: t[key] for key in ("scores", "scaled", "weights", "output", "naive", "reset")}
    return embed("source-example", {"Q": Q, "K": K, "V": V, "factor": factor, "labels": labels},
                 t["source_caption"])


def _run(args: argparse.Namespace) -> int:
    m = measure()
    print("weights:", np.array2string(m["weights"], precision=4))
    print("output: ", np.array2string(m["output"], precision=4))
    if args.plot:
        save(figure(lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``demo`` command: the source note's example."""
    commands.add("demo", help="run the source note's example", run=_run)
