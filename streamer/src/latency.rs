//! Server-side input latency: from an input message received on a viewer's WebSocket to the
//! end of writing the first encoded frame whose capture began after it, to that viewer.
//!
//! This is what the server adds to a keystroke's round trip (inject, compositor, client
//! redraw, capture, encode, send), without the network or the browser's decoder, so
//! benchmarks can tell the two halves apart. It costs nothing until someone asks: the probe
//! starts disarmed, every hook is then one relaxed atomic load, and the first
//! `GET /api/latency` arms it. Samples live in a bounded ring; inputs that no frame answered
//! within [`GIVE_UP`] are counted as unanswered rather than producing a huge sample (a key
//! with no visible effect must not pose as latency).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::proto::VideoHeader;

/// Samples kept; the oldest go first.
const CAPACITY: usize = 4096;
/// An input with no frame after it for this long is unanswered.
const GIVE_UP: Duration = Duration::from_secs(1);
/// Viewers with an input pending at once (more means viewers left mid-wait; start over).
const MAX_PENDING: usize = 64;

#[derive(Default)]
struct Inner {
    /// Per viewer: the oldest input not yet answered by a frame.
    pending: HashMap<u64, Instant>,
    /// Input received → frame written, microseconds.
    samples_us: VecDeque<u64>,
    unanswered: u64,
}

/// The process's latency probe (one per streamer; see [`probe`]).
#[derive(Default)]
pub struct Probe {
    armed: AtomicBool,
    inner: Mutex<Inner>,
}

/// What `GET /api/latency` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Input received → first frame captured after it written to the viewer, microseconds,
    /// oldest first.
    pub samples_us: Vec<u64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// Inputs that no frame followed within a second.
    pub unanswered: u64,
}

/// The streamer's probe.
pub fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(Probe::default)
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).copied()
}

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// An input message from `viewer` was received now.
    pub fn input(&self, viewer: u64) {
        if !self.is_armed() {
            return;
        }
        self.input_at(viewer, Instant::now());
    }

    fn input_at(&self, viewer: u64, at: Instant) {
        let mut g = self.lock();
        if g.pending.len() >= MAX_PENDING && !g.pending.contains_key(&viewer) {
            g.pending.clear();
        }
        g.pending.entry(viewer).or_insert(at);
    }

    /// A video message was written to `viewer`; `epoch` is the instant its header's
    /// `capture_us` counts from. Only the frame's last message (end of frame) counts.
    pub fn sent(&self, viewer: u64, message: &[u8], epoch: Instant) {
        if !self.is_armed() {
            return;
        }
        let Some((h, _)) = VideoHeader::parse(message) else {
            return;
        };
        if h.flags & crate::proto::flags::END_OF_FRAME == 0 {
            return;
        }
        let captured = epoch + Duration::from_micros(h.capture_us);
        self.sent_at(viewer, captured, Instant::now());
    }

    fn sent_at(&self, viewer: u64, captured: Instant, now: Instant) {
        let mut g = self.lock();
        let Some(&input) = g.pending.get(&viewer) else {
            return;
        };
        if now.saturating_duration_since(input) > GIVE_UP {
            g.pending.remove(&viewer);
            g.unanswered += 1;
            return;
        }
        // A frame captured before the input cannot show it.
        if captured < input {
            return;
        }
        g.pending.remove(&viewer);
        if g.samples_us.len() >= CAPACITY {
            g.samples_us.pop_front();
        }
        let us = now.saturating_duration_since(input).as_micros() as u64;
        g.samples_us.push_back(us);
    }

    /// Arms the probe and reports what it has; `reset` starts a new series afterwards.
    pub fn report(&self, reset: bool) -> Report {
        self.armed.store(true, Ordering::Relaxed);
        let mut g = self.lock();
        let samples_us: Vec<u64> = g.samples_us.iter().copied().collect();
        let mut sorted = samples_us.clone();
        sorted.sort_unstable();
        let report = Report {
            p50_us: percentile(&sorted, 0.5),
            p99_us: percentile(&sorted, 0.99),
            samples_us,
            unanswered: g.unanswered,
        };
        if reset {
            *g = Inner::default();
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn disarmed_probe_records_nothing() {
        let p = Probe::default();
        p.input(1);
        assert!(p.lock().pending.is_empty());
    }

    #[test]
    fn first_frame_captured_after_the_input_answers_it() {
        let p = Probe::default();
        p.report(false);
        let t0 = Instant::now();
        p.input_at(7, t0 + ms(10));
        // Captured before the input: not an answer, the input stays pending.
        p.sent_at(7, t0 + ms(5), t0 + ms(12));
        // Another viewer's frame does not answer it either.
        p.sent_at(8, t0 + ms(15), t0 + ms(16));
        // A second input before the answer does not restart the clock.
        p.input_at(7, t0 + ms(14));
        p.sent_at(7, t0 + ms(18), t0 + ms(25));
        // Nothing pending any more: later frames add nothing.
        p.sent_at(7, t0 + ms(30), t0 + ms(31));
        let r = p.report(true);
        assert_eq!(r.samples_us, vec![15_000]);
        assert_eq!(
            (r.p50_us, r.p99_us, r.unanswered),
            (Some(15_000), Some(15_000), 0)
        );
        assert!(p.report(false).samples_us.is_empty(), "reset");
    }

    #[test]
    fn an_input_nothing_answers_for_a_second_is_counted_not_sampled() {
        let p = Probe::default();
        p.report(false);
        let t0 = Instant::now();
        p.input_at(1, t0);
        p.sent_at(1, t0 + ms(1500), t0 + ms(1510));
        let r = p.report(false);
        assert!(r.samples_us.is_empty());
        assert_eq!(r.unanswered, 1);
    }

    #[test]
    fn end_of_frame_message_is_parsed_for_its_capture_time() {
        use crate::proto::{Codec, flags};
        let p = Probe::default();
        p.report(false);
        let epoch = Instant::now();
        p.input_at(3, epoch);
        let header = |f: u8| VideoHeader {
            codec: Codec::Jpeg,
            flags: f,
            frame_id: 1,
            capture_us: 2_000,
            x: 0,
            y: 0,
            width: 8,
            height: 8,
            frame_width: 8,
            frame_height: 8,
        };
        p.sent(3, &header(0).message(b"x"), epoch);
        assert!(p.report(false).samples_us.is_empty(), "not the frame's end");
        p.sent(3, &header(flags::END_OF_FRAME).message(b"x"), epoch);
        let r = p.report(false);
        assert_eq!(r.samples_us.len(), 1, "{r:?}");
    }
}
