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

import html
import json
import re
import shutil
import subprocess
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
