"""Real-browser helpers shared by the browser tests: Debian's Chromium, driven by Playwright,
against sites served on loopback (the fixtures are in conftest.py)."""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from site_build import ROOT

#: Debian's headless shell (the package chromium-headless-shell: the same Blink and V8 as chromium,
#: without the browser's UI layer) when it is installed: the browser tests took about 12 % less CPU with
#: it than with the full chromium, measured back to back (Chromium 156). The full browser otherwise.
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost"}
#: Set SCREENSHOT_DIR to keep the screenshots the browser tests take, to look at them.
SHOTS = os.environ.get("SCREENSHOT_DIR")


def need_chromium():
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing "
                    "(.ci/run installs Debian's chromium-headless-shell)")
    pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium-headless-shell' (or 'chromium') "
                "package to run browser tests")


class _QuietHandler(SimpleHTTPRequestHandler):
    """The site's files, and axe-core at :data:`AXE_PATH` (not in the site: only the tests load it)."""

    def translate_path(self, path):
        return str(AXE) if urlparse(path).path == AXE_PATH else super().translate_path(path)

    def log_message(self, *args):
        pass


def serve(directory):
    """Serve ``directory`` on a free loopback port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


#: What a test's page may leave behind in the shared context (not the HTTP cache: that stays warm).
STORAGE = "cookies,local_storage,indexeddb,service_workers,cache_storage,file_systems,websql"


#: The viewport of a new page (Playwright's default), to which a reused page is set back.
VIEWPORT = {"width": 1280, "height": 720}


def open_page(context):
    """A new page at 1280 x 720 that records every URL it requests (``page.requested``) and the event
    handlers a test adds to it (``page.on``), so that :func:`reset` can take them off again."""
    page = context.new_page()
    page.requested, page.pending = [], set()
    page.on("request", lambda request: page.requested.append(request.url) or page.pending.add(request))
    page.on("requestfinished", lambda request: page.pending.discard(request))
    page.on("requestfailed", lambda request: page.pending.discard(request))
    page.handlers = []
    add_handler = page.on

    def on(event, handler):
        page.handlers.append((event, handler))
        add_handler(event, handler)

    page.on = on
    return page


def _clear_storage(page) -> None:
    """Clear what ``page`` stored in the context (cookies, localStorage — where Material keeps the palette
    choice —, IndexedDB, ...) for every origin it requested."""
    origins = {f"{u.scheme}://{u.netloc}" for u in map(urlparse, page.requested) if u.scheme in ("http", "https")}
    if any(url.startswith("file:") for url in page.requested):
        origins.add("file://")
    cdp = page.context.new_cdp_session(page)
    for origin in origins:
        cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": STORAGE})
    cdp.detach()
    page.context.clear_cookies()


def forget(page) -> None:
    """Close ``page`` and clear what it stored, so that the next test's page starts clean."""
    page.goto("about:blank")  # its scripts stop before its storage is cleared
    _clear_storage(page)
    page.close()


def wait_for_quiet_network(page, quiet: float = 0.15, timeout: float = 15) -> None:
    """Wait for the page's load event, then until no request is in flight and none has started for
    ``quiet`` seconds. Playwright's "networkidle" waits 500 ms without a request: on a page whose
    requests all start at once, a third of a second per page more."""
    page.wait_for_load_state("load")
    deadline, started = time.monotonic() + timeout, -1
    while page.pending or len(page.requested) != started:
        if time.monotonic() > deadline:
            raise TimeoutError(f"requests still in flight after {timeout} s: {[r.url for r in page.pending]}")
        started = len(page.requested)
        page.wait_for_timeout(quiet * 1000)


def reset(page) -> None:
    """Make a used page what :func:`open_page` returns: blank, with nothing stored, no handler or route a
    test added, no emulated media and the default viewport. The browser tests reuse one page this way: a
    new page for each test cost about 0.3 s of CPU more (Chromium 156)."""
    for event, handler in page.handlers:
        page.remove_listener(event, handler)
    page.handlers.clear()
    page.unroute_all(behavior="ignoreErrors")
    page.goto("about:blank")
    _clear_storage(page)
    page.emulate_media(media="null", color_scheme="null", reduced_motion="null", forced_colors="null")
    page.set_viewport_size(VIEWPORT)
    page.mouse.move(0, 0)
    page.requested.clear()
    page.pending.clear()


def assert_only_loopback(page):
    foreign = [u for u in page.requested if urlparse(u).scheme in {"http", "https", "ws", "wss"}
               and urlparse(u).hostname not in LOOPBACK]
    assert foreign == [], f"the page contacted other hosts: {foreign}"
    assert page.requested, "no request was recorded at all"


