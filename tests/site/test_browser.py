"""Real-browser checks: Debian's Chromium, driven by Playwright, against the built site on loopback."""

from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from browsing import assert_only_loopback as _assert_only_loopback
from browsing import (
    axe_in_both_schemes,
    each_view,
    forget,
    hidden_sideways,
    open_page,
    reset,
    two_frames,
    wait_for_quiet_network,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_note_math_is_typeset_offline(page, site_url, lang_prefix):
    page.goto(f"{site_url}{lang_prefix}/notes/attention-mechanism/")
    page.wait_for_selector("article .katex", timeout=15_000)
    assert page.locator("article .katex-display").count() >= 2  # the two $$...$$ formulas
    assert page.locator("article .katex").count() >= 20
    assert page.locator("article .katex-error").count() == 0
    wait_for_quiet_network(page)
    _assert_only_loopback(page)


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_math_shows_with_javascript_off(browser, site_url, lang_prefix):
    """A reader whose browser runs no script (or has not run it yet) sees the formulas drawn, in KaTeX's
    fonts from the site, not their TeX: the math is typeset when the site is built."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site_url}{lang_prefix}/notes/attention-mechanism/")
        page.wait_for_load_state("load")
        formula = page.locator("article .katex-display").first
        assert formula.is_visible() and "\\[" not in page.locator("article").inner_text()
        box = formula.locator(".katex-html").bounding_box()
        assert box["width"] > 100 and box["height"] > 20, box  # drawn, not a line of source
        fonts = page.evaluate("() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
        assert {"KaTeX_Main", "KaTeX_Math"} <= {f.strip('"') for f in fonts}, fonts
        assert page.locator("article .katex-error").count() == 0
    finally:
        context.close()


def test_language_switch_lands_on_twin_page(page, site_url):
    page.goto(f"{site_url}/notes/attention-mechanism/")
    page.hover(".md-header__option .md-select")
    page.locator('.md-select__link[hreflang="en"]').click()
    page.wait_for_url("**/en/notes/attention-mechanism/")
    assert page.locator("article h1").inner_text().startswith("The attention mechanism")
    page.hover(".md-header__option .md-select")
    page.locator('.md-select__link[hreflang="zh"]').click()
    page.wait_for_url(f"{site_url}/notes/attention-mechanism/")
    assert page.locator("article h1").inner_text().startswith("注意力机制")
    _assert_only_loopback(page)


def search(page, query: str, expect: str) -> list[str]:
    """Type ``query`` into the search box until a result's href contains ``expect``; the results' hrefs.

    The search worker answers only once it has built its index; a query typed before that is
    dropped, so type it again (as a person would) until the results come."""
    box = page.locator("input.md-search__input")
    found = "want => [...document.querySelectorAll('.md-search-result__item a')].some(a => a.href.includes(want))"
    for _ in range(6):
        box.click()
        box.fill("")
        page.keyboard.type(query, delay=50)
        page.keyboard.press("End")  # CJK text arrives as text input, without the key events search listens to
        try:
            page.wait_for_function(found, arg=expect, timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    else:
        results = page.locator(".md-search-result").inner_text()
        pytest.fail(f"searching {query!r} never listed {expect}; results: {results!r}")
    return [a.evaluate("a => a.href") for a in page.locator(".md-search-result__item a").all()]


#: Per language, what a reader searches for from the scaling note, and a page the results must list:
#: a word from the middle of a sentence of another note, and words that are in both languages' notes
#: (the results stay in the page's language).
SEARCHES = {"": [("饱和", "/notes/attention-mechanism/"), ("softmax", "/"), ("溢出", "/")],
            "/en": [("saturation", "/en/notes/attention-mechanism/"), ("softmax", "/en/"), ("rotary", "/en/"),
                    ("overflow", "/en/")]}


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_search_finds_words_in_the_language_of_the_page(page, site_url, lang_prefix):
    # One page load per language: the search worker builds its index once (when the box first takes the
    # focus), and each query is typed again into the same box, as a reader does.
    page.goto(f"{site_url}{lang_prefix}/notes/scaling/")
    wait_for_quiet_network(page)
    for query, expect in SEARCHES[lang_prefix]:
        hrefs = search(page, query, f"{site_url}{expect}")
        assert hrefs and all(("/en/" in h) == bool(lang_prefix) for h in hrefs), (query, hrefs)
    if not lang_prefix:  # a two-character Chinese query highlights both characters on the page it opens
        hrefs = search(page, "缩放", f"{site_url}/notes/scaling/")
        highlights = [parse_qs(urlparse(h).query).get("h", [""])[0] for h in hrefs]
        assert any(highlights) and all(h == "缩放" for h in highlights if h), highlights  # not "缩"
        page.goto(next(h for h, words in zip(hrefs, highlights) if words))
        page.wait_for_selector("article mark[data-md-highlight]")
        marked = page.locator("article mark[data-md-highlight]").all_text_contents()
        assert marked and set(marked) == {"缩放"}, marked
    _assert_only_loopback(page)


INDEX = "/search/search_index.json"


@pytest.mark.parametrize(("lang_prefix", "width", "query", "expect"),
                         [("", 390, "饱和", "/notes/attention-mechanism/"),
                          ("/en", 1280, "saturation", "/en/notes/attention-mechanism/")])
def test_a_reader_who_does_not_search_downloads_no_search_index(page, site_url, lang_prefix, width, query, expect):
    """The search index (a quarter of a megabyte, which a worker then builds a search engine from) is
    fetched when the reader turns to search, not on every page they read; the first query typed is
    answered without typing it again. On a phone the reader taps the header's search button; on a
    desktop they press "/"."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{site_url}{lang_prefix}/notes/scaling/")
    wait_for_quiet_network(page)
    page.mouse.wheel(0, 600)  # reading: scrolling and moving about the page
    page.wait_for_timeout(300)
    assert not [url for url in page.requested if url.endswith(INDEX)], page.requested
    if width < 960:
        page.locator("label.md-header__button[for='__search']").click()
    else:
        page.keyboard.press("/")
    box = page.locator("input.md-search__input")
    assert box.evaluate("e => e === document.activeElement")
    page.keyboard.type(query, delay=30)
    page.keyboard.press("End")  # CJK text arrives as text input, without the key events search listens to
    page.wait_for_function(
        "want => [...document.querySelectorAll('.md-search-result__item a')].some(a => a.href.includes(want))",
        arg=f"{site_url}{expect}", timeout=10_000)
    assert [url for url in page.requested if url.endswith(INDEX)] == [f"{site_url}{lang_prefix}{INDEX}"]
    _assert_only_loopback(page)


