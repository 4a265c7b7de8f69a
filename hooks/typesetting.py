"""Typesetting that HTML does not do by itself: formulas, and Chinese text.

- **Formulas typeset when the site is built** (``vault.katex``): each page is served with KaTeX's
  HTML and MathML in place of the TeX, so a formula shows before any script runs, with none, and
  offline, and the page does not move when it loads. On Lighthouse's phone, typesetting in the
  browser had blocked the main thread for up to 1.2 s a note and shifted the qk-norm note by 0.12.
- **The fonts the formulas are drawn in come with the page** (``vault.katex.fonts_drawn``, read from
  KaTeX's stylesheet): each is preloaded from ``<head>``, instead of being found missing once the page is
  laid out, when its arrival restyled the whole page.

- **No space from a line break between Chinese characters.** A paragraph written over several
  lines is one line to the reader; a browser turns each line break into a space, which Chinese
  text must not have ("配有 实现"). The line break is removed from the *rendered* HTML, in text
  between two CJK characters (tags between them stay), never inside ``pre``, ``code``, ``script``,
  ``style``, ``svg``, ``textarea`` or math: by then Markdown has made its blocks, so the join
  cannot merge a callout's title with its body, or a heading with its paragraph.
- **No line starting with closing punctuation.** Inline math is an unbreakable box, and the
  browser may break the line between it and the "，" or "。" that follows. The math and the
  punctuation next to it are kept together (``span.nowrap``).
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url
from vault import katex
from vault.text import outside

CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
#: Regions whose text is shown as written (code, math, drawings, scripts): never joined.
PROTECTED = re.compile(r"<(pre|code|script|style|textarea|svg)\b.*?</\1\s*>"
                       r'|<(span|div) class="arithmatex">.*?</\2>', re.S | re.I)
TAGS = r"(?:<[^<>]*>)*"
CJK_LINE_BREAK = re.compile(f"(?<=[{CJK}])({TAGS})[ \\t]*\\n\\s*({TAGS})(?=[{CJK}])")
CLOSING = "，。、；：！？）」』》〉,.;:!?)"
MATH_THEN_PUNCT = re.compile(f'(<span class="arithmatex">[^<]*</span>)([{re.escape(CLOSING)}]+)')
PUNCT_THEN_MATH = re.compile(r'([（「『《〈(]+)(<span class="arithmatex">[^<]*</span>)')


def join_cjk_lines(html: str) -> str:
    """Remove the line breaks between two CJK characters outside protected regions (see the module notes)."""
    return outside(PROTECTED, html, lambda text: CJK_LINE_BREAK.sub(r"\1\2", text))


def on_page_content(html, page, config, files):
    html = join_cjk_lines(html)
    html = MATH_THEN_PUNCT.sub(r'<span class="nowrap">\1\2</span>', html)
    return PUNCT_THEN_MATH.sub(r'<span class="nowrap">\1\2</span>', html)


def on_post_page(output, page, config):
    try:
        output = katex.typeset(output)
        return preload(output, katex.fonts_drawn(output), page.url)
    except katex.KatexError as error:  # Node or KaTeX missing: say so, without a traceback
        raise PluginError(f"{page.file.src_uri}: {error}") from error


def preload(page: str, fonts: list[str], url: str) -> str:
    """``page`` asking for KaTeX's ``fonts`` with its stylesheets. Found by the browser only once it has laid
    the page out, a font restyled all of it when it came (a long task on a phone: Lighthouse's blocking time
    on the scoring-functions note was 112-367 ms in 5 runs, 32-96 ms with its four fonts preloaded)."""
    if not fonts:
        return page
    links = "".join(f'<link rel="preload" href="{get_relative_url(f"{katex.SITE_FONTS}/{font}", url)}" as="font" '
                    'type="font/woff2" crossorigin>' for font in fonts)
    at = page.find('<link rel="stylesheet"')
    return page[:at] + links + page[at:] if at >= 0 else page


def on_shutdown():
    katex.render.close()
