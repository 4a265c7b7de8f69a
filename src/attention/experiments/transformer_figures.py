"""Figures for the Transformer note: the mask matrices and the block diagram."""

from __future__ import annotations

import numpy as np

from ..masks import causal_mask, padding_mask

TEXT = {
    "en": {"causal": "causal mask (L = S = 6)", "padding": "padding mask, 4 real keys of 6",
           "both": "causal and padding", "key": "key position", "query": "query position",
           "encoder": "encoder block", "decoder": "decoder block", "x": "input x", "ln": "LayerNorm",
           "self": "self-attention", "causal_self": "causal self-attention", "cross": "cross-attention\n(keys, values: memory)",
           "ff": "feed-forward", "add": "+ (residual)", "out": "output"},
    "zh": {"causal": "因果掩码（L = S = 6）", "padding": "填充掩码：6 个键中 4 个是真实的",
           "both": "因果 + 填充", "key": "键的位置", "query": "查询的位置",
           "encoder": "编码器块", "decoder": "解码器块", "x": "输入 x", "ln": "LayerNorm",
           "self": "自注意力", "causal_self": "因果自注意力", "cross": "交叉注意力\n（键和值来自 memory）",
           "ff": "前馈网络", "add": "+（残差）", "out": "输出"},
}


def masks_svg(*, lang: str = "en") -> str:
    """Three boolean masks drawn as matrices: dark = may attend."""
    from ..plotting import pyplot, to_svg

    plt, t = pyplot(), TEXT[lang]
    causal = causal_mask(6)  # (L, S)
    padding = np.broadcast_to(padding_mask([4], 6)[0], (6, 6))  # (L, S)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, mask, title in zip(axes, (causal, padding, causal & padding), (t["causal"], t["padding"], t["both"])):
        ax.imshow(mask, cmap="Blues", vmin=-0.3, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(t["key"])
        ax.set_ylabel(t["query"])
        ax.set_xticks(range(6))
        ax.set_yticks(range(6))
    fig.tight_layout()
    return to_svg(fig)


def blocks_svg(*, lang: str = "en") -> str:
    """The pre-norm encoder and decoder blocks as a flow chart."""
    from ..plotting import pyplot, to_svg

    plt, t = pyplot(), TEXT[lang]
    fig, axes = plt.subplots(1, 2, figsize=(9, 6.2))
    columns = {
        "encoder": [t["x"], t["ln"], t["self"], t["add"], t["ln"], t["ff"], t["add"], t["out"]],
        "decoder": [t["x"], t["ln"], t["causal_self"], t["add"], t["ln"], t["cross"], t["add"], t["ln"], t["ff"], t["add"], t["out"]],
    }
    colors = {t["ln"]: "#e9c46a", t["self"]: "#2a9d8f", t["causal_self"]: "#2a9d8f", t["cross"]: "#264653",
              t["ff"]: "#f4a261", t["add"]: "#ffffff", t["x"]: "#dddddd", t["out"]: "#dddddd"}
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
    return to_svg(fig)
