// Turns video messages into pixels on the canvas.
//
// H.264 goes through WebCodecs' VideoDecoder, configured from the SPS of a keyframe (a new
// SPS — a size change — reconfigures it). After a decoder error or a (re)connect nothing is
// decoded until the next keyframe, which is asked for. JPEG regions are decoded with
// createImageBitmap and drawn together once the frame's last region (end-of-frame flag)
// arrived, so a frame never shows half-updated.
//
// The canvas is never cleared: each frame draws only what arrived over what is already
// there — a keyframe whole, an H.264 P-frame only inside the macroblock rectangles of its
// damage list, JPEG stripes where they belong. The paint-over refresh of an H.264 stream
// brings JPEG 4:4:4 tiles (overlay flag) that are drawn over the decoded picture, and since
// later P-frames draw only where they changed, a typed glyph does not undo the sharpness
// anywhere else. Every frame and tile set is drawn in arrival order through one queue,
// whatever order the decoders finish in. The canvas's backing store is the frame size, one
// canvas pixel per output pixel.

import { CODEC_H264, CODEC_JPEG } from './proto.js';
import { codecFromSps, findSps, sameBytes } from './h264.js';

/** At most one keyframe request per this interval while waiting for one. */
const KEYFRAME_RETRY_MS = 1000;

export class VideoPipeline {
  /**
   * `canvas`: where frames are drawn. `stats`: the shared counters (stats.js).
   * `requestKeyframe()`: asks the server for a keyframe. `onFrameSize(w, h)`: the canvas's
   * backing size changed.
   */
  constructor(canvas, { stats, requestKeyframe, onFrameSize }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.stats = stats;
    this.requestKeyframe = requestKeyframe;
    this.onFrameSize = onFrameSize;
    this.decoder = null;
    this.sps = null;
    this.codec = '';
    this.pending = new Map(); // chunk timestamp → {start, width, height, frameId, damage, done}
    this.nextTimestamp = 0;
    this.jpegFrame = null;
    this.presentChain = Promise.resolve();
    this.lastKeyframeRequest = -Infinity;
    this.reset();
  }

  /** Forget decoder state; decode again from the next keyframe (after a reconnect). */
  reset() {
    this.closeDecoder();
    this.waitH264 = true;
    this.waitJpeg = true;
    this.jpegFrame = null;
    this.lastKeyframeRequest = -Infinity;
  }

  closeDecoder() {
    if (this.decoder && this.decoder.state !== 'closed') {
      try {
        this.decoder.close();
      } catch {
        // Already closed by an error; nothing to release.
      }
    }
    this.decoder = null;
    this.sps = null;
    // Frames that will never come out: their places in the queue are released.
    for (const entry of this.pending.values()) entry.done(null);
    this.pending.clear();
  }

  /** Appends a drawing step to the queue: `ready` resolves to what `draw` takes. */
  enqueue(ready, draw) {
    this.presentChain = this.presentChain
      .then(() => ready)
      .then(draw)
      .catch((e) => {
        // One step failing must not stop the ones after it.
        this.stats.decodeErrors++;
        this.stats.lastError = String(e && e.message ? e.message : e);
      });
  }

  needKeyframe() {
    const now = performance.now();
    if (now - this.lastKeyframeRequest < KEYFRAME_RETRY_MS) return;
    this.lastKeyframeRequest = now;
    this.stats.keyframeRequests++;
    this.requestKeyframe();
  }

