r"""The Transformer note's experiments.

Mask matrices, the block diagram, and a tiny attention
model that learns associative recall, trained with numpy gradients.

Recall task: the input is ``n`` (key, value) pairs and a query key; the answer is the value
paired with the query. Each pair is one token, the one-hot key next to the one-hot value; the
query token has the key part only. Nothing but attention can solve it: the answer sits at a
random position, which the model has to find by matching the query against the keys.

Model (``RecallModel``, the library's layers): a ``Linear`` embeds the tokens, one head of
``Attention`` attends from the query token to the pairs (or of ``AdditiveAttention``: the
scoring-functions note compares the two from the same starting weights), and a ``Linear`` reads the
answer out; trained by Adam on the cross-entropy.
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._internal.module import Module
from ..additive import AdditiveAttention
from ..masks import causal_mask, combine_masks, padding_mask
from ..trainable import Linear
from ..transformer import Attention
from . import Commands, notes_lm
from . import language_model as lm
from .plotting import WIDTH, pyplot
from .training import Progress, Run, register_training, train_module

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TEXT = {
    "en": {"before": "untrained", "after": "trained", "x": "pair position", "y": "example",
           "loss": "training loss", "step": "step", "chance": "chance level (log 16)",
           "causal": "causal", "padding": "padding\n(4 real keys)", "both": "both",
           "key": "key position", "query": "query position",
           "encoder": "encoder block", "decoder": "decoder block", "x_in": "input x", "ln": "LayerNorm",
           "self": "self-attention", "causal_self": "causal\nself-attention",
           "cross": "cross-attention\n(K, V: memory)", "ff": "feed-forward", "add": "+", "out": "output",
           "memory": "encoder\noutput\n(memory)"},
    "zh": {"before": "训练前", "after": "训练后", "x": "键值对的位置", "y": "样本",
           "loss": "训练损失", "step": "步数", "chance": "随机猜测（log 16）",
           "causal": "因果掩码", "padding": "填充掩码\n（4 个真实的键）", "both": "两者合并",
           "key": "键的位置", "query": "查询的位置",
           "encoder": "编码器块", "decoder": "解码器块", "x_in": "输入 x", "ln": "LayerNorm",
           "self": "自注意力", "causal_self": "因果自注意力", "cross": "交叉注意力\n（K、V 来自 memory）",
           "ff": "前馈网络", "add": "+", "out": "输出", "memory": "编码器\n的输出\n（memory）"},
}


@dataclass(frozen=True)
class Task:
    """Sizes of the recall task."""

    num_keys: int = 16  #: distinct keys
    num_values: int = 16  #: distinct values (chance accuracy is 1 / num_values)
    pairs: int = 8  #: pairs per example

    @property
    def width(self) -> int:
        """Return the width of a token: a one-hot key next to a one-hot value."""
        return self.num_keys + self.num_values


def make_batch(task: Task, batch: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


class RecallModel(Module):
    """The recall model, from the library's layers: the query token attends over the pairs, one head.

    ``model(pairs, query)`` gives the answer's scores ``(B, Vn)`` and the query's attention weights over
    the pairs ``(B, n)``. ``scoring="dot"`` attends with ``Attention`` (scaled dot product),
    ``"additive"`` with ``AdditiveAttention``; with the same seed both start from the same weights
    (the additive one has its score vector w besides).
    """

    def __init__(self, task: Task = Task(), dim: int = 16, *, scoring: str = "dot", seed: int = 0):
        super().__init__()
        if scoring not in ("dot", "additive"):
            raise ValueError(f"scoring must be 'dot' or 'additive', got {scoring!r}")
        rng = np.random.default_rng(seed)
        self.embed = Linear(task.width, dim, bias=False, rng=rng)  # a token (one-hot key | value) -> D
        self.readout = Linear(dim, task.num_values, rng=rng)  # D -> the answer's scores
        self.attend: Attention | AdditiveAttention = (
            Attention(dim, 1, causal=False, rng=rng) if scoring == "dot" else AdditiveAttention(dim, rng=rng))
        self.attend.keep_weights = True

    def forward(self, pairs: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compute ``(scores (B, Vn), weights (B, n))`` for ``pairs (B, n, Kn+Vn)`` and ``query (B, 1, Kn+Vn)``."""
        tokens = self.embed.forward(np.concatenate([query, pairs], axis=1))  # (B, 1+n, D): one embedding for all
        o = self.attend.forward(tokens[:, :1], tokens[:, 1:])  # (B, 1, D)
        weights = self.attend.weights  # (B, 1, 1, n) or (B, 1, n)
        assert weights is not None  # kept: keep_weights
        return self.readout.forward(o[:, 0]), weights.reshape(len(o), -1)  # (B, Vn), (B, n)

    def backward(self, d_scores: np.ndarray) -> None:
        """Add the gradients of every parameter for ``d_scores (B, Vn)``, the loss's gradient at the scores."""
        d_query = self.attend.backward(self.readout.backward(d_scores)[:, None, :])  # (B, 1, D)
        assert self.attend.memory_grad is not None  # cross-attention: the pairs' gradient
        self.embed.backward(np.concatenate([d_query, self.attend.memory_grad], axis=1))  # (B, 1+n, D)


