"""What a reader sees on the built site, checked on the HTML itself (the browser tests check the
rest in Chromium): every callout as written, Chinese prose without stray spaces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rendered import CJK, Element, article, language_of, page_of, prose
from site_build import ROOT, VAULT

pytestmark = pytest.mark.slow  # reads built sites

DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})")
CALLOUT = re.compile(r"^(?:[ \t]*>)+[ \t]*\[!(?P<type>[\w-]+)\][-+]?[ \t]*(?P<title>.*)$")


def source_callouts(path: Path) -> list[tuple[str, str]]:
    """``(type, title as written)`` of every callout of a note, in order, outside fenced code."""
    found, fence = [], None
    for line in path.read_text(encoding="utf-8").split("\n"):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
        elif opening:
            fence = opening.group(1)
        elif match := CALLOUT.match(line):
            found.append((match["type"].lower(), match["title"].strip()))
    return found


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def source_title_text(title: str) -> str:
    """The text a reader sees of a Markdown title: links, math, code and emphasis marks removed."""
    title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)
    title = re.sub(r"\$([^$]+)\$", r"\1", title)
    return squeeze(re.sub(r"`|\*\*|==", "", title))


def rendered_callouts(html: str) -> list[tuple[str, str]]:
    """``(title text, body text)`` of every callout (admonition or folded details) on the page, in order."""
    found = []
    for box in article(html).find_all(lambda e: e.tag == "details" or (e.tag == "div" and "admonition" in e.classes)):
        title = box.first(lambda e: e.tag == "summary" or "admonition-title" in e.classes)
        assert title is not None and title.parent is box, f"a callout without a title: {box.text()[:80]!r}"
        body = box.text(lambda e: e is title)
        found.append((squeeze(title.text().replace("\\(", "").replace("\\)", "")), body.strip()))
    return found


def pages_with_callouts(site: Path, docs: Path, sources: list[Path]):
    for source in sources:
        callouts = source_callouts(source)
        if callouts:
            page = page_of(site, docs, source)
            assert page.is_file(), f"{source}: no page at {page}"
            yield source, language_of(docs, source), callouts, page.read_text(encoding="utf-8")


def check_callouts(site: Path, docs: Path, sources: list[Path]) -> int:
    checked = 0
    for source, lang, callouts, html in pages_with_callouts(site, docs, sources):
        shown = rendered_callouts(html)
        assert len(shown) == len(callouts), f"{source}: {len(callouts)} callouts written, {len(shown)} shown"
        for (kind, written), (title, body) in zip(callouts, shown):
            if written:
                want = source_title_text(written)
                assert title == want, f"{source}: the title shows {title!r}, written {want!r}"
            elif lang == "zh":  # the type's default title, in Chinese
                assert re.search(f"[{CJK}]", title), f"{source}: [!{kind}] shows {title!r} on a Chinese page"
            else:
                assert title == kind.capitalize(), f"{source}: [!{kind}] shows {title!r}"
            assert body, f"{source}: the callout {title!r} shows no body"
            checked += 1
    return checked


def test_every_callout_shows_its_title_and_its_body(built_site):
    assert check_callouts(built_site, DOCS, sorted((DOCS / "zh").rglob("*.md")) + sorted((DOCS / "en").rglob("*.md"))) > 80


def test_every_callout_of_a_learners_notes_shows_its_title_and_its_body(vault_site):
    assert check_callouts(vault_site[0], VAULT, sorted(VAULT.rglob("*.md"))) >= 10


BLOCKS = {"p", "li", "summary", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption"}
CJK_LINE_BREAK = re.compile(f"[{CJK}][ \\t]*\\n\\s*[{CJK}]")


def stray_spaces(page: Element) -> list[str]:
    """Prose where a source line break between two CJK characters survives (a browser shows it as a space)."""
    return [text.strip()[:60] for block in page.find_all(lambda e: e.tag in BLOCKS)
            if CJK_LINE_BREAK.search(text := block.text(prose))]


def zh_pages(site: Path, docs: Path, sources: list[Path]) -> list[tuple[Path, Path]]:
    return [(s, page_of(site, docs, s)) for s in sources if language_of(docs, s) == "zh" and page_of(site, docs, s).is_file()]


def test_no_space_between_chinese_characters_from_a_line_break(built_site, vault_site):
    pages = zh_pages(built_site, DOCS, sorted((DOCS / "zh").rglob("*.md")))
    pages += zh_pages(vault_site[0], VAULT, sorted((VAULT / "garden").rglob("*.md")))
    assert len(pages) >= 12
    for source, page in pages:
        assert stray_spaces(article(page.read_text(encoding="utf-8"))) == [], source


SPACED_LETTERS = re.compile(r"(?<!\S)(?:[A-Za-z] ){7,}[A-Za-z](?!\S)")  # "k e y d i m e n s i o n"


def test_search_previews_hold_prose_not_figure_internals(built_site):
    for index in (built_site / "search" / "search_index.json", built_site / "en" / "search" / "search_index.json"):
        docs = json.loads(index.read_text(encoding="utf-8"))["docs"]
        assert len(docs) > 50
        for doc in docs:
            text = doc["text"]
            assert "image/svg+xml" not in text and "Matplotlib" not in text, (doc["location"], text[:200])
            assert not SPACED_LETTERS.search(text), (doc["location"], SPACED_LETTERS.search(text).group(0))
    figures = article((built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8"))
    assert figures.first(lambda e: e.tag == "svg" and e.first(lambda t: t.tag == "text"))  # still shown


def test_search_worker_segments_a_chinese_query_up_to_its_last_character(built_site):
    # Material's segmenter stops one character short (缩放 → 缩); the build patches it (hooks/languages.py).
    worker = next((built_site / "assets" / "javascripts" / "workers").glob("search.*.min.js")).read_text(encoding="utf-8")
    assert "o<=t.length;o++)t.slice(s,o)in e" in worker
