//! The desktop's sound to the browser and the browser's microphone to the desktop.
//!
//! Audio is its own path next to video: a capture thread records the audio server's output
//! monitor, drops silence ([`gate`]), encodes Opus once ([`codec`]) and publishes to every
//! viewer's bounded queue ([`hub`]); the WebSocket writer sends those messages ([`wire`]) as
//! they come. The audio server may be absent or restart: the threads retry on their own
//! and nothing else waits for them.

pub mod codec;
pub mod gate;
pub mod hub;
pub mod pulse;
pub mod wire;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

pub use hub::{AudioHub, Subscription};

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("audio server: {0}")]
    Pulse(#[from] libpulse_binding::error::PAErr),
    #[error("{0}")]
    Config(String),
}

/// Microphone packets waiting for the playback thread (about 0.5 s of 10–20 ms packets).
const MIC_QUEUE: usize = 32;

#[derive(Debug, Clone)]
pub struct AudioOptions {
    /// Opus bitrate in bit/s (`SKERRY_AUDIO_BITRATE`).
    pub bitrate: u32,
    /// The source to record (`SKERRY_AUDIO_MONITOR`).
    pub monitor: String,
    /// The sink the microphone is played into (`SKERRY_AUDIO_MIC_SINK`).
    pub mic_sink: String,
}

impl AudioOptions {
    /// Reads `SKERRY_AUDIO_BITRATE` (bit/s, or with a `k` suffix), the devices, and
    /// `SKERRY_AUDIO` (`off` disables audio).
    pub fn from_env() -> Result<Option<Self>, AudioError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if var("SKERRY_AUDIO").is_some_and(|v| v == "off" || v == "0" || v == "false") {
            return Ok(None);
        }
        let bitrate = match var("SKERRY_AUDIO_BITRATE") {
            None => 128_000,
            Some(v) => parse_bitrate(&v)?,
        };
        Ok(Some(Self {
            bitrate,
            monitor: var("SKERRY_AUDIO_MONITOR").unwrap_or_else(|| "skerry_out.monitor".into()),
            mic_sink: var("SKERRY_AUDIO_MIC_SINK").unwrap_or_else(|| "skerry_mic_in".into()),
        }))
    }
}

/// `128000`, `128k`: between 6 and 510 kbit/s, Opus's range.
pub fn parse_bitrate(v: &str) -> Result<u32, AudioError> {
    let v = v.trim();
    let (num, mult) = match v.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1000),
        None => (v, 1),
    };
    num.parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|b| (6_000..=510_000).contains(b))
        .ok_or_else(|| {
            AudioError::Config(format!(
                "SKERRY_AUDIO_BITRATE={v:?}: expected bit/s from 6000 to 510000 (or 6k to 510k)"
            ))
        })
}

/// The audio side as the server sees it: where viewers subscribe and where the
/// microphone's packets go.
#[derive(Clone, Default)]
pub struct Audio {
    pub hub: AudioHub,
    mic: Arc<Mutex<Option<SyncSender<Bytes>>>>,
}

impl Audio {
    /// Starts the capture and microphone threads.
    pub fn start(opts: AudioOptions, epoch: Instant, stop: Arc<AtomicBool>) -> Self {
        let audio = Self::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(MIC_QUEUE);
        if let Ok(mut m) = audio.mic.lock() {
            *m = Some(tx);
        }
        let (hub, o, s) = (audio.hub.clone(), opts.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("audio-capture".into())
            .spawn(move || pulse::capture_thread(o, hub, epoch, s))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("audio-mic".into())
                    .spawn(move || pulse::mic_thread(opts, rx, stop))
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the audio threads");
        }
        audio
    }

    /// A microphone message (kind 0x10) from a controller: queued for playback, dropped
    /// when the queue is full or no microphone path runs.
    pub fn microphone(&self, msg: Bytes) {
        if let Ok(m) = self.mic.lock()
            && let Some(tx) = m.as_ref()
            && let Err(TrySendError::Full(_)) = tx.try_send(msg)
        {
            tracing::debug!("microphone packet dropped: playback behind");
        }
    }
}

#[cfg(test)]
mod tests;
