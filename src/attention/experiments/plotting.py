"""Matplotlib set-up shared by the experiments: headless, CJK-capable, theme-aware SVG for the site.

matplotlib is optional (``pip install attention-vault[plot]``); it is imported only
when a figure is made.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

#: Fonts tried in order; Noto Sans CJK (Debian ``fonts-noto-cjk``) draws Chinese labels.
FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK", "DejaVu Sans"]


def pyplot():
    """Return ``matplotlib.pyplot`` on the Agg backend with a CJK-capable sans-serif font."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'attention-vault[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = FONT_FAMILIES
    plt.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212
    plt.rcParams["svg.hashsalt"] = "attention-vault"  # stable ids: identical builds give identical SVG
    return plt


def has_cjk_font() -> bool:
    """Whether matplotlib can find a font that draws Chinese."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return any(family in names for family in FONT_FAMILIES[:-1])


def to_svg(fig) -> str:
    """Render ``fig`` as an inline ``<svg>`` string (no XML prologue) and close it."""
    plt = pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def save(fig, path) -> None:
    """Write ``fig`` to ``path`` (format from the suffix: .svg, .png, .pdf, ...), close it and say so on stderr."""
    plt = pyplot()
    fig.savefig(path, bbox_inches="tight", dpi=150, metadata={"Date": None} if str(path).endswith(".svg") else None)
    plt.close(fig)
    print(f"wrote {Path(path)}", file=sys.stderr)
