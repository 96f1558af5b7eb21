//! Opus at 48 kHz, the only rate the browser's `AudioDecoder`/`AudioEncoder` and Skerry
//! agree on without resampling.

use super::AudioError;

pub const SAMPLE_RATE: u32 = 48_000;
pub const CHANNELS: usize = 2;
/// 10 ms chunks: low latency, and a size Opus encodes natively.
pub const CHUNK_FRAMES: usize = 480;
/// The most one decode call may produce: 120 ms, Opus's longest packet.
const MAX_DECODED_FRAMES: usize = 5760;

/// A stereo Opus encoder tuned for low delay.
pub struct Encoder {
    inner: opus::Encoder,
    out: Vec<u8>,
}

impl Encoder {
    pub fn new(bitrate: u32) -> Result<Self, AudioError> {
        let mut inner = opus::Encoder::new(
            SAMPLE_RATE,
            opus::Channels::Stereo,
            opus::Application::LowDelay,
        )?;
        inner.set_bitrate(opus::Bitrate::Bits(bitrate.min(i32::MAX as u32) as i32))?;
        Ok(Self {
            inner,
            out: vec![0; 4000],
        })
    }

    /// Encodes one chunk of interleaved stereo samples into one packet.
    pub fn encode(&mut self, interleaved: &[i16]) -> Result<&[u8], AudioError> {
        let n = self.inner.encode(interleaved, &mut self.out)?;
        Ok(&self.out[..n])
    }
}

/// Decodes mono or stereo Opus packets to interleaved stereo.
pub struct Decoder {
    inner: opus::Decoder,
    out: Vec<i16>,
}

impl Decoder {
    pub fn new() -> Result<Self, AudioError> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Stereo)?,
            out: vec![0; MAX_DECODED_FRAMES * CHANNELS],
        })
    }

    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], AudioError> {
        let frames = self.inner.decode(packet, &mut self.out, false)?;
        Ok(&self.out[..frames * CHANNELS])
    }
}