def accuracy(model: RecallModel, task: Task, n: int = 2000, seed: int = 12345) -> float:
    """Held-out accuracy on ``n`` fresh examples (a seed the training never uses)."""
    pairs, query, answer, _ = make_batch(task, n, np.random.default_rng(seed))
    return float((model(pairs, query)[0].argmax(-1) == answer).mean())


def train_model(model: RecallModel, task: Task, *, steps: int, batch: int = 64, lr: float = 0.02, seed: int = 0,
                progress: Progress | None = None) -> Run:
    """Adam on fresh random batches (``seed``); ``progress(step, loss)`` is called every 50 steps."""
    losses, seconds = train_module(model, lambda rng: make_batch(task, batch, rng)[:3], steps=steps, lr=lr,
                                   rng=np.random.default_rng(seed), progress=progress)
    return Run(model, losses, accuracy(model, task), seconds)


#: Training steps of the note's run.
STEPS = 400


def train(task: Task = Task(), *, steps: int = STEPS, batch: int = 64, lr: float = 0.02, dim: int = 16, seed: int = 0,
          progress: Progress | None = None) -> Run:
    """Train a ``RecallModel`` with Adam on fresh random batches; ``progress(step, loss)`` every 50 steps."""
    return train_model(RecallModel(task, dim, seed=seed), task, steps=steps, batch=batch, lr=lr, seed=seed,
                       progress=progress)


@functools.lru_cache(maxsize=1)
def trained() -> Run:
    """Train the default run once: the note's figure and numbers share it."""
    return train()


def figure(run: Run | None = None, *, lang: str = "en", examples: int = 8) -> Figure:
    """Draw the recall model's attention before and after training.

    Attention of the query over the pairs, before and after training (``run``, by default
    :func:`trained`), with the right pair circled, and the training loss: three panels, stacked.
    """
    plt, t, task, run = pyplot(), TEXT[lang], Task(), run or trained()
    pairs, query, _, where = make_batch(task, examples, np.random.default_rng(7))
    fig, axes = plt.subplots(3, 1, figsize=(WIDTH, 10.5), gridspec_kw={"height_ratios": [1, 1, 0.8]})
    for ax, model, title in ((axes[0], RecallModel(task), t["before"]), (axes[1], run.model, t["after"])):
        _, w = model(pairs, query)  # (examples, n)
        image = ax.imshow(w, cmap="Blues", vmin=0, vmax=1)
        ax.scatter(where, np.arange(examples), s=150, facecolors="none", edgecolors="crimson", linewidths=1.8)
        ax.set_title(title)
        ax.set_xlabel(t["x"])
        ax.set_ylabel(t["y"])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    axes[2].plot(np.arange(1, len(run.losses) + 1), run.losses, lw=1)
    axes[2].axhline(np.log(task.num_values), color="gray", ls="--", label=t["chance"])
    axes[2].set_xlabel(t["step"])
    axes[2].set_title(t["loss"])
    axes[2].legend()
    fig.tight_layout()
    return fig


def masks_figure(*, lang: str = "en") -> Figure:
    """Three boolean masks drawn as matrices, stacked: dark = may attend."""
    plt, t = pyplot(), TEXT[lang]
    causal = causal_mask(6)  # (L, S)
    padding = np.broadcast_to(padding_mask([4], 6)[0], (6, 6))  # (L, S)
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 2.6))
    for ax, mask, title in zip(axes, (causal, padding, combine_masks(causal, padding)),
                               (t["causal"], t["padding"], t["both"])):
        ax.imshow(mask, cmap="Blues", vmin=-0.3, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([0, 5])
        ax.set_yticks([0, 5])
        ax.set_xlabel(t["key"])
    axes[0].set_ylabel(t["query"])
    fig.tight_layout()
    return fig


BOX = {"boxstyle": "round,pad=0.35"}


def blocks_figure(*, lang: str = "en") -> Figure:
    """Draw the pre-norm encoder and decoder blocks.

    The pre-norm encoder and decoder blocks, read from the bottom up: each sublayer reads
    LayerNorm(x) and its output is added to x (the residual path on the right of each column);
    the decoder's cross-attention takes its keys and values from the encoder's output (memory).
    """
    from matplotlib.colors import to_rgba

    plt, t = pyplot(), TEXT[lang]
    fig, ax = plt.subplots(figsize=(WIDTH, 6.4))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.04, 1.06)
    ax.axis("off")
    colors = {"ln": "#e9c46a", "self": "#2a9d8f", "causal_self": "#2a9d8f", "cross": "#3a86a8", "ff": "#f4a261",
              "add": "#888888", "x_in": "#888888", "out": "#888888"}
    columns = {"encoder": (0.24, ["x_in", "ln", "self", "add", "ln", "ff", "add", "out"]),
               "decoder": (0.70, ["x_in", "ln", "causal_self", "add", "ln", "cross", "add", "ln", "ff", "add", "out"])}
    for name, (x, boxes) in columns.items():
        ys = np.linspace(0.0, 0.92, len(boxes))
        for i, (key, y) in enumerate(zip(boxes, ys)):
            # Tinted boxes with text in the page's colour: readable on the light and the dark scheme.
            ax.text(x, y, t[key], ha="center", va="center", fontsize=10, zorder=3,
                    bbox=BOX | {"facecolor": to_rgba(colors[key], 0.3), "edgecolor": colors[key], "linewidth": 1.5})
            if i:
                ax.annotate("", xy=(x, y - 0.03), xytext=(x, ys[i - 1] + 0.03),
                            arrowprops={"arrowstyle": "->", "color": "#888888"})
        for i, key in enumerate(boxes):  # residual: from the stream below each LayerNorm to its "+"
            if key == "add":
                start = max(j for j in range(i) if boxes[j] == "ln") - 1
                y0, y1, side = (ys[start] + ys[start + 1]) / 2, ys[i], x + 0.2
                ax.plot([x, side, side], [y0, y0, y1], color="#888888", lw=1.2)
                ax.annotate("", xy=(x + 0.06, y1), xytext=(side, y1),
                            arrowprops={"arrowstyle": "->", "color": "#888888", "lw": 1.2})
        ax.text(x, 1.03, t[name], ha="center", va="center", fontsize=11, weight="bold")
    encoder_out, cross_y = 0.92, np.linspace(0.0, 0.92, 11)[5]
    ax.annotate("", xy=(0.70 - 0.16, cross_y), xytext=(0.24 + 0.1, encoder_out),
                arrowprops={"arrowstyle": "->", "color": "#c1121f", "lw": 1.6, "connectionstyle": "arc3,rad=0.2"})
    # Right of where the arrow leaves the encoder: clear of both columns, their residual lines and the arrow.
    ax.text(0.40, 0.90, t["memory"], ha="left", va="center", fontsize=10, color="#c1121f")
    return fig


