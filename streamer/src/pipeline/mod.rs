//! From captured frames to encoded packets for every viewer.
//!
//! The capture source delivers into a latest-frame-wins slot (it never waits for the
//! encoder); one encode thread takes the newest frame when the pacing policy says so,
//! encodes it once and offers the packet to every viewer. The encode thread blocks on a
//! condition variable: with nothing changing and no refresh owed it has no timer at all,
//! so an idle desktop costs no CPU.

pub mod fanout;
pub mod policy;
pub mod slot;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::desktop::{CaptureEvent, CaptureSink, DesktopControl, Frame, ModeRequest, Rect};
use crate::encode::{EncodeParams, Encoder, JpegEncoder, X264Encoder};
use crate::proto::{
    self, EncoderKind, ProtoError, ServerMessage, Settings, SettingsPatch, VideoHeader,
};
use fanout::{Fanout, Packet, Viewer};
use policy::{Clock, Decision, PacingPolicy, SystemClock};
use slot::{LatestSlot, merge_damage};

/// Output size and scale as last reported by the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}

/// How the pipeline encodes.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub settings: Settings,
    /// x264 preset for every frame.
    pub x264_preset: String,
    /// x264 threads (0: let x264 decide).
    pub x264_threads: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            x264_preset: "ultrafast".into(),
            x264_threads: 2,
        }
    }
}

struct Shared {
    slot: LatestSlot,
    key_requested: bool,
    settings: Settings,
    stop: bool,
    mode: Mode,
}

