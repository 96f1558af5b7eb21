// The browser's microphone to the desktop: off until the user turns it on. Captures with
// getUserMedia, encodes Opus with WebCodecs AudioEncoder (48 kHz, 20 ms packets) and sends
// binary kind 0x10 messages (docs/protocol.md) that the streamer plays into the desktop's
// default microphone.

export const MSG_MIC = 0x10;
const HEADER_LEN = 16;

export function micMessage(sequence, timestampUs, channels, opus) {
  const out = new Uint8Array(HEADER_LEN + opus.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, MSG_MIC);
  v.setUint8(1, channels);
  v.setUint32(4, sequence >>> 0, true);
  v.setBigUint64(8, BigInt(Math.max(0, Math.round(timestampUs))), true);
  out.set(opus, HEADER_LEN);
  return out.buffer;
}

export class Microphone {
  /** `send(arrayBuffer)` returns false when the connection is not open. */
  constructor(send) {
    this.send = send;
    this.on = false;
    this.sent = 0;
    this.stream = null;
    this.encoder = null;
    this.reader = null;
  }

  async start() {
    if (this.on) return;
    this.on = true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { sampleRate: 48000, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
      });
      const track = this.stream.getAudioTracks()[0];
      const settings = track.getSettings();
      const channels = Math.min(2, settings.channelCount || 1);
      let sequence = 0;
      this.encoder = new AudioEncoder({
        output: (chunk) => {
          const data = new Uint8Array(chunk.byteLength);
          chunk.copyTo(data);
          sequence += 1;
          if (this.send(micMessage(sequence, chunk.timestamp, channels, data))) this.sent += 1;
        },
        error: (e) => console.warn('microphone encoder', e),
      });
      this.encoder.configure({
        codec: 'opus',
        sampleRate: settings.sampleRate || 48000,
        numberOfChannels: channels,
        bitrate: 64000,
        opus: { frameDuration: 20000 },
      });
      const processor = new MediaStreamTrackProcessor({ track });
      this.reader = processor.readable.getReader();
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done || !this.on) {
          if (value) value.close();
          break;
        }
        if (this.encoder.state === 'configured') this.encoder.encode(value);
        value.close();
      }
    } catch (e) {
      console.warn('microphone unavailable', e);
      this.stop();
      throw e;
    }
  }

  stop() {
    this.on = false;
    if (this.reader) this.reader.cancel().catch(() => {});
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.encoder && this.encoder.state !== 'closed') this.encoder.close();
    this.reader = null;
    this.stream = null;
    this.encoder = null;
  }
}
