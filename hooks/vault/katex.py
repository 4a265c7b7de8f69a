"""Formulas typeset when the site is built, by the pinned KaTeX (package-lock.json) running in Node.

``pymdownx.arithmatex`` (generic mode) wraps each formula as ``<span class="arithmatex">\\(…\\)</span>``
or ``<div class="arithmatex">\\[…\\]</div>``; :func:`typeset` replaces the TeX inside each wrapper by
KaTeX's HTML and MathML, so that the page as served shows the formula (before any script, with none,
offline, in a link's preview) and does not move when it loads. The MathML, which a screen reader reads,
keeps the TeX as written in its annotation.

One Node process serves the whole build, and ``mkdocs serve``'s rebuilds: a page's formulas go as one
JSON line and come back as one (``katex.js``); a formula seen before is not sent again.
"""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

KATEX = Path(__file__).resolve().parents[2] / "node_modules" / "katex"
RENDERER = Path(__file__).with_suffix(".js")
#: A formula as arithmatex writes it: inline ``\(…\)`` in a span, displayed ``\[…\]`` in a div.
WRAPPED = re.compile(r'(<(span|div) class="arithmatex">)\s*\\[(\[](.*?)\\[)\]]\s*(</\2>)', re.S)
#: Inline math left as text: a heading's, in the table of contents (the toc extension keeps only text).
IN_TEXT = re.compile(r"\\\((.+?)\\\)", re.S)
CONTENTS_LINK = re.compile(r'(<span class="md-ellipsis">)(.*?)(</span>)', re.S)


#: Where a formula is in a page (start, end) and what it is (TeX, displayed).
Found = tuple[int, int, tuple[str, bool]]


class KatexError(RuntimeError):
    """Node or KaTeX is missing, or the renderer stopped."""


class _Renderer:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.done: dict[tuple[str, bool], str] = {}

    def __call__(self, formulas: list[tuple[str, bool]]) -> list[str]:
        new = [f for f in dict.fromkeys(formulas) if f not in self.done]
        if new:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(new) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
            if not answer:
                self.close()
                raise KatexError("KaTeX's renderer (node hooks/vault/katex.js) stopped; its error is above")
            self.done.update(zip(new, json.loads(answer), strict=True))
        return [self.done[f] for f in formulas]

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            node = shutil.which("node")
            if node is None:
                raise KatexError("Node.js is needed to typeset the math when the site is built "
                                 "(Debian: apt-get install nodejs npm; then `make setup`)")
            if not (KATEX / "package.json").is_file():
                raise KatexError(f"KaTeX is missing in {KATEX.parent}: run `make setup` (it runs `npm ci`)")
            self.process = subprocess.Popen([node, str(RENDERER), str(KATEX)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True, encoding="utf-8")
        return self.process

    def close(self) -> None:
        if self.process is not None:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=10)
            self.process = None


render = _Renderer()


def typeset(page: str) -> str:
    """``page`` (HTML) with every arithmatex formula, and the inline math of the contents' links, typeset."""
    found = [(m.start(3) - 2, m.end(3) + 2, (html.unescape(m[3]).strip(), m[2] == "div"))  # the delimiters go too
             for m in WRAPPED.finditer(page)]
    for link in CONTENTS_LINK.finditer(page):
        found += _inline_math(link[2], link.start(2))
    return _replace(page, found)


def typeset_text(text: str) -> str:
    """Plain ``text`` (a heading's, with its math as ``\\(…\\)``) as HTML, its math typeset."""
    escaped = html.escape(text, quote=False)
    return _replace(escaped, _inline_math(escaped, 0))


def _inline_math(text: str, offset: int) -> list[Found]:
    """Each ``\\(…\\)`` in HTML ``text``, which starts at ``offset`` in its page."""
    return [(offset + m.start(), offset + m.end(), (html.unescape(m[1]).strip(), False))
            for m in IN_TEXT.finditer(text)]


def _replace(page: str, found: list[Found]) -> str:
    """``page`` with each ``(start, end, formula)`` of ``found`` (apart from each other) typeset."""
    if not found:
        return page
    found.sort()
    out, end = [], 0
    for (start, stop, _), drawn in zip(found, render([formula for _, _, formula in found]), strict=True):
        out += [page[end:start], drawn]
        end = stop
    return "".join(out) + page[end:]


# --- The fonts a page's formulas are drawn in, to preload with the page --------------------------------------
#
# A font that arrives once the page has been laid out restyles all of it, in whatever script then reads a size
# (Material's bundle, ours): a long task on a phone. KaTeX's stylesheet says which face each class draws in;
# read from the pinned stylesheet, that tells which of its 20 files a page needs before the browser finds out.

STYLESHEET = KATEX / "dist" / "katex.min.css"
_FONT_PROPERTY = re.compile(r"(font-family|font-style|font-weight):([^;}]+)")
#: What a face is: (family, weight 400 or 700, style "normal" or "italic").
Face = tuple[str, int, str]


