"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (never Playwright's
own browser download), a scripted protocol peer, and the real Skerry processes (stack.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from peer import Peer

WEB_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",
]


@pytest.fixture(scope="session")
def playwright_driver():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (ci/packages.txt)")
    with sync_playwright() as p:
        yield p


class Browser:
    """One Chromium with a fresh profile; collects console errors and CSP violations."""

    def __init__(self, driver, viewport=(1280, 800), scale=1.0, args=()):
        self.profile = tempfile.mkdtemp(prefix="skerry-chromium-")
        self.context = driver.chromium.launch_persistent_context(
            self.profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS + list(args),
            ignore_https_errors=True,
            viewport={"width": viewport[0], "height": viewport[1]},
            device_scale_factor=scale,
        )
        self.errors: list[str] = []
        self.allowed: list[str] = []
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("response", self._response)

    def _console(self, msg):
        if msg.type == "error" and not any(a in msg.text for a in self.allowed):
            self.errors.append(f"console: {msg.text}")

    def _response(self, response):
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status} for {response.url}")

    def allow(self, fragment):
        """Console errors containing `fragment` are expected (e.g. a refused reconnect)."""
        self.allowed.append(fragment)

    def open(self, url):
        self.page.goto(url)
        return self.page

    def close(self):
        try:
            self.context.close()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser_factory(playwright_driver):
    made = []

    def make(**kw):
        b = Browser(playwright_driver, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def browser(browser_factory):
    b = browser_factory()
    yield b
    assert not b.errors, f"the page logged errors: {b.errors}"


@pytest.fixture
def peer():
    p = Peer(WEB_ROOT)
    yield p
    p.stop()


def wait_js(page, expression, timeout=15.0, arg=None):
    """Waits until `expression` (a JS function or expression) is truthy; returns its value."""
    return page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=50).json_value()


def stats(page):
    return page.evaluate("() => ({...window.skerry.stats})")


def canvas_rgb(page):
    """The canvas's pixels as an RGB numpy array (through a lossless PNG)."""
    from media import decode_data_url

    return decode_data_url(page.evaluate("() => document.getElementById('screen').toDataURL('image/png')"))


@pytest.fixture
def runtime():
    from stack import Runtime

    rt = Runtime()
    yield rt
    rt.cleanup()


@pytest.fixture
def streamer(runtime):
    """skerry-streamer with its synthetic source (SKERRY_SOURCE=synthetic)."""
    from stack import Streamer

    s = Streamer(runtime, source="synthetic").start()
    yield s
    s.stop()


def frame_to_page(page, x, y):
    """Page (CSS) coordinates of output pixel (x, y) on the canvas."""
    return page.evaluate(
        """([x, y]) => { const c = document.getElementById('screen'); const r = c.getBoundingClientRect();
                         return [r.left + (x + 0.5) * r.width / c.width, r.top + (y + 0.5) * r.height / c.height]; }""",
        [x, y],
    )


def expected_output_size(page):
    """The output size the page asks for: its stage in device pixels, rounded down to even."""
    return tuple(
        page.evaluate(
            """() => { const r = document.getElementById('stage').getBoundingClientRect();
                       const d = devicePixelRatio;
                       const even = (v) => Math.max(64, 2 * Math.floor(Math.round(v * d) / 2));
                       return [even(r.width), even(r.height)]; }"""
        )
    )
