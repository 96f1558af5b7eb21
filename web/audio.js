// The desktop's sound: binary kind 0x04 messages (docs/protocol.md) decoded with WebCodecs
// AudioDecoder and played by an AudioWorklet jitter buffer (audio-worklet.js).
//
// Decoding starts with the first packet; playback needs an AudioContext, which browsers
// allow only after a user gesture, so the page shows a hint until the first click or key.
// `tap` keeps the first decoded samples so tests can measure what arrived.

export const MSG_AUDIO = 0x04;
export const AUDIO_HEADER_LEN = 16;

export function parseAudio(data) {
  const v = new DataView(data instanceof ArrayBuffer ? data : data.buffer, data.byteOffset || 0);
  if (v.byteLength < AUDIO_HEADER_LEN || v.getUint8(0) !== MSG_AUDIO) return null;
  return {
    channels: v.getUint8(1),
    sequence: v.getUint32(4, true),
    captureUs: Number(v.getBigUint64(8, true)),
    opus: new Uint8Array(v.buffer, v.byteOffset + AUDIO_HEADER_LEN, v.byteLength - AUDIO_HEADER_LEN),
  };
}

export class AudioPlayer {
  constructor({ hint, tapFrames = 48000 } = {}) {
    this.hint = hint || null;
    this.packets = 0;
    this.decoded = 0;
    this.lost = 0;
    this.lastSequence = null;
    this.tap = new Float32Array(tapFrames);
    this.tapped = 0;
    this.volume = 1;
    this.muted = false;
    this.ctx = null;
    this.node = null;
    this.gain = null;
    this.decoder = null;
    this.unlock = () => this.start();
    for (const ev of ['pointerdown', 'keydown']) window.addEventListener(ev, this.unlock, { capture: true });
  }

  /** Starts playback; called from a user gesture. */
  async start() {
    if (this.ctx) return;
    for (const ev of ['pointerdown', 'keydown']) window.removeEventListener(ev, this.unlock, { capture: true });
    try {
      this.ctx = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
      await this.ctx.audioWorklet.addModule(new URL('./audio-worklet.js', import.meta.url));
      this.node = new AudioWorkletNode(this.ctx, 'skerry-player', { outputChannelCount: [2] });
      this.gain = new GainNode(this.ctx);
      this.node.connect(this.gain).connect(this.ctx.destination);
      this.applyVolume();
      await this.ctx.resume();
      if (this.hint) this.hint.hidden = true;
    } catch (e) {
      console.warn('audio playback unavailable', e);
    }
  }

  setVolume(v) {
    this.volume = Math.max(0, Math.min(1, v));
    this.applyVolume();
  }

  setMuted(m) {
    this.muted = m;
    this.applyVolume();
  }

  applyVolume() {
    if (this.gain) this.gain.gain.value = this.muted ? 0 : this.volume;
  }

  decoderFor() {
    if (this.decoder && this.decoder.state === 'configured') return this.decoder;
    if (typeof AudioDecoder === 'undefined') return null;
    this.decoder = new AudioDecoder({
      output: (data) => this.output(data),
      error: (e) => {
        console.warn('audio decoder', e);
        this.decoder = null;
      },
    });
    this.decoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 2 });
    return this.decoder;
  }

  handle(data) {
    const msg = parseAudio(data);
    if (!msg) return;
    this.packets += 1;
    if (this.lastSequence !== null) this.lost += Math.max(0, ((msg.sequence - this.lastSequence - 1) >>> 0) % 1000);
    this.lastSequence = msg.sequence;
    const dec = this.decoderFor();
    if (!dec) return;
    if (this.hint && !this.ctx) this.hint.hidden = false;
    dec.decode(new EncodedAudioChunk({ type: 'key', timestamp: msg.captureUs, data: msg.opus }));
  }

  output(data) {
    const frames = data.numberOfFrames;
    const left = new Float32Array(frames);
    const right = new Float32Array(frames);
    data.copyTo(left, { planeIndex: 0, format: 'f32-planar' });
    data.copyTo(right, { planeIndex: data.numberOfChannels > 1 ? 1 : 0, format: 'f32-planar' });
    data.close();
    this.decoded += frames;
    if (this.tapped < this.tap.length) {
      const n = Math.min(frames, this.tap.length - this.tapped);
      this.tap.set(left.subarray(0, n), this.tapped);
      this.tapped += n;
    }
    if (this.node) this.node.port.postMessage({ left, right }, [left.buffer, right.buffer]);
  }

  /** Clears the tap so a test can capture from now on. */
  resetTap() {
    this.tapped = 0;
  }
}