def test_mermaid_draws_with_the_self_hosted_copy(page, vault_url):
    page.goto(f"{vault_url}/garden/%E6%AC%A2%E8%BF%8E/")  # garden/欢迎, a learner's note with a diagram
    page.locator("pre.mermaid").scroll_into_view_if_needed()  # drawn when it comes near (the test below)
    # Material draws the diagram into a closed shadow root of a <div class="mermaid"> that replaces the
    # <pre>: the div's height is what can be seen from outside (the fence alone is one line of code).
    drawn = ("() => { const d = document.querySelector('div.mermaid'); "
             "return d && d.getBoundingClientRect().height > 50; }")
    page.wait_for_function(drawn, timeout=30_000)
    assert page.locator("pre.mermaid").count() == 0
    wait_for_quiet_network(page)
    assert any(url.endswith("/assets/mermaid/mermaid.min.js") for url in page.requested)
    _assert_only_loopback(page)  # Material did not fetch its own mermaid from a CDN


@pytest.mark.parametrize(("lang", "query", "note"), [("zh", "饱和", "notes/attention-mechanism.html"),
                                                     ("en", "saturation", "en/notes/attention-mechanism.html")])
def test_offline_copy_works_from_files_with_search(page, offline_site, lang, query, note):
    home = offline_site / ("index.html" if lang == "zh" else "en/index.html")
    page.goto(home.as_uri())
    page.wait_for_load_state("load")
    hrefs = search(page, query, (offline_site / note).as_uri())
    assert all(("/en/" in h) == (lang == "en") for h in hrefs), hrefs
    page.goto((offline_site / note).as_uri())
    page.wait_for_selector("article .katex", timeout=15_000)
    assert page.locator("article .katex-error").count() == 0
    foreign = [u for u in page.requested if not u.startswith("file://")]
    assert foreign == [], f"the offline copy asked the network for {foreign}"


