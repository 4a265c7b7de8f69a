r"""QK-norm: normalise queries and keys, and let a temperature set the sharpness.

$$\mathrm{score}(q, k) = g \cdot \frac{q}{\lVert q \rVert} \cdot \frac{k}{\lVert k \rVert}$$

The score is a cosine similarity times the temperature $g$, so it lies in $[-g, g]$ whatever
the size of $q$ and $k$: the scale of the weights that produce them (their initialisation,
or their growth during training) can no longer saturate the softmax.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys

import numpy as np

from ._validation import as_real_array
from .experiments.scaling import row_statistics
from .scaled_dot_product import scaled_dot_product_attention


def l2_normalize(x, *, eps: float = 1e-6) -> np.ndarray:
    """Divide each vector (last axis) by its Euclidean norm (or ``eps``, if larger).

    Examples
    --------
    >>> l2_normalize([[3.0, 4.0]])
    array([[0.6, 0.8]])
    """
    x = as_real_array("x", x, min_ndim=1)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def qk_norm_attention(query, key, value, attn_mask=None, is_causal: bool = False, *, temperature: float,
                      return_weights: bool = False):
    """Scaled dot-product attention on L2-normalised queries and keys, scaled by ``temperature``.

    Examples
    --------
    Scaling the queries and keys by any factor changes nothing:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.standard_normal((3, 4, 16))
    >>> a = qk_norm_attention(q, k, v, temperature=4.0)
    >>> b = qk_norm_attention(100 * q, 0.01 * k, v, temperature=4.0)
    >>> bool(np.allclose(a, b))
    True
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    return scaled_dot_product_attention(l2_normalize(query), l2_normalize(key), value, attn_mask, is_causal=is_causal,
                                        scale=float(temperature), return_weights=return_weights)


METHODS = {
    # name: (normalise q and k?, factor as a function of d_k)
    "1/sqrt(d_k)": (False, lambda d_k: 1 / math.sqrt(d_k)),
    "QK-norm, g = sqrt(d_k)": (True, math.sqrt),
    "QK-norm, g = 4": (True, lambda d_k: 4.0),
}
D_KS = (16, 64, 256, 1024)
INIT_SCALES = (1.0, 4.0)


def measure(d_k: int, method: str, init_scale: float, *, rows: int = 256, keys: int = 64, seed: int = 0):
    """``(entropy, max_weight, score_grad)`` for q, k ~ N(0, init_scale^2) (see the scaling experiment)."""
    normalise, factor = METHODS[method]
    rng = np.random.default_rng([seed, d_k])
    q = init_scale * rng.standard_normal((rows, 1, d_k))  # (R, 1, E)
    k = init_scale * rng.standard_normal((rows, keys, d_k))  # (R, S, E)
    v = rng.standard_normal((rows, keys, 16))  # (R, S, Ev)
    grad_out = rng.standard_normal((rows, 1, 16))  # (R, 1, Ev)
    if normalise:
        q, k = l2_normalize(q), l2_normalize(k)
    return row_statistics(factor(d_k) * (q @ k.transpose(0, 2, 1)), v, grad_out)


@functools.lru_cache(maxsize=1)
def run() -> dict:
    """``{(method, init_scale): [(d_k, entropy, max_weight, score_grad), ...]}`` over the grid."""
    return {(m, s): [(d, *measure(d, m, s)) for d in D_KS] for m in METHODS for s in INIT_SCALES}


TEXT = {
    "en": {"method": "method", "init": "init scale σ", "entropy": "entropy (norm.)", "grad": "‖∂ℓ/∂scores‖",
           "x": "key dimension $d_k$", "title_e": "softmax entropy", "title_g": "gradient norm at the scores"},
    "zh": {"method": "方法", "init": "初始化尺度 σ", "entropy": "熵（归一化）", "grad": "‖∂ℓ/∂分数‖",
           "x": "键维度 $d_k$", "title_e": "softmax 的熵", "title_g": "分数处的梯度范数"},
}


def markdown_table(*, lang: str = "en", d_ks=(16, 1024)) -> str:
    t = TEXT[lang]
    lines = [f"| {t['method']} | {t['init']} | d_k | {t['entropy']} | {t['grad']} |", "|---|---:|---:|---:|---:|"]
    for (method, sigma), rows in run().items():
        for d, entropy, _, grad in rows:
            if d in d_ks:
                lines.append(f"| {method} | {sigma:g} | {d} | {entropy:.3f} | {grad:.3f} |")
    return "\n".join(lines)


def figure_svg(*, lang: str = "en") -> str:
    from .plotting import pyplot, to_svg

    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (method, sigma), rows in run().items():
        style = "-" if sigma == 1 else "--"
        for ax, col in zip(axes, (1, 3)):
            ax.plot([r[0] for r in rows], [r[col] for r in rows], style, marker="o", label=f"{method}, σ={sigma:g}")
    for ax, title in zip(axes, (t["title_e"], t["title_g"])):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(t["x"])
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return to_svg(fig)


def _cli(args: argparse.Namespace) -> int:
    from .plotting import write_svg

    print("measuring entropy and gradients with and without QK-norm ...", file=sys.stderr)
    print(markdown_table(lang=args.lang, d_ks=D_KS))
    if args.plot:
        write_svg(args.plot, figure_svg(lang=args.lang))
    return 0


def register(commands) -> None:
    """Add the ``qk-norm`` command."""
    p = commands.add_parser("qk-norm", help="entropy and gradients against d_k, with and without QK-norm")
    p.add_argument("--plot", metavar="FILE.svg")
    p.add_argument("--lang", choices=["en", "zh"], default="en")
    p.set_defaults(run=_cli)
