"""The browser client against the real skerry-streamer, fed by its synthetic source
(SKERRY_SOURCE=synthetic: text scrolling above a fixed status bar, on white)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import canvas_rgb, expected_output_size, stats, wait_js
from stack import Streamer

pytestmark = pytest.mark.streamer

# The synthetic Scroll scene: white page, dark glyph strokes, a 24-row status bar of
# RGB (40, 60, 80) at the bottom.
STATUS_BAR_ROWS = 24
STATUS_BAR_RGB = np.array([40, 60, 80])


def go_live(browser, streamer):
    page = browser.open(streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", timeout=20)
    return page


def wait_frames(page, more=5, timeout=20):
    n = stats(page)["framesDecoded"]
    wait_js(page, f"() => window.skerry.stats.framesDecoded >= {n + more}", timeout=timeout)


def dominant(pixels):
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    return colours[np.argmax(counts)], counts.max() / len(flat)


def assert_looks_like_synthetic_text(img):
    body = img[: -STATUS_BAR_ROWS - 2]
    bar = img[-STATUS_BAR_ROWS + 2 :]
    # mostly white page with dark ink: not blank, not noise
    colour, share = dominant(body)
    assert np.all(colour >= 235), f"page background {colour} is not white"
    assert share > 0.5
    dark = np.mean(body.max(axis=2) < 180)
    assert 0.005 < dark < 0.4, f"{dark:.3%} dark pixels: expected glyph strokes"
    colour, share = dominant(bar)
    assert np.all(np.abs(colour.astype(int) - STATUS_BAR_RGB) <= 10), f"status bar colour {colour}"


def test_page_goes_live_and_shows_the_desktop(browser, streamer):
    page = go_live(browser, streamer)
    assert page.locator("#status").inner_text() == "live"
    s = stats(page)
    assert s["role"] == "controller"
    # the client asked for its window size and the (synthetic) desktop followed it
    want = expected_output_size(page)
    wait_js(page, f"() => window.skerry.stats.frameWidth === {want[0]} && window.skerry.stats.frameHeight === {want[1]}", timeout=20)
    wait_frames(page, 10)
    s = stats(page)
    assert s["codec"].startswith("avc1."), s["codec"]
    assert s["decodeErrors"] == 0
    assert s["videoBytes"] > 0 and s["videoMessages"] >= s["framesDecoded"]
    img = canvas_rgb(page)
    assert img.shape == (want[1], want[0], 3)
    assert_looks_like_synthetic_text(img)
    # stats overlay shows the same numbers
    page.click("#btn-stats")
    wait_js(page, "() => /avc1\\./.test(document.getElementById('stats-list').textContent)")
    # ping / pong round trip against the real server
    wait_js(page, "() => window.skerry.stats.rttMs !== null", timeout=6)


def test_settings_switch_between_h264_and_jpeg_live(browser, streamer):
    page = go_live(browser, streamer)
    wait_frames(page, 3)
    page.click("#btn-settings")
    page.select_option("select[name=encoder]", "jpeg")
    wait_js(page, "() => window.skerry.stats.codec === 'jpeg'", timeout=20)
    wait_js(page, "() => window.skerry.settings.current.encoder === 'jpeg'")
    wait_frames(page, 5)
    s = stats(page)
    assert s["jpegRegions"] > 0 and s["decodeErrors"] == 0
    assert_looks_like_synthetic_text(canvas_rgb(page))
    page.select_option("select[name=encoder]", "h264")
    wait_js(page, "() => window.skerry.stats.codec.startsWith('avc1.')", timeout=20)
    wait_frames(page, 5)
    assert stats(page)["decodeErrors"] == 0
    assert_looks_like_synthetic_text(canvas_rgb(page))


def test_reconnects_after_the_streamer_restarts(browser, runtime, streamer):
    browser.allow("WebSocket connection to")  # refused while the streamer is down
    page = go_live(browser, streamer)
    wait_frames(page, 3)
    page.evaluate("() => { window.__sameDocument = true; }")
    port = streamer.port
    streamer.stop()
    wait_js(page, "() => window.skerry.stats.connectedState === 'reconnecting'", timeout=10)
    assert page.locator("#status").inner_text() == "reconnecting"
    again = Streamer(runtime, source="synthetic", port=port).start()
    try:
        wait_js(page, "() => window.skerry.stats.connectedState === 'live'", timeout=30)
        wait_frames(page, 5)
        s = stats(page)
        assert s["connects"] == 2
        assert page.evaluate("() => window.__sameDocument") is True
        assert_looks_like_synthetic_text(canvas_rgb(page))
    finally:
        again.stop()
