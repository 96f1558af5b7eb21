// Skerry wire protocol, version 1 (docs/protocol.md), for the browser side.
//
// Pure functions only: parsing the server's binary messages, parsing and building JSON
// control messages. Nothing here touches the DOM, so Node's test runner imports it as is and
// checks it against hand-written byte layouts.

export const PROTOCOL_VERSION = 1;

export const MSG_VIDEO = 0x01;
export const MSG_CURSOR_IMAGE = 0x02;
export const MSG_CURSOR_POSITION = 0x03;

export const CODEC_H264 = 1;
export const CODEC_JPEG = 2;

export const FLAG_KEYFRAME = 1 << 0;
export const FLAG_REFRESH = 1 << 1;
export const FLAG_CHROMA444 = 1 << 2;
export const FLAG_END_OF_FRAME = 1 << 3;
export const FLAG_DAMAGE = 1 << 4;
export const FLAG_OVERLAY = 1 << 5;
/** Most rectangles a damage list may carry. */
export const MAX_DAMAGE_RECTS = 64;

export const VIDEO_HEADER_LEN = 28;
export const CURSOR_HEADER_LEN = 16;
export const CURSOR_POSITION_LEN = 12;
export const CURSOR_MAX_SIZE = 256;

/** Close codes the server uses (docs/protocol.md, "WebSocket close codes"). */
export const CLOSE_VERSION = 4001;

/** Settings fields the server accepts, with the type the form must produce. */
export const SETTINGS_FIELDS = Object.freeze({
  encoder: 'string',
  fps: 'int',
  motion_crf: 'int',
  refresh_crf: 'int',
  jpeg_quality: 'int',
  refresh_jpeg_quality: 'int',
  chroma444: 'bool',
  paint_over_ms: 'int',
  manual_resolution: 'resolution',
});

export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function asView(data) {
  if (data instanceof ArrayBuffer) return new DataView(data);
  if (ArrayBuffer.isView(data)) return new DataView(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolError('binary message is not an ArrayBuffer');
}

/**
 * Parses one binary server message. Returns a plain object whose `kind` is `video`, `cursor`
 * or `cursorPosition`; the payload / pixels are views into the same buffer (no copy).
 * Throws ProtocolError on a message that is too short or of an unknown kind.
 */
export function parseBinary(data) {
  const v = asView(data);
  if (v.byteLength < 1) throw new ProtocolError('empty binary message');
  const kind = v.getUint8(0);
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  switch (kind) {
    case MSG_VIDEO: {
      if (v.byteLength < VIDEO_HEADER_LEN) throw new ProtocolError('video message too short');
      const flags = v.getUint8(2);
      let start = VIDEO_HEADER_LEN;
      let damage = null;
      if (flags & FLAG_DAMAGE) {
        // u16 count, then x, y, width, height (u16) per rectangle.
        if (v.byteLength < start + 2) throw new ProtocolError('video damage list is truncated');
        const n = v.getUint16(start, true);
        if (n > MAX_DAMAGE_RECTS) throw new ProtocolError(`video damage list has ${n} rectangles`);
        if (v.byteLength < start + 2 + n * 8) throw new ProtocolError('video damage list is truncated');
        damage = [];
        for (let i = 0; i < n; i++) {
          const o = start + 2 + i * 8;
          damage.push({
            x: v.getUint16(o, true),
            y: v.getUint16(o + 2, true),
            width: v.getUint16(o + 4, true),
            height: v.getUint16(o + 6, true),
          });
        }
        start += 2 + n * 8;
      }
      return {
        kind: 'video',
        codec: v.getUint8(1),
        flags,
        keyframe: (flags & FLAG_KEYFRAME) !== 0,
        refresh: (flags & FLAG_REFRESH) !== 0,
        chroma444: (flags & FLAG_CHROMA444) !== 0,
        endOfFrame: (flags & FLAG_END_OF_FRAME) !== 0,
        overlay: (flags & FLAG_OVERLAY) !== 0,
        damage,
        frameId: v.getUint32(4, true),
        captureTimeUs: v.getBigUint64(8, true),
        x: v.getUint16(16, true),
        y: v.getUint16(18, true),
        width: v.getUint16(20, true),
        height: v.getUint16(22, true),
        frameWidth: v.getUint16(24, true),
        frameHeight: v.getUint16(26, true),
        payload: bytes.subarray(start),
      };
    }
    case MSG_CURSOR_IMAGE: {
      if (v.byteLength < CURSOR_HEADER_LEN) throw new ProtocolError('cursor message too short');
      const hidden = (v.getUint8(1) & 1) !== 0;
      const width = v.getUint16(12, true);
      const height = v.getUint16(14, true);
      const msg = {
        kind: 'cursor',
        hidden,
        serial: v.getUint32(4, true),
        hotspotX: v.getUint16(8, true),
        hotspotY: v.getUint16(10, true),
        width,
        height,
        rgba: null,
      };
      if (!hidden) {
        if (width > CURSOR_MAX_SIZE || height > CURSOR_MAX_SIZE) {
          throw new ProtocolError(`cursor ${width}x${height} is larger than ${CURSOR_MAX_SIZE}`);
        }
        const need = CURSOR_HEADER_LEN + width * height * 4;
        if (v.byteLength < need) throw new ProtocolError('cursor pixels truncated');
        msg.rgba = bytes.subarray(CURSOR_HEADER_LEN, need);
      }
      return msg;
    }
    case MSG_CURSOR_POSITION: {
      if (v.byteLength < CURSOR_POSITION_LEN) throw new ProtocolError('cursor position too short');
      return { kind: 'cursorPosition', x: v.getInt32(4, true), y: v.getInt32(8, true) };
    }
    default:
      throw new ProtocolError(`unknown binary message kind ${kind}`);
  }
}

/** Parses a JSON text message from the server; throws ProtocolError if it has no `type`. */
export function parseText(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError(`server sent invalid JSON: ${e.message}`);
  }
  if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
    throw new ProtocolError('server message has no type');
  }
  return msg;
}

