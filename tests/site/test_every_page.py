"""Every page of the built site, both languages, read as its readers read it: at 1280 px, at 200 % zoom
(640 CSS px) and on the narrowest phone (320 px), in the light and the dark scheme, each page loaded once
and switched in place (``browsing.each_view``): each width in the light scheme, each scheme at 1280 px
(``browsing.CHECKED_VIEWS``; with SCREENSHOT_DIR set, a 390 px phone in both schemes too).

On each page: math typeset, no request that fails, the page never wider than the screen and nothing cut off
sideways (the folded callouts closed, then opened from the first view on), no text under 12 px on the
narrowest phone, figure text large enough, in a readable colour and never drawn over other text, each
widget inside the screen with its caption and controls shown and its text standing out, and axe-core
(WCAG 2.0/2.1 A and AA, pinned in package-lock.json) with no critical or serious violation in either scheme,
in what the folded callouts hide too (the API's source listings, the same code in both languages, opened on
the English pages) — no rule disabled, nothing excluded.
With SCREENSHOT_DIR set, a full-page screenshot of each view is kept to look at.
"""

from __future__ import annotations

import re

import pytest
from browsing import (
    CHECKED_VIEWS,
    NARROWEST,
    cjk_then_ascii_colon,
    each_view,
    hidden_sideways,
    rules_for,
    run_axe,
    scheme_of,
    shot,
    wait_for_quiet_network,
)

pytestmark = pytest.mark.browser

FONT_SIZES = """() => [...document.querySelectorAll('article svg text')].map(t => {
    const m = t.getScreenCTM();
    return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
})"""
COLOURS = """() => [getComputedStyle(document.querySelector('article')).color,
    getComputedStyle(document.body).backgroundColor,
    [...document.querySelectorAll('article svg text')].map(t => getComputedStyle(t).fill)]"""
#: Pairs of a figure's texts drawn over each other (a label on a box's text: the Transformer note's "encoder
#: output" label covered the encoder's "output" box). Two lines of one label touch by their line spacing, less
#: than half a line high: that is not an overlap; covering each other by half a line or more is.
OVERLAPPING_TEXT = """() => [...document.querySelectorAll("article svg[aria-labelledby^='figure-']")].flatMap(svg => {
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent.replace(/\\s+/g, ' ').trim(),
        t.getBoundingClientRect()]).filter(([text, r]) => text && r.width), found = [];
    texts.forEach(([a, r], i) => texts.slice(i + 1).forEach(([b, s]) => {
        const wide = Math.min(r.right, s.right) - Math.max(r.left, s.left);
        const high = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
        if (wide > 1 && high > 0.5 * Math.min(r.height, s.height)) found.push(`"${a}" on "${b}"`);
    }));
    return found;
})"""
#: Text of the article (not figures or math, whose sizes are checked apart) under 12 px: what a phone shows
#: too small to read (Lighthouse's legibility audit: the API pages' code was 10.9 px at 390 px).
SMALL_TEXT = """() => {
    const found = [], walker = document.createTreeWalker(document.querySelector('article'), NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
        const e = node.parentElement;
        if (!node.textContent.trim() || e.closest('svg, .katex, [hidden], .md-clipboard')
            || !e.getClientRects().length) continue;
        const size = parseFloat(getComputedStyle(e).fontSize);
        if (size < 12) found.push(`${e.tagName.toLowerCase()} ${size.toFixed(1)} px: ${node.textContent.slice(0, 30)}`);
    }
    return found.slice(0, 5);
}"""
#: An API entry's source listing ("Source code in ..."): what it draws when opened, as the page is written.
SOURCE_LISTING = re.compile(r'<details class="mkdocstrings-source">\s*<summary>.*?</summary>(.*?)</details>', re.S)
#: ``[the KaTeX font files the page drew with, those its <head> preloads]``. KaTeX's fonts are named after the face:
#: KaTeX_Main at weight 700 and italic is KaTeX_Main-BoldItalic.woff2 (node_modules/katex/dist/fonts).
KATEX_FONTS = """async () => {
    await document.fonts.ready;
    const family = f => f.family.replace(/"/g, '');
    const used = [...document.fonts].filter(f => f.status === 'loaded' && family(f).startsWith('KaTeX_'))
        .map(f => family(f) + '-' + ((f.weight === 'bold' || +f.weight >= 600 ? 'Bold' : '')
            + (f.style === 'italic' ? 'Italic' : '') || 'Regular') + '.woff2');
    const preloaded = [...document.querySelectorAll('head link[rel=preload][as=font]')]
        .map(l => new URL(l.href).pathname.split('/').pop());
    return [used.sort(), preloaded.sort()];
}"""
RAW_MATH_IN_NAVIGATION = ("() => [...document.querySelectorAll('.md-nav__link')].map(a => a.textContent)"
                          ".filter(t => t.includes('\\\\('))")


def rgb(colour: str) -> list[int]:
    return [int(c) for c in re.findall(r"\d+", colour)[:3]]


