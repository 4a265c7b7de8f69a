"""A JSON Canvas (``.canvas``, Obsidian's open format: https://jsoncanvas.org) as a page of the site.

The page shows the cards where the canvas puts them, inside a box that scrolls on a narrow
screen: text cards as Markdown (links, math, lists: the page goes through the vault's transforms
like a note), file cards as a link to their note or as their image, link cards as plain links (no
iframe, nothing fetched), groups as labelled frames, and the edges as lines with arrows in one SVG.
Below it, the connections as a list, which a screen reader reads in order. A file card whose note
is not published shows nothing of it: neither its name nor its text. The raw ``.canvas`` file is
not published (it names every file, published or not).
"""

from __future__ import annotations

import html
import json
import posixpath

from .links import IMAGE
from .text import Line, demoted

#: Margin around the cards, in canvas pixels.
MARGIN = 40
#: Where an edge starts or ends on a card's side.
SIDES = {"top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5), "right": (1.0, 0.5)}
WORDS = {
    "zh": {"canvas": "画布", "connections": "连接", "unpublished": "（未发布的笔记）", "to": "→", "label": "（{}）"},
    "en": {"canvas": "Canvas", "connections": "Connections", "unpublished": "(a note that is not published)",
           "to": "→", "label": " ({})"},
}


def read(text: str) -> dict:
    """The canvas's nodes and edges; ``ValueError`` when the file is not a JSON Canvas."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("nodes", []), list):
        raise ValueError("not a JSON Canvas: no list of nodes")
    return {"nodes": [n for n in data.get("nodes", []) if isinstance(n, dict) and "id" in n],
            "edges": [e for e in data.get("edges", []) if isinstance(e, dict)]}


def page_lines(canvas: dict, name: str, lang: str, titles: dict[str, str], files: set[str]) -> list[Line]:
    """The Markdown of the canvas's page. ``titles``: the published notes' titles by path;
    ``files``: every published file (for image cards)."""
    words = WORDS.get(lang, WORDS["en"])
    nodes = canvas["nodes"]
    by_id = {n["id"]: n for n in nodes}
    if not nodes:
        return [Line(1, f"# {name}")]
    left = min(n["x"] for n in nodes) - MARGIN
    top = min(n["y"] for n in nodes) - MARGIN
    width = max(n["x"] + n["width"] for n in nodes) - left + MARGIN
    height = max(n["y"] + n["height"] for n in nodes) - top + MARGIN
    out = [f"# {name}", "",
           f'<div class="json-canvas-scroll" tabindex="0" role="region" aria-label="{html.escape(words["canvas"])}: '
           f'{html.escape(name)}" markdown="1">',
           f'<div class="json-canvas" style="width: {width}px; height: {height}px" markdown="1">',
           _edges_svg(canvas["edges"], by_id, left, top, width, height)]
    # Groups first (behind), then the cards in reading order: top to bottom, left to right.
    for node in sorted(nodes, key=lambda n: (n.get("type") != "group", n["y"], n["x"])):
        box = (f"left: {node['x'] - left}px; top: {node['y'] - top}px; width: {node['width']}px; "
               f"height: {node['height']}px")
        kind = node.get("type", "text")
        preset = str(node.get("color", ""))  # Obsidian's colours "1".."6"; a hex colour is left out
        colour = f" canvas-color-{preset}" if len(preset) == 1 and preset in "123456" else ""
        out += [f'<div class="canvas-node canvas-{kind}{colour}" data-node="{html.escape(str(node["id"]))}" '
                f'style="{box}" markdown="1">', "", *_card(node, kind, titles, files, words), "", "</div>"]
    out += ["</div>", "</div>", ""]
    edges = [_edge_text(edge, by_id, titles, words) for edge in canvas["edges"]]
    if edges:
        out += [f"**{words['connections']}**", "",
                *(f'- <span class="canvas-edge">{html.escape(text)}</span>' for text in edges), ""]
    return [Line(1, text) for text in out]


def _card(node: dict, kind: str, titles: dict[str, str], files: set[str], words: dict) -> list[str]:
    if kind == "text":  # a card's headings are not the page's sections
        return [text for line in str(node.get("text", "")).split("\n") for text in demoted(line)]
    if kind == "group":
        return [html.escape(str(node.get("label", "")))]
    if kind == "link":
        url = str(node.get("url", ""))
        if not url.startswith(("http://", "https://", "mailto:")):
            return []
        return [f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>']
    path = str(node.get("file", ""))
    if path in titles:
        subpath = str(node.get("subpath", ""))
        return [f"[[{path}{subpath}|{titles[path]}]]"]
    if path in files and posixpath.splitext(path)[1].lower() in IMAGE:
        return [f"![[{path}]]"]
    return [f'<span class="canvas-unpublished">{html.escape(words["unpublished"])}</span>']


def _label(node: dict | None, titles: dict[str, str], words: dict) -> str:
    """How a connection names a card: its group label, its note's title, its URL, or its text's first line."""
    if node is None:
        return "?"
    kind = node.get("type", "text")
    if kind == "group":
        return str(node.get("label", ""))
    if kind == "file":
        path = str(node.get("file", ""))
        return titles.get(path) or (posixpath.basename(path) if not path.endswith(".md") else words["unpublished"])
    if kind == "link":
        return str(node.get("url", ""))
    first = next((line for line in str(node.get("text", "")).split("\n") if line.strip()), "")
    return first.lstrip("#").strip()[:60]


def _edge_text(edge: dict, by_id: dict, titles: dict[str, str], words: dict) -> str:
    text = f"{_label(by_id.get(edge.get('fromNode')), titles, words)} {words['to']} " \
           f"{_label(by_id.get(edge.get('toNode')), titles, words)}"
    return text + (words["label"].format(edge["label"]) if edge.get("label") else "")


def _point(node: dict, side: str | None, left: float, top: float) -> tuple[float, float]:
    fx, fy = SIDES.get(side or "", (0.5, 0.5))
    return node["x"] - left + fx * node["width"], node["y"] - top + fy * node["height"]


def _edges_svg(edges: list[dict], by_id: dict, left: float, top: float, width: float, height: float) -> str:
    """Every edge as a line (an arrow at the ends that have one; by default the end it points to)."""
    parts = [f'<svg class="canvas-edges" width="{width}" height="{height}" aria-hidden="true">',
             '<defs><marker id="canvas-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
             'markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="currentColor"/>'
             "</marker></defs>"]
    for edge in edges:
        start, end = by_id.get(edge.get("fromNode")), by_id.get(edge.get("toNode"))
        if start is None or end is None:
            continue
        (x1, y1), (x2, y2) = _point(start, edge.get("fromSide"), left, top), _point(end, edge.get("toSide"), left, top)
        heads = (' marker-start="url(#canvas-arrow)"' if edge.get("fromEnd") == "arrow" else "") + \
                (' marker-end="url(#canvas-arrow)"' if edge.get("toEnd", "arrow") == "arrow" else "")
        parts.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="currentColor"{heads}/>')
        if edge.get("label"):
            parts.append(f'<text x="{(x1 + x2) / 2:g}" y="{(y1 + y2) / 2 - 6:g}" text-anchor="middle">'
                         f"{html.escape(str(edge['label']))}</text>")
    return "".join(parts) + "</svg>"
