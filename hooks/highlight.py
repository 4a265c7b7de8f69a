"""Highlighted code without the spans that draw nothing of their own.

Pygments wraps every token of a code block in a ``<span>`` named after its kind. Two kinds look exactly
like the code around them: names (``n``: Material draws them in ``--md-code-hl-name-color``, which is the
code's own colour in both schemes) and runs of spaces (``w``: no rule at all). Their spans were a fifth of
the API pages' elements (1,735 of 9,184 on the Chinese attention page, 40 KB of its HTML), each styled and
laid out on every load and walked by axe's contrast check. They are removed when the site is built, their
text kept; every token with a colour of its own (keywords, strings, numbers, operators...) keeps its span.
tests/site/test_browser.py checks, in both schemes, that a name in its span is drawn as the code around it:
if a palette ever gives names a colour of their own, that test fails and this hook must go.
"""

from __future__ import annotations

import re

CODE = re.compile(r"<code\b[^>]*>.*?</code\s*>", re.S | re.I)
#: A name's or a space run's span around text, or around the cross-reference mkdocstrings puts in a
#: signature's name (``<autoref>``, which autorefs makes a link, or a titled span when it has no page): that
#: keeps its own look, and the colour it inherits from the span is the code's anyway.
PLAIN_SPAN = re.compile(r'<span class="[nw]">((?:[^<]+|<(?:a|span|autoref)\b[^>]*>[^<]*</(?:a|span|autoref)>)*)</span>')


def drop_plain_spans(html: str) -> str:
    """``html`` with the name and space spans of each ``<code>`` replaced by their text."""
    return CODE.sub(lambda code: PLAIN_SPAN.sub(r"\1", code.group(0)), html)


def on_page_content(html, page, config, files):
    return drop_plain_spans(html)
