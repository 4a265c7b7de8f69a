"""Inline code that names a public function or class of ``attention`` links to its API entry.

A note says `flash_attention` or `TransformerLM(...)` as code, which Obsidian shows as code; on the
site it becomes a link to ``#attention.<name>`` on the API page that documents it, in the page's
language (the reference is one page per section, ``reference/api/<section>.md``; each page's
``::: attention.<name>`` lines say which names it holds, and every public name has that anchor:
tests/site/test_rendered.py checks it). Code blocks, links, headings and exercise titles (a
``<summary>`` is itself the control that opens the exercise: a link inside it would be a control
inside a control) are left as they are; so are the API pages themselves.
"""

from __future__ import annotations

import re

from mkdocs.utils import get_relative_url
from vault import language
from vault.text import outside

#: What is left alone: code blocks, links (no link inside a link) and headings.
PROTECTED = re.compile(r"<(pre|a|h[1-6]|summary)\b.*?</\1\s*>", re.S | re.I)
NAMED = re.compile(r"<code>(?:attention\.)?(?P<name>\w+)(?:\([^<]*\))?</code>")


#: A name an API page documents: ``::: attention.flash_attention`` or ``::: attention.softmax.softmax``.
DOCUMENTED = re.compile(r"^::: attention\.(?:\w+\.)?(\w+)", re.M)


def link_api_names(html: str, api_urls: dict[str, str]) -> str:
    """``html`` with each public name written as code linked to ``api_urls[name]#attention.<name>``."""

    def link(match: re.Match) -> str:  # the API pages document exactly attention.__all__ (tests/test_api.py)
        name = match["name"]
        if name not in api_urls:
            return match.group(0)
        return f'<a class="api-link" href="{api_urls[name]}#attention.{name}">{match.group(0)}</a>'

    return outside(PROTECTED, html, lambda text: NAMED.sub(link, text))


def api_pages(files, lang: str) -> dict[str, object]:
    """Each public name and the API page (a mkdocs File) of ``lang`` that documents it."""
    pages = {}
    for file in files.documentation_pages():
        if file.src_uri.startswith(f"{lang}/reference/api/"):
            for name in DOCUMENTED.findall(file.content_string):
                pages[name] = file
    return pages


#: An autorefs anchor, ``[](){#attention.softmax}`` in the API page's source, as rendered: a link with
#: no text and no target in the tab order. Without ``href`` it stays what it is for: a place to land.
EMPTY_ANCHOR = re.compile(r'<a href="" id="([^"]+)"></a>')


#: :func:`api_pages` of each language, read once per build (reset when a build collects its files).
_documented: dict[str, dict] = {}


def on_files(files, config):
    _documented.clear()
    return files


def on_page_content(html, page, config, files):
    lang = language(page.file.src_uri)
    if page.file.src_uri.startswith(f"{lang}/reference/api/"):
        return EMPTY_ANCHOR.sub(r'<a id="\1"></a>', html)
    if lang not in _documented:
        _documented[lang] = api_pages(files, lang)
    urls = {name: get_relative_url(file.url, page.url) for name, file in _documented[lang].items()}
    return link_api_names(html, urls) if urls else html
