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
#: Where the site serves KaTeX's font files (hooks/assets.py copies them there; pages preload from there).
SITE_FONTS = "assets/katex/fonts"
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
    """The faces of the text of one formula's drawing (its ``.katex-html``; the MathML beside it is hidden)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        _, self.root, self.rules = _stylesheet()
        self.open: list[tuple[set[str], Face | None]] = []  # (classes and <tag>, face)
        self.drawn: set[Face] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        classes = set((dict(attrs).get("class") or "").split()) | {"<" + tag}
        face = self.open[-1][1] if self.open else None
        if "katex-html" in classes:
            face = (self.root, 400, "normal")
        elif face is not None:
            face = self._restyle(face, classes)
        self.open.append((classes, face))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <path …/>, <br/>: no text inside, nothing to close

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, -1, -1):  # the element it closes, and any left open inside it
            if "<" + tag in self.open[depth][0]:  # (HTML allows that for <p>, <li>, ...)
                del self.open[depth:]
                return  # an end tag that closes nothing open is ignored, as browsers do

    def handle_data(self, data: str) -> None:
        if self.open and data.strip() and self.open[-1][1] is not None:
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


@functools.lru_cache(maxsize=8192)
def _faces(drawing: str) -> frozenset[Face]:
    """The faces one formula's ``.katex-html`` is drawn in (a formula met again, on a page or a rebuild, is not
    parsed again)."""
    parser = _FontsDrawn()
    parser.feed(drawing)
    parser.close()
    return frozenset(parser.drawn)


#: Text that looks like markup but is not the page's: scripts (a widget's data) and comments.
_NOT_MARKUP = re.compile(r"<script\b.*?</script\s*>|<!--.*?-->", re.S | re.I)
#: A folded callout's tags, and where a formula's drawing starts.
_FOLDS_AND_DRAWINGS = re.compile(r"<(/?)(details|summary)\b((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>"  # attributes
                                 r'|<span class="katex-html"', re.I)
_SPAN = re.compile(r"<(/?)span\b[^>]*>")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def fonts_drawn(page: str) -> list[str]:
    """The KaTeX font files (``KaTeX_Main-Regular.woff2``, ...) the formulas of ``page`` (HTML) are drawn in,
    what folded callouts hide left out (it is not laid out until opened). Only the formulas' drawings are
    parsed, not the whole page (a twentieth of a build, parsed whole)."""
    text = _NOT_MARKUP.sub("", page)
    drawn: set[Face] = set()
    folds: list[list[bool]] = []  # each <details> the text is inside: [folded, in its title]
    at = 0
    while found := _FOLDS_AND_DRAWINGS.search(text, at):
        at = found.end()
        if found[2] is None:  # a formula's drawing: laid out unless a folded callout's body holds it
            end = _element_end(text, found.start())
            if not any(folded and not title for folded, title in folds):
                drawn |= _faces(text[found.start():end])
            at = end
        elif found[2].lower() == "details":
            if not found[1]:
                folds.append([not re.search(r"(?<![\w-])open(?![\w-])", _QUOTED.sub("", found[3])), False])
            elif folds:
                folds.pop()
        elif folds:  # <summary>, </summary>: the callout's title, shown folded or not
            folds[-1][1] = not found[1]
    faces, _, _ = _stylesheet()
    files = []
    for family, weight, style in drawn:  # a face KaTeX lacks is drawn from the nearest it has
        near = [f for f in faces if f[0] == family]
        best = min(near, key=lambda f: (f[2] != style, f[1] != weight), default=None)
        if best is not None:
            files.append(faces[best])
    return sorted(set(files))


def _element_end(text: str, start: int) -> int:
    """Where the <span> that starts at ``start`` ends (after its end tag), or the text's end."""
    depth = 0
    for tag in _SPAN.finditer(text, start):
        depth += -1 if tag[1] else 1
        if depth == 0:
            return tag.end()
    return len(text)


def _under(parts: list[set[str]], ancestors: list[set[str]]) -> bool:
    """Whether ``ancestors`` (outermost first) hold the compound selectors ``parts`` in order."""
    for part in parts:
        while ancestors and not part <= ancestors[0]:
            ancestors = ancestors[1:]
        if not ancestors:
            return False
        ancestors = ancestors[1:]
    return True
