"""The vision note's experiments.

Patch-to-patch attention, and a one-head classifier that learns
where to look.

A 16×16 image is cut into 16 patches of 4×4 pixels; each flattened patch is a token. The
classifier is built from the library's layers: a ``Linear`` embeds the patch tokens, a learned
query token attends over them with one head of ``Attention`` (attention pooling, like ViT's
class token) and a ``Linear`` reads the result out as class scores. The data set is made in
code: one of four small shapes sits in a random patch of a noisy image, so the model must find
that patch to classify the image.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from .._internal.module import Module
from ..trainable import Linear
from ..transformer import Attention
from ..vision import patch_self_attention, patchify
from . import Commands
from .plotting import WIDTH, pyplot
from .training import Progress, Run, register_training, train_module

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE, PATCH = 16, 4
CLASSES = ("square", "plus", "cross", "bar")
GLYPHS = np.zeros((4, PATCH, PATCH))  # (classes, p, p)
GLYPHS[0, [0, -1], :] = GLYPHS[0, :, [0, -1]] = 1  # square outline
GLYPHS[1, 1, :] = GLYPHS[1, :, 1] = 1  # plus
GLYPHS[2][np.eye(PATCH, dtype=bool) | np.eye(PATCH, dtype=bool)[::-1]] = 1  # cross (both diagonals)
GLYPHS[3, 1:3, :] = 1  # thick horizontal bar

TEXT = {"en": {"before": "untrained", "after": "trained", "image": "image: two pluses and a bar",
               "self": "patch-to-patch attention", "q": "querying patch", "k": "attended patch",
               "classes": CLASSES, "truth": "true", "guess": "predicted", "colon": ": "},
        "zh": {"before": "训练前", "after": "训练后", "image": "图像：两个加号和一个横条",
               "self": "图块之间的注意力", "q": "发出查询的图块", "k": "被关注的图块",
               "classes": ("方框", "加号", "叉号", "横条"), "truth": "真实", "guess": "预测", "colon": "："}}


def make_images(n: int, rng: np.random.Generator, *, noise: float = 0.35
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``images (n, 16, 16)``, ``labels (n,)`` and ``where (n,)``: the patch holding the shape."""
    labels = rng.integers(0, len(CLASSES), n)  # (n,)
    where = rng.integers(0, (SIZE // PATCH) ** 2, n)  # (n,)
    images = noise * rng.standard_normal((n, SIZE, SIZE))  # (n, 16, 16)
    for i in range(n):
        r, c = divmod(where[i], SIZE // PATCH)
        images[i, r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH] += GLYPHS[labels[i]]
    return images, labels, where


class PatchClassifier(Module):
    """The note's model, from the library's layers: a learned query token attends over the patches.

    ``model(tokens)`` maps patch tokens ``(B, P, p*p)`` to class scores ``(B, C)`` and the query's
    attention weights over the patches ``(B, P)``; ``backward(d_scores)`` adds every parameter's
    gradient (``model.gradients()``), each layer's own backward pass doing its part.
    """

    def __init__(self, dim: int = 16, *, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params["query"] = rng.normal(0, 1, (1, 1, dim))  # the learned class query, (1, 1, D)
        self.embed = Linear(PATCH * PATCH, dim, bias=False, rng=rng)  # a patch's pixels -> D
        self.attend = Attention(dim, 1, causal=False, rng=rng)  # one head, from the query to the patches
        self.attend.keep_weights = True
        self.readout = Linear(dim, len(CLASSES), rng=rng)  # D -> class scores

    def forward(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compute ``(scores (B, C), weights (B, P))`` for ``tokens (B, P, p*p)``."""
        query = np.broadcast_to(self.params["query"], (len(tokens), 1, self.params["query"].shape[-1]))  # (B, 1, D)
        o = self.attend.forward(query, self.embed.forward(tokens))  # (B, 1, D)
        weights = self.attend.weights  # (B, 1, 1, P): batch, head, query, patch
        assert weights is not None  # kept: keep_weights
        return self.readout.forward(o[:, 0]), weights[:, 0, 0]  # (B, C), (B, P)

    def backward(self, d_scores: np.ndarray) -> None:
        """Add the gradients of every parameter for ``d_scores (B, C)``, the loss's gradient at the scores."""
        d_o = self.readout.backward(d_scores)[:, None, :]  # (B, 1, D)
        d_query = self.attend.backward(d_o)  # (B, 1, D): one copy of the query per image
        self._add("query", d_query.sum(axis=0, keepdims=True))  # (1, 1, D)
        assert self.attend.memory_grad is not None  # cross-attention: the patches' gradient
        self.embed.backward(self.attend.memory_grad)


def accuracy(model: PatchClassifier, n: int = 2000, seed: int = 999) -> float:
    """Held-out accuracy on ``n`` fresh images (a seed training never uses)."""
    images, labels, _ = make_images(n, np.random.default_rng(seed))
    return float((model(patchify(images, PATCH))[0].argmax(-1) == labels).mean())


#: Training steps of the note's run.
STEPS = 300


def train(*, steps: int = STEPS, batch: int = 64, lr: float = 0.03, seed: int = 0,
          progress: Progress | None = None) -> Run:
    """Train on fresh batches of images."""
    model = PatchClassifier(seed=seed)

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        images, labels, _ = make_images(batch, rng)
        return patchify(images, PATCH), labels

    losses, seconds = train_module(model, draw, steps=steps, lr=lr, rng=np.random.default_rng(seed),
                                   progress=progress)
    return Run(model, losses, accuracy(model), seconds)


@functools.lru_cache(maxsize=1)
def trained() -> Run:
    """Train the note's run once (cached)."""
    return train()


def example_image() -> np.ndarray:
    """Make the note's image: pluses in patches 0 and 11, a bar in patch 13, light noise."""
    image = 0.1 * np.random.default_rng(3).standard_normal((SIZE, SIZE))
    image[0:4, 0:4] += GLYPHS[1]  # plus in patch 0
    image[8:12, 12:16] += GLYPHS[1]  # plus in patch 11
    image[12:16, 4:8] += GLYPHS[3]  # bar in patch 13
    return image


def self_attention_figure(*, lang: str = "en") -> Figure:
    """Draw the example image with its patches numbered, and its 16 x 16 patch self-attention matrix (stacked)."""
    plt, t = pyplot(), TEXT[lang]
    image = example_image()
    w = patch_self_attention(image, patch=PATCH)  # (P, P)
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 9.4))
    axes[0].imshow(image, cmap="gray")
    for k in range(SIZE // PATCH):
        axes[0].axhline(k * PATCH - 0.5, color="orange", lw=0.8)
        axes[0].axvline(k * PATCH - 0.5, color="orange", lw=0.8)
    for i in range(len(w)):
        r, c = divmod(i, SIZE // PATCH)
        axes[0].text(c * PATCH + 0.2, r * PATCH + 1.2, str(i), color="orange", fontsize=11, weight="bold")
    axes[0].set_title(t["image"])
    axes[0].axis("off")
    matrix = axes[1].imshow(w, cmap="Blues")
    fig.colorbar(matrix, ax=axes[1], fraction=0.046, pad=0.04)
    axes[1].set_title(t["self"])
    axes[1].set_xlabel(t["k"])
    axes[1].set_ylabel(t["q"])
    axes[1].set_xticks(range(0, len(w), 3))
    axes[1].set_yticks(range(0, len(w), 3))
    fig.tight_layout()
    return fig


def figure(run: Run | None = None, *, lang: str = "en", examples: int = 4) -> Figure:
    """Draw the class query's attention on test images, before and after training.

    Test images with the class query's attention over the patches (the redder, the more), before
    and after training: one row per image, its true class and each model's prediction in the titles.
    """
    plt, t = pyplot(), TEXT[lang]
    run = run or trained()
    images, labels, _ = make_images(examples, np.random.default_rng(5))
    fig, axes = plt.subplots(examples, 2, figsize=(WIDTH, 2.55 * examples))
    for col, (model, title) in enumerate(((PatchClassifier(), t["before"]), (run.model, t["after"]))):
        logits, w = model(patchify(images, PATCH))
        grid = w.reshape(-1, SIZE // PATCH, SIZE // PATCH)  # (n, 4, 4)
        for i in range(examples):
            ax = axes[i, col]
            ax.imshow(images[i], cmap="gray")
            ax.imshow(np.kron(grid[i], np.ones((PATCH, PATCH))), cmap="Reds", alpha=0.55, vmin=0, vmax=1)
            guess = t["classes"][logits[i].argmax()]
            truth, colon = t["classes"][labels[i]], t["colon"]
            ax.set_title(f"{title}\n{t['truth']}{colon}{truth} · {t['guess']}{colon}{guess}", fontsize=10,
                         linespacing=1.5)  # the page's CJK font is taller than matplotlib's metrics
            ax.axis("off")
    fig.tight_layout()
    return fig


def register(commands: Commands) -> None:
    """Add the ``vision`` command."""
    register_training(commands, "vision", train=train, figure=figure,
                      help="train a one-head patch-attention classifier on synthetic shapes",
                      chance=1 / len(CLASSES), steps=STEPS)
