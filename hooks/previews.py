"""Link previews, as Obsidian and Quartz show them: hovering or focusing a link to another page of the
site shows that page's title and first paragraph, or, for a link to a heading, that section's first
paragraph, with its math typeset when the site is built (``vault.katex``; ``docs/javascripts/previews.js``
shows them).

Material 9.8's own preview (``data-preview``) previews only pages in the sitemap, fetches them by
XHR (which fails from ``file://``) and typesets no math. So the build writes what each page of a
language would preview into ``assets/previews-<lang>.js`` (a script sets ``window.LinkPreviews``; a
script loads from ``file://`` too), keyed by the page's URL as the build wrote it. The script is
loaded only when a reader first points at a link. Only built pages are in it: a note that is not
published never is. Links inside a preview are kept as text (they would point elsewhere from another
page), and ids are dropped (they would repeat the page's own).
"""

from __future__ import annotations

import html as entities
import json
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from vault import DEFAULT_LANGUAGE, katex

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)\b[^>]*?(/?)>")
HEADING = re.compile(r'<h([1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)

_previews: dict[str, dict[str, dict]] = {}


def top_level(html: str) -> list[tuple[str, int, int]]:
    """The top-level elements of ``html``: ``(tag, start, end)`` of each."""
    out, depth, start, name = [], 0, 0, ""
    for m in TAG.finditer(html):
        closing, tag, self_closing = m.group(1), m.group(2).lower(), m.group(3)
        if tag in VOID or self_closing:
            if depth == 0:
                out.append((tag, m.start(), m.end()))
            continue
        if not closing:
            if depth == 0:
                start, name = m.start(), tag
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                out.append((name, start, m.end()))
    return out


def _clean(paragraph: str) -> str:
    """A paragraph as a preview shows it: links as their text, no ids, no headerlinks."""
    paragraph = re.sub(r"<a\b[^>]*>|</a>", "", paragraph)
    return re.sub(r'\s+id="[^"]*"', "", paragraph)


def _text(html: str) -> str:
    """What a reader reads in ``html``: no tags, no permalink sign, entities decoded."""
    html = re.sub(r'<a\b[^>]*class="headerlink".*?</a>', "", html, flags=re.S)
    return entities.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))).strip()


def _a_signpost(paragraph: str) -> bool:
    """A paragraph that points elsewhere rather than says what the page says: mostly links, or a short
    line under a bold label ("**Read first:** <link>", "**先读：**无").
    """
    linked = "".join(re.findall(r"<a\b[^>]*>(.*?)</a>", paragraph, flags=re.S))
    labelled = re.match(r"<p>\s*<strong>[^<]*[:：]\s*</strong>", paragraph) and len(_text(paragraph)) < 120
    return bool(labelled) or len(_text(linked)) >= 0.5 * len(_text(paragraph))


def previews_of(html: str, title: str) -> dict:
    """``{"title", "text", "sections": {id: {"title", "text"}}}``: the first top-level paragraph of the
    page and of each heading's section (``text`` is HTML), passing over signposts (:func:`_a_signpost`)."""
    page = {"title": entities.unescape(title), "text": "", "sections": {}}
    current = None
    for tag, start, end in top_level(html):
        chunk = html[start:end]
        if re.fullmatch(r"h[1-6]", tag):
            m = HEADING.match(chunk)
            current = None
            if m and tag != "h1":
                current = page["sections"].setdefault(m.group(2), {"title": _text(m.group(3)), "text": ""})
        elif tag == "p" and not re.match(r'<p\b[^>]*class="', chunk) and not _a_signpost(chunk):
            if current is not None and not current["text"]:
                current["text"] = _clean(chunk)
            if not page["text"]:
                page["text"] = _clean(chunk)
    return page


def _typeset(preview: dict) -> dict:
    """A page's previews as the reader sees them: titles as HTML, and all their math typeset (vault.katex)."""
    typeset = {"title": katex.typeset_text(preview["title"]), "text": katex.typeset(preview["text"])}
    if "sections" in preview:
        typeset["sections"] = {key: _typeset(section) for key, section in preview["sections"].items()}
    return typeset


def on_pre_build(config):
    _previews.pop(config.theme.get("language") or DEFAULT_LANGUAGE, None)


@event_priority(-100)  # after the other hooks have written the page's HTML
def on_page_content(html, page, config, files):
    lang = config.theme.get("language") or DEFAULT_LANGUAGE
    _previews.setdefault(lang, {})[page.url] = previews_of(html, page.title or "")
    return html


def on_post_build(config):
    lang = config.theme.get("language") or DEFAULT_LANGUAGE
    out = Path(config.site_dir) / "assets" / f"previews-{lang}.js"
    out.parent.mkdir(parents=True, exist_ok=True)
    previews = {url: _typeset(preview) for url, preview in _previews.get(lang, {}).items()}
    data = json.dumps(previews, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    out.write_text(f"window.LinkPreviews = {data};\n", encoding="utf-8")
