//! Capture through `zwlr_screencopy_v1`, for compositors without ext-image-copy-capture.
//!
//! One frame object is outstanding at a time. Normally it is a `copy_with_damage`, which
//! the compositor holds until the output changes, so an idle desktop leaves one request
//! parked and nothing else happening. A full-frame request (first frame, after a mode
//! change, on demand) uses plain `copy`, which completes at the next output refresh.
//!
//! The protocol copies the whole output into the buffer every time, and its damage is
//! "since the last copy of this client": the buffer pool needs no per-buffer history here,
//! and every copied frame is delivered, so the damage is relative to the previous frame
//! delivered, as the pipeline expects. The cursor is painted in (`overlay_cursor`) because
//! this protocol has no way to send it separately.

use wayland_client::protocol::wl_shm;
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle, WEnum};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};

use super::damage::clip;
use super::shm::pixel_format;
use super::state::State;
use crate::desktop::Rect;

#[derive(Default)]
pub struct Screencopy {
    pending: Option<Pending>,
}

struct Pending {
    frame: ZwlrScreencopyFrameV1,
    with_damage: bool,
    /// (format, width, height, stride) of the first shm format we can use.
    shape: Option<(wl_shm::Format, u32, u32, u32)>,
    /// The compositor has listed every buffer type (`buffer_done`, or v1/v2's lone event).
    described: bool,
    slot: Option<usize>,
    damage: Vec<Rect>,
    y_invert: bool,
}

impl Screencopy {
    pub fn idle(&self) -> bool {
        self.pending.is_none()
    }

    /// Cancels a parked `copy_with_damage` so a full frame can be requested now.
    pub fn cancel(&mut self, pool: Option<&mut super::shm::BufferPool>) {
        if let Some(p) = self.pending.take() {
            if let (Some(slot), Some(pool)) = (p.slot, pool) {
                let generation = pool.generation;
                pool.release(generation, slot);
            }
            p.frame.destroy();
        }
    }
}

impl State {
    /// Requests the next screencopy frame, or attaches a buffer to the one described.
    pub fn pump_screencopy(&mut self, qh: &QueueHandle<State>) {
        let Some(manager) = self.globals.screencopy.clone() else {
            return;
        };
        if self.screencopy.pending.is_none() {
            if std::time::Instant::now() < self.capture.next_allowed() {
                return;
            }
            let Some(output) = self.target_output().map(|o| o.output.clone()) else {
                return;
            };
            let frame = manager.capture_output(1, &output, qh, ());
            self.capture.mark_requested(std::time::Instant::now());
            self.screencopy.pending = Some(Pending {
                frame,
                with_damage: !self.capture.full_next,
                shape: None,
                described: false,
                slot: None,
                damage: Vec::new(),
                y_invert: false,
            });
            return;
        }
        let Some(p) = &self.screencopy.pending else {
            return;
        };
        if !p.described || p.slot.is_some() {
            return;
        }
        let Some((format, width, height, stride)) = p.shape else {
            self.close("the compositor offers no shm format the streamer can read");
            return;
        };
        let Some(shm) = self.globals.shm.clone() else {
            self.close("the compositor has no wl_shm");
            return;
        };
        match self
            .capture
            .ensure_pool(&shm, qh, (width, height, stride), format)
        {
            Ok(_) => {}
            Err(err) => {
                self.close(format!("capture buffers: {err}"));
                return;
            }
        }
        self.announce_mode(width, height);
        let Some(pool) = self.capture.pool.as_mut() else {
            return;
        };
        let Some(slot) = pool.take_free() else {
            // Every buffer is with the pipeline; a returned one wakes us.
            return;
        };
        let buffer = pool.slots[slot].buffer.clone();
        let full_next = self.capture.full_next;
        let Some(p) = self.screencopy.pending.as_mut() else {
            return;
        };
        p.slot = Some(slot);
        if p.with_damage && !full_next {
            p.frame.copy_with_damage(&buffer);
        } else {
            p.with_damage = false;
            p.frame.copy(&buffer);
        }
    }

    fn screencopy_ready(&mut self) {
        let Some(p) = self.screencopy.pending.take() else {
            return;
        };
        p.frame.destroy();
        let Some(slot) = p.slot else {
            return;
        };
        let mut damage = if p.with_damage { p.damage } else { Vec::new() };
        if p.y_invert
            && let Some(pool) = self.capture.pool.as_mut()
        {
            // Some renderers read back bottom-up; frames go out top-down.
            pool.flip_vertical(slot);
            for r in &mut damage {
                r.y = pool.height.saturating_sub(r.y + r.height);
            }
        }
        self.deliver_frame(slot, damage);
    }

    fn screencopy_failed(&mut self) {
        tracing::debug!("screencopy frame failed");
        self.screencopy.cancel(self.capture.pool.as_mut());
        self.capture.back_off();
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn event(
        _: &mut Self,
        _: &ZwlrScreencopyManagerV1,
        _: zwlr_screencopy_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, ()> for State {
    fn event(
        state: &mut Self,
        frame: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(p) = state
            .screencopy
            .pending
            .as_mut()
            .filter(|p| p.frame == *frame)
        else {
            return;
        };
        match event {
            zwlr_screencopy_frame_v1::Event::Buffer {
                format: WEnum::Value(format),
                width,
                height,
                stride,
            } => {
                if p.shape.is_none() && pixel_format(format).is_some() {
                    p.shape = Some((format, width, height, stride));
                }
                if frame.version() < 3 {
                    p.described = true;
                }
            }
            zwlr_screencopy_frame_v1::Event::BufferDone => p.described = true,
            zwlr_screencopy_frame_v1::Event::Flags {
                flags: WEnum::Value(flags),
            } => p.y_invert = flags.contains(zwlr_screencopy_frame_v1::Flags::YInvert),
            zwlr_screencopy_frame_v1::Event::Damage {
                x,
                y,
                width,
                height,
            } => {
                if let Some((_, w, h, _)) = p.shape
                    && let Some(r) = clip(x as i32, y as i32, width as i32, height as i32, w, h)
                {
                    p.damage.push(r);
                }
            }
            zwlr_screencopy_frame_v1::Event::Ready { .. } => state.screencopy_ready(),
            zwlr_screencopy_frame_v1::Event::Failed => state.screencopy_failed(),
            _ => {}
        }
    }
}
