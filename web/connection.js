// The WebSocket to the streamer: same origin, `ws` resolved against the page's own URL (so
// the client keeps working when the appliance is served under a base path), `wss:` when the
// page came over https. The connection is never given up: when it drops, it is retried with
// backoff (backoff.js) and its state is shown on the page, so a restarted streamer is
// picked up without a reload.
//
// A network that drops without closing the TCP connection (a suspended laptop, a NAT
// forgetting the flow, a proxy that hangs) never fires `close`. The page pings every
// couple of seconds and the server answers every ping, so a live connection always hears
// something soon after it sent something: when nothing at all arrives for `SILENCE_MS`
// after a message went out, the socket is given up and a new one is opened.

import { backoffDelay } from './backoff.js';
import { CLOSE_VERSION } from './proto.js';

export const STATE_CONNECTING = 'connecting';
export const STATE_LIVE = 'live';
export const STATE_RECONNECTING = 'reconnecting';

/** How long a live connection may stay silent after sending before it is given up. */
export const SILENCE_MS = 10_000;
/** How often the silence is checked. */
const WATCHDOG_MS = 1000;

/**
 * True when a message went out at `firstUnanswered` (ms, or null when everything sent was
 * followed by something received) and nothing came back for more than `silenceMs` by `now`.
 * Pure, so Node tests it.
 */
export function isSilent(firstUnanswered, now, silenceMs = SILENCE_MS) {
  return firstUnanswered !== null && now - firstUnanswered > silenceMs;
}

/** The WebSocket URL for a page at `pageUrl`. Pure, so Node tests it. */
export function wsUrl(pageUrl) {
  const u = new URL('ws', pageUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  u.search = '';
  return u.href;
}

/**
 * Callbacks: `onOpen(send)` right after the socket opens (send the hello), `onMessage(data)`
 * for every message (string or ArrayBuffer), `onState(state, detail)`. The owner calls
 * `markLive()` once the server's hello arrived; that also resets the backoff.
 */
export class Connection {
  constructor(url, { onOpen, onMessage, onState, silenceMs = SILENCE_MS, now = () => performance.now() }) {
    this.url = url;
    this.silenceMs = silenceMs;
    this.now = now;
    this.firstUnanswered = null;
    this.watchdog = null;
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.state = STATE_CONNECTING;
    this.stopped = false;
    this.connects = 0;
  }

  start() {
    this.setState(STATE_CONNECTING);
    this.open();
    this.watchdog = setInterval(() => this.checkSilence(), WATCHDOG_MS);
  }

  checkSilence() {
    if (this.ws && this.state === STATE_LIVE && isSilent(this.firstUnanswered, this.now(), this.silenceMs)) {
      this.reset(`no answer from the server for ${Math.round(this.silenceMs / 1000)} s`);
    }
  }

  setState(state, detail = '') {
    this.state = state;
    this.onState(state, detail);
  }

  open() {
    this.timer = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry(`cannot open: ${e.message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.firstUnanswered = null;
    ws.addEventListener('open', () => {
      this.connects++;
      this.onOpen();
    });
    ws.addEventListener('message', (e) => {
      if (ws !== this.ws) return;
      this.firstUnanswered = null;
      this.onMessage(e.data);
    });
    ws.addEventListener('close', (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      const why = e.code === CLOSE_VERSION ? 'server speaks another protocol version' : e.reason || `closed (${e.code})`;
      this.retry(why);
    });
    // An error is always followed by close; the close handler retries.
    ws.addEventListener('error', () => {});
  }

  retry(detail) {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++);
    this.setState(STATE_RECONNECTING, `${detail}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.open(), delay);
  }

  markLive() {
    this.attempt = 0;
    this.setState(STATE_LIVE);
  }

  send(text) {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(text);
      if (this.firstUnanswered === null) this.firstUnanswered = this.now();
      return true;
    }
    return false;
  }

  /** Drops the current socket (for example on a protocol violation) and reconnects. */
  reset(detail) {
    const ws = this.ws;
    this.ws = null;
    // close() on a dead network never completes; the socket is abandoned either way.
    if (ws) ws.close(1000);
    this.retry(detail);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
