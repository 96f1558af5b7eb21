//! What both capture protocols share: the buffer pool, frame pacing, mode announcements and
//! handing frames to the sink.
//!
//! Pacing is by deadline: the next capture may be requested no earlier than one frame
//! interval after the previous request. Counting from the request, not from the moment its
//! frame was ready, keeps the copy and the round trip out of the interval: a compositor that
//! renders at the cap then answers every frame slot. The thread's `poll` timeout is that
//! deadline only while a capture is actually wanted; otherwise it sleeps without one.

use std::time::{Duration, Instant};

use wayland_client::QueueHandle;
use wayland_client::protocol::wl_shm;

use super::Error;
use super::damage::add_rect;
use super::shm::{BufferPool, pixel_format};
use super::state::State;
use crate::desktop::{CaptureEvent, Frame, Rect};

pub struct Capture {
    pub pool: Option<BufferPool>,
    generation: u64,
    buffers: usize,
    max_fps: u32,
    last_request: Option<Instant>,
    /// Not before this instant (after a failure, back off).
    hold_until: Option<Instant>,
    /// The next delivered frame carries the whole output as damage.
    pub full_next: bool,
    announced: Option<(u32, u32, f64)>,
    /// The output's description changed (scale, mode); check before the next frame.
    output_dirty: bool,
    /// When capture started: "allowed since" for the very first request.
    started: Instant,
}

impl Capture {
    pub fn new(max_fps: u32, buffers: usize) -> Self {
        Self {
            pool: None,
            generation: 0,
            buffers: buffers.clamp(2, 8),
            max_fps: max_fps.clamp(1, 240),
            last_request: None,
            hold_until: None,
            full_next: true,
            announced: None,
            output_dirty: false,
            started: Instant::now(),
        }
    }

    pub fn set_max_fps(&mut self, fps: u32) {
        self.max_fps = fps.clamp(1, 240);
    }

    pub fn output_changed(&mut self) {
        self.output_dirty = true;
    }

    pub fn take_output_dirty(&mut self) -> bool {
        std::mem::take(&mut self.output_dirty)
    }

    /// The earliest instant the next capture may be requested.
    pub fn next_allowed(&self) -> Instant {
        let paced = self
            .last_request
            .map(|t| t + Duration::from_secs(1) / self.max_fps);
        match (paced, self.hold_until) {
            (Some(a), Some(b)) => a.max(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => self.started,
        }
    }

    /// Delay further requests a little after a failed capture so a failing compositor is
    /// not asked in a tight loop.
    pub fn back_off(&mut self) {
        self.hold_until = Some(Instant::now() + Duration::from_millis(100));
        self.full_next = true;
    }

    /// Makes sure the pool has buffers of this shape; `true` when it was (re)made.
    pub fn ensure_pool(
        &mut self,
        shm: &wl_shm::WlShm,
        qh: &QueueHandle<State>,
        dims: (u32, u32, u32),
        format: wl_shm::Format,
    ) -> Result<bool, Error> {
        if self
            .pool
            .as_ref()
            .is_some_and(|p| p.matches(dims.0, dims.1, dims.2, format))
        {
            return Ok(false);
        }
        self.generation += 1;
        self.pool = None;
        self.pool = Some(BufferPool::new(
            shm,
            qh,
            self.buffers,
            dims,
            format,
            self.generation,
        )?);
        self.full_next = true;
        Ok(true)
    }

    pub fn buffer_returned(&mut self, generation: u64, index: usize) {
        if let Some(pool) = &mut self.pool {
            pool.release(generation, index);
        }
    }

    /// A capture request went to the compositor at `at`: the next waits one interval.
    pub fn mark_requested(&mut self, at: Instant) {
        self.last_request = Some(at);
    }

    pub fn has_free_slot(&self) -> bool {
        self.pool
            .as_ref()
            .is_some_and(|p| p.slots.iter().any(|s| !s.busy))
    }
}

impl State {
    /// The output's scale: the output manager's (fractional) value when it has one.
    pub fn output_scale(&self) -> f64 {
        let name = self.target_output().and_then(|o| o.name.clone());
        self.output_config
            .scale_of(name.as_deref())
            .or_else(|| self.target_output().map(|o| f64::from(o.scale.max(1))))
            .unwrap_or(1.0)
    }

    /// Sends `CaptureEvent::Mode` when size or scale differ from what viewers were told.
    pub fn announce_mode(&mut self, width: u32, height: u32) {
        let scale = self.output_scale();
        if self.capture.announced != Some((width, height, scale)) {
            self.capture.announced = Some((width, height, scale));
            self.capture.full_next = true;
            self.emit(CaptureEvent::Mode {
                width,
                height,
                scale,
            });
        }
    }

    /// The size of the captured output as last announced, else as `wl_output` says.
    pub fn output_size(&self) -> Option<(u32, u32)> {
        if let Some((w, h, _)) = self.capture.announced {
            return Some((w, h));
        }
        self.target_output()
            .map(|o| o.size)
            .filter(|&(w, h)| w > 0 && h > 0)
    }

    /// Hands the pool's slot `index` to the sink as a frame with `damage`.
    pub fn deliver_frame(&mut self, index: usize, damage: Vec<Rect>) {
        let now = Instant::now();
        self.capture.hold_until = None;
        let Some(pool) = &self.capture.pool else {
            return;
        };
        let Some(format) = pixel_format(pool.format) else {
            return;
        };
        let full = Rect::new(0, 0, pool.width, pool.height);
        let damage = if self.capture.full_next || damage.is_empty() {
            vec![full]
        } else {
            let mut merged = Vec::with_capacity(damage.len());
            for r in damage {
                add_rect(&mut merged, r);
            }
            merged
        };
        self.capture.full_next = false;
        let frame = Frame {
            width: pool.width,
            height: pool.height,
            stride: pool.stride,
            format,
            pixels: pool.lend(index, self.waker.clone()),
            damage,
            captured_at: now,
        };
        self.sink.deliver(CaptureEvent::Frame(frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_paced_by_the_frame_rate_cap() {
        let mut capture = Capture::new(50, 3);
        assert!(
            capture.next_allowed() <= Instant::now(),
            "first capture is immediate"
        );
        let asked = Instant::now();
        capture.mark_requested(asked);
        // One interval after the request, however long its frame took to arrive.
        assert_eq!(capture.next_allowed(), asked + Duration::from_millis(20));
        capture.set_max_fps(10);
        assert_eq!(capture.next_allowed(), asked + Duration::from_millis(100));
        // A failure holds requests back for a while and makes the next frame whole.
        capture.full_next = false;
        capture.set_max_fps(1000);
        capture.back_off();
        assert!(capture.next_allowed() >= asked + Duration::from_millis(100));
        assert!(capture.full_next);
    }
}