@pytest.mark.parametrize(("path", "cjk"), [("notes/transformer/", True), ("en/notes/transformer/", False)])
def test_figures_are_named_images_in_the_accessibility_tree(page, site_url, path, cjk):
    page.goto(f"{site_url}/{path}")
    wait_for_quiet_network(page)
    figures = page.locator("article svg[version='1.1']")
    images = page.locator("article").get_by_role("img")
    names = [images.nth(i).evaluate("e => e.getAttribute('aria-labelledby') || e.getAttribute('aria-label')")
             for i in range(images.count())]  # a figure by its title and description, a widget's canvas by a label
    assert figures.count() >= 4 and images.count() >= figures.count()
    tree = page.locator("article").aria_snapshot()  # what Chromium exposes to a screen reader
    # (YAML: an entry whose name holds ": " is quoted as a whole, - 'img "...": ...')
    shown = re.findall(r"""^\s*- '?img "(.*?)"'?(?::|$)""", tree, re.M)
    assert len(shown) >= figures.count(), tree[:2000]
    assert all(name.strip() for name in shown)
    assert any(re.search("[\u4e00-\u9fff]", name) for name in shown) == cjk
    assert all(names)


def test_each_test_page_starts_with_nothing_stored(browser, browsing_context, site_url):
    """The browser tests share one context (its HTTP cache stays warm) and one page, so what a test
    stores or changes must not reach the next test: a reader's dark-scheme choice, kept by Material in
    localStorage, is forgotten, and the next page sees what a page of a brand-new context sees — whether
    it is a new page (``forget``) or the same page set back (``reset``, what the ``page`` fixture does)."""
    stored = ("() => [document.body.getAttribute('data-md-color-scheme'), document.cookie,"
              " Object.entries(localStorage).sort(), Object.entries(sessionStorage).sort(), innerWidth, innerHeight,"
              " matchMedia('(prefers-reduced-motion: reduce)').matches, matchMedia('print').matches]")
    context = browser.new_context()
    new = context.new_page()
    new.goto(f"{site_url}/en/")
    fresh = new.evaluate(stored)
    assert fresh[:2] == ["default", ""] and fresh[4:] == [1280, 720, False, False]
    context.close()

    def dirty(page):
        page.goto(f"{site_url}/en/")
        for _, scheme in each_view(page):
            if scheme == "dark":
                break
        page.evaluate("() => { document.cookie = 'seen=1; path=/'; sessionStorage.setItem('seen', '1'); }")

    first = open_page(browsing_context)
    dirty(first)
    second = open_page(browsing_context)
    second.goto(f"{site_url}/en/")
    assert second.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"  # kept, as in a browser
    second.close()
    forget(first)
    third = open_page(browsing_context)
    third.goto(f"{site_url}/en/")
    assert third.evaluate(stored) == fresh

    dirty(third)
    heard = []
    third.on("console", lambda message: heard.append(message.text))
    routed = []
    third.route("**/*", lambda route: routed.append(route.request.url) or route.continue_())
    third.emulate_media(media="print", reduced_motion="reduce")
    third.set_viewport_size({"width": 390, "height": 900})
    third.reload()
    scheme, cookie, _, session, *media = third.evaluate(stored)
    assert [scheme, cookie, session, media] == ["slate", "seen=1", [["seen", "1"]], [390, 900, True, True]]
    third.evaluate("() => console.log('before the reset')")
    assert heard == ["before the reset"] and routed
    routed.clear()
    reset(third)
    third.goto(f"{site_url}/en/")
    third.evaluate("() => console.log('after the reset')")
    assert third.evaluate(stored) == fresh
    assert heard == ["before the reset"] and routed == [] and third.handlers == []  # what the test added is gone
    forget(third)


