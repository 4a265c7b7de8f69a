r"""Attention on images: patches as tokens, and a one-head classifier that learns where to look.

A 16×16 image is cut into 16 patches of 4×4 pixels; each flattened patch is a token. A
learned query vector (like ViT's class token) attends over the patch tokens and its output
is read out as class scores. The data set is made in code: one of four small shapes sits in
a random patch of a noisy image, so the model must find that patch to classify the image.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import numpy as np

from ._validation import as_real_array
from .backward import sdpa_backward
from .experiments.optim import Adam
from .scaled_dot_product import scaled_dot_product_attention
from .softmax import softmax

SIZE, PATCH = 16, 4
CLASSES = ("square", "plus", "cross", "bar")
_GLYPHS = np.zeros((4, PATCH, PATCH))
_GLYPHS[0, [0, -1], :] = _GLYPHS[0, :, [0, -1]] = 1  # square outline
_GLYPHS[1, 1, :] = _GLYPHS[1, :, 1] = 1  # plus
_GLYPHS[2][np.eye(PATCH, dtype=bool) | np.eye(PATCH, dtype=bool)[::-1]] = 1  # cross (both diagonals)
_GLYPHS[3, 1:3, :] = 1  # thick horizontal bar


def patchify(images, patch: int = PATCH) -> np.ndarray:
    """Cut ``images (B, H, W)`` into ``(B, (H/p)*(W/p), p*p)`` patch tokens, row by row.

    Examples
    --------
    >>> import numpy as np
    >>> patchify(np.arange(16.0).reshape(1, 4, 4), patch=2)[0]
    array([[ 0.,  1.,  4.,  5.],
           [ 2.,  3.,  6.,  7.],
           [ 8.,  9., 12., 13.],
           [10., 11., 14., 15.]])
    """
    x = as_real_array("images", images, min_ndim=3)
    B, H, W = x.shape
    if H % patch or W % patch:
        raise ValueError(f"image size {(H, W)} is not a multiple of patch {patch}")
    x = x.reshape(B, H // patch, patch, W // patch, patch)  # (B, H/p, p, W/p, p)
    return x.transpose(0, 1, 3, 2, 4).reshape(B, (H // patch) * (W // patch), patch * patch)  # (B, P, p*p)


def make_images(n: int, rng: np.random.Generator, *, noise: float = 0.35):
    """``images (n, 16, 16)``, ``labels (n,)`` and ``where (n,)``: the patch holding the shape."""
    labels = rng.integers(0, len(CLASSES), n)  # (n,)
    where = rng.integers(0, (SIZE // PATCH) ** 2, n)  # (n,)
    images = noise * rng.standard_normal((n, SIZE, SIZE))  # (n, 16, 16)
    for i in range(n):
        r, c = divmod(where[i], SIZE // PATCH)
        images[i, r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH] += _GLYPHS[labels[i]]
    return images, labels, where


def init_params(dim: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d_in = PATCH * PATCH
    return {
        "query": rng.normal(0, 1, (1, 1, dim)),  # the learned class query, (1, 1, D)
        "Wk": rng.normal(0, 1 / np.sqrt(d_in), (d_in, dim)),
        "Wv": rng.normal(0, 1 / np.sqrt(d_in), (d_in, dim)),
        "Wo": rng.normal(0, 1 / np.sqrt(dim), (dim, len(CLASSES))),
        "bo": np.zeros(len(CLASSES)),
    }


def forward(params, tokens):
    """``tokens (B, P, p*p)`` -> ``(logits (B, C), weights (B, P), cache)``."""
    k = tokens @ params["Wk"]  # (B, P, D)
    v = tokens @ params["Wv"]  # (B, P, D)
    o, w = scaled_dot_product_attention(params["query"], k, v, return_weights=True)  # (B, 1, D), (B, 1, P)
    return o[:, 0] @ params["Wo"] + params["bo"], w[:, 0], (k, v, o)  # (B, C)


def loss_and_grads(params, tokens, labels):
    """Mean cross-entropy and hand-derived gradients (checked by gradcheck in the tests)."""
    logits, _, (k, v, o) = forward(params, tokens)
    B = len(labels)
    p = softmax(logits)  # (B, C)
    loss = float(-np.log(p[np.arange(B), labels] + 1e-300).mean())
    d_logits = p.copy()
    d_logits[np.arange(B), labels] -= 1.0
    d_logits /= B  # (B, C)
    d_o = (d_logits @ params["Wo"].T)[:, None, :]  # (B, 1, D)
    dq, dk, dv = sdpa_backward(d_o, params["query"], k, v)  # (1, 1, D) summed over B, (B, P, D), (B, P, D)
    return loss, {
        "query": dq,
        "Wk": np.einsum("bpi,bpj->ij", tokens, dk),
        "Wv": np.einsum("bpi,bpj->ij", tokens, dv),
        "Wo": o[:, 0].T @ d_logits,
        "bo": d_logits.sum(0),
    }


def accuracy(params, n: int = 2000, seed: int = 999) -> float:
    """Held-out accuracy on ``n`` fresh images (a seed training never uses)."""
    images, labels, _ = make_images(n, np.random.default_rng(seed))
    return float((forward(params, patchify(images))[0].argmax(-1) == labels).mean())


def train(*, steps: int = 300, batch: int = 64, lr: float = 0.03, seed: int = 0, progress=None):
    """Train on fresh batches; returns ``(params, losses, held-out accuracy, seconds)``."""
    rng = np.random.default_rng(seed)
    params = init_params(seed=seed)
    opt = Adam(params, lr=lr)
    losses, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        images, labels, _ = make_images(batch, rng)
        loss, grads = loss_and_grads(params, patchify(images), labels)
        losses.append(loss)
        opt.step(grads)
        if progress is not None and (step % 50 == 0 or step == steps):
            progress(step, loss)
    return params, losses, accuracy(params), time.perf_counter() - start


@functools.lru_cache(maxsize=1)
def trained():
    return train()


def patch_self_attention(image, *, temperature: float = 8.0) -> np.ndarray:
    """Self-attention among the patches of one ``image (16, 16)``: weights ``(P, P)``, row = querying patch.

    Queries and keys are the raw patches, L2-normalised (QK-norm), so a patch attends to the
    patches whose content points the same way: a shape finds its copies, noise finds little.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((16, 16))
    >>> image[0:4, 0:4] = image[8:12, 12:16] = _GLYPHS[1]        # the same plus in patches 0 and 11
    >>> image[12:16, 4:8] = _GLYPHS[3]                             # a bar in patch 13
    >>> w = patch_self_attention(image)
    >>> bool(w[0, 11] == w[0, 0] and w[0, 11] > 10 * w[0, 13])     # a plus attends to both pluses, not the bar
    True
    """
    from .qknorm import qk_norm_attention

    tokens = patchify(as_real_array("image", image, min_ndim=2)[None])[0]  # (P, p*p)
    return qk_norm_attention(tokens, tokens, tokens, temperature=temperature, return_weights=True)[1]  # (P, P)


TEXT = {"en": {"before": "untrained", "after": "trained", "image": "image: two pluses and a bar",
               "self": "patch-to-patch attention", "q": "querying patch", "k": "attended patch"},
        "zh": {"before": "训练前", "after": "训练后", "image": "图像：两个加号和一个横条",
               "self": "图块之间的注意力", "q": "发出查询的图块", "k": "被关注的图块"}}


def self_attention_svg(*, lang: str = "en") -> str:
    """An image with repeated shapes and its 16 x 16 patch self-attention matrix."""
    from .plotting import pyplot, to_svg

    plt, t = pyplot(), TEXT[lang]
    image = 0.1 * np.random.default_rng(3).standard_normal((SIZE, SIZE))
    image[0:4, 0:4] += _GLYPHS[1]  # plus in patch 0
    image[8:12, 12:16] += _GLYPHS[1]  # plus in patch 11
    image[12:16, 4:8] += _GLYPHS[3]  # bar in patch 13
    w = patch_self_attention(image)  # (P, P)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    axes[0].imshow(image, cmap="gray")
    for k in range(SIZE // PATCH):
        axes[0].axhline(k * PATCH - 0.5, color="orange", lw=0.5)
        axes[0].axvline(k * PATCH - 0.5, color="orange", lw=0.5)
    for i in range(len(w)):
        r, c = divmod(i, SIZE // PATCH)
        axes[0].text(c * PATCH + 0.2, r * PATCH + 1.0, str(i), color="orange", fontsize=7)
    axes[0].set_title(t["image"], fontsize=10)
    axes[0].axis("off")
    axes[1].imshow(w, cmap="Blues")
    axes[1].set_title(t["self"], fontsize=10)
    axes[1].set_xlabel(t["k"])
    axes[1].set_ylabel(t["q"])
    axes[1].set_xticks(range(0, len(w), 3))
    axes[1].set_yticks(range(0, len(w), 3))
    fig.tight_layout()
    return to_svg(fig)


def figure_svg(*, lang: str = "en", examples: int = 6) -> str:
    """Test images with the class query's attention over the patches, before and after training."""
    from .plotting import pyplot, to_svg

    plt = pyplot()
    params, _, _, _ = trained()
    images, labels, _ = make_images(examples, np.random.default_rng(5))
    fig, axes = plt.subplots(2, examples, figsize=(1.8 * examples, 4))
    for row, (p, title) in enumerate(((init_params(), TEXT[lang]["before"]), (params, TEXT[lang]["after"]))):
        logits, w, _ = forward(p, patchify(images))
        grid = w.reshape(-1, SIZE // PATCH, SIZE // PATCH)  # (n, 4, 4)
        for i, ax in enumerate(axes[row]):
            ax.imshow(images[i], cmap="gray")
            ax.imshow(np.kron(grid[i], np.ones((PATCH, PATCH))), cmap="Reds", alpha=0.55, vmin=0, vmax=1)
            ax.set_title(f"{title}: {CLASSES[logits[i].argmax()]}", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return to_svg(fig)


def _cli(args: argparse.Namespace) -> int:
    def progress(step, loss):
        print(f"step {step:4d}/{args.steps}  loss {loss:.4f}", file=sys.stderr)

    _, _, acc, seconds = train(steps=args.steps, seed=args.seed, progress=progress)
    print(f"held-out accuracy {acc:.3f} (chance {1 / len(CLASSES):.3f}) after {args.steps} steps, {seconds:.1f} s")
    if args.plot:
        from .plotting import write_svg

        write_svg(args.plot, figure_svg())
    return 0


def register(commands) -> None:
    """Add the ``vision`` command."""
    p = commands.add_parser("vision", help="train a one-head patch-attention classifier on synthetic shapes")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="FILE.svg")
    p.set_defaults(run=_cli)
