"""The whole appliance in a browser: skerry-compositor with foot windows, skerry-streamer
capturing it over Wayland, and Debian's Chromium showing it. Selected with `-m fullstack`;
every binary must exist (a missing one fails the test, it is never skipped)."""

from __future__ import annotations

import secrets
import time

import numpy as np
import pytest

import media
from conftest import canvas_rgb, expected_output_size, frame_to_page, stats, wait_js
from stack import Compositor, Streamer, binary, wait_until

pytestmark = pytest.mark.fullstack

# Distinct, flat foot backgrounds so windows can be found in screenshots.
RED = "7f1010"
GREEN = "107f10"


class Desktop:
    def __init__(self, runtime):
        self.runtime = runtime
        self.compositor = Compositor(runtime).start()
        self.streamer = Streamer(runtime, source="wayland", **self.compositor.client_env()).start()
        self.terminals = {}

    def foot(self, name, background):
        cwd = self.runtime.work / name
        cwd.mkdir()
        argv = [
            binary("foot"),
            f"--working-directory={cwd}",
            "-o", f"colors.background={background}",
            "-o", "csd.preferred=client",
            "-o", "cursor.blink=no",
            "sh",
        ]
        proc = self.runtime.spawn(f"foot-{name}", argv, **self.compositor.client_env(), ENV="", PS1="$ ")
        self.terminals[name] = (proc, cwd)
        return proc, cwd


@pytest.fixture
def desktop(runtime):
    return Desktop(runtime)


def rgb_of(hex_colour):
    return np.array([int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)])


def window_box(img, hex_colour, tol=6, min_run=100):
    """Bounding box (x0, y0, x1, y1) of the visible background of a window: the rows and
    columns with at least `min_run` pixels of its colour (foot draws its title text and
    buttons in that colour too; those thin strokes are not part of the box)."""
    mask = np.all(np.abs(img.astype(int) - rgb_of(hex_colour)) <= tol, axis=2)
    if mask.sum() < 1000:
        return None
    rows = np.nonzero(mask.sum(axis=1) >= min_run)[0]
    cols = np.nonzero(mask.sum(axis=0) >= min_run)[0]
    if not len(rows) or not len(cols):
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def open_desktop(browser, desktop):
    page = browser.open(desktop.streamer.url)
    wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", timeout=30)
    want = expected_output_size(page)
    wait_js(page, f"() => window.skerry.stats.frameWidth === {want[0]} && window.skerry.stats.frameHeight === {want[1]}", timeout=30)
    return page, want


def settle(page, desktop, timeout=30):
    """Waits for the paint-over refresh of a still desktop to be decoded and shown."""

    def refreshed_and_shown():
        s = stats(page)
        return s["lastFrameRefresh"] and s["lastDecodedFrameId"] == s["lastFrameId"] and s["lastFrameId"] >= 0

    wait_until(refreshed_and_shown, timeout, "the newest frame to be a decoded paint-over refresh", desktop.streamer.proc)


US = {
    " ": ("Space", False), ">": ("Period", True), ".": ("Period", False), "/": ("Slash", False),
    "-": ("Minus", False), "_": ("Minus", True), "\n": ("Enter", False),
}


def type_us(page, text):
    """Types `text` as physical US-layout keys (codes, with Shift where the layout needs it)."""
    for ch in text:
        if ch.isalpha():
            code, shift = f"Key{ch.upper()}", ch.isupper()
        elif ch.isdigit():
            code, shift = f"Digit{ch}", False
        else:
            code, shift = US[ch]
        if shift:
            page.keyboard.down("Shift")
        page.keyboard.press(code)
        if shift:
            page.keyboard.up("Shift")


