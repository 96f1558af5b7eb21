"""A scripted peer that speaks Skerry's wire protocol (docs/protocol.md) from the server side.

It serves web/ exactly as files on disk (with a strict Content-Security-Policy, so the page is
checked to need no inline scripts or styles) and the WebSocket at /ws, records every message
the browser sends, and lets a test push chosen binary/JSON messages. It answers `hello`,
`ping` and `settings` the way the protocol says a server does. It exists to test the client's
side of the contract precisely (which bytes in, which messages out); the real streamer is
tested by test_streamer.py and test_fullstack.py."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import queue
import threading
import time
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

DEFAULT_SETTINGS = {
    "encoder": "h264",
    "fps": 60,
    "motion_crf": 25,
    "refresh_crf": 18,
    "jpeg_quality": 60,
    "refresh_jpeg_quality": 90,
    "chroma444": True,
    "paint_over_ms": 250,
    "manual_resolution": None,
}


class Peer:
    def __init__(self, web_root: Path, base_path: str = "/"):
        self.web_root = web_root.resolve()
        self.base_path = base_path
        self.received: queue.Queue = queue.Queue()
        self.log: list[dict] = []
        self.settings = dict(DEFAULT_SETTINGS)
        self.hello_size = None  # None: the size the client's hello asks for
        self.role = "controller"
        self.connections = 0
        self._ws = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop = None
        self._thread = threading.Thread(target=self._run, name="skerry-peer", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("peer server did not start")

    # server thread

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self):
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._http, max_size=1 << 16) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _http(self, connection, request):
        path = request.path.split("?", 1)[0]
        if not path.startswith(self.base_path):
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        rel = path[len(self.base_path) :]
        if rel == "ws":
            return None  # WebSocket handshake
        if rel == "api/session":
            # What the streamer answers with logins off: the page then shows no Share panel.
            session = {"auth": False, "identity": "127.0.0.1", "role": self.role, "owner": False}
            body = json.dumps(session).encode()
            headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        if rel == "":
            rel = "index.html"
        file = (self.web_root / rel).resolve()
        if self.web_root not in file.parents or not file.is_file():
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if file.suffix == ".js":
            ctype = "text/javascript"
        body = file.read_bytes()
        headers = Headers(
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Content-Security-Policy", CSP),
                ("Cache-Control", "no-store"),
            ]
        )
        return Response(200, "OK", headers, body)

    async def _handle(self, ws):
        self.connections += 1
        index = self.connections
        self._ws = ws
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    await ws.close(1003, "binary messages are not accepted")
                    return
                msg = json.loads(raw)
                msg["_conn"] = index
                msg["_t"] = time.monotonic()
                self.log.append(msg)
                self.received.put(msg)
                await self._answer(ws, msg)
        except Exception:  # noqa: BLE001 - a dropped browser just ends this connection
            pass
        finally:
            if self._ws is ws:
                self._ws = None

    async def _answer(self, ws, msg):
        kind = msg.get("type")
        if kind == "hello":
            # Like the streamer, take the size the browser asked for unless told otherwise.
            w, h = self.hello_size or (msg.get("width", 1280), msg.get("height", 720))
            await ws.send(json.dumps({"type": "hello", "version": 1, "server": "peer", "role": self.role, "width": w, "height": h, "scale": 1}))
            await ws.send(json.dumps({"type": "settings", **self.settings}))
        elif kind == "ping":
            await ws.send(json.dumps({"type": "pong", "t": msg["t"]}))
        elif kind == "settings":
            fps = msg.get("fps", self.settings["fps"])
            if not isinstance(fps, int) or not 1 <= fps <= 120:
                # as the protocol says: error, then the unchanged settings
                await ws.send(json.dumps({"type": "error", "code": "settings", "message": "fps must be 1 to 120"}))
                await ws.send(json.dumps({"type": "settings", **self.settings}))
                return
            for k, v in msg.items():
                if k in DEFAULT_SETTINGS:
                    self.settings[k] = v
            await ws.send(json.dumps({"type": "settings", **self.settings}))

    # test thread

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def _call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def send(self, data):
        """Sends one message (bytes → binary, dict → JSON) to the current connection."""
        payload = json.dumps(data) if isinstance(data, dict) else data

        async def go():
            ws = self._ws
            if ws is None:
                raise RuntimeError("no browser connected")
            await ws.send(payload)

        self._call(go())

    def close_connection(self, code=1001, reason="going away"):
        async def go():
            if self._ws is not None:
                await self._ws.close(code, reason)

        self._call(go())

    def expect(self, predicate, timeout=10.0, what="a message"):
        """The next received message matching `predicate`, skipping others; fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.log[-10:]}")
            try:
                msg = self.received.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(msg):
                return msg

    def expect_type(self, kind, timeout=10.0, **fields):
        return self.expect(
            lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items()),
            timeout,
            what=f"{kind} {fields or ''}",
        )

    def drain(self):
        """Forgets everything received so far."""
        while True:
            try:
                self.received.get_nowait()
            except queue.Empty:
                return

    def stop(self):
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
