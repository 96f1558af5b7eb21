// Skerry's browser client: wires the connection, decoders, input, cursor, stats and settings
// together. Everything that can be decided without a browser lives in the pure modules
// (proto, h264, geometry, keyboard, backoff), which the Node tests cover; this file is the
// DOM glue and is exercised by the browser tests.

import * as proto from './proto.js';
import { Connection, STATE_LIVE, wsUrl } from './connection.js';
import { VideoPipeline, probeDecoders } from './video.js';
import { PROBE_H264, PROBE_H264_444, PROBE_H264_BASELINE } from './h264.js';
import { attachKeyboard } from './keyboard.js';
import { attachPointer, toggleFullscreen } from './input.js';
import { CursorView } from './cursor.js';
import { Stats, renderStats } from './stats.js';
import { SettingsPanel } from './settings.js';
import { desiredSize, fitFrame, snappedOffset } from './geometry.js';
import { attachFiles } from './files.js';
import { ClipboardSync } from './clipboard.js';
import { setupAudio, MSG_AUDIO } from './audio-ui.js';
import { attachShare } from './share.js';

const PING_INTERVAL_MS = 2000;
const RESIZE_DEBOUNCE_MS = 300;

const $ = (id) => document.getElementById(id);

const stage = $('stage');
const canvas = $('screen');
const keys = $('keys');
const statusEl = $('status');
const statsPanel = $('stats');
const settingsPanelEl = $('settings');

const stats = new Stats();
let role = 'controller';
let live = false;
let lastResize = null;
let frame = { width: 0, height: 0 };

function sendObject(obj) {
  if (!live) return false;
  if (role === 'viewer' && obj.type !== 'ping' && obj.type !== 'keyframe') return false;
  if (obj.type === 'text') {
    for (const part of proto.splitText(obj.text)) conn.send(JSON.stringify({ type: 'text', text: part }));
    return true;
  }
  return conn.send(JSON.stringify(obj));
}

// Video

const video = new VideoPipeline(canvas, {
  stats,
  requestKeyframe: () => conn.send(proto.keyframe()),
  onFrameSize: (w, h) => {
    frame = { width: w, height: h };
    layout();
  },
});

// Layout: the canvas keeps one output pixel per device pixel whenever it fits.

function stageBox() {
  const r = stage.getBoundingClientRect();
  return { width: r.width, height: r.height, left: r.left, top: r.top };
}

function layout() {
  const dpr = window.devicePixelRatio || 1;
  const box = stageBox();
  const fit = fitFrame(frame, box, dpr);
  canvas.style.width = `${fit.width}px`;
  canvas.style.height = `${fit.height}px`;
  const x = snappedOffset(box.left, box.width, fit.width, dpr);
  const y = snappedOffset(box.top, box.height, fit.height, dpr);
  canvas.style.transform = `translate(${x}px, ${y}px)`;
  cursor.setScale(fit.scale || 1);
}

// Resize: follow the window (and devicePixelRatio) unless a manual resolution is set.

let resizeTimer = null;

function scheduleResize() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(sendResize, RESIZE_DEBOUNCE_MS);
}

function sendResize() {
  stats.resizeChecks++;
  if (!live || settings.manualResolution) return;
  const want = desiredSize(stageBox(), window.devicePixelRatio || 1);
  if (lastResize && lastResize.width === want.width && lastResize.height === want.height && lastResize.scale === want.scale) {
    return;
  }
  if (conn.send(proto.resize(want.width, want.height, want.scale))) {
    lastResize = want;
    stats.resizesSent++;
  }
}

new ResizeObserver(() => {
  layout();
  scheduleResize();
}).observe(stage);

function watchDpr() {
  const mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  mq.addEventListener(
    'change',
    () => {
      layout();
      scheduleResize();
      watchDpr();
    },
    { once: true },
  );
}
watchDpr();

// Cursor

const cursor = new CursorView(canvas, $('soft-cursor'));

// Input

const keyboard = attachKeyboard(keys, sendObject);
const focusKeys = () => {
  if (document.activeElement !== keys) keys.focus({ preventScroll: true });
};
const pointer = attachPointer(canvas, {
  send: sendObject,
  frameSize: () => frame,
  onMove: (x, y, rect) => cursor.moveTo(x, y, rect),
  focusKeys,
  onLockChange: (locked) => {
    cursor.setLocked(locked);
    $('btn-lock').setAttribute('aria-pressed', String(locked));
  },
});

function releaseAll() {
  pointer.reset();
  keyboard.release();
}
window.addEventListener('blur', releaseAll);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') releaseAll();
});

// Clipboard

const clipboard = new ClipboardSync({
  send: (bytes) => live && role !== 'viewer' && conn.send(bytes),
  canControl: () => live && role !== 'viewer',
  els: { text: $('clip-text'), primary: $('clip-primary'), image: $('clip-image'), notice: $('clip-notice') },
});
clipboard.attach(keys);

// Settings and panels

const settings = new SettingsPanel(
  $('settings-form'),
  (changes) => {
    $('settings-error').hidden = true;
    conn.send(proto.settings(changes));
  },
  () => frame,
);

