"""The appliance as the README's first command runs it: skerry-init starting the compositor,
a terminal and the streamer, with the browser on the other end. The streamer is killed with
SIGKILL in the middle of a session: the supervisor must bring it back, the page must
reconnect by itself, and the terminal must still hold what was typed before."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess

import pytest

import media
from conftest import canvas_rgb, stats, wait_js
from stack import Runtime, binary, free_port, http_status, wait_until
from test_fullstack import RED, open_desktop, settle, type_us, window_box

pytestmark = pytest.mark.appliance


TERMINAL = f"foot -o colors.background={RED} -o csd.preferred=client -o cursor.blink=no sh"


class Appliance:
    """skerry-init with its default services, confined to the test's temporary directory.
    `app` is SKERRY_APP (a single-application appliance); None leaves it unset, which is
    the full desktop. With `fresh_tmp`, skerry-init runs in its own mount namespace whose
    /tmp is new and empty, as on a fresh machine (the runtime must then live elsewhere)."""

    def __init__(self, runtime, app=TERMINAL, fresh_tmp=False):
        self.runtime = runtime
        self.port = free_port()
        self.run_dir = runtime.dir / "run"
        self.home = runtime.dir / "home"
        self.home.mkdir()
        self.wayland_display = runtime.wayland_display
        mode = {} if app is None else {"SKERRY_APP": app}
        argv = [binary("skerry-init")]
        if fresh_tmp:
            assert not str(runtime.dir).startswith("/tmp/"), "the runtime would be hidden"
            mount = "mount -t tmpfs -o mode=1777 skerry-fresh-tmp /tmp && exec \"$@\""
            argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", mount, "sh", *argv]
        self.proc = runtime.spawn(
            "skerry-init",
            argv,
            **mode,
            # Everything as the test's own user: the host's /etc is not touched.
            PUID=str(os.getuid()),
            PGID=str(os.getgid()),
            SKERRY_HOME=self.home,
            SKERRY_RUNTIME_DIR=self.run_dir,
            SKERRY_WAYLAND_DISPLAY=self.wayland_display,
            SKERRY_RESOLUTION="1280x720",
            SKERRY_GPU="none",
            SKERRY_PORT=self.port,
            SKERRY_BIND="127.0.0.1",
            SKERRY_TLS_DIR=runtime.dir / "tls",
            SKERRY_RESTART_DELAY="0.2",
            PS1="$ ",
            ENV="",
        )
        wait_until(lambda: http_status(self.url + "readyz") == 200, 60, "the appliance to be ready", self.proc)

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/"

    def status(self):
        try:
            return json.loads((self.run_dir / "skerry" / "status.json").read_text())
        except (OSError, ValueError):
            return None

    def service(self, name):
        st = self.status() or {}
        return next((s for s in st.get("services", []) if s["name"] == name), None)

    def screenshot(self):
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "WAYLAND_DISPLAY": self.wayland_display,
        }
        r = subprocess.run([binary("grim"), "-t", "ppm", "-"], env=env, capture_output=True, timeout=20, check=True)
        return media.read_image(r.stdout)


@pytest.fixture
def appliance(runtime):
    a = Appliance(runtime)
    yield a
    # A clean stop: SIGTERM to init stops every service in reverse order and exits 0.
    a.proc.popen.send_signal(signal.SIGTERM)
    assert a.proc.popen.wait(30) == 0, a.proc.log_tail()


class _Streamer:
    """What the full-stack helpers need of a streamer: its URL and process."""

    def __init__(self, appliance):
        self.url = appliance.url
        self.proc = appliance.proc


class _Desktop:
    def __init__(self, appliance):
        self.streamer = _Streamer(appliance)


def test_streamer_killed_mid_session_comes_back_and_the_terminal_kept_its_state(browser, appliance):
    desktop = _Desktop(appliance)
    page, want = open_desktop(browser, desktop)

    # The desktop is really there: the canvas matches the compositor's own picture.
    box = wait_until(lambda: window_box(appliance.screenshot(), RED), 30, "the terminal on screen")
    settle(page, desktop)
    screen = appliance.screenshot()
    assert screen.shape == (want[1], want[0], 3)
    value = media.psnr(canvas_rgb(page), screen)
    assert value >= 40, f"canvas vs grim PSNR {value:.1f} dB"

    # Start a command and type half a line into it.
    out = appliance.runtime.dir / "typed.txt"
    page.mouse.click(*frame_to_page_center(page, box))
    type_us(page, f"cat > {out}\n")
    before = "before" + secrets.token_hex(3)
    type_us(page, before)

    # Kill the streamer; the page must not be reloaded.
    page.evaluate("() => { window.__sameDocument = true; }")
    old = appliance.service("streamer")
    assert old and old["pid"], appliance.status()
    os.kill(old["pid"], signal.SIGKILL)
    wait_until(
        lambda: (s := appliance.service("streamer")) and s["pid"] not in (None, old["pid"]) and s["state"] == "running",
        30,
        "the supervisor to restart the streamer",
        appliance.proc,
    )
    wait_js(page, "() => window.skerry.stats.connectedState !== 'live'", timeout=30)
    wait_js(page, "() => window.skerry.stats.connectedState === 'live'", timeout=60)
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert appliance.service("app")["restarts"] == 0, "the terminal was restarted"

    # The rest of the line goes into the same, still running, command.
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    after = "after" + secrets.token_hex(3)
    type_us(page, after + "\n")
    wait_until(lambda: out.exists() and out.read_text().strip() == before + after, 20, f"{out} to hold {before + after}")
    assert stats(page)["connectedState"] == "live"

    # The page shows the desktop as it is now, from the new streamer's frames.
    settle(page, desktop)
    value = media.psnr(canvas_rgb(page), appliance.screenshot())
    assert value >= 40, f"after the restart: canvas vs grim PSNR {value:.1f} dB"

    # The stats panel shows the supervisor's view: the streamer came back once.
    page.click("#btn-stats")
    wait_js(
        page,
        """() => [...document.querySelectorAll('#stats-list dt')].some(
            (dt) => dt.textContent === 'streamer' && dt.nextElementSibling.textContent.startsWith('running · 1 restart'))""",
        timeout=20,
    )


def frame_to_page_center(page, box):
    from conftest import frame_to_page

    return frame_to_page(page, (box[0] + box[2]) // 2, (box[1] + box[3]) // 2)


def test_default_appliance_is_the_full_desktop_with_a_terminal(runtime):
    """Nothing set: the shell's panel, and a terminal as the first window, with a title bar
    (windows are managed: not the single-application fill)."""
    a = Appliance(runtime, app=None)
    try:
        wait_until(
            lambda: all((s := a.service(n)) and s["state"] == "running" for n in ("shell", "app")),
            60,
            "the shell and the terminal to run",
            a.proc,
        )

        def desktop_shown():
            img = a.screenshot()
            h = img.shape[0]
            # The panel: a dark strip along the bottom edge (between the task buttons and
            # the clock).
            panel = img[h - 30 : h - 10, 300:1100, :]
            if not (panel.max(axis=2) < 60).mean() > 0.9:
                return None
            # The terminal's title bar (Skerry's active title colour), well above the panel.
            box = window_box(img, "2e3a4f", tol=3, min_run=20)
            return img if box and box[3] < h - 44 else None

        img = wait_until(desktop_shown, 60, "the panel and a decorated terminal", a.proc)
        assert img.shape[:2] == (720, 1280)
    finally:
        a.proc.popen.send_signal(signal.SIGTERM)
        assert a.proc.popen.wait(30) == 0, a.proc.log_tail()


@pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace with a new /tmp needs root")
def test_an_x11_application_runs_on_a_machine_without_an_x11_socket_directory():
    """A fresh machine has no /tmp/.X11-unix (nothing made it yet): the appliance must still
    run X11 programs. skerry-init starts in a mount namespace whose /tmp is new and empty,
    with xterm (through Xwayland) as its application, and the xterm must reach the screen."""
    rt = Runtime(parent="/var/tmp")
    try:
        colour = "rgb:" + "/".join(RED[i : i + 2] for i in (0, 2, 4))
        a = Appliance(rt, app=f"xterm -bg {colour} -fg {colour}", fresh_tmp=True)
        wait_until(lambda: window_box(a.screenshot(), RED), 60, "the xterm on screen", a.proc)
        log = a.proc.log_path.read_text(errors="replace")
        assert "created /tmp/.X11-unix" in log, a.proc.log_tail()
        assert a.service("app")["restarts"] == 0, a.status()
        a.proc.popen.send_signal(signal.SIGTERM)
        assert a.proc.popen.wait(30) == 0, a.proc.log_tail()
    finally:
        rt.cleanup()
