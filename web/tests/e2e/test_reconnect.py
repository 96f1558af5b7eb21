"""The page against the real streamer through a TCP relay that can lose the network
without closing anything: the browser sees no `close`, only silence. The page must notice
by itself, open a new connection and show the desktop again without a reload."""

from __future__ import annotations

import socket
import threading

import pytest

from conftest import canvas_rgb, stats, wait_js
from test_streamer import assert_looks_like_synthetic_text, wait_frames

pytestmark = pytest.mark.streamer


class Relay:
    """Forwards 127.0.0.1:<port> to the streamer. `blackhole()` makes every connection open
    so far swallow what either side sends (no FIN, no RST), as a dropped network does;
    connections opened afterwards are forwarded normally."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []  # [client, server, {"dead": bool}]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            state = {"dead": False}
            with self.lock:
                self.conns.append((client, server, state))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, state), daemon=True).start()

    @staticmethod
    def _pump(src, dst, state):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                if not state["dead"]:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            if state["dead"]:
                continue  # swallowed: the other side hears nothing
            try:
                dst.sendall(data)
            except OSError:
                return

    def blackhole(self):
        with self.lock:
            for _, _, state in self.conns:
                state["dead"] = True

    def close(self):
        self.closed = True
        self.listener.close()
        with self.lock:
            for client, server, _ in self.conns:
                for s in (client, server):
                    try:
                        s.close()
                    except OSError:
                        pass


@pytest.fixture
def relay(streamer):
    r = Relay(streamer.port)
    yield r
    r.close()


def test_page_reconnects_by_itself_after_the_network_silently_drops(browser, streamer, relay):
    page = browser.open(f"https://127.0.0.1:{relay.port}/")
    wait_js(page, "() => window.skerry && window.skerry.stats.connectedState === 'live'", timeout=20)
    wait_frames(page, 3)
    page.evaluate("() => { window.__sameDocument = true; }")
    assert stats(page)["connects"] == 1

    relay.blackhole()
    # No close event ever comes; the page's own watchdog must give the socket up.
    wait_js(page, "() => window.skerry.stats.connectedState !== 'live'", timeout=30)
    wait_js(page, "() => window.skerry.stats.connectedState === 'live'", timeout=30)
    wait_frames(page, 5)
    s = stats(page)
    assert s["connects"] == 2, s
    assert page.evaluate("() => window.__sameDocument") is True, "the page was reloaded"
    assert s["decodeErrors"] == 0, s
    assert_looks_like_synthetic_text(canvas_rgb(page))