SOURCE_LISTINGS = """() => [...document.querySelectorAll('details.mkdocstrings-source')].map(d => ({
    elements: d.querySelectorAll(':scope > :not(summary, noscript), :scope > :not(summary, noscript) *').length,
    lines: d.querySelectorAll('pre').length ? d.querySelector('td.code pre, pre').textContent.split('\\n').length : 0,
    highlighted: d.querySelectorAll('td.code pre span[class]').length}))"""


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_an_api_entrys_source_is_drawn_when_the_reader_opens_it(page, site_url, lang_prefix):
    """Each API entry's "Source code" (mkdocstrings) costs the page nothing until the reader opens it —
    the listings were half of the largest API page's elements (5,228 of 9,517), styled, laid out and
    walked by every script on each load; opened, it shows the code, highlighted and numbered, readable in
    both schemes (axe), and a code block wider than the screen takes the keyboard focus to scroll."""
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{site_url}{lang_prefix}/reference/api/attention/")
    page.wait_for_load_state("load")
    closed = page.evaluate(SOURCE_LISTINGS)
    assert len(closed) >= 10 and all(listing["elements"] == 0 for listing in closed), closed
    first = page.locator("details.mkdocstrings-source").first
    first.locator("summary").click()
    first.locator("table.highlighttable").wait_for()  # drawn on the toggle event, a task after the click
    assert "def scaled_dot_product_attention(" in first.inner_text()
    assert re.search(r"^\s*\d+\s*$", first.locator("td.linenos").inner_text().split("\n")[0])  # line numbers
    # Drawn as written, one line of code beside each number (a table cell's code was nowrap: one long line).
    numbers, code = (first.locator(f"td.{side} pre").bounding_box()["height"] for side in ("linenos", "code"))
    assert numbers > 500 and abs(code - numbers) < 40, (numbers, code)
    two_frames(page)
    assert first.locator("pre > code").last.get_attribute("tabindex") == "0"  # it scrolls at 390 px
    assert axe_in_both_schemes(page, "details.mkdocstrings-source[open]") == {}
    first.locator("summary").click()  # closed and opened again: drawn once, not twice
    first.locator("summary").click()
    assert first.locator("table.highlighttable").count() == 1
    summaries = page.locator("details.mkdocstrings-source > summary")
    for i in range(1, summaries.count() if lang_prefix else 2):  # the code is the same in both languages
        summaries.nth(i).click()
    page.locator("details.mkdocstrings-source[open] table.highlighttable").nth(
        summaries.count() - 1 if lang_prefix else 1).wait_for()
    opened = page.evaluate(SOURCE_LISTINGS)
    drawn = [o for o in opened if o["elements"]]
    assert len(drawn) == (len(opened) if lang_prefix else 2), opened  # those opened, and only those
    assert all(o["lines"] >= 2 and o["highlighted"] > 0 for o in drawn), opened


def test_an_api_entrys_source_shows_with_javascript_off(browser, site_url):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site_url}/en/reference/api/attention/")
        page.locator("details.mkdocstrings-source > summary").first.click()
        assert "def scaled_dot_product_attention(" in page.locator("details.mkdocstrings-source").first.inner_text()
    finally:
        context.close()


#: How a code block draws a name and a run of spaces put back in the spans Pygments wrote for them (class "n"
#: and "w", which the build leaves out: hooks/highlight.py), and how it draws its text in no span of a kind.
AS_IN_A_SPAN = """() => [...document.querySelectorAll('article .highlight pre > code')].slice(0, 3).flatMap(code => {
    const look = e => ['color', 'backgroundColor', 'fontWeight', 'fontStyle', 'textDecorationLine']
        .map(p => getComputedStyle(e)[p]).join(' ');
    const drawn = kind => {
        const span = document.createElement('span');
        span.className = kind;
        span.textContent = 'x';
        code.prepend(span);
        const seen = look(span);
        span.remove();
        return seen;
    };
    return ['n', 'w'].map(kind => [kind, drawn(kind), drawn('')]);
})"""


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_code_names_and_spaces_look_as_they_did_in_their_spans(page, site_url, lang_prefix):
    """The build drops Pygments' spans around names and spaces because they drew them as the code around
    them; if a palette (ours or Material's) ever gives them a look of their own, they must come back."""
    page.goto(f"{site_url}{lang_prefix}/notes/attention-mechanism/")
    for _, scheme in each_view(page, [(1280, "light"), (1280, "dark")]):
        drawn = page.evaluate(AS_IN_A_SPAN)
        assert len(drawn) == 6, drawn
        for kind, in_span, around in drawn:
            assert in_span == around, (scheme, kind, in_span, around)


