"""The browser client against a scripted protocol peer: the bytes the page receives become the
right pixels, and the page's input becomes the right messages (docs/protocol.md)."""

from __future__ import annotations

import numpy as np
import pytest

import media
from conftest import WEB_ROOT, canvas_rgb, stats, wait_js
from peer import Peer

pytestmark = pytest.mark.peer


def connect(browser, peer):
    page = browser.open(peer.url)
    hello = peer.expect_type("hello")
    wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'")
    return page, hello


def stage_device_size(page):
    return page.evaluate(
        """() => { const r = document.getElementById('stage').getBoundingClientRect();
                   const d = devicePixelRatio;
                   const even = (v) => Math.max(64, 2 * Math.floor(Math.round(v * d) / 2));
                   return [even(r.width), even(r.height)]; }"""
    )


def test_hello_first_with_decoders_and_device_size(browser, peer):
    page, hello = connect(browser, peer)
    assert peer.log[0]["type"] == "hello", "hello must be the first message"
    assert hello["version"] == 1
    assert hello["decoders"] == {"h264": True, "h264_444": True, "jpeg": True}
    assert [hello["width"], hello["height"]] == stage_device_size(page)
    assert hello["width"] % 2 == 0 and hello["height"] % 2 == 0
    assert hello["scale"] == 1
    assert page.locator("#status").inner_text() == "live"


