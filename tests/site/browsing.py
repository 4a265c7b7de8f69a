"""Real-browser helpers shared by the browser tests: Debian's Chromium, driven by Playwright,
against sites served on loopback (the fixtures are in conftest.py)."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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
        pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing (.ci/run installs Debian's chromium)")
    pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package to run browser tests")


class _QuietHandler(SimpleHTTPRequestHandler):
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


def assert_only_loopback(page):
    foreign = [u for u in page.requested if urlparse(u).scheme in {"http", "https", "ws", "wss"}
               and urlparse(u).hostname not in LOOPBACK]
    assert foreign == [], f"the page contacted other hosts: {foreign}"
    assert page.requested, "no request was recorded at all"


#: The four ways a page is read: a desktop and a phone, each in the light and the dark scheme.
VIEWS = [(width, scheme) for width in (1280, 390) for scheme in ("light", "dark")]


def each_view(page):
    """Switch an open page through :data:`VIEWS` in place (no reload): the viewport, and the colour
    scheme as a reader switches it, with the header's palette toggle (Material keeps the choice, so
    the system's preference alone would not change a page it has shown once); yields ``(width, scheme)``."""
    for width, scheme in VIEWS:
        page.set_viewport_size({"width": width, "height": 900})
        want = "slate" if scheme == "dark" else "default"
        if page.evaluate("document.body.getAttribute('data-md-color-scheme')") != want:
            page.locator("form[data-md-component=palette] label:not([hidden])").click()
            page.wait_for_function("s => document.body.getAttribute('data-md-color-scheme') === s", arg=want)
        yield width, scheme


def shot(page_or_locator, name: str) -> None:
    """With SCREENSHOT_DIR set, keep a screenshot to look at (full page for a page)."""
    if SHOTS:
        full = {"full_page": True} if hasattr(page_or_locator, "goto") else {}
        page_or_locator.screenshot(path=os.path.join(SHOTS, name), **full)


CJK_THEN_ASCII_COLON = """() => {
    const copy = document.querySelector('article').cloneNode(true);
    copy.querySelectorAll('pre, code, script, style, .katex, .arithmatex').forEach(e => e.remove());
    return [...copy.textContent.matchAll(/.{0,12}[\\u2e80-\\u9fff\\uf900-\\ufaff]:.{0,12}/g)].map(m => m[0]);
}"""


def cjk_then_ascii_colon(page) -> list[str]:
    """Where the article's prose or a widget's text puts an ASCII ':' right after a CJK character
    (Chinese takes the full-width '：'); code and math are left out."""
    return page.evaluate(CJK_THEN_ASCII_COLON)
