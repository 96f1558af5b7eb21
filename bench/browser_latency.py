"""Key event -> changed pixels on the canvas, in headless Chromium running Skerry's real client.

Run by skerry-bench (bench/src/browser.rs) with the browser tests' venv (Playwright driving
Debian's /usr/bin/chromium; no browser is ever downloaded). The page is the client the
streamer serves; a capture-phase keydown listener stamps each key, and the client's own
canvas drawImage is wrapped so that, right after each draw, a small region around the text
cursor is read back and compared with the picture before the key: the first draw that
changes it ends the sample. Before each key the client must be showing the paint-over
refresh of a still desktop, so a refresh never passes for the echo of a key.

Prints one JSON line: {"samples_ms": [...], "missed": N, "region": [x, y, w, h]}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Installed once the client is live: a key stamp, the drawImage hook, and helpers the
# driver calls. Pixels "change" when enough of them move by more than a refresh would.
HOOK = """
() => {
  const ctx = window.skerry.video.ctx;
  const draw = ctx.drawImage.bind(ctx);
  const L = (window.__lat = { t0: null, armed: false, region: null, base: null, samples: [] });
  const grab = (r) => ctx.getImageData(r.x, r.y, r.w, r.h).data;
  L.changed = (a, b) => {
    let n = 0;
    for (let i = 0; i < a.length; i += 4) {
      if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 96) {
        if (++n >= 6) return true;
      }
    }
    return false;
  };
  window.addEventListener('keydown', () => { if (L.armed && L.t0 === null) L.t0 = performance.now(); }, true);
  ctx.drawImage = function (...a) {
    draw(...a);
    if (L.armed && L.t0 !== null && L.region) {
      if (L.changed(grab(L.region), L.base)) {
        L.samples.push(performance.now() - L.t0);
        L.armed = false;
        L.t0 = null;
      }
    }
  };
  L.arm = () => { L.base = grab(L.region); L.t0 = null; L.armed = true; };
  L.full = () => ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height).data;
  L.snapshot = () => { L.before = L.full(); };
  // The bounding box of what changed since snapshot(), with a margin.
  L.locate = () => {
    const w = ctx.canvas.width, h = ctx.canvas.height, a = L.before, b = L.full();
    let x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 96) {
          if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const m = 24;
    x0 = Math.max(0, x0 - m); y0 = Math.max(0, y0 - m);
    x1 = Math.min(w - 1, x1 + m); y1 = Math.min(h - 1, y1 + m);
    L.region = { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
    return [L.region.x, L.region.y, L.region.w, L.region.h];
  };
}
"""

SETTLED = """
() => { const s = window.skerry.stats;
  return s.lastFrameRefresh && s.lastDecodedFrameId === s.lastFrameId && s.lastFrameId >= 0; }
"""

# Settled on a frame newer than `id`.
SETTLED_AFTER = """
(id) => { const s = window.skerry.stats;
  return s.lastFrameId !== id && s.lastFrameRefresh && s.lastDecodedFrameId === s.lastFrameId; }
"""


def wait_js(page, expr, timeout, what, arg=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expr, arg):
            return
        page.wait_for_timeout(10)
    raise TimeoutError(f"timed out waiting for {what}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--keys", type=int, default=40)
    args = ap.parse_args()

    profile = tempfile.mkdtemp(prefix="skerry-bench-chromium-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                viewport={"width": 1280, "height": 720},
            )
            try:
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                page.goto(args.url)
                wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", 30, "the client to be live")
                wait_js(page, "() => window.skerry.stats.framesDecoded > 0", 30, "a first frame")
                page.evaluate(HOOK)
                wait_js(page, SETTLED, 10, "a still desktop")
                # Find where the echo lands: one unmeasured key, then undo it.
                page.evaluate("() => window.__lat.snapshot()")
                last = page.evaluate("() => window.skerry.stats.lastFrameId")
                page.keyboard.press("KeyA")
                wait_js(page, SETTLED_AFTER, 10, "the first echo", last)
                region = page.evaluate("() => window.__lat.locate()")
                if region is None:
                    raise RuntimeError("a key press changed nothing on the canvas")
                page.keyboard.press("Backspace")
                missed = 0
                for n in range(args.keys):
                    wait_js(page, SETTLED, 10, "a still desktop")
                    page.evaluate("() => window.__lat.arm()")
                    page.keyboard.press("KeyA" if n % 2 == 0 else "Backspace")
                    try:
                        wait_js(page, "() => !window.__lat.armed", 2, "the echo")
                    except TimeoutError:
                        missed += 1
                        page.evaluate("() => { window.__lat.armed = false; }")
                if args.keys % 2 == 1:
                    page.keyboard.press("Backspace")
                samples = page.evaluate("() => window.__lat.samples")
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    sys.stdout.write(json.dumps({"samples_ms": samples, "missed": missed, "region": region}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