// Builders for client → server messages. Each returns the JSON text to send.

export function hello(decoders, size) {
  const msg = {
    type: 'hello',
    version: PROTOCOL_VERSION,
    decoders: {
      h264: Boolean(decoders.h264),
      h264_444: Boolean(decoders.h264_444),
      jpeg: Boolean(decoders.jpeg),
    },
  };
  if (size) {
    msg.width = size.width;
    msg.height = size.height;
    msg.scale = size.scale;
  }
  return JSON.stringify(msg);
}

export const key = (code, down) => JSON.stringify({ type: 'key', code, down });
export const text = (t) => JSON.stringify({ type: 'text', text: t });
export const pointer = (x, y) => JSON.stringify({ type: 'pointer', x, y });
export const pointerRel = (dx, dy) => JSON.stringify({ type: 'pointer_rel', dx, dy });
export const button = (b, down) => JSON.stringify({ type: 'button', button: b, down });
export const wheel = (dx, dy, mode) => JSON.stringify({ type: 'wheel', dx, dy, mode });
export const releaseAll = () => JSON.stringify({ type: 'release_all' });
export const resize = (width, height, scale) => JSON.stringify({ type: 'resize', width, height, scale });
export const keyframe = () => JSON.stringify({ type: 'keyframe' });
export const ping = (t) => JSON.stringify({ type: 'ping', t });

/** A `settings` message with only the known fields of `changes`. */
export function settings(changes) {
  const msg = { type: 'settings' };
  for (const [k, val] of Object.entries(changes)) {
    if (k in SETTINGS_FIELDS) msg[k] = val;
  }
  return JSON.stringify(msg);
}

/** The protocol's limit on `text` messages, in UTF-8 bytes. */
export const TEXT_MAX_BYTES = 4096;

/**
 * Splits text into chunks of at most TEXT_MAX_BYTES UTF-8 bytes without cutting a code
 * point, so a large paste still fits the server's limit.
 */
export function splitText(t, max = TEXT_MAX_BYTES) {
  const out = [];
  let cur = '';
  let curBytes = 0;
  for (const ch of t) {
    const n = utf8Len(ch);
    if (curBytes + n > max && cur) {
      out.push(cur);
      cur = '';
      curBytes = 0;
    }
    cur += ch;
    curBytes += n;
  }
  if (cur) out.push(cur);
  return out;
}

function utf8Len(ch) {
  const c = ch.codePointAt(0);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c < 0x10000) return 3;
  return 4;
}