  ensureSize(width, height) {
    if (!width || !height) return;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.stats.frameWidth = width;
      this.stats.frameHeight = height;
      this.onFrameSize(width, height);
    }
  }

  /** One parsed video message (proto.parseBinary). */
  handle(msg) {
    if (msg.codec === CODEC_H264) this.handleH264(msg);
    else if (msg.codec === CODEC_JPEG && msg.overlay) this.handleOverlay(msg);
    else if (msg.codec === CODEC_JPEG) this.handleJpeg(msg);
    else this.stats.droppedMessages++;
  }

  handleH264(msg) {
    if (typeof VideoDecoder === 'undefined') {
      this.stats.droppedMessages++;
      return;
    }
    if (msg.keyframe) {
      const sps = findSps(msg.payload);
      const usable = this.decoder && this.decoder.state === 'configured';
      if (sps && (!usable || !sameBytes(sps, this.sps))) {
        if (!this.configure(sps, msg)) return;
      }
      if (this.decoder && this.decoder.state === 'configured') this.waitH264 = false;
    }
    if (this.waitH264 || !this.decoder || this.decoder.state !== 'configured') {
      this.stats.droppedMessages++;
      this.needKeyframe();
      return;
    }
    const timestamp = this.nextTimestamp++;
    const entry = {
      start: performance.now(),
      width: msg.frameWidth,
      height: msg.frameHeight,
      frameId: msg.frameId,
      damage: msg.keyframe ? null : msg.damage,
      done: null,
    };
    const ready = new Promise((resolve) => {
      entry.done = resolve;
    });
    this.pending.set(timestamp, entry);
    this.enqueue(ready, (frame) => this.presentH264(entry, frame));
    try {
      this.decoder.decode(
        new EncodedVideoChunk({ type: msg.keyframe ? 'key' : 'delta', timestamp, data: msg.payload }),
      );
    } catch (e) {
      this.decoderFailed(e);
    }
  }

  configure(sps, msg) {
    let codec;
    try {
      codec = codecFromSps(sps);
    } catch (e) {
      this.decoderFailed(e);
      return false;
    }
    if (!this.decoder || this.decoder.state === 'closed') {
      this.decoder = new VideoDecoder({
        output: (frame) => this.onDecoded(frame),
        error: (e) => this.decoderFailed(e),
      });
    }
    try {
      this.decoder.configure({
        codec,
        codedWidth: msg.frameWidth,
        codedHeight: msg.frameHeight,
        optimizeForLatency: true,
      });
    } catch (e) {
      this.decoderFailed(e);
      return false;
    }
    this.sps = sps.slice();
    this.codec = codec;
    this.stats.codec = codec;
    this.stats.decoderConfigs++;
    return true;
  }

  onDecoded(frame) {
    const entry = this.pending.get(frame.timestamp);
    if (!entry) {
      frame.close();
      return;
    }
    // Output comes in decode order; anything older that never came out is released.
    for (const [t, e] of this.pending) {
      if (t >= frame.timestamp) break;
      e.done(null);
      this.pending.delete(t);
    }
    this.pending.delete(frame.timestamp);
    entry.done(frame);
  }

  /** Draws a decoded frame: whole, or only inside its damage list. */
  presentH264(entry, frame) {
    if (!frame) return;
    try {
      this.ensureSize(entry.width, entry.height);
      if (entry.damage) {
        for (const r of entry.damage) {
          this.ctx.drawImage(frame, r.x, r.y, r.width, r.height, r.x, r.y, r.width, r.height);
        }
        this.stats.partialDraws++;
      } else {
        this.ctx.drawImage(frame, 0, 0);
      }
    } finally {
      frame.close();
    }
    this.stats.framesDecoded++;
    this.stats.codec = this.codec;
    this.stats.recordDecode(performance.now() - entry.start);
    this.stats.lastDecodedFrameId = entry.frameId;
  }

  /**
   * A JPEG 4:4:4 tile of an H.264 paint-over refresh. Tiles of one frame are drawn together,
   * after the H.264 frame they belong to; without a decoded picture under them they wait
   * for the keyframe that is already asked for.
   */
  handleOverlay(msg) {
    if (this.waitH264) {
      this.stats.droppedMessages++;
      return;
    }
    const f = this.collectJpeg(msg);
    if (!msg.endOfFrame) return;
    const all = Promise.allSettled(f.parts);
    this.enqueue(all, (results) => {
      for (const r of results) {
        if (r.status !== 'fulfilled') {
          this.stats.decodeErrors++;
          continue;
        }
        const { bitmap, region } = r.value;
        this.ctx.drawImage(bitmap, region.x, region.y, region.width, region.height);
        bitmap.close();
        this.stats.overlayTiles++;
      }
    });
  }

  /** Adds a JPEG region to the frame it belongs to; returns that frame. */
  collectJpeg(msg) {
    if (!this.jpegFrame || this.jpegFrame.id !== msg.frameId) {
      // A frame whose end never came is dropped whole rather than shown half-done.
      if (this.jpegFrame) this.stats.droppedMessages += this.jpegFrame.parts.length;
      this.jpegFrame = {
        id: msg.frameId,
        start: performance.now(),
        width: msg.frameWidth,
        height: msg.frameHeight,
        parts: [],
      };
    }
    const f = this.jpegFrame;
    const region = { x: msg.x, y: msg.y, width: msg.width, height: msg.height };
    f.parts.push(
      createImageBitmap(new Blob([msg.payload], { type: 'image/jpeg' })).then((bitmap) => ({ bitmap, region })),
    );
    this.stats.jpegRegions++;
    if (msg.endOfFrame) this.jpegFrame = null;
    return f;
  }

  decoderFailed(e) {
    this.stats.decodeErrors++;
    this.stats.lastError = String(e && e.message ? e.message : e);
    this.closeDecoder();
    this.waitH264 = true;
    this.needKeyframe();
  }

  handleJpeg(msg) {
    if (msg.keyframe) this.waitJpeg = false;
    if (this.waitJpeg) {
      this.stats.droppedMessages++;
      this.needKeyframe();
      return;
    }
    const f = this.collectJpeg(msg);
    if (!msg.endOfFrame) return;
    this.enqueue(Promise.allSettled(f.parts), (results) => this.presentJpeg(f, results));
  }

  presentJpeg(f, results) {
    let failed = 0;
    this.ensureSize(f.width, f.height);
    for (const r of results) {
      if (r.status !== 'fulfilled') {
        failed++;
        continue;
      }
      const { bitmap, region } = r.value;
      this.ctx.drawImage(bitmap, region.x, region.y, region.width, region.height);
      bitmap.close();
    }
    if (failed) {
      this.stats.decodeErrors++;
      this.waitJpeg = true;
      this.needKeyframe();
      return;
    }
    this.stats.codec = 'jpeg';
    this.stats.framesDecoded++;
    this.stats.lastDecodedFrameId = f.id;
    this.stats.recordDecode(performance.now() - f.start);
  }
}

/**
 * What this browser decodes, for `hello.decoders`. H.264 counts when either High or
 * Constrained Baseline configures; 4:4:4 needs High 4:4:4 Predictive.
 */
export async function probeDecoders({ high, baseline, high444 }) {
  const supported = async (codec) => {
    if (typeof VideoDecoder === 'undefined') return false;
    try {
      const r = await VideoDecoder.isConfigSupported({ codec, codedWidth: 1920, codedHeight: 1080 });
      return Boolean(r.supported);
    } catch {
      return false;
    }
  };
  const [h, b, x] = await Promise.all([supported(high), supported(baseline), supported(high444)]);
  return {
    h264: h || b,
    h264_444: x,
    jpeg: typeof createImageBitmap === 'function',
  };
}
