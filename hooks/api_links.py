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


#: The code under an API entry's "Source code" summary (mkdocstrings' ``show_source``).
SOURCE_LISTING = re.compile(r'(<details class="mkdocstrings-source">\s*<summary>.*?</summary>)(.*?)(</details>)', re.S)


def defer_source_listings(html: str) -> str:
    """Each source listing's code inside a ``<noscript>``: with scripting on, a browser keeps it as one
    text node, so a closed listing costs the page no element (the listings were 5,228 of the 9,517
    elements of the largest API page, each styled and walked on every load);
    docs/javascripts/api-source.js draws it when the reader first opens it. With scripting off, the
    browser draws it as it is."""
    return SOURCE_LISTING.sub(r"\1<noscript data-search-exclude>\2</noscript>\3", html)


#: The dash and the empty description of an entry (a parameter, a return value) that its docstring names and
#: types but does not describe: mkdocstrings' list writes "query (array_like) –" and then nothing.
UNDESCRIBED = re.compile(r'\s*–\s*<div class="doc-md-description">\s*</div>')


#: :func:`api_pages` of each language, read once per build (reset when a build collects its files).
_documented: dict[str, dict] = {}


def on_files(files, config):
    _documented.clear()
    return files


def on_page_content(html, page, config, files):
    lang = language(page.file.src_uri)
    if page.file.src_uri.startswith(f"{lang}/reference/api/"):
        return defer_source_listings(UNDESCRIBED.sub("", EMPTY_ANCHOR.sub(r'<a id="\1"></a>', html)))
    if lang not in _documented:
        _documented[lang] = api_pages(files, lang)
    urls = {name: get_relative_url(file.url, page.url) for name, file in _documented[lang].items()}
    return link_api_names(html, urls) if urls else html
