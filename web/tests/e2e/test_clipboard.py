"""Clipboard sync through the whole appliance: wl-clipboard on the desktop, Chromium (with
clipboard permissions) in front. Selected with `-m clipboard`."""

from __future__ import annotations

import base64
import secrets
import subprocess
import time

import pytest

from conftest import wait_js
from stack import Compositor, Streamer, binary

pytestmark = pytest.mark.clipboard


class Desktop:
    def __init__(self, runtime):
        self.runtime = runtime
        self.compositor = Compositor(runtime, resolution="640x480").start()
        self.streamer = Streamer(runtime, source="wayland", **self.compositor.client_env()).start()

    def env(self):
        return self.runtime.env(**self.compositor.client_env())

    def wl_copy(self, data: bytes, *args):
        # wl-copy leaves a process serving the selection; it must not hold our pipes.
        subprocess.run(
            [binary("wl-copy"), *args], input=data, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=True
        )

    def wl_paste(self, *args):
        r = subprocess.run([binary("wl-paste"), *args], env=self.env(), capture_output=True, timeout=20, check=False)
        return r.stdout if r.returncode == 0 else None

    def wait_paste(self, want: bytes, *args, timeout=20):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.wl_paste(*args)
            if got == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"wl-paste {args} gave {got!r:.200}, not {want!r:.200}")


@pytest.fixture
def desktop(runtime):
    return Desktop(runtime)


def open_page(browser, desktop):
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=desktop.streamer.url.rstrip("/"))
    page = browser.open(desktop.streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", timeout=30)
    page.bring_to_front()
    return page


def poll_page(page, script, want, timeout=20):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = page.evaluate(script)
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"{script} gave {got!r:.200}, not {want!r:.200}")


def test_text_both_ways(browser, desktop):
    page = open_page(browser, desktop)

    copied = f"from the desktop {secrets.token_hex(8)} ✓"
    desktop.wl_copy(copied.encode())
    poll_page(page, "() => navigator.clipboard.readText()", copied)
    assert page.evaluate("() => document.getElementById('clip-text').value") == copied

    typed = f"from the browser {secrets.token_hex(8)} ✓"
    page.evaluate("(t) => navigator.clipboard.writeText(t)", typed)
    page.focus("#keys")
    page.keyboard.press("Control+V")
    desktop.wait_paste(typed.encode(), "--no-newline")
    # Browsers have no primary selection: the copied text is the primary one too.
    desktop.wait_paste(typed.encode(), "--no-newline", "--primary")


def test_png_both_ways_byte_identical(browser, desktop, runtime):
    page = open_page(browser, desktop)
    png_path = runtime.dir / "clip.png"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=97x61:rate=1", "-frames:v", "1", str(png_path)], check=True, timeout=60
    )
    png = png_path.read_bytes()

    desktop.wl_copy(png, "--type", "image/png")
    got = wait_js(
        page,
        """() => { const p = window.skerry.clipboard.lastPng; if (!p) return null;
                   let s = ''; for (const b of p) s += String.fromCharCode(b); return btoa(s); }""",
        timeout=20,
    )
    assert base64.b64decode(got) == png
    # And it reached the browser's own clipboard as an image.
    poll_page(page, "async () => (await navigator.clipboard.read()).some((i) => i.types.includes('image/png'))", True)

    # Back: a pasted PNG file (the path every browser has) arrives unchanged.
    desktop.wl_copy(b"something else")
    desktop.wait_paste(b"something else", "--no-newline")
    page.focus("#keys")
    page.evaluate(
        """(b64) => { const bin = atob(b64); const bytes = new Uint8Array(bin.length);
                      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
                      const dt = new DataTransfer();
                      dt.items.add(new File([bytes], 'clip.png', { type: 'image/png' }));
                      document.getElementById('keys').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true })); }""",
        base64.b64encode(png).decode(),
    )
    desktop.wait_paste(png, "--type", "image/png")
