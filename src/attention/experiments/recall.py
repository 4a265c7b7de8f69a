r"""A tiny attention model that learns associative recall, trained with numpy gradients.

Task: the input is ``n`` (key, value) pairs and a query key; the answer is the value paired
with the query. Each pair is one token, the one-hot key next to the one-hot value; the
query token has the key part only. Nothing but attention can solve it: the answer sits at
a random position, which the model has to find by matching the query against the keys.

Model (one head): $q = x_q W_q$, $K = X W_k$, $V = X W_v$, $o = \mathrm{Attention}(q, K, V)$,
logits $= o W_o + b_o$, trained by Adam on the cross-entropy.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..backward import sdpa_backward
from ..scaled_dot_product import scaled_dot_product_attention
from ..softmax import softmax
from .optim import Adam


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
    B = len(answer)
    p = softmax(logits)  # (B, Vn)
    loss = float(-np.log(p[np.arange(B), answer] + 1e-300).mean())
    d_logits = p.copy()  # (B, Vn)
    d_logits[np.arange(B), answer] -= 1.0
    d_logits /= B
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


@dataclass
class Run:
    params: dict
    losses: list
    accuracy: float
    seconds: float


def train(task: Task = Task(), *, steps: int = 400, batch: int = 64, lr: float = 0.02, dim: int = 16, seed: int = 0,
          progress=None) -> Run:
    """Adam on fresh random batches; ``progress(step, loss)`` is called every 50 steps."""
    rng = np.random.default_rng(seed)
    params = init_params(task, dim, seed)
    opt = Adam(params, lr=lr)
    losses, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        pairs, query, answer, _ = make_batch(task, batch, rng)
        loss, grads = loss_and_grads(params, pairs, query, answer)
        losses.append(loss)
        opt.step(grads)
        if progress is not None and (step % 50 == 0 or step == steps):
            progress(step, loss)
    return Run(params, losses, accuracy(params, task), time.perf_counter() - start)


@functools.lru_cache(maxsize=1)
def trained() -> Run:
    """The default run, cached: the note's figure and numbers share it."""
    return train()


LABELS = {
    "en": {"before": "untrained", "after": "trained", "x": "pair position", "y": "example",
           "loss": "training loss", "step": "step", "chance": "chance level (log 16)"},
    "zh": {"before": "训练前", "after": "训练后", "x": "键值对的位置", "y": "样本",
           "loss": "训练损失", "step": "步数", "chance": "随机猜测（log 16）"},
}


def figure_svg(*, lang: str = "en", examples: int = 8) -> str:
    """Attention of the query over the pairs, before and after training, with the right pair circled."""
    from ..plotting import pyplot, to_svg

    plt = pyplot()
    t, task, run = LABELS[lang], Task(), trained()
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
    return to_svg(fig)


def _cli(args: argparse.Namespace) -> int:
    def progress(step, loss):
        print(f"step {step:4d}/{args.steps}  loss {loss:.4f}", file=sys.stderr)

    run = train(steps=args.steps, seed=args.seed, progress=progress)
    print(f"held-out accuracy {run.accuracy:.3f} (chance {1 / Task().num_values:.3f}) after {args.steps} steps, {run.seconds:.1f} s")
    return 0


def register(commands) -> None:
    """Add the ``train-recall`` command."""
    p = commands.add_parser("train-recall", help="train a one-head attention model on associative recall")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_cli)