function togglePanel(button, panel) {
  const show = panel.hidden;
  panel.hidden = !show;
  button.setAttribute('aria-expanded', String(show));
  if (panel === statsPanel && show) renderStats($('stats-list'), stats);
}
$('btn-stats').addEventListener('click', () => togglePanel($('btn-stats'), statsPanel));
$('btn-settings').addEventListener('click', () => togglePanel($('btn-settings'), settingsPanelEl));
$('btn-clipboard').addEventListener('click', () => togglePanel($('btn-clipboard'), $('clipboard')));
$('btn-share').addEventListener('click', () => togglePanel($('btn-share'), $('share')));
$('btn-fullscreen').addEventListener('click', () => toggleFullscreen().catch(() => {}));
$('btn-lock').addEventListener('click', () => pointer.lock().catch(() => {}));
attachFiles({ stage, bar: document.querySelector('.bar'), before: $('btn-settings') });

setInterval(() => {
  stats.tick(performance.now());
  if (!statsPanel.hidden) renderStats($('stats-list'), stats);
}, 1000);

// The supervisor's view of every service, shown in the stats panel while it is open.
setInterval(() => {
  if (statsPanel.hidden) return;
  fetch('api/status', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : null))
    .then((status) => stats.applyStatus(status))
    .catch(() => {});
}, 3000);

setInterval(() => {
  if (live) conn.send(proto.ping(performance.now()));
}, PING_INTERVAL_MS);

// Connection

function showState(state, detail) {
  stats.connectedState = state;
  statusEl.dataset.state = state;
  statusEl.textContent = state;
  statusEl.title = detail || '';
}

function onText(data) {
  const msg = proto.parseText(data);
  switch (msg.type) {
    case 'hello':
      role = msg.role || 'controller';
      stats.role = role;
      stats.server = msg.server || '';
      live = true;
      stats.connects++;
      conn.markLive();
      document.body.dataset.role = role;
      lastResize = msg.width ? { width: msg.width, height: msg.height, scale: msg.scale } : null;
      scheduleResize();
      break;
    case 'settings':
      settings.reflect(msg);
      stats.settings = settings.current;
      break;
    case 'mode':
      lastResize = { width: msg.width, height: msg.height, scale: msg.scale };
      break;
    case 'peers':
      stats.applyPeers(msg.peers);
      if (!statsPanel.hidden) renderStats($('stats-list'), stats);
      break;
    case 'pong':
      if (typeof msg.t === 'number') stats.rttMs = Math.round((performance.now() - msg.t) * 10) / 10;
      break;
    case 'error':
      stats.lastError = `${msg.code}: ${msg.message}`;
      statusEl.title = stats.lastError;
      if (msg.code === 'clipboard') clipboard.handleError(msg.message);
      if (msg.code === 'settings') {
        // A refused change: the unchanged settings follow; say why it did not apply.
        const el = $('settings-error');
        el.textContent = msg.message;
        el.hidden = false;
      }
      break;
    default:
      // Types from a newer server are not an error for the client.
      break;
  }
}

function onBinary(data) {
  if (new Uint8Array(data, 0, 1)[0] === MSG_AUDIO) return audio.player.handle(data);
  if (clipboard.handleBinary(data)) return;
  const msg = proto.parseBinary(data);
  switch (msg.kind) {
    case 'video':
      stats.recordVideo(msg, data.byteLength);
      video.handle(msg);
      break;
    case 'cursor':
      stats.cursorSerial = msg.serial;
      stats.cursorHidden = msg.hidden;
      cursor.setImage(msg);
      break;
    case 'cursorPosition': {
      cursor.moveTo(msg.x, msg.y, canvas.getBoundingClientRect());
      break;
    }
  }
}

const conn = new Connection(wsUrl(document.baseURI), {
  onOpen: () => {
    live = false;
    video.reset();
    const box = stageBox();
    const size = box.width && box.height ? desiredSize(box, window.devicePixelRatio || 1) : null;
    conn.send(proto.hello(stats.decoders, size));
  },
  onMessage: (data) => {
    try {
      if (typeof data === 'string') onText(data);
      else onBinary(data);
    } catch (e) {
      stats.lastError = String(e.message || e);
      conn.reset(`protocol error: ${stats.lastError}`);
    }
  },
  onState: (state, detail) => {
    if (state !== STATE_LIVE) live = false;
    showState(state, detail);
  },
});

const audio = setupAudio((bytes) => conn.send(bytes));
window.skerry = { stats, connection: conn, video, settings, send: sendObject, clipboard, audio };

stats.decoders = await probeDecoders({ high: PROBE_H264, baseline: PROBE_H264_BASELINE, high444: PROBE_H264_444 });
if (!stats.decoders.h264) {
  statusEl.title = window.isSecureContext
    ? 'this browser cannot decode H.264; using JPEG'
    : 'not a secure context: H.264 decoding needs https; using JPEG';
}
conn.start();
focusKeys();
attachShare({
  button: $('btn-share'),
  panel: $('share'),
  form: $('share-form'),
  list: $('share-list'),
  error: $('share-error'),
  logout: $('logout'),
}).then((session) => {
  if (session) stats.identity = session.identity;
});
