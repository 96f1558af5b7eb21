//! The silence gate: a desktop that makes no sound sends no audio bytes.
//!
//! A chunk is silent when its loudest sample is at or below a threshold (digital silence
//! and dither-level noise). Sending stops only after several silent chunks in a row, so the
//! quiet gaps inside speech or music are still sent; it resumes with the first loud chunk.

/// Samples at or below this magnitude (of 32767) count as silence: about −72 dBFS.
pub const DEFAULT_THRESHOLD: i16 = 8;
/// Silent chunks in a row after which sending stops (200 ms of 10 ms chunks).
pub const DEFAULT_HANGOVER: u32 = 20;

#[derive(Debug, Clone)]
pub struct SilenceGate {
    threshold: i16,
    hangover: u32,
    silent_run: u32,
}

impl Default for SilenceGate {
    fn default() -> Self {
        Self::new(DEFAULT_THRESHOLD, DEFAULT_HANGOVER)
    }
}

impl SilenceGate {
    pub fn new(threshold: i16, hangover: u32) -> Self {
        Self {
            threshold,
            hangover,
            // Start closed: nothing is sent until there is sound.
            silent_run: hangover,
        }
    }

    /// Whether this chunk should be encoded and sent.
    pub fn pass(&mut self, samples: &[i16]) -> bool {
        let loud = samples
            .iter()
            .any(|s| s.unsigned_abs() > self.threshold.unsigned_abs());
        if loud {
            self.silent_run = 0;
            true
        } else {
            self.silent_run = self.silent_run.saturating_add(1);
            self.silent_run <= self.hangover
        }
    }
}