#: The four ways a page is read: a desktop and a phone, each in the light and the dark scheme. In this
#: order the scheme changes once (a palette switch restyles the whole page: 0.2 s of CPU on a note).
VIEWS = [(1280, "light"), (390, "light"), (390, "dark"), (1280, "dark")]
#: Reflow (WCAG 1.4.10): a 1280 px window at 200 % zoom lays the page out in 640 CSS px, and 320 px is
#: the narrowest screen a page must fit without scrolling sideways.
ZOOMED, NARROWEST = 640, 320
#: What the checks of every page need: each width in one scheme (what depends on the width: reflow,
#: sizes) and each scheme at one width (what depends on the colours). The phone in the dark scheme is
#: only looked at (SCREENSHOT_DIR); a 390 px phone lies between the widths checked.
CHECKED_VIEWS = ([(1280, "light"), (ZOOMED, "light"), (390, "light"), (NARROWEST, "light"), (390, "dark"),
                  (1280, "dark")] if SHOTS else [(1280, "light"), (ZOOMED, "light"), (NARROWEST, "light"),
                                                 (1280, "dark")])


#: True once no animation runs: colours are read then (during a transition they are neither scheme's).
SETTLED = "() => document.getAnimations().every(a => a.playState !== 'running')"


def scheme_of(page) -> str:
    """``"dark"`` or ``"light"``: the scheme the page shows."""
    return "dark" if page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate" else "light"


def switch_scheme(page, scheme: str) -> None:
    """Show ``scheme`` as a reader switches it, with the header's palette toggle (Material keeps the
    choice, so the system's preference alone would not change a page it has shown once)."""
    if scheme_of(page) == scheme:
        return
    page.locator("form[data-palette] label:not([hidden])").click()
    want = "slate" if scheme == "dark" else "default"
    page.wait_for_function("s => document.body.getAttribute('data-md-color-scheme') === s", arg=want)
    page.wait_for_function(SETTLED)