#: The words of an API entry's sections (Parameters, Returns, Raises, ...) that lie beside the screen (read only
#: by scrolling sideways), as "section text"; and how many sections there are. Not code: a code block scrolls
#: in its own box, as a listing must.
BESIDE_THE_SCREEN = """() => {
    const sections = [...document.querySelectorAll('article p:has(> .doc-section-title)')], found = [];
    for (const title of sections) {
        const body = title.nextElementSibling, walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
        for (let node; (node = walker.nextNode());) {
            if (node.parentElement.closest('pre')) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            for (const r of range.getClientRects())
                if (r.width && (r.left < 0 || r.right > innerWidth + 0.5))
                    found.push(`${title.textContent.trim()} ${node.textContent.trim().slice(0, 30)}`);
        }
    }
    return [sections.length, [...new Set(found)].slice(0, 8)];
}"""


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
def test_an_api_entrys_parameters_read_on_a_phone_without_scrolling_sideways(page, site_url, lang_prefix):
    """On a 390 px phone, each parameter's name, type, default and description lie on the screen: laid out
    as a table, four columns wide, the descriptions sat beyond the screen's right edge, and Material's
    wrapping every such table when the page loads was most of the API pages' script time (Lighthouse
    performance 74-83 on the attention page, 94-97 as lists)."""
    page.set_viewport_size({"width": 390, "height": 900})
    for name in ("attention", "softmax", "training"):
        page.goto(f"{site_url}{lang_prefix}/reference/api/{name}/")
        page.wait_for_load_state("load")
        sections, beside = page.evaluate(BESIDE_THE_SCREEN)
        assert sections >= 5 and beside == [], (name, sections, beside)
        # An entry the docstring leaves undescribed ends with its type, not with a dash before nothing.
        dangling = page.evaluate("() => [...document.querySelectorAll('article li.doc-section-item')]"
                                 ".map(li => li.innerText.trim()).filter(text => /[–-]$/.test(text))")
        assert dangling == [], (name, dangling)


#: A long note with figures, widgets and a folded callout of tables and code (zh), and an API page (en).
LOADED = ["notes/long-sequences/", "en/reference/api/softmax/"]


#: Records what restyles a whole page once the page is parsed down to its footer (a script in the header, run
#: before the page below it exists, costs nothing): an attribute of <html> or <body> (but the marks Material's
#: bundle puts on <html> as it starts: the js / no-js classes and the focus-visible polyfill's attribute, which
#: few or no selectors read), the color-scheme <meta>, and a table taken out of the article to be put back in a
#: box (Material wraps each data table in its scroll box as it mounts: the whole article restyled once more).
WATCH_WHOLE_PAGE = """window.wholePage = [];
new MutationObserver(records => records.forEach(r => {
    if (!document.querySelector('footer.md-footer')) return;
    if ([...r.removedNodes].some(n => n.nodeName === 'TABLE')) wholePage.push('table moved');
    const root = r.target === document.body || r.target === document.documentElement;
    const marks = ['class', 'data-js-focus-visible'];
    if (r.type === 'attributes' && root && !marks.includes(r.attributeName)) {
        wholePage.push(r.target.tagName + ' ' + r.attributeName);
    }
    if ([r.target, ...r.addedNodes].some(n => n.nodeName === 'META' && n.name === 'color-scheme')) {
        wholePage.push('color-scheme');
    }
})).observe(document, {attributes: true, childList: true, subtree: true});"""


@contextlib.contextmanager
def second_load_traced(browser, url: str, init_script: str | None = None):
    """``url`` loaded a second time (caches warm, as for a reader's second page) on a phone's screen, with
    ``init_script`` added before that load: yields ``(page, Chromium's trace events)`` of the load and the
    scripts' first frames, with the page still open."""
    context = browser.new_context(viewport={"width": 412, "height": 823})
    try:
        page = context.new_page()
        page.goto(url)
        page.goto("about:blank")
        if init_script:
            page.add_init_script(init_script)
        browser.start_tracing(page=page, categories=["devtools.timeline",
                                                     "disabled-by-default-devtools.timeline.stack"])
        assert page.goto(url).ok
        page.wait_for_load_state("load")
        page.evaluate("() => new Promise(done => setTimeout(done, 500))")  # the scripts' first frames
        yield page, json.loads(browser.stop_tracing())["traceEvents"]
    finally:
        context.close()


def asked_by(event: dict) -> list[dict]:
    """The script frames that asked for a traced style update or layout ([]: the browser's own)."""
    return (event["args"].get("beginData") or {}).get("stackTrace") or []


