"""Inline code that names a public function or class of ``attention`` links to its API entry.

A note says `flash_attention` or `TransformerLM(...)` as code, which Obsidian shows as code; on the
site it becomes a link to ``#attention.<name>`` on the API page of the page's language (every
public name has that anchor, tests/site/test_rendered.py checks it). Code blocks, links,
headings and exercise titles (a ``<summary>`` is itself the control that opens the exercise: a link
inside it would be a control inside a control) are left as they are; so is the API page itself.
"""

from __future__ import annotations

import re

from mkdocs.utils import get_relative_url
from vault import language
from vault.text import outside

import attention

#: What is left alone: code blocks, links (no link inside a link) and headings.
PROTECTED = re.compile(r"<(pre|a|h[1-6]|summary)\b.*?</\1\s*>", re.S | re.I)
NAMED = re.compile(r"<code>(?:attention\.)?(?P<name>\w+)(?:\([^<]*\))?</code>")


def link_api_names(html: str, api_url: str) -> str:
    def link(match: re.Match) -> str:
        name = match["name"]
        if name not in attention.__all__:
            return match.group(0)
        return f'<a class="api-link" href="{api_url}#attention.{name}">{match.group(0)}</a>'

    return outside(PROTECTED, html, lambda text: NAMED.sub(link, text))


#: An autorefs anchor, ``[](){#attention.softmax}`` in the API page's source, as rendered: a link with
#: no text and no target in the tab order. Without ``href`` it stays what it is for: a place to land.
EMPTY_ANCHOR = re.compile(r'<a href="" id="([^"]+)"></a>')


def on_page_content(html, page, config, files):
    api = files.get_file_from_path(f"{language(page.file.src_uri)}/reference/api.md")
    if api is None:
        return html
    if page.file.src_uri == api.src_uri:
        return EMPTY_ANCHOR.sub(r'<a id="\1"></a>', html)
    return link_api_names(html, get_relative_url(api.url, page.url))