def two_frames(page) -> None:
    """Wait two frames: what the page was just asked to do (a resize, a scroll, a click) is laid out, and
    what its observers do about it (Material's resize observer on code blocks) is done."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def each_view(page, views=VIEWS):
    """Switch an open page through ``views`` in place (no reload): the viewport, and the colour
    scheme (:func:`switch_scheme`); yields ``(width, scheme)`` once the page has settled."""
    for width, scheme in views:
        page.set_viewport_size({"width": width, "height": 900})
        two_frames(page)  # relaid out
        switch_scheme(page, scheme)
        page.wait_for_function(SETTLED)
        yield width, scheme


def shot(page_or_locator, name: str) -> None:
    """With SCREENSHOT_DIR set, keep a screenshot to look at (full page for a page)."""
    if SHOTS:
        full = {"full_page": True} if hasattr(page_or_locator, "goto") else {}
        # A whole page at once shows what a reader sees screen by screen: the figures below the screen,
        # which the page draws only as they come near (content-visibility), drawn too.
        everything = "* { content-visibility: visible !important; }"
        handle = page_or_locator.add_style_tag(content=everything) if full else None
        page_or_locator.screenshot(path=os.path.join(SHOTS, name), **full)
        if handle:
            handle.evaluate("e => e.remove()")


CJK_THEN_ASCII_COLON = """() => {
    const copy = document.querySelector('article').cloneNode(true);
    copy.querySelectorAll('pre, code, script, style, .katex, .arithmatex').forEach(e => e.remove());
    return [...copy.textContent.matchAll(/.{0,12}[\\u2e80-\\u9fff\\uf900-\\ufaff]:.{0,12}/g)].map(m => m[0]);
}"""


def cjk_then_ascii_colon(page) -> list[str]:
    """Where the article's prose or a widget's text puts an ASCII ':' right after a CJK character
    (Chinese takes the full-width '：'); code and math are left out."""
    return page.evaluate(CJK_THEN_ASCII_COLON)


#: What hides content sideways in the article at the current width. Each element whose content is
#: wider than its box, or that pokes out of the screen, is either
#:  - clipped: overflow hidden/clip, or it escapes the viewport (<html> clips it) with no scrolling box around it;
#:  - a scroll box without a visible affordance: a table or formula box (or a widget's) that scrolls but is not
#:    focusable (a keyboard cannot scroll it) or draws no scroll shadow (phones show no scrollbar at rest);
#:  - a code block that scrolls but cannot be focused.
HIDDEN_SIDEWAYS = """() => {
    const article = document.querySelector('article'), vw = document.documentElement.clientWidth, found = [];
    const label = e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.') + ' "'
        + e.textContent.replace(/\\s+/g, ' ').trim().slice(0, 40) + '"';
    // what a folded callout hides is not shown (the every-page test opens them all and looks again)
    const skip = e => e.closest('svg, .katex-mathml, .md-clipboard, [hidden], details:not([open]) > :not(summary)')
        || getComputedStyle(e).display === 'none'
        || (getComputedStyle(e).position === 'absolute' && e.clientWidth <= 1);
    const seen = [];
    for (const e of article.querySelectorAll('*')) {
        if (skip(e) || seen.some(s => s.contains(e))) continue;
        const style = getComputedStyle(e), over = e.scrollWidth - e.clientWidth > 1, box = e.getBoundingClientRect();
        if (over && (style.overflowX === 'hidden' || style.overflowX === 'clip')) {
            const r = document.createRange(); r.selectNodeContents(e);
            const right = Math.max(...[...r.getClientRects()].map(x => x.right));
            if (right > box.right + 1) { found.push('clipped: ' + label(e)); seen.push(e); }
        } else if (over && (style.overflowX === 'auto' || style.overflowX === 'scroll')) {
            seen.push(e);
            if (e.tabIndex < 0) found.push('not focusable: ' + label(e));
            const code = e.tagName === 'CODE' && e.parentElement.tagName === 'PRE';
            if (!code && !style.backgroundImage.includes('gradient')) found.push('no scroll shadow: ' + label(e));
        } else if (style.overflowX === 'visible' && box.right > vw + 1 && e.getClientRects().length) {
            let a = e.parentElement, scrolls = false;
            while (a && a !== article) {
                const o = getComputedStyle(a).overflowX;
                if (o !== 'visible') { scrolls = o === 'auto' || o === 'scroll'; break; }
                a = a.parentElement;
            }
            if (!scrolls) { found.push('off screen: ' + label(e)); seen.push(e); }
        }
    }
    return found;
}"""


def hidden_sideways(page, settle: float = 5.0) -> list[str]:
    """:data:`HIDDEN_SIDEWAYS`, once the page has settled: Material marks a code block that overflows as
    focusable from a resize observer, a few frames after the viewport changed. Empty, or what is still
    hidden after ``settle`` seconds."""
    found = page.evaluate(HIDDEN_SIDEWAYS)  # on a large page (the API's) one pass is a tenth of a second
    if not found:
        return found
    try:
        page.wait_for_function(f"() => ({HIDDEN_SIDEWAYS})().length === 0", timeout=settle * 1000, polling=100)
    except PlaywrightTimeout:
        pass
    return page.evaluate(HIDDEN_SIDEWAYS)


# --- axe-core (WCAG 2.0/2.1, A and AA; pinned in package-lock.json, not served by the site) --------------

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Where :func:`serve` serves axe-core (a name no page of a site has: ``_`` starts no page's URL).
AXE_PATH = "/_tests/axe.min.js"
WCAG_AA = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
#: The rules whose outcome depends on the colours: the only ones the scheme can change (the page's
#: elements, names and roles are the same in both), so the dark scheme runs these, the light one all.
COLOUR_RULES = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}
#: ``[how many rules ran, the critical and serious violations]`` for ``[context, runOnly]`` (``context``:
#: a CSS selector, or null for the whole document); the count, so that a run that checked nothing (a
#: misspelt option) cannot pass. With resultTypes, passes keep only their rule, not every node.
AXE_RUN = """([context, runOnly]) => axe.run(context || document, {runOnly, resultTypes: ['violations']})
    .then(r => [
    r.passes.length + r.violations.length + r.incomplete.length,
    r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').map(v => ({id: v.id, impact: v.impact,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': '
            + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}))])"""


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def run_axe(page, rules: dict, context: str | None = None) -> tuple[int, list]:
    """axe-core (added to the page if it is not there yet) with ``rules`` on ``context`` (a CSS selector;
    the whole page by default): ``(how many rules ran, the critical and serious violations)``."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        url = urlparse(page.url)
        if url.hostname in LOOPBACK:  # from the test server, as a file: V8 compiles it once, not on every page
            page.add_script_tag(url=f"{url.scheme}://{url.netloc}{AXE_PATH}")
        else:
            page.add_script_tag(content=_axe_source())
    count, violations = page.evaluate(AXE_RUN, [context, rules])
    return count, violations


def rules_for(scheme: str) -> dict:
    """The axe rules a page is checked with in ``scheme``: every WCAG A/AA rule in the light one, the
    colour rules (:data:`COLOUR_RULES`, the only ones a scheme changes) in the dark one."""
    return WCAG_AA if scheme == "light" else COLOUR_RULES


def axe_in_both_schemes(page, selector: str = "html") -> dict[str, list]:
    """axe-core on what ``selector`` matches, as the page is now (a widget in the state a test left it in):
    every WCAG A/AA rule in the current scheme, the colour rules again in the other; ``{scheme: the
    critical and serious violations}`` for each scheme where there are some."""
    found = {}
    first = scheme_of(page)
    for scheme, rules in ((first, WCAG_AA), ("light" if first == "dark" else "dark", COLOUR_RULES)):  # all rules first
        switch_scheme(page, scheme)
        count, violations = run_axe(page, rules, selector)
        assert count >= 1, f"axe ran no rule on {selector}"
        if violations:
            found[scheme] = violations
    return found