@pytest.mark.parametrize("path", LOADED)
def test_no_script_restyles_the_whole_page_while_it_loads(browser, site_url, path):
    """Each restyle of a whole page is a long task on a phone (Lighthouse's blocking time). Material's
    palette component restyled every page three times as it mounted (an attribute it sets on <body> for
    the switch, then the color-scheme <meta> it adds), its content component once more by moving each data
    table into a scroll box (now made when the site is built), and scroll-boxes.js forced one more by asking for
    ``document.fonts.ready`` as it ran, then laid out what folded callouts hide. Once the page is parsed, no
    script changes an attribute of <html> or <body> or the color scheme, (Chromium's trace) no style update
    or layout that one of our scripts forces is a large one, and no layout any script forces lays out what a
    folded callout hides."""
    with second_load_traced(browser, f"{site_url}/{path}", WATCH_WHOLE_PAGE) as (page, events):
        assert page.evaluate("window.wholePage") == []
        folded = page.evaluate("() => Math.max(0, ...[...document.querySelectorAll('article details:not([open])')]"
                               ".map(d => d.querySelectorAll('*').length))")  # the largest folded callout's elements
    styled = [e for e in events if e.get("name") == "UpdateLayoutTree" and e.get("ph") == "X"]

    def by_our_script(e) -> bool:  # the script that asked: docs/javascripts (not Material's assets/javascripts)
        url = (asked_by(e) or [{}])[0].get("url", "")
        return "/javascripts/" in url and "/assets/javascripts/" not in url

    biggest = max(e["args"].get("elementCount", 0) for e in styled)  # the page's first style (figures far
    forced = [e["args"]["elementCount"] for e in styled if by_our_script(e)]  # below the screen are not styled)
    assert [n for n in forced if n > biggest / 2] == [], (biggest, forced)
    # Nor a layout that lays out much: scroll-boxes.js measured what folded callouts hide, which laid out
    # all of it (900 objects at a time on the long-sequences note, its tables and code).
    layouts = [e for e in events if e.get("name") == "Layout" and e.get("ph") == "X"]
    laid_out = [e["args"]["beginData"].get("dirtyObjects", 0) for e in layouts if by_our_script(e)]
    assert [n for n in laid_out if n > 200] == [], laid_out
    # Nor any script (Material's table of contents read the position of the headings inside the folded
    # "implementation details and benchmark" callout, which laid out its 2,400 elements at every load).
    if path == "notes/long-sequences/":
        assert folded > 2000, folded
    forced_layouts = [e["args"]["beginData"].get("dirtyObjects", 0) for e in layouts if asked_by(e)]
    assert [n for n in forced_layouts if n > folded / 2 > 100] == [], (folded, forced_layouts)


@pytest.mark.parametrize("path", ["en/notes/attention-mechanism/", "reference/api/softmax/"])
def test_the_page_is_laid_out_before_any_script_runs(browser, site_url, path):
    """The page's first layout (Chromium's trace: the largest) is not left to the first script that reads
    a size. Material's bundle reads the header's as it starts; when it ran before the first paint (from the
    cache, as here, or on a fast network), the whole page's style and layout were part of its task: a long
    task, after which the page was drawn (Lighthouse, mobile, the English attention-mechanism note: 83 and
    86 in two of three runs, blocking time 372-406 ms)."""
    with second_load_traced(browser, f"{site_url}/{path}") as (_, events):
        pass
    layouts = [e for e in events if e.get("name") == "Layout" and e.get("ph") == "X"]
    first = max(layouts, key=lambda e: e["args"]["beginData"].get("dirtyObjects", 0))
    assert first["args"]["beginData"]["dirtyObjects"] > 1000  # the whole page
    frame = (asked_by(first) or [{}])[0]  # {}: the browser's own
    assert "/javascripts/" not in frame.get("url", ""), frame  # a script file: Material's or ours


#: A figure drawn when the site was built (attention.experiments.plotting.to_svg), not a widget's drawing.
FIGURE = "article svg[aria-labelledby^='figure-']"


