"""Logins, share links and roles against the real skerry-streamer (and, for what a viewer
can or cannot do to the desktop, the real compositor, foot and wl-clipboard), with Debian's
Chromium logging in through the form. Tests carry the `security` marker and also
`streamer` or `fullstack`, so the usual selections run them."""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
import urllib.parse

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import wait_js
from stack import Compositor, Streamer, binary, wait_until

PASSWORD = "correct horse " + secrets.token_hex(4)
AUTH = {"SKERRY_AUTH": "on", "SKERRY_AUTH_USER": "owner", "SKERRY_AUTH_PASSWORD": PASSWORD}
LIVE = "() => window.skerry && window.skerry.stats.connectedState === 'live'"


def insecure():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request(streamer, method, path, body=None, headers=None):
    """One request, redirects not followed: (status, headers dict (lower-case), body bytes)."""
    conn = http.client.HTTPSConnection("127.0.0.1", streamer.port, context=insecure(), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def login(streamer, password=PASSWORD, user="owner", base="/"):
    body = urllib.parse.urlencode({"user": user, "password": password})
    return request(
        streamer, "POST", base + "login", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )


def session_cookie(headers):
    value = headers.get("set-cookie", "")
    assert value.startswith("skerry_session="), value
    return value.split(";", 1)[0]


def ws_status(streamer, cookie=None, origin=None):
    """The status a WebSocket upgrade to /ws gets (101 when it opened)."""
    headers = {"Cookie": cookie} if cookie else {}
    try:
        with ws_connect(
            f"wss://127.0.0.1:{streamer.port}/ws", ssl=insecure(), origin=origin, additional_headers=headers, open_timeout=10
        ):
            return 101
    except InvalidStatus as e:
        return e.response.status_code


def owner_page(browser, url):
    """Logs in through the form, as a person would; returns the page once it is live."""
    page = browser.open(url)
    page.wait_for_selector("form[action='login']")
    page.fill("input[name=user]", "owner")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    wait_js(page, LIVE, timeout=30)
    return page


@pytest.fixture
def secured(runtime):
    return Streamer(runtime, **AUTH).start()


@pytest.mark.security
@pytest.mark.streamer
def test_without_credentials_only_the_login_page_answers(secured):
    for path in ["/", "/index.html"]:
        status, headers, _ = request(secured, "GET", path)
        assert (status, headers.get("location")) == (303, "/login"), path
    for method, path in [
        ("GET", "/app.js"),
        ("GET", "/api/status"),
        ("GET", "/api/session"),
        ("GET", "/api/shares"),
        ("POST", "/api/shares"),
        ("GET", "/api/files"),
        ("GET", "/api/files/x.txt"),
        ("PUT", "/api/upload/abcdefgh?name=x&size=1&offset=0"),
        ("POST", "/logout"),
        ("GET", "/ws"),
    ]:
        status, _, _ = request(secured, method, path, body=b"x" if method in ("PUT", "POST") else None)
        assert status == 401, f"{method} {path}: {status}"
    assert ws_status(secured) == 401
    for path in ["/healthz", "/login", "/style.css", "/icon.svg"]:
        assert request(secured, "GET", path)[0] == 200, path
    assert request(secured, "GET", "/readyz")[0] in (200, 503)
    # A forged cookie is no session.
    status, _, _ = request(secured, "GET", "/api/status", headers={"Cookie": "skerry_session=s.a.o.b.99999999999.00"})
    assert status == 401


@pytest.mark.security
@pytest.mark.streamer
def test_cross_origin_websocket_is_refused(secured):
    cookie = session_cookie(login(secured)[1])
    assert ws_status(secured, cookie, origin=f"https://127.0.0.1:{secured.port}") == 101
    assert ws_status(secured, cookie, origin="https://evil.example") == 403
    assert ws_status(secured, cookie, origin=f"https://127.0.0.1:{secured.port + 1}") == 403


@pytest.mark.security
@pytest.mark.streamer
def test_wrong_passwords_lock_the_address_out(runtime):
    streamer = Streamer(runtime, SKERRY_AUTH_MAX_FAILURES="3", SKERRY_AUTH_LOCKOUT="120", **AUTH).start()
    assert login(streamer, "wrong 1")[0] == 401
    assert login(streamer, "wrong 2", user="nobody")[0] == 401
    status, headers, body = login(streamer, "wrong 3")
    assert status == 429
    assert 100 < int(headers["retry-after"]) <= 120
    assert b"Try again in" in body
    # Locked out: even the right password waits.
    status, headers, _ = login(streamer)
    assert status == 429 and "set-cookie" not in headers


@pytest.mark.security
@pytest.mark.streamer
def test_login_form_then_the_desktop_shows(browser, secured):
    page = owner_page(browser, secured.url)
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    assert page.evaluate("() => window.skerry.stats.role") == "controller"
    cookie = next(c for c in browser.context.cookies() if c["name"] == "skerry_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    # Logging out ends the session: the page is back at the login form.
    page.click("#logout button")
    page.wait_for_selector("form[action='login']")
    assert request(secured, "GET", "/api/status", headers={"Cookie": f"skerry_session={cookie['value']}"})[0] == 401


def create_link(streamer, cookie, role):
    status, _, body = request(
        streamer,
        "POST",
        "/api/shares",
        json.dumps({"role": role, "lifetime_s": 3600, "label": "guest"}),
        {"Cookie": cookie, "Content-Type": "application/json"},
    )
    assert status == 201, body
    return json.loads(body)


@pytest.mark.security
@pytest.mark.streamer
def test_a_revoked_link_stops_working(browser_factory, secured):
    cookie = session_cookie(login(secured)[1])
    link = create_link(secured, cookie, "viewer")
    guest = browser_factory()
    page = guest.open(secured.url + link["url"])
    wait_js(page, LIVE, timeout=30)
    assert page.evaluate("() => window.skerry.stats.role") == "viewer"
    # A viewer may not manage links.
    status = page.evaluate("() => fetch('api/shares').then((r) => r.status)")
    assert status == 403
    status, _, _ = request(secured, "DELETE", f"/api/shares/{link['id']}", headers={"Cookie": cookie})
    assert status == 200
    # Its connection is closed and cannot come back.
    wait_js(page, "() => window.skerry.stats.connectedState === 'reconnecting'", timeout=30)
    status, _, body = request(secured, "GET", "/" + link["url"])
    assert status == 401 and b"not valid" in body
    guest_cookie = next(c for c in guest.context.cookies() if c["name"] == "skerry_session")
    assert request(secured, "GET", "/api/status", headers={"Cookie": f"skerry_session={guest_cookie['value']}"})[0] == 401


@pytest.mark.security
@pytest.mark.streamer
def test_served_below_a_base_path(browser, runtime):
    streamer = Streamer(runtime, SKERRY_BASE_PATH="/desk/", **AUTH).start()
    page = owner_page(browser, streamer.url + "desk/")
    assert page.url.endswith("/desk/")
    wait_js(page, "() => window.skerry.stats.framesDecoded > 0", timeout=30)
    cookie = next(c for c in browser.context.cookies() if c["name"] == "skerry_session")
    assert cookie["path"] == "/desk/"
    assert request(streamer, "GET", "/desk")[1].get("location") == "/desk/"
    assert request(streamer, "GET", "/app.js")[0] == 404
    assert request(streamer, "GET", "/desk/app.js")[0] == 401


class Desktop:
    def __init__(self, runtime):
        self.runtime = runtime
        self.compositor = Compositor(runtime, resolution="800x600").start()
        self.streamer = Streamer(runtime, source="wayland", **AUTH, **self.compositor.client_env()).start()

    def env(self):
        return self.runtime.env(**self.compositor.client_env())

    def wl_copy(self, data: bytes):
        import subprocess

        subprocess.run([binary("wl-copy")], input=data, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20, check=True)

    def wl_paste(self):
        import subprocess

        r = subprocess.run([binary("wl-paste"), "-n"], env=self.env(), capture_output=True, timeout=20, check=False)
        return r.stdout if r.returncode == 0 else None


def viewer_sends(page, messages, clipboard_text):
    """Sends `messages` (objects) and a clipboard message over a WebSocket of the viewer's
    own (its page's cookie, past the page's role checks), then waits for the answer to a ping
    sent after them, so the server has read everything before. A socket of its own keeps the
    exchange independent of the page's connection and its reconnects."""
    answered = page.evaluate(
        """([messages, text]) => new Promise((resolve, reject) => {
             const url = new URL('ws', location.href);
             url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
             const ws = new WebSocket(url);
             ws.binaryType = 'arraybuffer';
             // A whole number: it comes back exactly (a fraction may return one ulp off).
             const t = -1 - Math.floor(Math.random() * 1e9);
             const seen = [];
             const timer = setTimeout(() => reject(new Error(`no pong within 30 s; seen ${seen.join(',')}`)), 30000);
             ws.onerror = () => reject(new Error('the viewer socket failed'));
             ws.onclose = (e) => reject(new Error(`the viewer socket closed: ${e.code} ${e.reason}`));
             ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: 1, decoders: { h264: true, h264_444: false, jpeg: true } }));
             ws.onmessage = (e) => {
               if (typeof e.data !== 'string') return;
               const m = JSON.parse(e.data);
               seen.push(m.type === 'pong' ? `pong(${m.t} vs ${t})` : m.type);
               if (m.type === 'hello') {
                 for (const x of messages) ws.send(JSON.stringify(x));
                 const mime = new TextEncoder().encode('text/plain;charset=utf-8');
                 const data = new TextEncoder().encode(text);
                 const msg = new Uint8Array(4 + mime.length + data.length);
                 msg[0] = 0x11; msg[1] = 0; msg[2] = mime.length; msg[3] = 0;
                 msg.set(mime, 4);
                 msg.set(data, 4 + mime.length);
                 ws.send(msg.buffer);
                 ws.send(JSON.stringify({ type: 'ping', t }));
               } else if (m.type === 'pong' && m.t === t) {
                 clearTimeout(timer);
                 ws.close();
                 resolve(true);
               }
             };
           })""",
        [messages, clipboard_text],
    )
    assert answered


@pytest.mark.security
@pytest.mark.fullstack
def test_a_viewer_link_changes_nothing_on_the_desktop(browser_factory, runtime):
    desktop = Desktop(runtime)
    cwd = runtime.work / "term"
    cwd.mkdir()
    runtime.spawn(
        "foot",
        [binary("foot"), f"--working-directory={cwd}", "-o", "cursor.blink=no", "sh"],
        **desktop.compositor.client_env(),
        ENV="",
        PS1="$ ",
    )
    before = b"before-" + secrets.token_hex(4).encode()
    desktop.wl_copy(before)
    wait_until(lambda: desktop.wl_paste() == before, 20, "the first selection")

    owner = browser_factory()
    page = owner_page(owner, desktop.streamer.url)
    page.click("#btn-share")
    page.select_option("#share-form select[name=role]", "viewer")
    page.fill("#share-form input[name=label]", "guest")
    page.click("#share-form button[type=submit]")
    url = page.wait_for_selector("#share-list li input").input_value()
    assert "/share?t=" in url

    guest = browser_factory()
    gpage = guest.open(url)
    wait_js(gpage, LIVE, timeout=30)
    assert gpage.evaluate("() => window.skerry.stats.role") == "viewer"
    # The owner's page lists both sessions, pushed by the server.
    wait_js(page, "() => window.skerry.stats.peers.length === 2", timeout=30)
    peers = page.evaluate("() => window.skerry.stats.peers")
    assert {(p["role"], p["you"]) for p in peers} == {("controller", True), ("viewer", False)}
    assert any(p["identity"].startswith("guest #") for p in peers)

    # The viewer types a command and sets the clipboard, bypassing its page's own checks.
    stolen = "viewer-" + secrets.token_hex(4)
    viewer_sends(
        gpage,
        [
            {"type": "pointer", "x": 400, "y": 300},
            {"type": "button", "button": 0, "down": True},
            {"type": "button", "button": 0, "down": False},
            {"type": "text", "text": f"touch {stolen}"},
            {"type": "key", "code": "Enter", "down": True},
            {"type": "key", "code": "Enter", "down": False},
        ],
        stolen,
    )
    status = gpage.evaluate(
        "() => fetch('api/upload/abcdefgh?name=x.txt&size=1&offset=0', { method: 'PUT', body: 'x' }).then((r) => r.status)"
    )
    assert status == 403

    # The owner then does the same; once that shows, the viewer's earlier input would have too.
    proof = "owner-" + secrets.token_hex(4)
    page.mouse.click(400, 300)
    page.evaluate(f"() => window.skerry.send({{ type: 'text', text: 'touch {proof}' }})")
    page.evaluate("() => { window.skerry.send({ type: 'key', code: 'Enter', down: true }); window.skerry.send({ type: 'key', code: 'Enter', down: false }); }")
    wait_until(lambda: (cwd / proof).exists(), 30, "the owner's command to run in foot")
    assert not (cwd / stolen).exists(), "a viewer's keys reached the desktop"
    assert desktop.wl_paste() == before, "a viewer set the clipboard"
