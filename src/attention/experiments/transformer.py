r"""The Transformer note's experiments: mask matrices, the block diagram, and a tiny attention
model that learns associative recall, trained with numpy gradients.

Recall task: the input is ``n`` (key, value) pairs and a query key; the answer is the value
paired with the query. Each pair is one token, the one-hot key next to the one-hot value; the
query token has the key part only. Nothing but attention can solve it: the answer sits at a
random position, which the model has to find by matching the query against the keys.

Model (one head): $q = x_q W_q$, $K = X W_k$, $V = X W_v$, $o = \mathrm{Attention}(q, K, V)$,
logits $= o W_o + b_o$, trained by Adam on the cross-entropy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..backward import sdpa_backward
from ..masks import causal_mask, combine_masks, padding_mask
from ..scaled_dot_product import scaled_dot_product_attention
from .plotting import pyplot
from .training import Run, cross_entropy, register_training, train_loop

TEXT = {
    "en": {"before": "untrained", "after": "trained", "x": "pair position", "y": "example",
           "loss": "training loss", "step": "step", "chance": "chance level (log 16)",
           "causal": "causal mask (L = S = 6)", "padding": "padding mask, 4 real keys of 6",
           "both": "causal and padding", "key": "key position", "query": "query position",
           "encoder": "encoder block", "decoder": "decoder block", "x_in": "input x", "ln": "LayerNorm",
           "self": "self-attention", "causal_self": "causal self-attention",
           "cross": "cross-attention\n(keys, values: memory)", "ff": "feed-forward", "add": "+ (residual)",
           "out": "output"},
    "zh": {"before": "训练前", "after": "训练后", "x": "键值对的位置", "y": "样本",
           "loss": "训练损失", "step": "步数", "chance": "随机猜测（log 16）",
           "causal": "因果掩码（L = S = 6）", "padding": "填充掩码：6 个键中 4 个是真实的",
           "both": "因果 + 填充", "key": "键的位置", "query": "查询的位置",
           "encoder": "编码器块", "decoder": "解码器块", "x_in": "输入 x", "ln": "LayerNorm",
           "self": "自注意力", "causal_self": "因果自注意力", "cross": "交叉注意力\n（键和值来自 memory）",
           "ff": "前馈网络", "add": "+（残差）", "out": "输出"},
}


@dataclass(frozen=True)
class Task:
    """Sizes of the recall task."""

    num_keys: int = 16  #: distinct keys
    num_values: int = 16  #: distinct values (chance accuracy is 1 / num_values)
    pairs: int = 8  #: pairs per example

    @property
    def width(self) -> int:
        return self.num_keys + self.num_values


def make_batch(task: Task, batch: int, rng: np.random.Generator):
    """Random examples: ``pairs (B, n, Kn+Vn)``, ``query (B, 1, Kn+Vn)``, ``answer (B,)``, ``where (B,)``."""
    keys = np.argsort(rng.random((batch, task.num_keys)), axis=1)[:, : task.pairs]  # (B, n) distinct keys
    values = rng.integers(0, task.num_values, (batch, task.pairs))  # (B, n)
    where = rng.integers(0, task.pairs, batch)  # (B,) the pair asked for
    rows = np.arange(batch)
    pairs = np.zeros((batch, task.pairs, task.width))  # (B, n, Kn+Vn)
    pairs[rows[:, None], np.arange(task.pairs), keys] = 1.0
    pairs[rows[:, None], np.arange(task.pairs), task.num_keys + values] = 1.0
    query = np.zeros((batch, 1, task.width))  # (B, 1, Kn+Vn)
    query[rows, 0, keys[rows, where]] = 1.0
    return pairs, query, values[rows, where], where


def init_params(task: Task, dim: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random weights: ``Wq, Wk, Wv (Kn+Vn, D)``, ``Wo (D, Vn)``, ``bo (Vn,)``."""
    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(task.width)
    return {
        "Wq": rng.normal(0, s, (task.width, dim)),
        "Wk": rng.normal(0, s, (task.width, dim)),
        "Wv": rng.normal(0, s, (task.width, dim)),
        "Wo": rng.normal(0, 1 / np.sqrt(dim), (dim, task.num_values)),
        "bo": np.zeros(task.num_values),
    }


def forward(params, pairs, query):
    """Return ``(logits (B, Vn), weights (B, n), cache)``."""
    q = query @ params["Wq"]  # (B, 1, D)
    k = pairs @ params["Wk"]  # (B, n, D)
    v = pairs @ params["Wv"]  # (B, n, D)
    o, w = scaled_dot_product_attention(q, k, v, return_weights=True)  # (B, 1, D), (B, 1, n)
    logits = o[:, 0] @ params["Wo"] + params["bo"]  # (B, Vn)
    return logits, w[:, 0], (q, k, v, o)


