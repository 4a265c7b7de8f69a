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