def _weight(value: str) -> int:
    return 700 if value.strip() in ("bold", "bolder") or value.strip().isdigit() and int(value) >= 600 else 400


@functools.cache
def _stylesheet() -> tuple[dict[Face, str], str, list[tuple[list[set[str]], dict[str, str]]]]:
    """KaTeX's faces (face: woff2 file), the family ``.katex`` starts in, and its font rules: each a selector
    after ``.katex`` (a list of compound selectors, each a set of classes or a tag) and what it sets."""
    css = STYLESHEET.read_text(encoding="utf-8")
    faces: dict[Face, str] = {}
    for body in re.findall(r"@font-face\{([^}]*)\}", css):
        found = dict(_FONT_PROPERTY.findall(body))
        file = re.search(r"url\(fonts/([^)]+\.woff2)\)", body)
        if file and "font-family" in found:
            face = (found["font-family"], _weight(found.get("font-weight", "400")), found.get("font-style", "normal"))
            faces[face] = file[1]
    root = re.search(r"\.katex\{font:[^;}]*?em ([\w-]+)", css)
    if not faces or root is None:
        raise KatexError(f"KaTeX's stylesheet names no fonts: {STYLESHEET}")
    rules = []
    for selectors, body in re.findall(r"([^{}@]+)\{([^{}]*)\}", re.sub(r"@font-face\{[^}]*\}", "", css)):
        sets = dict(_FONT_PROPERTY.findall(body))
        for selector in selectors.split(","):
            parts = re.split(r"\s*>\s*|\s+", selector.strip())
            if len(parts) < 2 or parts[0] != ".katex" or not sets or re.search(r"[:\[*+~]", selector):
                continue
            rules.append(([set(p.split(".")[1:]) if p.startswith(".") else {"<" + p} for p in parts[1:]], sets))
    return faces, root[1], rules


class _FontsDrawn(HTMLParser):
    """The faces of the text inside ``.katex-html`` (the MathML beside it is hidden), outside folded callouts."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.faces, self.root, self.rules = _stylesheet()
        self.open: list[tuple[set[str], Face | None, bool]] = []  # (classes and <tag>, face, hidden)
        self.drawn: set[Face] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        values = dict(attrs)
        classes = set((values.get("class") or "").split()) | {"<" + tag}
        parent, face, hidden = self.open[-1] if self.open else (set(), None, False)
        hidden = hidden or ({"<details", "<closed"} <= parent and tag != "summary")  # a folded callout's body
        if tag == "details" and "open" not in values:
            classes.add("<closed")
        if "katex-html" in classes:
            face = (self.root, 400, "normal")
        elif face is not None:
            face = self._restyle(face, classes)
        self.open.append((classes, face, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <path …/>, <br/>: no text inside, nothing to close

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, -1, -1):  # the element it closes, and any left open inside it
            if "<" + tag in self.open[depth][0]:  # (HTML allows that for <p>, <li>, ...)
                del self.open[depth:]
                return  # an end tag that closes nothing open is ignored, as browsers do

    def handle_data(self, data: str) -> None:
        if self.open and data.strip() and self.open[-1][1] is not None and not self.open[-1][2]:
            self.drawn.add(self.open[-1][1])

    def _restyle(self, face: Face, classes: set[str]) -> Face:
        family, weight, style = face
        ancestors = [element[0] for element in self.open]
        for parts, sets in self.rules:  # in the stylesheet's order; KaTeX's font rules do not compete
            if parts[-1] <= classes and _under(parts[:-1], ancestors):
                family = sets.get("font-family", family).strip()
                weight = _weight(sets["font-weight"]) if "font-weight" in sets else weight
                style = sets.get("font-style", style).strip()
        return family, weight, style


def _under(parts: list[set[str]], ancestors: list[set[str]]) -> bool:
    """Whether ``ancestors`` (outermost first) hold the compound selectors ``parts`` in order."""
    for part in parts:
        while ancestors and not part <= ancestors[0]:
            ancestors = ancestors[1:]
        if not ancestors:
            return False
        ancestors = ancestors[1:]
    return True


def fonts_drawn(page: str) -> list[str]:
    """The KaTeX font files (``KaTeX_Main-Regular.woff2``, ...) the formulas of ``page`` (HTML) are drawn in,
    what folded callouts hide left out (it is not laid out until opened)."""
    parser = _FontsDrawn()
    parser.feed(page)
    parser.close()
    files = []
    for family, weight, style in parser.drawn:  # a face KaTeX lacks is drawn from the nearest it has
        near = [f for f in parser.faces if f[0] == family]
        best = min(near, key=lambda f: (f[2] != style, f[1] != weight), default=None)
        if best is not None:
            files.append(parser.faces[best])
    return sorted(set(files))
