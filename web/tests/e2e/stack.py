"""Starts the real Skerry processes for the browser tests: each run gets its own temporary
XDG_RUNTIME_DIR, Wayland socket name and TCP port, logs to a file that is shown when
something fails, and is killed at teardown. A missing binary is a test failure, never a
skip: these tests exist to prove the pieces work together."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def bin_dir() -> Path:
    if os.environ.get("SKERRY_BIN_DIR"):
        return Path(os.environ["SKERRY_BIN_DIR"])
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "skerry-target")
    return Path(target) / "debug"


def binary(name: str) -> str:
    """Path of a Skerry binary (from the cargo target dir) or a program on PATH; fails loudly."""
    candidate = bin_dir() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found and not name.startswith("skerry-"):
        return found
    pytest.fail(
        f"{name} not found (looked in {bin_dir()}"
        + ("" if name.startswith("skerry-") else " and PATH")
        + "): build it with `cargo build --workspace` and set CARGO_TARGET_DIR, or install it",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, proc=None):
    """Polls `predicate` until it returns something other than None or False; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited ({proc.returncode}) while waiting for {what}\n{proc.log_tail()}")
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(0.05)
    tail = proc.log_tail() if proc is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


class Process:
    """A child process with its own log file; killed (process group) on stop."""

    def __init__(self, name, argv, env, cwd=None, log_dir=None):
        self.name = name
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self):
        return self.popen.pid

    @property
    def returncode(self):
        return self.popen.returncode

    def poll(self):
        return self.popen.poll()

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"--- last lines of {self.name}'s log ({self.log_path}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def terminate(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.wait()

    def kill(self):
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait()

    def stop(self):
        try:
            self.terminate(timeout=5)
        finally:
            self.log.close()


class Runtime:
    """A private XDG_RUNTIME_DIR and Wayland socket name for one test, in a new folder under
    `parent` (the system's temporary folder unless given)."""

    def __init__(self, parent=None):
        self.dir = Path(tempfile.mkdtemp(prefix="skerry-e2e-", dir=parent))
        self.xdg = self.dir / "runtime"
        self.xdg.mkdir(mode=0o700)
        self.work = self.dir / "work"
        self.work.mkdir()
        self.wayland_display = f"skerry-e2e-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
        self.processes: list[Process] = []

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "DISPLAY", "WAYLAND_SOCKET")}
        env["XDG_RUNTIME_DIR"] = str(self.xdg)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def spawn(self, name, argv, cwd=None, **env):
        p = Process(name, argv, self.env(**env), cwd=cwd, log_dir=self.dir)
        self.processes.append(p)
        return p

    def cleanup(self):
        for p in reversed(self.processes):
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2, context=_insecure_context()) as r:  # noqa: S310 - local test server
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


class Streamer:
    """skerry-streamer on a free port (TLS with its self-signed certificate, as shipped)."""

    def __init__(self, runtime: Runtime, source="synthetic", port=None, **env):
        self.runtime = runtime
        self.port = port or free_port()
        self.source = source
        self.extra_env = env
        self.proc = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}/"

    def start(self, timeout=30):
        env = {
            "SKERRY_PORT": self.port,
            "SKERRY_BIND": "127.0.0.1",
            "SKERRY_SOURCE": self.source,
            # its own certificate, kept across a restart within the test, never in $HOME
            "SKERRY_TLS_DIR": self.runtime.dir / "tls",
            # the password hash, keys and share links too (only written with logins on)
            "SKERRY_CONFIG_DIR": self.runtime.dir / "config",
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            **self.extra_env,
        }
        self.proc = self.runtime.spawn("skerry-streamer", [binary("skerry-streamer")], **env)
        wait_until(lambda: http_status(self.url + "healthz") == 200, timeout, "the streamer's /healthz", self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop()


class Compositor:
    """skerry-compositor on a private socket, headless at a given resolution."""

    def __init__(self, runtime: Runtime, resolution="1280x720"):
        self.runtime = runtime
        self.resolution = resolution
        self.proc = None

    def start(self, timeout=30):
        self.proc = self.runtime.spawn(
            "skerry-compositor",
            [binary("skerry-compositor")],
            WAYLAND_DISPLAY=self.runtime.wayland_display,
            SKERRY_RESOLUTION=self.resolution,
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        sock = self.runtime.xdg / self.runtime.wayland_display
        wait_until(sock.exists, timeout, f"the Wayland socket {sock}", self.proc)
        return self

    def client_env(self):
        return {"WAYLAND_DISPLAY": self.runtime.wayland_display}

    def run(self, argv, timeout=20, **env):
        """Runs a Wayland tool (grim, wlr-randr) against this compositor; returns stdout bytes."""
        tool = binary(argv[0])
        r = subprocess.run(
            [tool, *argv[1:]], env=self.runtime.env(**self.client_env(), **env), capture_output=True, timeout=timeout, check=False
        )
        if r.returncode != 0:
            raise AssertionError(f"{argv} failed ({r.returncode}): {r.stderr.decode(errors='replace')}\n{self.proc.log_tail()}")
        return r.stdout

    def current_mode(self):
        """(width, height) of the output's current mode as wlr-randr (wlr-output-management)
        reports it, or None when it lists no current mode (a custom mode need not be listed)."""
        out = self.run(["wlr-randr"]).decode()
        for line in out.splitlines():
            if "current" in line and " px" in line:
                size = line.strip().split(" px")[0]
                w, h = size.split("x")
                return int(w), int(h)
        return None

    def output_size(self):
        """(width, height) of the output's pixels, from a grim screenshot."""
        h, w, _ = self.screenshot().shape
        return w, h

    def screenshot(self):
        """The output as an RGB array, through grim (wlr-screencopy)."""
        import media

        return media.read_image(self.run(["grim", "-t", "ppm", "-"]))