/// Counters for `/api/status` and for tests.
#[derive(Default)]
pub struct Stats {
    pub frames_captured: AtomicU64,
    pub encodes: AtomicU64,
    pub bytes: AtomicU64,
    pub keyframes: AtomicU64,
    pub refreshes: AtomicU64,
    /// JPEG 4:4:4 tiles sent over H.264 refreshes.
    pub overlay_tiles: AtomicU64,
    /// Times the encode thread woke up; flat while the desktop is idle.
    pub wakeups: AtomicU64,
    /// Client messages dropped for going over their connection's rate.
    pub input_dropped: AtomicU64,
    /// Connections closed for flooding.
    pub flood_closes: AtomicU64,
    window: Mutex<VecDeque<(Instant, usize)>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StatsSnapshot {
    pub viewers: usize,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub encoder: String,
    pub frames_captured: u64,
    pub frames_encoded: u64,
    pub keyframes: u64,
    pub refreshes: u64,
    pub overlay_tiles: u64,
    /// Frames skipped for the connected viewers whose sockets fell behind.
    pub frames_skipped: u64,
    pub input_dropped: u64,
    pub flood_closes: u64,
    pub width: u32,
    pub height: u32,
}

pub struct Pipeline {
    shared: Mutex<Shared>,
    wake: Condvar,
    pub fanout: Fanout,
    pub clipboard: crate::clipboard::ClipboardHub,
    pub stats: Stats,
    epoch: Instant,
    config: PipelineConfig,
    control: Mutex<Option<Arc<dyn DesktopControl>>>,
    cursor: Mutex<Option<Bytes>>,
    first_frame: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Pipeline {
    /// Starts the encode thread.
    pub fn start(config: PipelineConfig) -> Arc<Self> {
        let p = Arc::new(Self {
            shared: Mutex::new(Shared {
                slot: LatestSlot::default(),
                key_requested: false,
                settings: config.settings.clone(),
                stop: false,
                mode: Mode {
                    width: 0,
                    height: 0,
                    scale: 1.0,
                },
            }),
            wake: Condvar::new(),
            fanout: Fanout::default(),
            clipboard: Default::default(),
            stats: Stats::default(),
            epoch: Instant::now(),
            config,
            control: Mutex::new(None),
            cursor: Mutex::new(None),
            first_frame: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let worker = p.clone();
        match std::thread::Builder::new()
            .name("encode".into())
            .spawn(move || worker.run(&SystemClock))
        {
            Ok(t) => {
                if let Ok(mut slot) = p.thread.lock() {
                    *slot = Some(t);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot start the encode thread"),
        }
        p
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere must not take the stream down with it.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects the source that is driven by input, mode and fps requests.
    pub fn attach_control(&self, control: Arc<dyn DesktopControl>) {
        control.set_max_fps(self.settings().fps);
        if let Ok(mut c) = self.control.lock() {
            *c = Some(control);
        }
    }

    pub fn control(&self) -> Option<Arc<dyn DesktopControl>> {
        self.control.lock().ok().and_then(|c| c.clone())
    }

    /// Stops the encode thread and waits for it.
    pub fn shutdown(&self) {
        self.lock().stop = true;
        self.wake.notify_all();
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }

    /// The instant video headers' `capture_us` counts from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    pub fn first_frame_seen(&self) -> bool {
        self.first_frame.load(Ordering::Acquire)
    }

    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode
    }

    /// Asks for a keyframe at the next opportunity.
    pub fn request_keyframe(&self) {
        self.lock().key_requested = true;
        self.wake.notify_all();
    }

    /// Adds a viewer; it gets the cursor image now and a keyframe soon.
    pub fn add_viewer(&self, decoders: proto::Decoders) -> Arc<Viewer> {
        let v = self.fanout.add(decoders);
        if let Some(c) = self.cursor.lock().ok().and_then(|c| c.clone()) {
            v.send_cursor_image(c);
        }
        self.request_keyframe();
        v
    }

    pub fn remove_viewer(&self, id: u64) {
        self.fanout.remove(id);
    }

    /// Applies a settings change from a viewer and tells every viewer.
    pub fn apply_settings(&self, patch: &SettingsPatch) -> Result<Settings, ProtoError> {
        let (old, new) = {
            let mut s = self.lock();
            let new = s.settings.patched(patch)?;
            let old = std::mem::replace(&mut s.settings, new.clone());
            if old.encoder != new.encoder {
                s.key_requested = true;
            }
            (old, new)
        };
        self.wake.notify_all();
        if let Some(control) = self.control() {
            if old.fps != new.fps {
                control.set_max_fps(new.fps);
            }
            if old.manual_resolution != new.manual_resolution
                && let Some(r) = new.manual_resolution
            {
                control.set_mode(ModeRequest {
                    width: r.width,
                    height: r.height,
                    scale: self.mode().scale,
                });
            }
        }
        self.fanout
            .broadcast_text(&ServerMessage::Settings(new.clone()).to_json());
        Ok(new)
    }

    /// A viewer's window changed size; followed unless a manual resolution is set.
    pub fn request_mode(&self, mode: ModeRequest) {
        if self.settings().manual_resolution.is_some() {
            return;
        }
        if let Some(control) = self.control() {
            control.set_mode(mode);
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let now = Instant::now();
        let (frames, bytes) = self
            .stats
            .window
            .lock()
            .map(|mut w| {
                prune(&mut w, now);
                (w.len(), w.iter().map(|e| e.1).sum::<usize>())
            })
            .unwrap_or((0, 0));
        let s = self.lock();
        StatsSnapshot {
            viewers: self.fanout.len(),
            fps: frames as f64,
            bitrate_kbps: bytes as f64 * 8.0 / 1000.0,
            encoder: match s.settings.encoder {
                EncoderKind::H264 => format!("x264 {}", self.config.x264_preset),
                EncoderKind::Jpeg => "jpeg".into(),
            },
            frames_captured: self.stats.frames_captured.load(Ordering::Relaxed),
            frames_encoded: self.stats.encodes.load(Ordering::Relaxed),
            keyframes: self.stats.keyframes.load(Ordering::Relaxed),
            refreshes: self.stats.refreshes.load(Ordering::Relaxed),
            overlay_tiles: self.stats.overlay_tiles.load(Ordering::Relaxed),
            frames_skipped: self
                .fanout
                .viewers()
                .iter()
                .map(|v| v.skipped.load(Ordering::Relaxed))
                .sum(),
            input_dropped: self.stats.input_dropped.load(Ordering::Relaxed),
            flood_closes: self.stats.flood_closes.load(Ordering::Relaxed),
            width: s.mode.width,
            height: s.mode.height,
        }
    }

    fn new_encoder(&self, kind: EncoderKind) -> Option<Box<dyn Encoder>> {
        match kind {
            EncoderKind::H264 => Some(Box::new(X264Encoder::new(
                &self.config.x264_preset,
                self.config.x264_threads,
            ))),
            EncoderKind::Jpeg => match JpegEncoder::new() {
                Ok(e) => Some(Box::new(e)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot create a JPEG encoder");
                    None
                }
            },
        }
    }

    /// The encode thread.
    fn run(&self, clock: &dyn Clock) {
        let s = self.settings();
        let mut policy = PacingPolicy::new(s.fps, Duration::from_millis(s.paint_over_ms.into()));
        let mut encoder: Option<(EncoderKind, Box<dyn Encoder>)> = None;
        let mut last: Option<Frame> = None;
        let mut refresh_damage: Vec<Rect> = Vec::new();
        let mut tiles: Option<JpegEncoder> = None;
        let mut frame_id: u32 = 0;
        let mut guard = self.lock();
        loop {
            self.stats.wakeups.fetch_add(1, Ordering::Relaxed);
            if guard.stop {
                return;
            }
            policy.set_fps(guard.settings.fps);
            policy.set_paint_over(Duration::from_millis(guard.settings.paint_over_ms.into()));
            let now = clock.now();
            let have_picture = guard.slot.has_frame() || last.is_some();
            let decision = if self.fanout.is_empty() {
                // Nobody watches: keep only the newest frame and do nothing.
                Decision::Idle
            } else {
                policy.decide(
                    now,
                    guard.slot.has_frame(),
                    guard.key_requested && have_picture,
                )
            };
            let refresh = match decision {
                Decision::Idle => {
                    guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                Decision::WaitUntil(t) => {
                    let wait = t.saturating_duration_since(now);
                    guard = match self.wake.wait_timeout(guard, wait) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    };
                    continue;
                }
                Decision::Encode { refresh } => refresh,
            };
            let taken = guard.slot.take();
            let mut keyframe = std::mem::take(&mut guard.key_requested);
            let settings = guard.settings.clone();
            drop(guard);

            let mut damage = Vec::new();
            if let Some((frame, d)) = taken {
                merge_damage(&mut refresh_damage, &d, frame.width, frame.height);
                damage = d;
                last = Some(frame);
            }
            if encoder.as_ref().is_none_or(|(k, _)| *k != settings.encoder) {
                encoder = self
                    .new_encoder(settings.encoder)
                    .map(|e| (settings.encoder, e));
                keyframe = true;
            }
            let mut failed = false;
            if let (Some(frame), Some((_, enc))) = (last.as_ref(), encoder.as_mut()) {
                let params = EncodeParams {
                    keyframe,
                    refresh,
                    crf: if refresh {
                        settings.refresh_crf
                    } else {
                        settings.motion_crf
                    },
                    jpeg_quality: if refresh {
                        settings.refresh_jpeg_quality
                    } else {
                        settings.jpeg_quality
                    },
                };
                let region = if refresh { &refresh_damage } else { &damage };
                match enc.encode(frame, region, params) {
                    Ok(Some(encoded)) => {
                        let whole = encoded.keyframe;
                        let mut frames = vec![encoded];
                        if refresh && settings.chroma444 && settings.encoder == EncoderKind::H264 {
                            let params = EncodeParams {
                                keyframe: whole,
                                ..params
                            };
                            frames.extend(self.overlay(&mut tiles, frame, region, params));
                        }
                        frame_id = frame_id.wrapping_add(1);
                        let capture_us = frame
                            .captured_at
                            .saturating_duration_since(self.epoch)
                            .as_micros() as u64;
                        let packet = packetize(&frames, frame_id, capture_us, refresh);
                        for f in &frames {
                            self.count(f, refresh && !f.overlay);
                        }
                        self.fanout.publish(&Arc::new(packet));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, encoder = enc.name(), "encode failed");
                        failed = true;
                    }
                }
                if refresh {
                    refresh_damage.clear();
                }
            }
            if failed {
                // Start over with a fresh encoder, whose first frame is a keyframe.
                encoder = None;
            }
            policy.encoded(clock.now(), refresh);
            guard = self.lock();
        }
    }

    /// The JPEG 4:4:4 tiles drawn over an H.264 paint-over refresh: the refreshed region
    /// (everything on a keyframe) at the refresh JPEG quality. None when JPEG fails; the
    /// H.264 refresh still goes out.
    fn overlay(
        &self,
        tiles: &mut Option<JpegEncoder>,
        frame: &Frame,
        region: &[Rect],
        params: EncodeParams,
    ) -> Option<crate::encode::EncodedFrame> {
        if tiles.is_none() {
            *tiles = JpegEncoder::new()
                .map_err(|e| tracing::error!(error = %e, "cannot create the JPEG tile encoder"))
                .ok();
        }
        let params = EncodeParams {
            refresh: true,
            ..params
        };
        match tiles.as_mut()?.encode(frame, region, params) {
            Ok(Some(mut t)) => {
                t.overlay = true;
                t.keyframe = false;
                Some(t)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "JPEG refresh tiles failed");
                None
            }
        }
    }

    fn count(&self, encoded: &crate::encode::EncodedFrame, refresh: bool) {
        let st = &self.stats;
        if encoded.overlay {
            st.bytes
                .fetch_add(encoded.byte_len() as u64, Ordering::Relaxed);
            st.overlay_tiles
                .fetch_add(encoded.parts.len() as u64, Ordering::Relaxed);
            if let Ok(mut w) = st.window.lock() {
                let now = Instant::now();
                w.push_back((now, encoded.byte_len()));
                prune(&mut w, now);
            }
            return;
        }
        st.encodes.fetch_add(1, Ordering::Relaxed);
        st.bytes
            .fetch_add(encoded.byte_len() as u64, Ordering::Relaxed);
        if encoded.keyframe {
            st.keyframes.fetch_add(1, Ordering::Relaxed);
        }
        if refresh {
            st.refreshes.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut w) = st.window.lock() {
            let now = Instant::now();
            w.push_back((now, encoded.byte_len()));
            prune(&mut w, now);
        }
    }
}

fn prune(w: &mut VecDeque<(Instant, usize)>, now: Instant) {
    while w
        .front()
        .is_some_and(|(t, _)| now.saturating_duration_since(*t) > Duration::from_secs(1))
    {
        w.pop_front();
    }
}

/// Wire messages for one encoded frame and the tiles sent with it: `frames[0]` is the
/// frame, any further ones its overlay tiles; the last message ends the frame.
pub fn packetize(
    frames: &[crate::encode::EncodedFrame],
    frame_id: u32,
    capture_us: u64,
    refresh: bool,
) -> Packet {
    let n: usize = frames.iter().map(|f| f.parts.len()).sum();
    let mut messages = Vec::with_capacity(n);
    for encoded in frames {
        for part in &encoded.parts {
            let mut flags = 0;
            if encoded.keyframe {
                flags |= proto::flags::KEYFRAME;
            }
            if refresh {
                flags |= proto::flags::REFRESH;
            }
            if encoded.chroma444 {
                flags |= proto::flags::CHROMA444;
            }
            if encoded.overlay {
                flags |= proto::flags::OVERLAY;
            }
            if encoded.damage.is_some() {
                flags |= proto::flags::DAMAGE;
            }
            if messages.len() + 1 == n {
                flags |= proto::flags::END_OF_FRAME;
            }
            let h = VideoHeader {
                codec: encoded.codec,
                flags,
                frame_id,
                capture_us,
                x: part.region.x as u16,
                y: part.region.y as u16,
                width: part.region.width as u16,
                height: part.region.height as u16,
                frame_width: encoded.width as u16,
                frame_height: encoded.height as u16,
            };
            let mut msg = Vec::with_capacity(proto::VIDEO_HEADER_LEN + part.data.len() + 2);
            h.write(&mut msg);
            if let Some(rects) = &encoded.damage {
                proto::write_damage(&mut msg, rects);
            }
            msg.extend_from_slice(&part.data);
            messages.push(Bytes::from(msg));
        }
    }
    Packet {
        frame_id,
        keyframe: frames.first().is_some_and(|f| f.keyframe),
        messages,
    }
}

impl CaptureSink for Pipeline {
    fn deliver(&self, event: CaptureEvent) {
        match event {
            CaptureEvent::Frame(frame) => {
                self.stats.frames_captured.fetch_add(1, Ordering::Relaxed);
                {
                    let mut s = self.lock();
                    if s.mode.width != frame.width || s.mode.height != frame.height {
                        s.mode.width = frame.width;
                        s.mode.height = frame.height;
                    }
                    s.slot.put(frame);
                }
                self.first_frame.store(true, Ordering::Release);
                self.wake.notify_all();
            }
            CaptureEvent::Cursor(image) => {
                let msg = Bytes::from(proto::cursor_image_message(image.as_ref()));
                if let Ok(mut c) = self.cursor.lock() {
                    *c = Some(msg.clone());
                }
                self.fanout.broadcast_cursor_image(&msg);
            }
            CaptureEvent::CursorPosition { x, y } => {
                let msg = Bytes::from(proto::cursor_position_message(x, y));
                self.fanout.broadcast_cursor_position(&msg);
            }
            CaptureEvent::Mode {
                width,
                height,
                scale,
            } => {
                self.lock().mode = Mode {
                    width,
                    height,
                    scale,
                };
                self.fanout.broadcast_text(
                    &ServerMessage::Mode {
                        width,
                        height,
                        scale,
                    }
                    .to_json(),
                );
            }
            CaptureEvent::Clipboard(event) => self.clipboard.deliver(event),
            CaptureEvent::Closed { reason } => {
                tracing::warn!(%reason, "the capture source closed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
