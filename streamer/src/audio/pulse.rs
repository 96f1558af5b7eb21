//! The audio server's side: record the output sink's monitor, and play the browser's
//! microphone into the sink whose monitor is the desktop's default microphone.
//!
//! Both run on their own threads with the blocking `pa_simple` API: a 10 ms read is the
//! natural clock of the capture, and nothing else in the streamer waits for them. When the
//! audio server is missing or goes away they retry with backoff, and video goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use libpulse_binding::def::BufferAttr;
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;

use super::codec::{CHANNELS, CHUNK_FRAMES, Decoder, Encoder, SAMPLE_RATE};
use super::gate::SilenceGate;
use super::hub::AudioHub;
use super::wire::{AudioHeader, KIND_AUDIO};
use super::{AudioError, AudioOptions};

const BYTES_PER_FRAME: usize = CHANNELS * 2;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn spec() -> Spec {
    Spec {
        format: Format::S16le,
        channels: CHANNELS as u8,
        rate: SAMPLE_RATE,
    }
}

/// The audio server to use: `PULSE_SERVER`, else the socket in the runtime directory. Named
/// explicitly so libpulse never starts a server of its own when none runs.
fn server() -> Option<String> {
    std::env::var("PULSE_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let dir = std::env::var("XDG_RUNTIME_DIR").ok()?;
            Some(format!("unix:{dir}/pulse/native"))
        })
}

fn ms_bytes(ms: usize) -> u32 {
    (SAMPLE_RATE as usize / 1000 * ms * BYTES_PER_FRAME) as u32
}

/// Retries `run` until `stop`, waiting longer after each failure (reset by a long run).
fn with_backoff(what: &str, stop: &AtomicBool, mut run: impl FnMut() -> Result<(), AudioError>) {
    let mut wait = Duration::from_millis(200);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if let Err(e) = run() {
            tracing::warn!(error = %e, retry_in = ?wait, "{what}");
        }
        if started.elapsed() > Duration::from_secs(10) {
            wait = Duration::from_millis(200);
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

/// Records the default output's monitor in 10 ms chunks, gates silence, encodes and
/// publishes. Runs until `stop`.
pub fn capture_thread(opts: AudioOptions, hub: AudioHub, epoch: Instant, stop: Arc<AtomicBool>) {
    let mut sequence = 0u32;
    with_backoff("audio capture unavailable", &stop, || {
        let attr = BufferAttr {
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: ms_bytes(10),
        };
        let server = server();
        let rec = Simple::new(
            server.as_deref(),
            "skerry-streamer",
            Direction::Record,
            Some(&opts.monitor),
            "desktop sound",
            &spec(),
            None,
            Some(&attr),
        )?;
        tracing::info!(device = %opts.monitor, "recording the desktop's sound");
        let mut enc = Encoder::new(opts.bitrate)?;
        let mut gate = SilenceGate::default();
        let mut bytes = vec![0u8; CHUNK_FRAMES * BYTES_PER_FRAME];
        let mut samples = vec![0i16; CHUNK_FRAMES * CHANNELS];
        while !stop.load(Ordering::Relaxed) {
            rec.read(&mut bytes)?;
            // The chunk's first sample was captured one chunk before it was handed over.
            let capture_us = epoch.elapsed().as_micros() as u64 - 10_000;
            for (s, b) in samples.iter_mut().zip(bytes.chunks_exact(2)) {
                *s = i16::from_le_bytes([b[0], b[1]]);
            }
            if !gate.pass(&samples) || !hub.has_subscribers() {
                continue;
            }
            let packet = enc.encode(&samples)?;
            sequence = sequence.wrapping_add(1);
            let msg = AudioHeader {
                kind: KIND_AUDIO,
                channels: CHANNELS as u8,
                sequence,
                capture_us,
            }
            .message(packet);
            hub.publish(Bytes::from(msg));
        }
        Ok(())
    });
}

/// Plays the browser's microphone packets into the microphone sink. A stream is opened on
/// the first packet and closed after a pause, so an idle microphone costs nothing.
pub fn mic_thread(opts: AudioOptions, packets: Receiver<Bytes>, stop: Arc<AtomicBool>) {
    let idle = Duration::from_millis(500);
    while !stop.load(Ordering::Relaxed) {
        let first = match packets.recv_timeout(Duration::from_millis(500)) {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let result = (|| -> Result<(), AudioError> {
            let attr = BufferAttr {
                maxlength: u32::MAX,
                tlength: ms_bytes(60),
                prebuf: u32::MAX,
                minreq: u32::MAX,
                fragsize: u32::MAX,
            };
            let server = server();
            let play = Simple::new(
                server.as_deref(),
                "skerry-streamer",
                Direction::Playback,
                Some(&opts.mic_sink),
                "browser microphone",
                &spec(),
                None,
                Some(&attr),
            )?;
            tracing::info!(device = %opts.mic_sink, "playing the browser's microphone");
            let mut dec = Decoder::new()?;
            let mut next = Some(first);
            while let Some(p) = next.take() {
                if let Some((_, opus)) = super::wire::AudioHeader::parse(&p) {
                    match dec.decode(opus) {
                        Ok(pcm) => {
                            let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
                            play.write(&bytes)?;
                        }
                        Err(e) => tracing::debug!(error = %e, "bad microphone packet"),
                    }
                }
                next = packets.recv_timeout(idle).ok();
            }
            play.drain()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "microphone playback failed");
            std::thread::sleep(Duration::from_millis(500));
            // Packets that piled up meanwhile are stale.
            while packets.try_recv().is_ok() {}
        }
    }
}