def loss_and_grads(params, pairs, query, answer):
    """Mean cross-entropy and its gradient for every parameter (hand-derived, checked by gradcheck)."""
    logits, _, (q, k, v, o) = forward(params, pairs, query)
    loss, d_logits = cross_entropy(logits, answer)  # (B, Vn)
    grads = {"Wo": o[:, 0].T @ d_logits, "bo": d_logits.sum(0)}  # (D, Vn), (Vn,)
    d_o = (d_logits @ params["Wo"].T)[:, None, :]  # (B, 1, D)
    dq, dk, dv = sdpa_backward(d_o, q, k, v)  # (B, 1, D), (B, n, D), (B, n, D)
    grads["Wq"] = np.einsum("bli,blj->ij", query, dq)  # (Kn+Vn, D)
    grads["Wk"] = np.einsum("bni,bnj->ij", pairs, dk)  # (Kn+Vn, D)
    grads["Wv"] = np.einsum("bni,bnj->ij", pairs, dv)  # (Kn+Vn, D)
    return loss, grads


def accuracy(params, task: Task, n: int = 2000, seed: int = 12345) -> float:
    """Held-out accuracy on ``n`` fresh examples (a seed the training never uses)."""
    pairs, query, answer, _ = make_batch(task, n, np.random.default_rng(seed))
    logits, _, _ = forward(params, pairs, query)
    return float((logits.argmax(-1) == answer).mean())


#: Training steps of the note's run.
STEPS = 400


def train(task: Task = Task(), *, steps: int = STEPS, batch: int = 64, lr: float = 0.02, dim: int = 16, seed: int = 0,
          progress=None) -> Run:
    """Adam on fresh random batches; ``progress(step, loss)`` is called every 50 steps."""
    params = init_params(task, dim, seed)
    losses, seconds = train_loop(params, lambda rng: make_batch(task, batch, rng)[:3], loss_and_grads, steps=steps,
                                 lr=lr, rng=np.random.default_rng(seed), progress=progress)
    return Run(params, losses, accuracy(params, task), seconds)


@functools.lru_cache(maxsize=1)
def trained() -> Run:
    """The default run, cached: the note's figure and numbers share it."""
    return train()


def figure(run: Run | None = None, *, lang: str = "en", examples: int = 8):
    """Attention of the query over the pairs, before and after training (``run``, by default
    :func:`trained`), with the right pair circled, and the training loss."""
    plt, t, task, run = pyplot(), TEXT[lang], Task(), run or trained()
    pairs, query, _, where = make_batch(task, examples, np.random.default_rng(7))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    for ax, params, title in ((axes[0], init_params(task), t["before"]), (axes[1], run.params, t["after"])):
        _, w, _ = forward(params, pairs, query)  # (examples, n)
        ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
        ax.scatter(where, np.arange(examples), s=120, facecolors="none", edgecolors="crimson", linewidths=1.5)
        ax.set_title(title)
        ax.set_xlabel(t["x"])
        ax.set_ylabel(t["y"])
    axes[2].plot(run.losses, lw=1)
    axes[2].axhline(np.log(task.num_values), color="gray", ls="--", label=t["chance"])
    axes[2].set_xlabel(t["step"])
    axes[2].set_title(t["loss"])
    axes[2].legend()
    fig.tight_layout()
    return fig


def masks_figure(*, lang: str = "en"):
    """Three boolean masks drawn as matrices: dark = may attend."""
    plt, t = pyplot(), TEXT[lang]
    causal = causal_mask(6)  # (L, S)
    padding = np.broadcast_to(padding_mask([4], 6)[0], (6, 6))  # (L, S)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, mask, title in zip(axes, (causal, padding, combine_masks(causal, padding)),
                               (t["causal"], t["padding"], t["both"])):
        ax.imshow(mask, cmap="Blues", vmin=-0.3, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(t["key"])
        ax.set_ylabel(t["query"])
        ax.set_xticks(range(6))
        ax.set_yticks(range(6))
    fig.tight_layout()
    return fig


def blocks_figure(*, lang: str = "en"):
    """The pre-norm encoder and decoder blocks as a flow chart."""
    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(1, 2, figsize=(9, 6.2))
    columns = {
        "encoder": [t["x_in"], t["ln"], t["self"], t["add"], t["ln"], t["ff"], t["add"], t["out"]],
        "decoder": [t["x_in"], t["ln"], t["causal_self"], t["add"], t["ln"], t["cross"], t["add"], t["ln"], t["ff"],
                    t["add"], t["out"]],
    }
    colors = {t["ln"]: "#e9c46a", t["self"]: "#2a9d8f", t["causal_self"]: "#2a9d8f", t["cross"]: "#264653",
              t["ff"]: "#f4a261", t["add"]: "#ffffff", t["x_in"]: "#dddddd", t["out"]: "#dddddd"}
    for ax, (name, boxes) in zip(axes, columns.items()):
        ys = np.linspace(0.95, 0.05, len(boxes))
        for i, (label, y) in enumerate(zip(boxes, ys)):
            dark = colors[label] in {"#264653", "#2a9d8f"}
            ax.text(0.5, y, label, ha="center", va="center", fontsize=9, color="white" if dark else "black",
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": colors[label], "edgecolor": "#555555"})
            if i:
                ax.annotate("", xy=(0.5, y + 0.035), xytext=(0.5, ys[i - 1] - 0.035),
                            arrowprops={"arrowstyle": "->", "color": "#555555"})
        ax.set_title(t[name])
        ax.axis("off")
    fig.tight_layout()
    return fig


def register(commands) -> None:
    """Add the ``train-recall`` command."""
    register_training(commands, "train-recall", train=train, figure=figure,
                      help="train a one-head attention model on associative recall",
                      chance=1 / Task().num_values, steps=STEPS)
