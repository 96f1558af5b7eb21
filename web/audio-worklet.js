// The player's audio thread: a small jitter buffer between decoded packets (posted from the
// page) and the sound card. It aims at TARGET seconds of buffered sound: on underrun it plays
// silence and waits for TARGET again; when the buffer grows past MAX (the network delivered
// a burst, or the two clocks drift) it drops the oldest sound back to TARGET, so latency
// never creeps up.

const TARGET = 0.05;
const MAX = 0.12;

class SkerryPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunks = []; // [left Float32Array, right Float32Array] per chunk
    this.offset = 0; // frames already played from chunks[0]
    this.buffered = 0; // frames queued
    this.playing = false;
    this.underruns = 0;
    this.dropped = 0;
    this.port.onmessage = (e) => {
      const { left, right } = e.data;
      this.chunks.push([left, right]);
      this.buffered += left.length;
      const target = Math.round(TARGET * sampleRate);
      if (this.buffered > MAX * sampleRate) {
        while (this.buffered > target && this.chunks.length > 1) {
          const [l] = this.chunks.shift();
          this.buffered -= l.length - this.offset;
          this.dropped += l.length - this.offset;
          this.offset = 0;
        }
      }
      if (!this.playing && this.buffered >= target) this.playing = true;
    };
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const n = out[0].length;
    if (!this.playing) return true;
    let i = 0;
    while (i < n && this.chunks.length) {
      const [l, r] = this.chunks[0];
      const take = Math.min(n - i, l.length - this.offset);
      out[0].set(l.subarray(this.offset, this.offset + take), i);
      if (out[1]) out[1].set(r.subarray(this.offset, this.offset + take), i);
      i += take;
      this.offset += take;
      this.buffered -= take;
      if (this.offset >= l.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    if (i < n) {
      // Underrun: the rest is silence (outputs start zeroed); wait for TARGET again.
      this.playing = false;
      this.underruns += 1;
      this.port.postMessage({ underruns: this.underruns, dropped: this.dropped });
    }
    return true;
  }
}

registerProcessor('skerry-player', SkerryPlayer);