def _train_transformer(args: argparse.Namespace) -> int:
    notes = args.task == "notes-lm"
    settings = {k: v for k, v in notes_lm.SETTINGS.items() if k != "steps"} if notes else {}
    config = lm.Config(task=args.task, steps=args.steps or DEFAULT_STEPS[args.task], seed=args.seed, **settings)
    if (args.text or args.until) and not notes:
        raise SystemExit("--text and --until are for --task notes-lm")
    text = args.text.read_text(encoding="utf-8") if args.text else None
    what = f"the first {args.until} of {config.steps} steps" if args.until else f"{config.steps} steps"
    print(f"training a {config.layers}-layer Transformer on {config.task} for {what} (seed {config.seed}) ...",
          file=sys.stderr)
    result = lm.train(config, progress=lm.progress_bar(min(config.steps, args.until or config.steps)), text=text,
                      until=args.until)
    if args.out and notes:
        notes_lm.save(result, args.out, command=notes_lm.command_line(args.argv))
        print(f"wrote {args.out} and {args.out.with_suffix('.txt')}", file=sys.stderr)
    elif args.out:
        lm.save(result, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if notes:
        assert result.corpus is not None  # a notes-lm run keeps its text and characters
        for prompt in ("注意力", "Attention"):
            for temperature, sample in notes_lm.samples(result.model, result.corpus.vocab, prompt).items():
                print(f"temperature {temperature}: {sample!r}")
        held_out = f" held_out_loss={result.evals[-1][1]:.3f}" if result.evals else ""
        print(f"task=notes-lm loss={np.mean(result.losses[-50:]):.3f}{held_out} steps={len(result.losses)} "
              f"seconds={result.seconds:.1f}")
    else:
        print(f"task={config.task} exact_match={result.exact_match:.3f} steps={config.steps} "
              f"seconds={result.seconds:.1f}")
    return 0


#: Training steps of ``train-transformer`` by task.
DEFAULT_STEPS = {"reverse": 600, "copy": 600, "notes-lm": notes_lm.SETTINGS["steps"]}


def register(commands: Commands) -> None:
    """Add the ``train-recall`` and ``train-transformer`` commands."""
    register_training(commands, "train-recall", train=train, figure=figure,
                      help="train a one-head attention model on associative recall",
                      chance=1 / Task().num_values, steps=STEPS)
    p = commands.add("train-transformer", run=_train_transformer,
                     help="train a decoder-only Transformer (numpy, every gradient by hand) on a task")
    p.add_argument("--task", choices=tuple(DEFAULT_STEPS), default="reverse",
                   help="reverse or copy digit strings of length 1-12, or a character model of the notes")
    p.add_argument("--steps", type=int, help="training steps (default: 600 for reverse/copy, "
                   f"{DEFAULT_STEPS['notes-lm']} for notes-lm)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, metavar="FILE",
                   help=f"write the results file (the note's is {lm.RESULTS}); for notes-lm the weights file "
                        f"(the note's is {notes_lm.WEIGHTS}) and the text it learnt, FILE with .txt")
    p.add_argument("--text", type=Path, metavar="FILE",
                   help="notes-lm: learn this text instead of the notes (e.g. a weights file's .txt snapshot)")
    p.add_argument("--until", type=int, metavar="N",
                   help="notes-lm: stop after the first N steps of the schedule (to check a run's start)")
