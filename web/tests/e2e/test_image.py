"""The container images as users run them: `podman run -p 127.0.0.1:PORT:3000 IMAGE`, with the
browser on the other end. ci/images builds the images and names them in SKERRY_IMAGE (the
appliance) and SKERRY_EXAMPLE_IMAGE (the single-application example); without them these
tests are skipped and say so. Podman runs with the settings in CONTAINERS_CONF and runc."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Error as PlaywrightError

from conftest import canvas_rgb, expected_output_size, stats, wait_js
from stack import free_port, http_status, wait_until
from test_fullstack import RED, settle, type_us, window_box

pytestmark = pytest.mark.image

# How the tests get in. The image binds 0.0.0.0, where logins are on by default: every
# container and VM of these tests gets this owner's credentials, and the page logs in
# through the login form as a person would (`open_logged_in`).
USER = "owner"
PASSWORD = "image-" + secrets.token_hex(8)
ACCESS_ENV = {"SKERRY_AUTH_USER": USER, "SKERRY_AUTH_PASSWORD": PASSWORD}


def open_logged_in(browser, desktop):
    """Logs in through the appliance's login form and returns the live desktop page and the
    output size it asks for.

    Podman adds and removes network interfaces as containers come and go; Chromium then
    aborts loads in flight with ERR_NETWORK_CHANGED. That is the host's doing, not the
    appliance's: such a load is tried again, a few times."""
    browser.allow("ERR_NETWORK_CHANGED")
    last = None
    for _ in range(3):
        try:
            page = browser.open(desktop.streamer.url)
            page.wait_for_selector("form[action='login']", timeout=30000)
            page.fill("input[name=user]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", timeout=30)
            want = expected_output_size(page)
            wait_js(page, f"() => window.skerry.stats.frameWidth === {want[0]} && window.skerry.stats.frameHeight === {want[1]}", timeout=30)
            return page, want
        except PlaywrightError as e:
            last = e
            print(f"loading the appliance's page failed ({str(e).splitlines()[0]}); trying again")
            browser.page.context.clear_cookies()
    raise AssertionError(f"the appliance's page did not come up after 3 tries: {last}")


# The compositor's empty-output colour (compositor/src/backend/headless.rs).
EMPTY_OUTPUT = (33, 38, 46)


def podman(*args, check=True, timeout=120):
    return subprocess.run(
        ["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def image_named(variable):
    name = os.environ.get(variable)
    if not name:
        pytest.skip(f"{variable} is not set: ci/images builds the images and runs these tests")
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: ci/images installs it (image/host-packages.txt)")
    return name


def record_timing(name, **values):
    """Start-up figures for docs/images.md: appended to SKERRY_IMAGE_TIMINGS when set."""
    path = os.environ.get("SKERRY_IMAGE_TIMINGS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": name, **values}) + "\n")


