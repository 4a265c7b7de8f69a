"""Data tables are put in their scroll box when the site is built, not when the page loads.

Material's content component moves each data table (a ``<table>`` with no class: what Markdown writes)
into ``div.md-typeset__scrollwrap > div.md-typeset__table`` as a page loads; moving it out of the article
and back restyles the whole article once more, a long task on a phone (Lighthouse's blocking time: the
attention-mechanism note went from 85-88 to 91-96 without it). Here each such table is written inside the
same two boxes, with the class ``data-table``, so that Material leaves it alone (it mounts
``table:not([class])`` only); docs/stylesheets/extra.css gives it Material's table style, and
docs/javascripts/scroll-boxes.js makes a box that scrolls focusable, as before. A table with attributes
of its own (raw HTML in a learner's note) is left to Material, as are tables in code, scripts and the API
pages' deferred source listings.
"""

from __future__ import annotations

import re

from vault.text import outside

#: Where a ``<table>`` is text or not ours to move: code, scripts, styles and deferred markup.
PROTECTED = re.compile(r"<(pre|script|style|textarea|noscript|template)\b.*?</\1\s*>", re.S | re.I)
TABLE_TAG = re.compile(r"<table\b[^>]*>|</table\s*>", re.I)
OPEN = '<div class="md-typeset__scrollwrap"><div class="md-typeset__table"><table class="data-table">'
CLOSE = "</table></div></div>"


def box_tables(html: str) -> str:
    """``html`` with each ``<table>`` (no attributes) inside Material's two scroll boxes (see the module notes)."""
    boxed: list[bool] = []  # for each table open at this point, outermost first: is it one of ours?

    def tag(match: re.Match) -> str:
        text = match.group(0)
        if text.startswith("</"):
            return CLOSE if boxed and boxed.pop() else text
        boxed.append(text.lower() == "<table>")
        return OPEN if boxed[-1] else text

    return outside(PROTECTED, html, lambda text: TABLE_TAG.sub(tag, text))


def on_page_content(html, page, config, files):
    return box_tables(html)
