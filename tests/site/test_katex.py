"""The math typesetting of hooks/vault/katex.py on its own (the built pages are checked in test_rendered.py):
what it makes of each way a formula reaches it, and what it says when Node.js is missing."""

from __future__ import annotations

import sys

import pytest
from rendered import as_written, parse
from site_build import ROOT

sys.path.insert(0, str(ROOT / "hooks"))
from vault import katex  # noqa: E402  (hooks/ is where MkDocs finds it)

PAGE = """<nav><a class="md-nav__link"><span class="md-ellipsis">Why \\(1/\\sqrt{d_k}\\)?</span></a></nav>
<p>Scores <span class="arithmatex">\\(a &lt; b &amp;&amp; c\\)</span>, then</p>
<div class="arithmatex">\\[
\\mathrm{softmax}(QK^T)V
\\]</div>
<p>and a typo <span class="arithmatex">\\(\\frac{1}{x\\)</span>.</p>"""


def as_written_text(element) -> str:
    return element.text(as_written).strip()


def test_each_formula_is_drawn_where_it_was_and_keeps_its_tex():
    tree = parse(katex.typeset(PAGE))
    inline, display, typo = tree.find_all(lambda e: "arithmatex" in e.classes)
    assert as_written_text(inline) == "a < b && c"  # entities read as the TeX's characters
    assert inline.first(lambda e: "katex-display" in e.classes) is None
    assert as_written_text(display) == "\\mathrm{softmax}(QK^T)V"
    assert display.children[0].classes == {"katex-display"}  # the box's width: extra.css
    error = typo.first(lambda e: "katex-error" in e.classes)
    assert error is not None and error.text() == "\\frac{1}{x" and error.attrs["title"].startswith("ParseError")
    contents = tree.first(lambda e: "md-ellipsis" in e.classes)
    assert as_written_text(contents) == "Why 1/\\sqrt{d_k}?"
    assert "\\(" not in tree.text(as_written) and "\\[" not in tree.text(as_written)
    assert katex.typeset("<p>No math.</p>") == "<p>No math.</p>"


def test_a_title_is_escaped_text_with_its_math_drawn():
    title = katex.typeset_text("A <b> & \\(x^2\\)")
    assert title.startswith("A &lt;b&gt; &amp; <span class=\"katex\">")
    assert as_written_text(parse(title)) == "A <b> & x^2"


def test_without_node_the_build_says_what_to_install(monkeypatch):
    monkeypatch.setattr(katex.shutil, "which", lambda name: None)
    with pytest.raises(katex.KatexError, match="Node.js is needed to typeset the math"):
        katex._Renderer()([("x", False)])


def test_the_fonts_drawn_are_read_from_katexs_classes_past_its_svg_and_outside_folded_callouts():
    """What a page preloads (hooks/typesetting.py; the every-page browser test compares it with what Chromium
    draws). A square root is a self-closed <path/> in an <svg>: the formula goes on after it (\\mathcal, in
    KaTeX_Caligraphic). A folded callout's title is drawn (\\mathfrak: KaTeX_Fraktur), its body is not laid
    out until opened (\\mathbb: KaTeX_AMS)."""
    page = katex.typeset("""<p><span class="arithmatex">\\(\\sqrt{x}\\,\\mathcal{L}\\)</span></p>
<details class="note"><summary>Why <span class="arithmatex">\\(\\mathfrak{g}\\)</span></summary>
<p><span class="arithmatex">\\(\\mathbb{R}\\)</span></p></details>""")
    assert "<path" in page and "/>" in page  # the root's sign, drawn as KaTeX draws it
    fonts = katex.fonts_drawn(page)
    assert {"KaTeX_Math-Italic.woff2", "KaTeX_Caligraphic-Regular.woff2", "KaTeX_Fraktur-Regular.woff2"} <= set(fonts)
    assert "KaTeX_AMS-Regular.woff2" not in fonts, fonts
    assert katex.fonts_drawn(katex.typeset("<p>No math.</p>")) == []


def test_the_folded_callouts_are_found_as_a_browser_finds_them():
    """fonts_drawn parses the formulas' drawings only, and finds the folded callouts around them by their tags:
    the "<details>" of a script or a comment is text, a class that says "open" does not open a callout, and
    the title of a folded callout inside an open one is drawn (\\mathfrak), its body not (\\mathbf)."""
    cal, bb, frak, bf = (f'<span class="arithmatex">\\({tex}\\)</span>' for tex in (
        "\\mathcal{L}", "\\mathbb{R}", "\\mathfrak{g}", "\\mathbf{x}"))
    page = katex.typeset(f"""<script>var s = "<details>";</script><!-- <details> -->
<p>{cal}</p>
<details class="open note"><summary>Title</summary><p>{bb}</p></details>
<details open><summary>Open</summary><details><summary>{frak}</summary>
<p>{bf}</p></details></details>""")
    assert katex.fonts_drawn(page) == ["KaTeX_Caligraphic-Regular.woff2", "KaTeX_Fraktur-Regular.woff2"]