class Container:
    """One `podman run -d` of an image with a published port; removed at teardown."""

    def __init__(self, image, env=None, volumes=()):
        self.name = "skerry-test-" + secrets.token_hex(4)
        self.port = free_port()
        args = ["run", "-d", "--name", self.name, "-p", f"127.0.0.1:{self.port}:3000"]
        for key, value in {**ACCESS_ENV, **(env or {})}.items():
            args += ["-e", f"{key}={value}"]
        for host, inside in volumes:
            args += ["-v", f"{host}:{inside}"]
        self.started = time.monotonic()
        podman(*args, image)
        self.returncode = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/"

    def poll(self):
        """None while the container runs, else its exit code (what wait_until expects)."""
        r = podman("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", self.name, check=False)
        running, _, code = r.stdout.strip().partition(" ")
        if r.returncode == 0 and running == "true":
            return None
        self.returncode = int(code) if code.isdigit() else -1
        return self.returncode

    def log_tail(self, lines=60):
        r = podman("logs", "--tail", str(lines), self.name, check=False)
        return f"--- last lines of container {self.name} ---\n{r.stdout}{r.stderr}"

    def wait_ready(self, timeout=120):
        wait_until(lambda: http_status(self.url + "readyz") == 200, timeout, "the appliance to be ready", self)
        return time.monotonic()

    def status(self):
        """The supervisor's status file (what /api/status serves to a logged-in page)."""
        r = podman("exec", self.name, "sh", "-c", "cat /run/skerry/status.json 2>/dev/null || cat /run/user/*/skerry/status.json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def remove(self):
        podman("rm", "-f", "-t", "10", self.name, check=False)


@pytest.fixture
def containers():
    made = []

    def start(image, **kw):
        c = Container(image, **kw)
        made.append(c)
        return c

    yield start
    for c in made:
        c.remove()


class _Desktop:
    """What the full-stack helpers need: the streamer's URL and a process to watch."""

    def __init__(self, container):
        class _Streamer:
            url = container.url
            proc = container

        self.streamer = _Streamer()


@pytest.fixture
def config_dir():
    d = Path(tempfile.mkdtemp(prefix="skerry-config-"))
    yield d
    # Files there belong to the container's user: remove them as root (the tests run as root).
    shutil.rmtree(d, ignore_errors=True)


def test_image_serves_the_desktop_and_the_terminal_writes_config_as_puid(browser, containers, config_dir):
    image = image_named("SKERRY_IMAGE")
    c = containers(
        image,
        env={
            "PUID": "1234",
            "PGID": "1234",
            "SKERRY_RESOLUTION": "1280x720",
            "SKERRY_APP": f"foot -o colors.background={RED} -o csd.preferred=client -o cursor.blink=no sh",
            "PS1": "$ ",
            "ENV": "",
        },
        volumes=[(config_dir, "/config")],
    )
    ready = c.wait_ready()
    desktop = _Desktop(c)
    page, _ = open_logged_in(browser, desktop)
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    first_frame = time.monotonic()
    record_timing(
        "image",
        ready_s=round(ready - c.started, 2),
        first_frame_s=round(first_frame - c.started, 2),
    )

    # The terminal is on the decoded desktop.
    settle(page, desktop)
    box = wait_until(lambda: window_box(canvas_rgb(page), RED, tol=12), 30, "the terminal on the canvas", c)

    # Typing reaches the terminal inside the container; what it writes to /config lands in
    # the host's directory, owned by PUID:PGID.
    from conftest import frame_to_page

    page.mouse.click(*frame_to_page(page, (box[0] + box[2]) // 2, (box[1] + box[3]) // 2))
    word = "skerry" + secrets.token_hex(4)
    type_us(page, f"echo {word} > /config/typed.txt\n")
    out = config_dir / "typed.txt"
    wait_until(lambda: out.exists() and out.read_text().strip() == word, 30, f"{out} to contain {word}", c)
    st = out.stat()
    assert (st.st_uid, st.st_gid) == (1234, 1234), f"typed.txt belongs to {st.st_uid}:{st.st_gid}"
    home = config_dir.stat()
    assert (home.st_uid, home.st_gid) == (1234, 1234), "the /config volume was not handed to PUID:PGID"

    # Every service runs as that user, and the image's health check passes.
    r = podman("exec", c.name, "ps", "-eo", "user:12,comm", "--no-headers")
    users = {line.split()[1]: line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    for comm in ("skerry-composit", "skerry-streamer", "foot"):
        assert users.get(comm) in ("1234", "skerry"), f"{comm} runs as {users.get(comm)}: {r.stdout}"
    assert users.get("skerry-init") == "root", r.stdout
    # Once started, root keeps only the rights to start and signal the services (setuid,
    # setgid, kill: 0xe0), and nothing the desktop execs can get more; its status file is in
    # its own /run/skerry, out of the desktop user's runtime directory.
    caps = podman("exec", c.name, "sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/1/status; pgrep -x foot").stdout.split()
    assert caps[1] == caps[3] == "00000000000000e0", caps
    foot = podman("exec", c.name, "grep", "^CapBnd", f"/proc/{caps[4]}/status").stdout.split()
    assert foot[1] == "00000000000000e0", foot
    assert podman("exec", c.name, "test", "-f", "/run/skerry/status.json", check=False).returncode == 0
    health = podman("healthcheck", "run", c.name, check=False)
    assert health.returncode == 0, f"healthcheck: {health.stdout}{health.stderr}"
    assert stats(page)["connectedState"] == "live"


def test_single_application_image_fills_the_screen_with_its_app(browser, containers):
    image = image_named("SKERRY_EXAMPLE_IMAGE")
    c = containers(image, env={"SKERRY_RESOLUTION": "1280x720"})
    ready = c.wait_ready()
    desktop = _Desktop(c)
    page, want = open_logged_in(browser, desktop)
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    record_timing("example", ready_s=round(ready - c.started, 2), first_frame_s=round(time.monotonic() - c.started, 2))

    st = c.status()
    assert st and next(s for s in st["services"] if s["name"] == "app")["state"] == "running", st

    def covered():
        """The calculator's window covers the output: no empty-output pixels are left."""
        settle(page, desktop)
        img = canvas_rgb(page)
        empty = np.all(np.abs(img.astype(int) - np.array(EMPTY_OUTPUT)) <= 8, axis=2).mean()
        # An application is drawn, not a flat colour.
        varied = img.reshape(-1, 3).std(axis=0).max() > 10
        return (empty < 0.01 and varied) or None

    wait_until(covered, 60, "galculator to fill the output", c)
    assert tuple(canvas_rgb(page).shape[1::-1]) == want
