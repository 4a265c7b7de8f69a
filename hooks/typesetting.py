"""Chinese typesetting that HTML does not do by itself.

- **No space from a line break between Chinese characters.** A paragraph written over several
  lines is one line to the reader; a browser turns each line break into a space, which Chinese
  text must not have ("配有 实现"). Lines of a paragraph are joined without one when the first
  ends, and the next starts, with a CJK character or CJK punctuation (code is left alone).
- **No line starting with closing punctuation.** Inline math is an unbreakable box, and the
  browser may break the line between it and the "，" or "。" that follows. The math and the
  punctuation next to it are kept together (``span.nowrap``).
"""

from __future__ import annotations

import re

from mkdocs.plugins import event_priority
from vault.text import FENCE

CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
ENDS_CJK = re.compile(f"[{CJK}]\\s*$")
STARTS_CJK = re.compile(f"^[{CJK}]")
BLOCK_START = re.compile(r"^(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|\||<|!\[|\$\$|```|~~~|\[\^|:::|\s*$)")
QUOTE = re.compile(r"^((?:[ \t]*>)*[ \t]*)")
CLOSING = "，。、；：！？）」』》〉,.;:!?)"
MATH_THEN_PUNCT = re.compile(f'(<span class="arithmatex">[^<]*</span>)([{re.escape(CLOSING)}]+)')
PUNCT_THEN_MATH = re.compile(r'([（「『《〈(]+)(<span class="arithmatex">[^<]*</span>)')


def join_cjk_lines(markdown: str) -> str:
    """Join the lines of a paragraph that break between two CJK characters (see the module notes)."""
    out: list[str] = []
    fence = None
    for line in markdown.split("\n"):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match["marker"]
        elif fence is not None and line.strip().lstrip(">").strip().startswith(fence):
            fence = None
            out.append(line)
            continue
        if fence is not None or match:
            out.append(line)
            continue
        prefix = QUOTE.match(line).group(1)
        body = line[len(prefix):]
        previous = out[-1] if out else ""
        previous_prefix = QUOTE.match(previous).group(1)
        if (out and previous_prefix.replace(" ", "") == prefix.replace(" ", "") and ENDS_CJK.search(previous)
                and STARTS_CJK.match(body) and not BLOCK_START.match(previous[len(previous_prefix):])
                and not BLOCK_START.match(body)):
            out[-1] = previous.rstrip() + body
        else:
            out.append(line)
    return "\n".join(out)


@event_priority(40)  # after hooks/obsidian.py has turned Obsidian's syntax into Markdown
def on_page_markdown(markdown, page, config, files):
    return join_cjk_lines(markdown)


def on_page_content(html, page, config, files):
    html = MATH_THEN_PUNCT.sub(r'<span class="nowrap">\1\2</span>', html)
    return PUNCT_THEN_MATH.sub(r'<span class="nowrap">\1\2</span>', html)