def test_canvas_matches_the_screen_after_paint_over(browser, desktop):
    desktop.foot("one", RED)
    page, want = open_desktop(browser, desktop)
    wait_until(lambda: window_box(desktop.compositor.screenshot(), RED), 30, "the foot window on screen")
    settle(page, desktop)
    screen = desktop.compositor.screenshot()
    assert screen.shape == (want[1], want[0], 3)
    shown = canvas_rgb(page)
    value = media.psnr(shown, screen)
    assert value >= 40, f"canvas vs grim PSNR {value:.1f} dB"


def test_typing_runs_a_command_in_foot(browser, desktop):
    _, cwd = desktop.foot("one", RED)
    page, _ = open_desktop(browser, desktop)
    box = wait_until(lambda: window_box(desktop.compositor.screenshot(), RED), 30, "the foot window")
    x, y = frame_to_page(page, (box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    page.mouse.click(x, y)
    word = "skerry" + secrets.token_hex(4)
    type_us(page, f"echo {word} > out.txt\n")
    out = cwd / "out.txt"
    wait_until(lambda: out.exists() and out.read_text().strip() == word, 20, f"{out} to contain {word}")


def test_click_focuses_and_drag_moves_a_window(browser, desktop):
    _, red_dir = desktop.foot("red", RED)
    wait_until(lambda: window_box(desktop.compositor.screenshot(), RED), 30, "the red window")
    _, green_dir = desktop.foot("green", GREEN)
    page, _ = open_desktop(browser, desktop)
    shot = wait_until(
        lambda: (lambda s: s if window_box(s, RED) and window_box(s, GREEN) else None)(desktop.compositor.screenshot()),
        30,
        "both windows",
    )
    red, green = window_box(shot, RED), window_box(shot, GREEN)
    # click focuses: typing goes to the window clicked last
    for name, box, cwd in (("red", red, red_dir), ("green", green, green_dir)):
        # a point of this window that the other one does not cover
        mask = np.all(np.abs(shot.astype(int) - rgb_of(RED if name == "red" else GREEN)) <= 6, axis=2)
        ys, xs = np.nonzero(mask)
        i = len(xs) // 2
        page.mouse.click(*frame_to_page(page, int(xs[i]), int(ys[i])))
        type_us(page, f"echo {name} > focus.txt\n")
        wait_until(lambda cwd=cwd: (cwd / "focus.txt").exists(), 20, f"typing into the {name} window")
        assert (cwd / "focus.txt").read_text().strip() == name
    # drag the focused (green, on top) window by its title bar, drawn by foot (client-side
    # decorations, 26 px) just above its background
    x0, y0 = frame_to_page(page, green[0] + 60, green[1] - 13)
    dx, dy = 150, 100
    scale = page.evaluate("() => { const c = document.getElementById('screen'); return c.getBoundingClientRect().width / c.width; }")
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + dx * scale * k / 10, y0 + dy * scale * k / 10)
    page.mouse.up()

    def moved():
        b = window_box(desktop.compositor.screenshot(), GREEN)
        return b if b and abs(b[0] - green[0] - dx) <= 3 and abs(b[1] - green[1] - dy) <= 3 else None

    wait_until(moved, 20, f"the green window to move by ({dx}, {dy}) from {green}")


def test_viewport_resize_changes_the_output_mode(browser, desktop):
    desktop.foot("one", RED)
    page, want = open_desktop(browser, desktop)
    assert desktop.compositor.output_size() == want
    page.set_viewport_size({"width": 1000, "height": 640})
    new = expected_output_size(page)
    assert new != want
    wait_until(lambda: desktop.compositor.output_size() == new, 20, f"the output to become {new}")
    # wlr-output-management tells the same (when it lists the current mode at all)
    assert desktop.compositor.current_mode() in (new, None)
    wait_js(page, f"() => window.skerry.stats.frameWidth === {new[0]} && window.skerry.stats.frameHeight === {new[1]}", timeout=20)


def test_idle_desktop_sends_no_video(browser, desktop):
    desktop.foot("one", RED)
    page, _ = open_desktop(browser, desktop)
    wait_until(lambda: window_box(desktop.compositor.screenshot(), RED), 30, "the foot window")
    settle(page, desktop)
    before = stats(page)
    # the measurement window itself: five seconds of a still desktop
    end = time.monotonic() + 5
    while time.monotonic() < end:
        page.wait_for_timeout(500)
        assert stats(page)["videoBytes"] == before["videoBytes"], "video sent while the desktop was idle"
    after = stats(page)
    assert after["videoMessages"] == before["videoMessages"]
    assert after["connectedState"] == "live"


def macroblocks(mask):
    """The 16x16 macroblocks (as a boolean grid) that hold any True pixel of `mask`."""
    h, w = mask.shape
    grid = np.zeros(((h + 15) // 16, (w + 15) // 16), dtype=bool)
    ys, xs = np.nonzero(mask)
    grid[ys // 16, xs // 16] = True
    return grid


def test_a_glyph_typed_after_the_refresh_changes_only_its_macroblocks(browser, desktop):
    """After a 4:4:4 paint-over, one typed glyph is drawn as an H.264 P-frame only inside the
    macroblocks where the screen changed: the sharp refresh stays everywhere else, and no
    keyframe or decoder reconfiguration is paid for the keystroke."""
    desktop.foot("one", RED)
    page, _ = open_desktop(browser, desktop)
    box = wait_until(lambda: window_box(desktop.compositor.screenshot(), RED), 30, "the foot window")
    # A long paint-over delay, so the canvas can be read between the glyph's motion frame
    # and the refresh that follows it.
    page.click("#btn-settings")
    field = page.locator("input[name=paint_over_ms]")
    field.fill("4000")
    field.evaluate("(e) => e.blur()")
    page.click("#btn-settings")
    x, y = frame_to_page(page, (box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    page.mouse.click(x, y)
    before_typing = stats(page)["lastFrameId"]
    type_us(page, "ab")
    # The refresh that follows the typing (not one from before it) is on the canvas.
    wait_js(
        page,
        """(id) => { const s = window.skerry.stats;
                    return s.lastFrameRefresh && s.lastFrameId > id + 1 && s.lastDecodedFrameId === s.lastFrameId; }""",
        timeout=30,
        arg=before_typing,
    )
    s0 = stats(page)
    assert s0["overlayTiles"] > 0, "the refresh brought 4:4:4 tiles"
    screen_before = desktop.compositor.screenshot()
    canvas_before = canvas_rgb(page)

    page.keyboard.press("KeyX")
    wait_until(
        lambda: not np.array_equal(desktop.compositor.screenshot(), screen_before), 10, "the glyph on screen"
    )
    shown = wait_js(
        page,
        """(id) => { const s = window.skerry.stats;
                    return s.lastDecodedFrameId > id && s.lastDecodedFrameId === s.lastFrameId
                           && !s.lastFrameRefresh && s; }""",
        timeout=10,
        arg=s0["lastFrameId"],
    )
    canvas_after = canvas_rgb(page)
    screen_after = desktop.compositor.screenshot()
    assert not stats(page)["lastFrameRefresh"], "the canvas was read before the next refresh"

    screen_changed = np.any(screen_after != screen_before, axis=2)
    canvas_changed = np.any(canvas_after != canvas_before, axis=2)
    assert canvas_changed.any(), "the glyph reached the canvas"
    allowed = macroblocks(screen_changed)
    outside = macroblocks(canvas_changed) & ~allowed
    assert not outside.any(), (
        f"the canvas changed in {int(outside.sum())} macroblocks where the screen did not "
        f"(screen changed in {int(allowed.sum())}), e.g. at (mb x, y) {tuple(np.argwhere(outside)[0][::-1])}"
    )
    assert shown["keyframes"] == s0["keyframes"], "no keyframe for a keystroke"
    assert shown["decoderConfigs"] == s0["decoderConfigs"], "no decoder reconfiguration"
    assert shown["partialDraws"] > s0["partialDraws"], "the P-frame was drawn inside its damage"