@pytest.mark.parametrize("dpr", [2, 1.25])
def test_device_pixel_ratio_sizes_and_sharp_canvas(browser_factory, peer, dpr):
    b = browser_factory(viewport=(803, 601), scale=dpr)
    page, hello = connect(b, peer)
    w, h = stage_device_size(page)
    assert (hello["width"], hello["height"], hello["scale"]) == (w, h, dpr)
    assert w == 2 * (round(803 * dpr) // 2)
    # a frame of the requested size is shown one output pixel per device pixel, on the grid
    peer.send(media.video_message(media.CODEC_JPEG, media.FLAG_KEYFRAME | media.FLAG_EOF, 1, media.jpeg(media.pattern(w, h)), (w, h)))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 1")
    r = page.evaluate("() => { const r = document.getElementById('screen').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")
    # (layout works in 1/64 CSS px, so allow that much)
    grid = dpr / 64 + 1e-6
    assert abs(r[2] * dpr - w) <= grid and abs(r[3] * dpr - h) <= grid
    for v in r[:2]:
        assert abs(v * dpr - round(v * dpr)) <= grid, f"canvas starts at {v} CSS px, off the device-pixel grid"
    assert not b.errors


def send_h264(peer, aus, size, first_id=1, flags_444=False, refresh=False):
    for i, au in enumerate(aus):
        flags = media.FLAG_EOF | (media.FLAG_KEYFRAME if i == 0 else 0)
        flags |= media.FLAG_444 if flags_444 else 0
        flags |= media.FLAG_REFRESH if refresh else 0
        peer.send(media.video_message(media.CODEC_H264, flags, first_id + i, au, size, capture_us=1000 * i))


def test_h264_decodes_to_the_source_picture(browser, peer):
    page, _ = connect(browser, peer)
    w, h = 640, 360
    frames = [media.pattern(w, h, seed=s) for s in range(4)]
    send_h264(peer, media.h264_access_units(frames, crf=10), (w, h))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 4")
    s = stats(page)
    assert s["codec"].startswith("avc1.")
    assert (s["frameWidth"], s["frameHeight"]) == (w, h)
    assert s["lastFrameId"] == 4 and s["decodeErrors"] == 0
    got = canvas_rgb(page)
    assert got.shape == (h, w, 3)
    assert media.psnr(got, frames[-1]) >= 35
    # sharp: the frame fits the window, so the canvas is shown 1:1 in device pixels
    box = page.evaluate("() => { const r = document.getElementById('screen').getBoundingClientRect(); return [r.width, r.height]; }")
    assert box == [w, h]


def test_h264_reconfigures_for_444_and_size_change(browser, peer):
    page, _ = connect(browser, peer)
    a = media.pattern(640, 360, seed=1)
    send_h264(peer, media.h264_access_units([a, a]), (640, 360))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 2")
    first = stats(page)["codec"]
    assert not first.startswith("avc1.F4")
    b = media.pattern(480, 320, seed=2)
    send_h264(peer, media.h264_access_units([b, b], chroma="yuv444p", crf=6), (480, 320), first_id=3, flags_444=True, refresh=True)
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 4")
    s = stats(page)
    assert s["codec"].startswith("avc1.F4"), s["codec"]
    assert s["decoderConfigs"] == 2
    assert (s["frameWidth"], s["frameHeight"]) == (480, 320)
    assert media.psnr(canvas_rgb(page), b) >= 38


def test_waits_for_keyframe_and_asks_for_one(browser, peer):
    page, _ = connect(browser, peer)
    f = media.pattern(320, 240)
    aus = media.h264_access_units([f, f, f])
    peer.drain()
    # a delta frame first (as after joining mid-stream): not decodable, so a keyframe is asked for
    peer.send(media.video_message(media.CODEC_H264, media.FLAG_EOF, 7, aus[1], (320, 240)))
    peer.expect_type("keyframe")
    assert stats(page)["framesDecoded"] == 0
    send_h264(peer, aus, (320, 240), first_id=8)
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 3")
    # garbage after the keyframe: the decoder fails, asks again and recovers on the next IDR
    peer.drain()
    page.evaluate("() => { window.skerry.video.lastKeyframeRequest = -Infinity; }")
    peer.send(media.video_message(media.CODEC_H264, media.FLAG_EOF | media.FLAG_KEYFRAME, 11, b"\x00\x00\x00\x01\x67\x64" + b"\xff" * 64, (320, 240)))
    peer.send(media.video_message(media.CODEC_H264, media.FLAG_EOF, 12, b"\x00\x00\x00\x01\x41" + bytes(range(256)) * 4, (320, 240)))
    peer.expect_type("keyframe")
    send_h264(peer, aus, (320, 240), first_id=13)
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 6")
    assert stats(page)["decodeErrors"] >= 1


def test_jpeg_regions_draw_only_what_arrived(browser, peer):
    page, _ = connect(browser, peer)
    w, h = 640, 384
    base = media.pattern(w, h, seed=3)
    peer.send(media.video_message(media.CODEC_JPEG, media.FLAG_KEYFRAME | media.FLAG_EOF, 1, media.jpeg(base), (w, h)))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 1")
    assert media.psnr(canvas_rgb(page), base) >= 35
    # frame 2 changes two 64-row stripes; the first region has no end-of-frame flag
    changed = base.copy()
    changed[64:128] = (250, 200, 0)
    changed[256:320, :, :] = 255 - changed[256:320, :, :]
    peer.send(media.video_message(media.CODEC_JPEG, 0, 2, media.jpeg(changed[64:128]), (w, h), region=(0, 64, w, 64)))
    peer.send(media.video_message(media.CODEC_JPEG, media.FLAG_EOF, 2, media.jpeg(changed[256:320]), (w, h), region=(0, 256, w, 64)))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 2")
    got = canvas_rgb(page)
    assert media.psnr(got, changed) >= 35
    # the untouched rows are still the keyframe's (nothing was cleared)
    assert media.psnr(got[128:256], base[128:256]) >= 35
    s = stats(page)
    assert s["codec"] == "jpeg" and s["jpegRegions"] == 3 and s["lastDecodedFrameId"] == 2


def test_cursor_image_becomes_css_cursor(browser, peer):
    page, _ = connect(browser, peer)
    w, h = 640, 360
    peer.send(media.video_message(media.CODEC_JPEG, media.FLAG_KEYFRAME | media.FLAG_EOF, 1, media.jpeg(media.pattern(w, h)), (w, h)))
    rgba = np.zeros((16, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    peer.send(media.cursor_message(5, rgba.tobytes(), size=(12, 16), hotspot=(3, 4)))
    cur = wait_js(page, "() => { const c = document.getElementById('screen').style.cursor; return c.includes('data:image/png') && c; }")
    assert cur.endswith("3 4, auto"), cur
    assert stats(page)["cursorSerial"] == 5
    # the data URL really is the red 12x16 image
    url = cur.split('"')[1]
    img = media.decode_data_url(url)
    assert img.shape == (16, 12, 3) and tuple(img[8, 6]) == (255, 0, 0)
    peer.send(media.cursor_message(6))
    wait_js(page, "() => document.getElementById('screen').style.cursor === 'none'")
    assert stats(page)["cursorHidden"] is True


def show_frame(page, peer, w, h):
    peer.send(media.video_message(media.CODEC_JPEG, media.FLAG_KEYFRAME | media.FLAG_EOF, 1, media.jpeg(media.pattern(w, h)), (w, h)))
    wait_js(page, f"() => window.skerry.stats.frameWidth === {w} && window.skerry.stats.framesDecoded >= 1")
    return page.evaluate("() => { const r = document.getElementById('screen').getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }")


def test_pointer_maps_to_frame_pixels(browser, peer):
    page, _ = connect(browser, peer)
    # smaller than the window: shown 1:1, centred (letterboxed by the page)
    r = show_frame(page, peer, 640, 360)
    assert (r["w"], r["h"]) == (640, 360)
    peer.drain()
    page.mouse.move(r["x"] + 100.5, r["y"] + 50.5)
    m = peer.expect_type("pointer")
    assert (round(m["x"]), round(m["y"])) == (100, 50)
    # larger than the window: scaled to fit
    r = show_frame(page, peer, 2560, 1440)
    assert r["w"] < 2560
    peer.drain()
    page.mouse.move(r["x"] + r["w"] / 2, r["y"] + r["h"] / 2)
    m = peer.expect_type("pointer")
    assert abs(m["x"] - 1280) <= 3 and abs(m["y"] - 720) <= 3
    page.mouse.move(r["x"] + r["w"] - 0.5, r["y"] + r["h"] - 0.5)
    m = peer.expect_type("pointer")
    assert 2555 <= m["x"] <= 2559 and 1435 <= m["y"] <= 1439


def test_buttons_wheel_and_context_menu(browser, peer):
    page, _ = connect(browser, peer)
    r = show_frame(page, peer, 640, 360)
    cx, cy = r["x"] + 200, r["y"] + 100
    peer.drain()
    page.mouse.click(cx, cy)
    assert peer.expect_type("button", button=0, down=True)
    assert peer.expect_type("button", button=0, down=False)
    page.mouse.click(cx, cy, button="right")
    peer.expect_type("button", button=2, down=True)
    peer.expect_type("button", button=2, down=False)
    prevented = page.evaluate(
        """() => { const e = new MouseEvent('contextmenu', {bubbles: true, cancelable: true});
                   return !document.getElementById('screen').dispatchEvent(e); }"""
    )
    assert prevented, "the browser's context menu must not open over the desktop"
    page.mouse.click(cx, cy, button="middle")
    peer.expect_type("button", button=1, down=True)
    page.mouse.wheel(0, 120)
    m = peer.expect_type("wheel")
    assert m["dy"] > 0 and m["dx"] == 0 and m["mode"] == 0


def test_keys_by_code_without_repeats(browser, peer):
    page, _ = connect(browser, peer)
    r = show_frame(page, peer, 640, 360)
    page.mouse.click(r["x"] + 10, r["y"] + 10)  # focuses the key-capture element
    peer.drain()
    page.keyboard.down("KeyA")
    page.keyboard.down("KeyA")  # auto-repeat: not forwarded
    page.keyboard.up("KeyA")
    page.keyboard.press("Control+KeyW")  # a browser shortcut: forwarded, page stays
    page.keyboard.press("F5")
    keys = []
    while len(keys) < 8:
        keys.append(peer.expect_type("key"))
    seen = [(k["code"], k["down"]) for k in keys]
    assert seen == [
        ("KeyA", True), ("KeyA", False),
        ("ControlLeft", True), ("KeyW", True), ("KeyW", False), ("ControlLeft", False),
        ("F5", True), ("F5", False),
    ]
    assert page.evaluate("() => Boolean(window.skerry)"), "the page must not have navigated"


def test_text_input_and_release_on_blur(browser, peer):
    page, _ = connect(browser, peer)
    r = show_frame(page, peer, 640, 360)
    page.mouse.click(r["x"] + 10, r["y"] + 10)
    peer.drain()
    page.keyboard.insert_text("héllo 😀")  # what an IME or a mobile keyboard commits
    assert peer.expect_type("text")["text"] == "héllo 😀"
    page.keyboard.down("ShiftLeft")
    peer.expect_type("key", code="ShiftLeft", down=True)
    page.evaluate("() => document.getElementById('keys').blur()")
    peer.expect_type("release_all")


def test_resize_follows_viewport_debounced(browser, peer):
    page, _ = connect(browser, peer)
    peer.drain()
    for w in (900, 1000, 1100):
        page.set_viewport_size({"width": w, "height": 700})
    m = peer.expect_type("resize")
    want = stage_device_size(page)
    assert [m["width"], m["height"]] == want and want[0] == 1100
    assert m["scale"] == 1
    # the first message is already the final size: the intermediate sizes were debounced away
    assert [x for x in peer.log if x["type"] == "resize"][0]["width"] == 1100


def set_field(page, name, value):
    """Types into a form field and leaves it, as a user does: one native change event."""
    field = page.locator(f"input[name={name}]")
    field.fill(value)
    field.evaluate("(e) => e.blur()")


def test_manual_resolution_stops_resize(browser, peer):
    page, _ = connect(browser, peer)
    page.click("#btn-settings")
    page.check("input[name=manual_resolution_on]")
    set_field(page, "manual_width", "1024")
    set_field(page, "manual_height", "768")
    m = peer.expect(lambda x: x.get("type") == "settings" and x.get("manual_resolution") == {"width": 1024, "height": 768})
    assert m
    wait_js(page, "() => window.skerry.settings.manualResolution && window.skerry.settings.manualResolution.width === 1024")
    checks = stats(page)["resizeChecks"]
    sent = stats(page)["resizesSent"]
    page.set_viewport_size({"width": 700, "height": 500})
    # the debounced decision runs, and decides not to send
    wait_js(page, f"() => window.skerry.stats.resizeChecks > {checks}")
    assert stats(page)["resizesSent"] == sent
    # the server's settings are still reflected
    peer.send({"type": "settings", **peer.settings, "fps": 31})
    wait_js(page, "() => document.querySelector('input[name=fps]').value === '31'")
    assert not [x for x in peer.log if x["type"] == "resize" and x["_t"] > m["_t"]]


def test_settings_panel_applies_live_and_reflects_server(browser, peer):
    page, _ = connect(browser, peer)
    page.click("#btn-settings")
    assert page.locator("#settings").is_visible()
    assert page.locator("select[name=encoder]").input_value() == "h264"
    page.select_option("select[name=encoder]", "jpeg")
    m = peer.expect_type("settings")
    assert m["encoder"] == "jpeg" and set(m) - {"_conn", "_t"} == {"type", "encoder"}
    page.uncheck("input[name=chroma444]")
    assert peer.expect_type("settings")["chroma444"] is False
    set_field(page, "paint_over_ms", "500")
    assert peer.expect(lambda m: m["type"] == "settings" and "paint_over_ms" in m)["paint_over_ms"] == 500
    # a refused value: the reason is shown and the form goes back to the applied value
    set_field(page, "fps", "500")
    assert peer.expect(lambda m: m["type"] == "settings" and "fps" in m)["fps"] == 500
    wait_js(page, "() => !document.getElementById('settings-error').hidden")
    assert "fps" in page.locator("#settings-error").inner_text()
    wait_js(page, "() => document.querySelector('input[name=fps]').value === '60'")
    # the server's word wins and is shown
    peer.send({"type": "settings", **peer.settings, "fps": 24, "encoder": "h264"})
    wait_js(page, "() => document.querySelector('input[name=fps]').value === '24'")
    assert page.locator("select[name=encoder]").input_value() == "h264"


def test_stats_overlay_and_round_trip(browser, peer):
    page, _ = connect(browser, peer)
    peer.expect_type("ping", timeout=6)
    rtt = wait_js(page, "() => window.skerry.stats.rttMs !== null && window.skerry.stats.rttMs", timeout=6)
    assert 0 <= rtt < 1000
    page.click("#btn-stats")
    wait_js(page, "() => document.getElementById('stats-list').textContent.includes('round trip')")
    assert page.locator("#stats").is_visible()
    page.click("#btn-stats")
    assert not page.locator("#stats").is_visible()


def test_reconnects_without_reload(browser, peer):
    page, _ = connect(browser, peer)
    page.evaluate("() => { window.__sameDocument = true; }")
    w, h = 320, 240
    f = media.pattern(w, h)
    send_h264(peer, media.h264_access_units([f, f]), (w, h))
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 2")
    peer.drain()
    peer.close_connection(1012, "service restart")
    wait_js(page, "() => window.skerry.stats.connectedState === 'reconnecting'")
    assert page.locator("#status").inner_text() == "reconnecting"
    hello = peer.expect_type("hello", timeout=10)
    assert hello["_conn"] == 2
    wait_js(page, "() => window.skerry.stats.connectedState === 'live'")
    assert page.evaluate("() => window.__sameDocument") is True
    # after reconnecting the decoder waits for a keyframe: a delta frame is not decoded
    aus = media.h264_access_units([f, f])
    peer.send(media.video_message(media.CODEC_H264, media.FLAG_EOF, 3, aus[1], (w, h)))
    peer.expect_type("keyframe")
    send_h264(peer, aus, (w, h), first_id=4)
    wait_js(page, "() => window.skerry.stats.framesDecoded >= 4")
    assert stats(page)["connects"] == 2


def test_works_under_a_base_path(browser):
    p = Peer(WEB_ROOT, base_path="/desk/alice/")
    try:
        page = browser.open(p.url)
        p.expect_type("hello")
        wait_js(page, "() => window.skerry.stats.connectedState === 'live'")
    finally:
        p.stop()


def test_a_viewer_sends_no_input(browser):
    p = Peer(WEB_ROOT)
    p.role = "viewer"
    try:
        page = browser.open(p.url)
        p.expect_type("hello")
        wait_js(page, "() => window.skerry.stats.connectedState === 'live' && window.skerry.stats.role === 'viewer'")
        assert not page.locator("#btn-lock").is_visible()
        r = show_frame(page, p, 640, 360)
        page.mouse.click(r["x"] + 10, r["y"] + 10)
        page.keyboard.press("KeyA")
        # ping still flows; nothing else does
        p.expect_type("ping", timeout=6)
        sent = {m["type"] for m in p.log}
        assert sent <= {"hello", "ping", "keyframe"}, sent
    finally:
        p.stop()
