//! The audio messages' 16-byte header (docs/protocol.md, kinds 0x04 and 0x10): the same
//! layout both ways, so the browser's microphone packets are parsed by the code that writes
//! the desktop's sound.

/// Server → client: one Opus packet of the desktop's sound.
pub const KIND_AUDIO: u8 = 0x04;
/// Client → server: one Opus packet from the browser's microphone.
pub const KIND_MIC: u8 = 0x10;
/// Header length in bytes.
pub const HEADER_LEN: usize = 16;
/// The largest microphone message accepted (an Opus packet is at most 1275 bytes per
/// frame; 120 ms of frames fits well below this).
pub const MAX_MIC_MESSAGE: usize = 8 * 1024;

/// `kind u8, channels u8, reserved u16, sequence u32 LE, capture timestamp µs u64 LE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioHeader {
    pub kind: u8,
    pub channels: u8,
    pub sequence: u32,
    pub capture_us: u64,
}

impl AudioHeader {
    /// The whole message: header then one Opus packet.
    pub fn message(&self, opus: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + opus.len());
        out.push(self.kind);
        out.push(self.channels);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.capture_us.to_le_bytes());
        out.extend_from_slice(opus);
        out
    }

    /// Splits a message into its header and Opus packet.
    pub fn parse(msg: &[u8]) -> Option<(Self, &[u8])> {
        if msg.len() < HEADER_LEN {
            return None;
        }
        let sequence = u32::from_le_bytes(msg[4..8].try_into().ok()?);
        let capture_us = u64::from_le_bytes(msg[8..16].try_into().ok()?);
        Some((
            Self {
                kind: msg[0],
                channels: msg[1],
                sequence,
                capture_us,
            },
            &msg[HEADER_LEN..],
        ))
    }
}
