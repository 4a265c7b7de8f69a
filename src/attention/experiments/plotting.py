"""Matplotlib set-up shared by the experiments: headless, CJK-capable, theme-aware SVG for the site.

Figures are made to be read where the site shows them:

- **Width.** Every figure is :data:`WIDTH` inches wide (panels are stacked, not squeezed), so its
  10-point text stays at least 10 px high even in a 390 px wide phone viewport.
- **Text as text** (``svg.fonttype: none``): selectable, drawn with the page's fonts, and read by a
  screen reader; kept out of the search index (:func:`to_svg`).
- **Dark mode.** The background is transparent and every text, axis and tick is drawn in
  :data:`INK`, which :func:`to_svg` turns into ``currentColor``: the page's text colour, light
  or dark.

matplotlib is optional (``pip install attention-vault[plot]``); it is imported only
when a figure is made.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Fonts tried in order; Noto Sans CJK (Debian ``fonts-noto-cjk``) draws Chinese labels.
FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK", "DejaVu Sans"]
#: Width of every figure, in inches (324 pt: 432 px on a desktop, scaled to the column on a phone).
WIDTH = 4.5
#: The colour of text and axes; :func:`to_svg` replaces it by ``currentColor``.
INK = "#010203"


def pyplot() -> ModuleType:
    """Return ``matplotlib.pyplot`` on the Agg backend with a CJK-capable sans-serif font."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'attention-vault[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": FONT_FAMILIES,
        "font.size": 10,
        "legend.fontsize": 10,
        "axes.titlesize": 11,
        "axes.unicode_minus": False,  # CJK fonts often lack U+2212
        "svg.hashsalt": "attention-vault",  # stable ids: identical builds give identical SVG
        "svg.fonttype": "none",  # text stays text
        "savefig.transparent": True,
        "legend.frameon": False,
        "text.color": INK, "axes.labelcolor": INK, "axes.edgecolor": INK, "xtick.color": INK, "ytick.color": INK,
    })
    return plt


