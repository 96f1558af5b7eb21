// Live numbers about the stream, for the overlay and for tests.
//
// `Stats` is a plain object of counters that the rest of the client increments; the page
// exposes it as `window.skerry.stats` so the browser tests read exactly what the overlay
// shows. Rates (fps, bitrate, decode time) are computed once a second from the counters.

import { CODEC_H264 } from './proto.js';

export class Stats {
  constructor() {
    this.connectedState = 'connecting';
    this.connects = 0;
    this.role = '';
    this.server = '';
    this.codec = '';
    this.frameWidth = 0;
    this.frameHeight = 0;
    this.videoMessages = 0;
    this.videoBytes = 0;
    this.framesDecoded = 0;
    this.keyframes = 0;
    this.refreshes = 0;
    this.lastFrameRefresh = false; // the newest frame is a paint-over refresh
    this.jpegRegions = 0;
    this.overlayTiles = 0; // JPEG 4:4:4 refresh tiles drawn over the H.264 picture
    this.partialDraws = 0; // H.264 frames drawn only inside their damage
    this.lastFrameId = -1;
    this.lastDecodedFrameId = -1;
    this.droppedMessages = 0;
    this.decodeErrors = 0;
    this.decoderConfigs = 0;
    this.keyframeRequests = 0;
    this.resizeChecks = 0; // debounced resize decisions taken
    this.resizesSent = 0;
    this.cursorSerial = -1;
    this.cursorHidden = false;
    this.rttMs = null;
    this.fps = 0;
    this.bitrateKbps = 0;
    this.decodeMs = 0;
    this.lastError = '';
    this.decoders = null;
    this.decodeSum = 0;
    this.decodeCount = 0;
    this.prev = { t: 0, frames: 0, bytes: 0 };
    this.services = []; // from the supervisor, through /api/status
    this.peers = []; // who is connected, from the server's `peers` message
  }

  /** Takes a `peers` message: the connected sessions (identity, role, you). */
  applyPeers(peers) {
    this.peers = (Array.isArray(peers) ? peers : []).map((p) => ({
      identity: String(p.identity ?? '?'),
      role: String(p.role ?? '?'),
      you: Boolean(p.you),
    }));
  }

  /** Takes the appliance's `/api/status` answer (the supervisor's services, if any). */
  applyStatus(status) {
    const services = status && Array.isArray(status.services) ? status.services : [];
    this.services = services.map((s) => ({
      name: String(s.name ?? '?'),
      state: String(s.state ?? '?'),
      restarts: Number(s.restarts ?? 0),
      cpuSeconds: typeof s.cpu_seconds === 'number' ? s.cpu_seconds : null,
      rssBytes: typeof s.rss_bytes === 'number' ? s.rss_bytes : null,
    }));
  }

  recordDecode(ms) {
    this.decodeSum += ms;
    this.decodeCount++;
  }

  recordVideo(msg, bytes) {
    this.videoMessages++;
    this.videoBytes += bytes;
    this.lastFrameId = msg.frameId;
    // An H.264 keyframe may be followed by its refresh tiles, which end the frame.
    if (msg.keyframe && (msg.endOfFrame || msg.codec === CODEC_H264)) this.keyframes++;
    if (msg.endOfFrame && msg.refresh) this.refreshes++;
    if (msg.endOfFrame) this.lastFrameRefresh = msg.refresh;
  }

  /** Updates the rates; call about once a second with the current time in ms. */
  tick(now) {
    const dt = (now - this.prev.t) / 1000;
    if (this.prev.t && dt > 0) {
      this.fps = round1((this.framesDecoded - this.prev.frames) / dt);
      this.bitrateKbps = round1(((this.videoBytes - this.prev.bytes) * 8) / 1000 / dt);
    }
    this.decodeMs = this.decodeCount ? round1(this.decodeSum / this.decodeCount) : 0;
    this.decodeSum = 0;
    this.decodeCount = 0;
    this.prev = { t: now, frames: this.framesDecoded, bytes: this.videoBytes };
  }

  /** Rows for the overlay: [label, value]. */
  rows() {
    return [
      ['state', this.connectedState],
      ['codec', this.codec || '—'],
      ['frame', this.frameWidth ? `${this.frameWidth}×${this.frameHeight}` : '—'],
      ['fps', String(this.fps)],
      ['bitrate', `${this.bitrateKbps} kbit/s`],
      ['decode', `${this.decodeMs} ms`],
      ['round trip', this.rttMs === null ? '—' : `${this.rttMs} ms`],
      ['frames', String(this.framesDecoded)],
      ['video', `${(this.videoBytes / 1e6).toFixed(2)} MB`],
      ['dropped', String(this.droppedMessages)],
      ['errors', String(this.decodeErrors)],
      ...this.peers.map((p) => ['connected', describePeer(p)]),
      ...this.services.map((s) => [s.name, describeService(s)]),
    ];
  }
}

const round1 = (v) => Math.round(v * 10) / 10;

/** "guest #3f2a · viewer" or "skerry · controller · you" */
export function describePeer(p) {
  return [p.identity, p.role, ...(p.you ? ['you'] : [])].join(' · ');
}

/** "running · 1 restart · 0.4 s CPU · 38 MB" */
export function describeService(s) {
  const parts = [s.state];
  if (s.restarts) parts.push(`${s.restarts} restart${s.restarts === 1 ? '' : 's'}`);
  if (s.cpuSeconds !== null) parts.push(`${s.cpuSeconds} s CPU`);
  if (s.rssBytes !== null) parts.push(`${Math.round(s.rssBytes / 1e6)} MB`);
  return parts.join(' · ');
}

/** Renders the rows into a <dl>, reusing its elements. */
export function renderStats(dl, stats) {
  const rows = stats.rows();
  while (dl.children.length < rows.length * 2) {
    dl.append(document.createElement('dt'), document.createElement('dd'));
  }
  rows.forEach(([k, v], i) => {
    dl.children[2 * i].textContent = k;
    dl.children[2 * i + 1].textContent = v;
  });
}
