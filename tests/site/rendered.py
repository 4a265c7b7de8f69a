"""The built HTML as a reader's browser holds it: a small element tree (the standard library's
HTMLParser; no extra dependency), and the pages of a built site with the source note of each."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: Where text is shown as written, not as prose: code, math (before KaTeX), drawings, scripts.
VERBATIM = {"pre", "code", "script", "style", "svg", "textarea"}
CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = None

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.walk()

    def find_all(self, match: Callable[[Element], bool]) -> list[Element]:
        return [e for e in self.walk() if match(e)]

    def first(self, match: Callable[[Element], bool]) -> Element | None:
        return next((e for e in self.walk() if match(e)), None)

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text(self, skip: Callable[[Element], bool] = lambda e: False) -> str:
        """The text inside, leaving out the elements ``skip`` accepts (and all they hold)."""
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif not skip(child):
                parts.append(child.text(skip))
        return "".join(parts)


def is_math(e: Element) -> bool:
    return "arithmatex" in e.classes or "katex" in e.classes


def as_written(e: Element) -> bool:
    """``skip`` for :meth:`Element.text`: a typeset formula read as its TeX, once (KaTeX draws it twice: as
    MathML, whose annotation is the TeX, and as HTML for the eye)."""
    return "katex-html" in e.classes or (e.parent is not None and e.parent.tag == "semantics" and e.tag != "annotation")


def prose(e: Element) -> bool:
    """``skip`` for :meth:`Element.text`: what is not prose (code, math, drawings, scripts)."""
    return e.tag in VERBATIM or is_math(e)


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Element("#document")

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.node)
        self.node.children.append(element)
        if tag not in VOID:
            self.node = element

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Element(tag, {k: v or "" for k, v in attrs}, parent=self.node))

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:  # an end tag with no open element is ignored
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


@functools.lru_cache(maxsize=128)
def parse(html: str) -> Element:
    """The element tree of ``html``; a page several tests read is parsed once per process (the trees are
    only read, never changed: about 10 s of CPU a run went to parsing the same pages again)."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def article(html: str) -> Element:
    """The page's ``<article>``: what the note shows, without header, navigation and footer."""
    found = parse(html).first(lambda e: e.tag == "article")
    assert found is not None, "no <article> on the page"
    return found


def page_of(site: Path, docs: Path, source: Path) -> Path:
    """The built page of a source note: ``zh/x/y.md`` → ``x/y/index.html``, ``en/x/y.md`` →
    ``en/x/y/index.html``, a learner's ``garden/n.en.md`` → ``en/garden/n/index.html``."""
    rel = source.relative_to(docs).as_posix()
    if rel.startswith("zh/"):
        rel = rel[3:]
    elif rel.endswith(".en.md"):
        rel = "en/" + rel[: -len(".en.md")] + ".md"
    rel = re.sub(r"(^|/)index\.md$", r"\1", rel)
    rel = re.sub(r"\.md$", "/", rel)
    return site / rel / "index.html"


def is_draft(markdown: str) -> bool:
    """Whether a note's frontmatter says ``draft: true`` (not built: ``python -m attention new-note`` writes
    its notes so until their text is written)."""
    front = re.match(r"---\n(.*?)\n---\n", markdown, re.S)
    return bool(front and re.search(r"^draft:\s*true\b", front.group(1), re.M | re.I))


def language_of(docs: Path, source: Path) -> str:
    rel = source.relative_to(docs).as_posix()
    return "en" if rel.startswith("en/") or rel.endswith(".en.md") else "zh"


def resolve(page: Path, site: Path, href: str) -> str:
    """A link of a built page as a site path (``notes/scaling/``), without fragment or query."""
    base = "http://site/" + page.parent.relative_to(site).as_posix() + "/"
    return urlparse(urljoin(base, href)).path.lstrip("/")