def has_cjk_font() -> bool:
    """Whether matplotlib can find a font that draws Chinese."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return any(family in names for family in FONT_FAMILIES[:-1])


def to_svg(fig: Figure) -> str:
    """Render ``fig`` as an inline ``<svg>`` string (no XML prologue), in the page's text colour, and close it.

    The figure is an image with a name and a description for screen readers (``role="img"``, a
    ``<title>`` and a ``<desc>``), made from the figure itself, so in the page's language and from
    the same data: its title names it; the description says, panel by panel, where each plotted line
    starts and ends, or the range of an image's values (:func:`_data_sentence`), else what its axes show.
    """
    title, desc = _alternative_text(fig)
    plt = pyplot()
    buffer = io.StringIO()
    # No <metadata> ("image/svg+xml", "Matplotlib v…"): nothing a reader should find in search.
    fig.savefig(buffer, format="svg", bbox_inches="tight",
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :].replace(INK, "currentColor")
    # Shown on the page, left out of the search index: tick labels are no prose, and mathtext labels
    # are one <tspan> per glyph ("k e y d i m e n s i o n"). Material's search honours the attribute.
    svg = svg.replace("<svg", '<svg data-search-exclude="figure"', 1)
    svg = _slim(svg)
    key = hashlib.sha1(f"{title}\n{desc}\n{len(svg)}".encode()).hexdigest()[:10]  # ids unique on a page
    open_end = svg.index(">") + 1
    return (svg[: open_end - 1] + f' role="img" aria-labelledby="figure-{key}-title figure-{key}-desc">'
            f'<title id="figure-{key}-title">{html.escape(title)}</title>'
            f'<desc id="figure-{key}-desc">{html.escape(desc)}</desc>' + svg[open_end:])


#: A text's font, which matplotlib repeats in each text's style; written once on the figure, texts inherit it.
FONT = re.compile(r"font-family: [^;\"]+;? ?")
#: What matplotlib writes that changes nothing drawn: a text turned by 0 degrees, the ids of groups
#: (``<g id="xtick_1">``, repeated by each figure of a page; nothing refers to them), a coordinate's
#: fourth to sixth decimal (a millionth of a point; a figure is about 300 points wide).
NO_TURN = re.compile(r' transform="rotate\(-?0 [\d.-]+ [\d.-]+\)"')
GROUP_ID = re.compile(r'<g id="[^"]*"')
FINE = re.compile(r"(?<![\w.])(-?[1-9]\d*\.\d\d)\d+")


def _slim(svg: str) -> str:
    """Drop from ``svg`` what draws nothing.

    ``svg`` without what draws nothing (:data:`NO_TURN`, :data:`GROUP_ID`, :data:`FINE`), its texts' font
    written once on the figure: the Transformer note's 19 figures went from 290 KB to 211 KB.
    """
    fonts = set(FONT.findall(svg))
    if len(fonts) == 1:  # every text in one font: the figure's, inherited
        font = fonts.pop().strip().rstrip(";")
        svg = FONT.sub("", svg).replace(' style=""', "").replace("<svg", f'<svg style="{font}"', 1)
    svg = GROUP_ID.sub("<g", NO_TURN.sub("", svg))
    return re.sub(r"<[^>]+>", lambda tag: FINE.sub(r"\1", tag[0]), svg)  # in tags only: a label's text stays


def _alternative_text(fig: Any) -> tuple[str, str]:  # Any: it reads matplotlib's private _suptitle
    """Name and describe a figure from the text it shows.

    ``(name, description)`` of a figure from the text it shows: its title (or its first panel's),
    and each panel's title with what its axes show.
    """
    def plain(text: str) -> str:  # mathtext as a reader would say it: "$\\sqrt{E}$" -> "sqrt{E}"
        return re.sub(r"\s+", " ", text.replace("$", "").replace("\\", "")).strip()

    panels = [ax for ax in fig.get_axes() if ax.get_visible()]
    suptitle = plain(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) is not None else ""
    titles = [plain(ax.get_title()) for ax in panels]
    # A diagram (axes off, labels drawn as text) is named by the words it shows.
    words = [plain(t.get_text()) for t in [*fig.texts, *(t for ax in panels for t in ax.texts)] if t.get_text().strip()]
    name = suptitle or next((t for t in titles if t), "") or next(
        (plain(ax.get_ylabel()) for ax in panels if ax.axison and ax.get_ylabel()), "") or " · ".join(words[:4])
    zh = bool(CJK.search(" ".join([name, *titles, *words, *(plain(ax.get_xlabel()) for ax in panels)])))
    figure_legend = plain(fig.legends[0].get_title().get_text()) if len(fig.legends) == 1 else ""
    parts = []
    for ax, panel_title in zip(panels, titles):
        labels: tuple[str, ...] = (plain(ax.get_xlabel()), plain(ax.get_ylabel())) if ax.axison else ()
        if ax.axison:
            what = f"{panel_title} ({labels[1]})" if panel_title and labels[1] else panel_title or labels[1]
            # Stacked panels share the x axis, and only the lowest one names it.
            x_label = labels[0] or next((plain(other.get_xlabel()) for other in panels if other.get_xlabel()
                                         and ax.get_shared_x_axes().joined(ax, other)), "x")
            legend = plain(ax.get_legend().get_title().get_text()) if ax.get_legend() else figure_legend
            if said := _data_sentence(ax, what, x_label, legend, plain, zh):
                parts.append(said)
                continue
        axes = " · ".join(label for label in labels if label)
        part = f"{panel_title} ({axes})" if panel_title and axes else panel_title or axes
        parts.append(f"{part}。" if zh and part else part)
    return name, ("" if zh else "; ").join(p for p in parts if p) or " · ".join(words[:12]) or name


CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff]")
#: Lines (or bars) said per panel: a screen reader reads the whole description at once.
LINES_SAID = 4


def _number(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e6 else f"{x:.3g}"  # as the notes' tables print them


def _data_sentence(ax: Any, what: str, x_label: str, legend: str, plain: Callable[[str], str], zh: bool) -> str:
    """Say a panel's numbers in one sentence.

    One sentence with a panel's numbers: each labelled line (up to :data:`LINES_SAID`) from its first
    to its last point along the x axis, the heights of a few bars, or an image's smallest and largest
    value; empty for a panel that plots none of them.
    """
    # Lines drawn in data coordinates (not a reference line across the axes, such as axhline's), named by
    # their legend label; a panel whose lines have none says its first lines unnamed.
    lines = [line for line in ax.get_lines() if line.get_visible() and len(line.get_xdata()) >= 2
             and line.get_transform() == ax.transData]
    lines = [line for line in lines if not line.get_label().startswith("_")] or lines
    if lines:
        x = lines[0].get_xdata()
        name = {line: "" if line.get_label().startswith("_") else plain(line.get_label()) for line in lines}
        said = [(f"{legend} {name[line]}".strip() if name[line] else "", _number(line.get_ydata()[0]),
                 _number(line.get_ydata()[-1])) for line in lines[:LINES_SAID]]
        if zh:
            moves = "，".join(f"{label} 从 {a} 到 {b}".strip() for label, a, b in said)
            return f"{what}：{x_label} 从 {_number(x[0])} 到 {_number(x[-1])} 时，{moves}。"
        moves = ", ".join(f"{label} from {a} to {b}".strip() for label, a, b in said)
        return f"{what}, as {x_label} goes from {_number(x[0])} to {_number(x[-1])}: {moves}"
    bars = [patch.get_height() for container in ax.containers for patch in container
            if hasattr(patch, "get_height")]
    if 0 < len(bars) <= 2 * LINES_SAID:
        heights = ("、" if zh else ", ").join(_number(h) for h in bars)
        return f"{what}：柱高依次为 {heights}。" if zh else f"{what}: bars of {heights}"
    images = [image for image in ax.get_images() if image.get_visible()]
    if images:
        values = images[0].get_array()
        low, high = _number(values.min()), _number(values.max())
        return f"{what}：数值从 {low} 到 {high}。" if zh else f"{what}: values from {low} to {high}"
    return ""


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` to ``path`` (format from the suffix: .svg, .png, .pdf, ...), close it and say so on stderr."""
    plt = pyplot()
    fig.savefig(path, bbox_inches="tight", dpi=150, metadata={"Date": None} if str(path).endswith(".svg") else None)
    plt.close(fig)
    print(f"wrote {Path(path)}", file=sys.stderr)