def pages_of(site, lang: str) -> list[str]:
    """Every HTML page the build wrote for ``lang``, as a path under the site's root."""
    pages = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if (rel.split("/")[0] == "en") == (lang == "en"):
            pages.append(rel.removesuffix("index.html"))
    return pages


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_in_every_view(page, built_site, site_url, lang):
    pages = pages_of(built_site, lang)
    assert len(pages) >= 11 and any("reference/api/" in p for p in pages)
    assert any(p == "404.html" for p in pages) == (lang == "zh")  # the not-found page is the default language's
    # As a reader who asked for reduced motion sees them: the same pages, settled at once instead of after
    # the transitions each load, resize and scheme switch starts (half the test's time, all of it waiting).
    page.emulate_media(reduced_motion="reduce")
    # What folded boxes hide is checked opened. The API pages' source listings are the same code in both
    # languages (only their summary, shown closed, is translated): the English pages open them, the Chinese
    # ones every other box; the same listings twice were a sixth of the test's time.
    folded = "article details:not([open])" + ("" if lang == "en" else ":not(.mkdocstrings-source)")
    if lang == "zh":
        listings = {path: [SOURCE_LISTING.findall((built_site / prefix / path / "index.html").read_text("utf-8"))
                           for prefix in ("", "en")] for path in pages if path.startswith("reference/api/")}
        assert all(zh == en for zh, en in listings.values()), [path for path, (zh, en) in listings.items() if zh != en]
        assert sum(len(zh) for zh, _ in listings.values()) >= 20, listings.keys()
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    smallest: dict[tuple[str, int], float] = {}
    violations = {}
    widgets_seen = fonts_seen = 0
    for path in pages:
        page.goto(f"{site_url}/{path}")
        wait_for_quiet_network(page)
        assert failed == [], (path, failed)  # e.g. a sitemap.xml under a page-relative hreflang link
        assert page.locator("article .katex-error").count() == 0, path
        assert page.evaluate(RAW_MATH_IN_NAVIGATION) == [], path  # a heading's math is typeset in the TOC too
        # The fonts its formulas are drawn in are fetched with the page, not found missing once it is laid out:
        # a font that arrives then restyles the whole page (a long task on a phone: Lighthouse's blocking time
        # on the scoring-functions note was 112-367 ms in 5 runs, 32-96 ms with its four fonts preloaded).
        used, preloaded = page.evaluate(KATEX_FONTS)
        assert used == preloaded, (path, "drawn with", used, "preloaded", preloaded)
        fonts_seen += len(used)
        if lang == "zh":
            assert cjk_then_ascii_colon(page) == [], path
        widgets = page.locator("[data-widget]")
        widgets_seen += widgets.count()
        for i in range(widgets.count()):  # each draws itself once the page has loaded (or is scrolled to)
            widgets.nth(i).scroll_into_view_if_needed()
            widgets.nth(i).and_(page.locator("[data-ready]")).wait_for(timeout=15_000)
        # The scheme the page opened in first (Material keeps the last page's): one switch a page, not two.
        views = sorted(CHECKED_VIEWS, key=lambda view: view[1] != scheme_of(page))
        for seen, (width, scheme) in enumerate(each_view(page, views)):
            # Wide tables and formulas scroll inside their own box: the page itself never scrolls sideways.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
                f"{path}: the page is wider than the screen at {width} px"
            # Nothing is cut off: what is wider than the screen scrolls in a box that says so.
            assert hidden_sideways(page) == [], (path, width)
            if seen == 0:  # then what folded callouts hide, opened: every check from here on sees it, axe included
                page.evaluate("s => document.querySelectorAll(s).forEach(d => { d.open = true; })", folded)
                assert hidden_sideways(page) == [], (path, width, "folded callouts opened")
            if width == NARROWEST:
                assert page.evaluate(SMALL_TEXT) == [], f"{path}: text under 12 px on a {width} px phone"
            if sizes := page.evaluate(FONT_SIZES):
                smallest[(path, width)] = min(sizes)
                assert page.evaluate(OVERLAPPING_TEXT) == [], (path, width)
            text, background, fills = page.evaluate(COLOURS)
            assert (scheme == "dark") == (sum(rgb(background)) < 200), (path, scheme, background)
            # Figure text is in the page's text colour (currentColor) or an accent colour; never black or
            # white, one of which would vanish on the light or the dark background.
            for fill in set(fills) - {text}:
                assert 60 < max(rgb(fill)) and min(rgb(fill)) < 200, (path, scheme, fill)
            for i in range(widgets.count()):
                root = widgets.nth(i)
                name, box = root.get_attribute("data-widget"), root.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (path, name, width, box)
                caption, control = root.locator(".widget-caption"), root.locator("label, button").first
                assert caption.text_content().strip() and control.is_visible(), (path, name, width)
                colours = root.evaluate(
                    "r => [getComputedStyle(r).color, getComputedStyle(document.body).backgroundColor]")
                assert abs(sum(rgb(colours[0])) - sum(rgb(colours[1]))) > 300, (path, name, scheme, colours)
            if width == 1280:  # what axe checks does not depend on the width; the reflow checks above do
                rules, found = run_axe(page, rules_for(scheme))
                assert rules >= (25 if scheme == "light" else 1), (path, scheme, rules)
                if found:
                    violations[(path, scheme)] = found
            name = path.removeprefix("en/").strip("/").replace("/", "-").removesuffix(".html") or "home"
            shot(page, f"{lang}-{name}-{width}-{scheme}.png")
    assert violations == {}, violations
    assert widgets_seen >= 4, widgets_seen  # scaling, attention map, source example, online softmax
    assert fonts_seen >= 20, fonts_seen  # KaTeX's fonts were seen at all (Main, Math-Italic, ... on each note)
    assert len({path for path, _ in smallest}) >= 6, smallest  # every note with a figure was measured
    # Figure text: at least 10 px from a 390 px phone up; on the narrowest screen (320 px), where the
    # column is a fifth narrower, at least 8 px (a figure drawn wider than WIDTH would fall below).
    assert min(size for (_, width), size in smallest.items() if width > NARROWEST) >= 10, smallest
    assert min(size for (_, width), size in smallest.items() if width == NARROWEST) >= 8, smallest