@pytest.mark.parametrize("path", ["notes/transformer/", "en/notes/scaling/"])
def test_a_figure_is_drawn_when_it_comes_near_the_screen(page, site_url, path):
    """A figure (hundreds of SVG elements) far below the screen is neither styled nor laid out while the
    page loads (``content-visibility: auto``), yet it is in the page, named for screen readers (the
    accessibility-tree test) and found by find-in-page; scrolled to, it is drawn."""
    page.set_viewport_size({"width": 412, "height": 823})
    page.goto(f"{site_url}/{path}")
    page.wait_for_load_state("load")
    figures = page.locator(FIGURE)
    last = figures.count() - 1
    drawn = (f"() => document.querySelectorAll(\"{FIGURE}\")[{last}]"
             ".querySelector('text').checkVisibility({contentVisibilityAuto: true})")
    assert figures.nth(last).evaluate("e => e.getBoundingClientRect().top") > 2 * 823  # far below the first screen
    assert page.evaluate(drawn) is False
    figures.nth(last).scroll_into_view_if_needed()
    page.wait_for_function(drawn)


def test_a_reader_whose_system_is_dark_reads_in_dark_from_the_first_paint(browser, site_url):
    """On a first visit the page opens in the scheme the system asks for, set while the header is parsed
    (overrides/partials/javascripts/palette.html): Material's component switched a dark phone's page from
    light only once the whole page had loaded, a flash of white. The toggle works from the keyboard (Enter
    on it), keeps the focus, says what it will do next in the page's language, and the choice is kept."""
    context = browser.new_context(color_scheme="dark")
    scheme = "document.body.getAttribute('data-md-color-scheme')"
    try:
        page = context.new_page()
        page.add_init_script("document.addEventListener('DOMContentLoaded', () => { window.schemeWhenParsed = "
                             f"{scheme}; }}, {{once: true}})")
        page.goto(f"{site_url}/en/notes/scaling/")
        page.wait_for_load_state("load")
        assert page.evaluate("window.schemeWhenParsed") == "slate"
        assert page.evaluate("document.querySelector('meta[name=color-scheme]').content") == "dark"
        toggle = "form[data-palette] label:not([hidden])"
        assert page.locator(toggle).get_attribute("title") == "Switch to light mode"
        page.focus("form[data-palette] input:checked")
        page.keyboard.press("Enter")
        page.wait_for_function(f"{scheme} === 'default'")
        assert page.evaluate("document.activeElement.matches('form[data-palette] input:checked')")
        assert page.locator(toggle).get_attribute("title") == "Switch to dark mode"
        assert page.evaluate("document.querySelector('meta[name=color-scheme]').content") == "normal"
        page.goto(f"{site_url}/notes/scaling/")  # the choice is kept on the next page, in either language
        assert page.evaluate(scheme) == "default"
        assert page.locator(toggle).get_attribute("title") == "切换到深色模式"
    finally:
        context.close()


def test_mermaid_is_fetched_and_run_only_when_its_diagram_comes_near(page, site_url):
    """mermaid (3.5 MB; about 0.6 s of a phone's main thread to start and draw) is fetched when a
    diagram comes within a screen of the view, not by every page that has one far below: the
    Transformer note's diagram is a dozen screens down a phone."""
    page.set_viewport_size({"width": 412, "height": 823})
    page.goto(f"{site_url}/en/notes/transformer/")
    wait_for_quiet_network(page)
    assert not any("mermaid" in url for url in page.requested)
    assert page.locator("pre.mermaid, div.mermaid").count() == 1
    page.locator("pre.mermaid").scroll_into_view_if_needed()
    page.wait_for_function("() => { const d = document.querySelector('div.mermaid'); "
                           "return d && d.getBoundingClientRect().height > 50; }", timeout=30_000)
    assert any(url.endswith("/assets/mermaid/mermaid.min.js") for url in page.requested)
    _assert_only_loopback(page)


@pytest.mark.parametrize("path", ["notes/long-sequences/", "en/notes/long-sequences/"])
def test_what_a_folded_callout_shows_when_opened_scrolls_in_its_own_box(page, site_url, path):
    """scroll-boxes.js leaves what folded callouts hide unmeasured until the reader opens one; then its
    wide tables, formulas and code on a narrow phone become boxes that scroll and take the focus."""
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(f"{site_url}/{path}")
    page.wait_for_load_state("load")
    summaries = page.locator("article details:not([open]) > summary")
    assert summaries.count() >= 2
    while summaries.count():
        summaries.first.click()
    assert page.locator("article details[open] .md-typeset__scrollwrap, article details[open] pre > code").count() > 0
    assert hidden_sideways(page) == []
    assert page.locator("article details[open] .md-typeset__scrollwrap[tabindex='0'][role='region']").count() > 0
