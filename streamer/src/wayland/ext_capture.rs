//! Capture through `ext-image-copy-capture-v1`, and the cursor through its cursor sessions.
//!
//! Unlike screencopy, the compositor may write only what changed into the buffer we attach,
//! so each buffer of the pool carries its own damage history ([`DamageHistory`]) and we
//! tell the compositor what that buffer has missed (`damage_buffer`). The damage the
//! compositor reports is relative to the previous ready frame, which is what the pipeline
//! wants. A capture waits in the compositor until the content changes; the first frame of a
//! session is immediate and whole, which is also how a full frame is forced on demand
//! (a fresh session).
//!
//! The cursor is not painted into frames: a cursor session reports where the pointer is
//! and has its own capture session for the cursor image, converted to straight RGBA.

use wayland_client::protocol::wl_shm;
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::ext::image_capture_source::v1::client::{
    ext_image_capture_source_v1::{self, ExtImageCaptureSourceV1},
    ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
};
use wayland_protocols::ext::image_copy_capture::v1::client::{
    ext_image_copy_capture_cursor_session_v1::{self, ExtImageCopyCaptureCursorSessionV1},
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};

use super::damage::{DamageHistory, clip};
use super::shm::{BufferPool, pixel_format};
use super::state::State;
use crate::desktop::{CaptureEvent, CursorImage, Rect};

/// Which session an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Screen,
    Cursor,
}

#[derive(Default)]
pub struct ExtCapture {
    source: Option<ExtImageCaptureSourceV1>,
    screen: Session,
    cursor_session: Option<ExtImageCopyCaptureCursorSessionV1>,
    cursor: Session,
    cursor_pool: Option<BufferPool>,
    cursor_generation: u64,
    history: Option<DamageHistory>,
    hotspot: (i32, i32),
    /// The screen session paints the cursor into frames (no cursor session yet).
    paints_cursor: bool,
    cursor_image: Option<CursorImage>,
    cursor_visible: bool,
}

/// One capture session's constraints and its frame in progress.
#[derive(Default)]
struct Session {
    object: Option<ExtImageCopyCaptureSessionV1>,
    /// (width, height) and the first usable shm format, from the latest `done`.
    constraints: Option<((u32, u32), wl_shm::Format)>,
    pending_size: Option<(u32, u32)>,
    pending_format: Option<wl_shm::Format>,
    frame: Option<PendingFrame>,
}

struct PendingFrame {
    object: ExtImageCopyCaptureFrameV1,
    slot: usize,
    damage: Vec<Rect>,
}

impl Session {
    fn stop(&mut self) {
        if let Some(f) = self.frame.take() {
            f.object.destroy();
        }
        if let Some(s) = self.object.take() {
            s.destroy();
        }
        self.constraints = None;
        self.pending_size = None;
        self.pending_format = None;
    }
}

impl ExtCapture {
    pub fn active(&self) -> bool {
        self.source.is_some()
    }
}

/// Premultiplied B,G,R,A bytes to straight R,G,B,A.
pub fn unpremultiply_bgra(bgra: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bgra.len());
    for px in bgra.chunks_exact(4) {
        let (b, g, r, a) = (px[0], px[1], px[2], px[3]);
        let un = |c: u8| {
            if a == 0 {
                0
            } else {
                ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8
            }
        };
        out.extend_from_slice(&[un(r), un(g), un(b), a]);
    }
    out
}

impl State {
    /// Starts ext-image-copy-capture on the target output; `false` if not offered.
    pub fn start_ext_capture(&mut self, qh: &QueueHandle<State>) -> bool {
        let (Some(manager), Some(sources)) = (
            self.globals.ext_capture.clone(),
            self.globals.ext_output_source.clone(),
        ) else {
            return false;
        };
        let Some(output) = self.target_output().map(|o| o.output.clone()) else {
            return false;
        };
        let source = sources.create_source(&output, qh, ());
        self.ext.source = Some(source);
        self.ext_new_screen_session(qh, &manager);
        true
    }

    fn ext_new_screen_session(
        &mut self,
        qh: &QueueHandle<State>,
        manager: &ExtImageCopyCaptureManagerV1,
    ) {
        let Some(source) = self.ext.source.clone() else {
            return;
        };
        self.ext.screen.stop();
        // Without a pointer for a cursor session the cursor must be painted in.
        self.ext.paints_cursor = self.seat_pointer.is_none();
        let options = if self.ext.paints_cursor {
            ext_image_copy_capture_manager_v1::Options::PaintCursors
        } else {
            ext_image_copy_capture_manager_v1::Options::empty()
        };
        self.ext.screen.object = Some(manager.create_session(&source, options, qh, Kind::Screen));
        self.capture.full_next = true;
    }

    pub fn ext_frame_pending(&self) -> bool {
        self.ext.screen.frame.is_some()
    }

    /// Forces the next frame to be whole: a new session's first frame always is.
    pub fn ext_full_frame(&mut self, qh: &QueueHandle<State>) {
        let Some(manager) = self.globals.ext_capture.clone() else {
            return;
        };
        if let Some(f) = self.ext.screen.frame.take() {
            self.release_slot(f.slot);
            f.object.destroy();
        }
        self.ext_new_screen_session(qh, &manager);
    }

    fn release_slot(&mut self, slot: usize) {
        if let Some(pool) = self.capture.pool.as_mut() {
            let generation = pool.generation;
            pool.release(generation, slot);
        }
    }

    /// Starts the next capture(s) when constraints, pacing and a free buffer allow.
    pub fn pump_ext(&mut self, qh: &QueueHandle<State>) {
        if !self.ext.active() {
            return;
        }
        if self.ext.cursor_session.is_none() && self.seat_pointer.is_some() {
            self.ext_start_cursor(qh);
        }
        self.pump_ext_screen(qh);
        self.pump_ext_cursor(qh);
    }

    fn pump_ext_screen(&mut self, qh: &QueueHandle<State>) {
        if self.ext.screen.frame.is_some() || self.ext.screen.object.is_none() {
            return;
        }
        let Some(((width, height), format)) = self.ext.screen.constraints else {
            return;
        };
        if std::time::Instant::now() < self.capture.next_allowed() {
            return;
        }
        let Some(shm) = self.globals.shm.clone() else {
            return;
        };
        match self
            .capture
            .ensure_pool(&shm, qh, (width, height, width * 4), format)
        {
            Ok(true) => {
                self.ext.history = Some(DamageHistory::new(
                    self.capture.pool.as_ref().map_or(0, |p| p.slots.len()),
                    width,
                    height,
                ));
            }
            Ok(false) => {}
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
            return;
        };
        let buffer = pool.slots[slot].buffer.clone();
        let Some(session) = &self.ext.screen.object else {
            return;
        };
        let frame = session.create_frame(qh, Kind::Screen);
        frame.attach_buffer(&buffer);
        let stale: Vec<Rect> = self
            .ext
            .history
            .as_ref()
            .map(|h| h.stale(slot).to_vec())
            .unwrap_or_else(|| vec![Rect::new(0, 0, width, height)]);
        for r in stale {
            frame.damage_buffer(r.x as i32, r.y as i32, r.width as i32, r.height as i32);
        }
        frame.capture();
        self.capture.mark_requested(std::time::Instant::now());
        self.ext.screen.frame = Some(PendingFrame {
            object: frame,
            slot,
            damage: Vec::new(),
        });
    }

    fn ext_start_cursor(&mut self, qh: &QueueHandle<State>) {
        let (Some(manager), Some(source), Some(pointer)) = (
            self.globals.ext_capture.clone(),
            self.ext.source.clone(),
            self.seat_pointer.clone(),
        ) else {
            return;
        };
        let session = manager.create_pointer_cursor_session(&source, &pointer, qh, ());
        self.ext.cursor.object = Some(session.get_capture_session(qh, Kind::Cursor));
        self.ext.cursor_session = Some(session);
        if self.ext.paints_cursor {
            // The seat gained a pointer after capture began: stop painting the cursor in.
            self.ext_full_frame(qh);
        }
    }

    fn pump_ext_cursor(&mut self, qh: &QueueHandle<State>) {
        if self.ext.cursor.frame.is_some() || self.ext.cursor.object.is_none() {
            return;
        }
        let Some(((width, height), format)) = self.ext.cursor.constraints else {
            return;
        };
        if format != wl_shm::Format::Argb8888 || width == 0 || height == 0 {
            return;
        }
        let Some(shm) = self.globals.shm.clone() else {
            return;
        };
        if !self
            .ext
            .cursor_pool
            .as_ref()
            .is_some_and(|p| p.matches(width, height, width * 4, format))
        {
            self.ext.cursor_generation += 1;
            match BufferPool::new(
                &shm,
                qh,
                1,
                (width, height, width * 4),
                format,
                self.ext.cursor_generation,
            ) {
                Ok(pool) => self.ext.cursor_pool = Some(pool),
                Err(err) => {
                    tracing::warn!(%err, "no cursor buffer");
                    return;
                }
            }
        }
        let Some(pool) = self.ext.cursor_pool.as_mut() else {
            return;
        };
        let Some(slot) = pool.take_free() else {
            return;
        };
        let buffer = pool.slots[slot].buffer.clone();
        let Some(session) = &self.ext.cursor.object else {
            return;
        };
        let frame = session.create_frame(qh, Kind::Cursor);
        frame.attach_buffer(&buffer);
        frame.damage_buffer(0, 0, width as i32, height as i32);
        frame.capture();
        self.ext.cursor.frame = Some(PendingFrame {
            object: frame,
            slot,
            damage: Vec::new(),
        });
    }

    fn ext_frame_ready(&mut self, kind: Kind) {
        match kind {
            Kind::Screen => {
                let Some(f) = self.ext.screen.frame.take() else {
                    return;
                };
                f.object.destroy();
                if let Some(h) = self.ext.history.as_mut() {
                    h.frame_delivered(f.slot, &f.damage);
                }
                self.deliver_frame(f.slot, f.damage);
            }
            Kind::Cursor => {
                let Some(f) = self.ext.cursor.frame.take() else {
                    return;
                };
                f.object.destroy();
                let Some(pool) = self.ext.cursor_pool.as_mut() else {
                    return;
                };
                let rgba = unpremultiply_bgra(pool.read(f.slot));
                let (width, height) = (pool.width, pool.height);
                let generation = pool.generation;
                pool.release(generation, f.slot);
                self.cursor_image_changed(width, height, rgba);
            }
        }
    }

    fn cursor_image_changed(&mut self, width: u32, height: u32, rgba: Vec<u8>) {
        let (hx, hy) = self.ext.hotspot;
        let same = self.ext.cursor_image.as_ref().is_some_and(|c| {
            c.rgba == rgba
                && (c.width, c.height) == (width, height)
                && (c.hotspot_x as i32, c.hotspot_y as i32) == (hx, hy)
        });
        if same {
            return;
        }
        let serial = self
            .ext
            .cursor_image
            .as_ref()
            .map_or(1, |c| c.serial.wrapping_add(1));
        let image = CursorImage {
            serial,
            width,
            height,
            hotspot_x: hx.max(0) as u32,
            hotspot_y: hy.max(0) as u32,
            rgba,
        };
        self.ext.cursor_image = Some(image.clone());
        if self.ext.cursor_visible {
            self.emit(CaptureEvent::Cursor(Some(image)));
        }
    }

    fn ext_frame_failed(
        &mut self,
        kind: Kind,
        reason: WEnum<ext_image_copy_capture_frame_v1::FailureReason>,
    ) {
        use ext_image_copy_capture_frame_v1::FailureReason;
        tracing::debug!(?kind, ?reason, "capture frame failed");
        let session = match kind {
            Kind::Screen => &mut self.ext.screen,
            Kind::Cursor => &mut self.ext.cursor,
        };
        let Some(f) = session.frame.take() else {
            return;
        };
        f.object.destroy();
        if matches!(reason, WEnum::Value(FailureReason::BufferConstraints)) {
            // New constraints come (or came) with a `done`; the pool follows them.
            tracing::debug!(?kind, "capture buffer no longer fits");
        }
        match kind {
            Kind::Screen => {
                self.release_slot(f.slot);
                if let Some(h) = self.ext.history.as_mut() {
                    h.invalidate_all();
                }
                self.capture.back_off();
            }
            Kind::Cursor => {
                if let Some(pool) = self.ext.cursor_pool.as_mut() {
                    let generation = pool.generation;
                    pool.release(generation, f.slot);
                }
            }
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, Kind> for State {
    fn event(
        state: &mut Self,
        _: &ExtImageCopyCaptureSessionV1,
        event: ext_image_copy_capture_session_v1::Event,
        kind: &Kind,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let session = match kind {
            Kind::Screen => &mut state.ext.screen,
            Kind::Cursor => &mut state.ext.cursor,
        };
        match event {
            ext_image_copy_capture_session_v1::Event::BufferSize { width, height } => {
                session.pending_size = Some((width, height));
            }
            ext_image_copy_capture_session_v1::Event::ShmFormat {
                format: WEnum::Value(format),
            } => {
                let usable = match kind {
                    Kind::Screen => pixel_format(format).is_some(),
                    Kind::Cursor => format == wl_shm::Format::Argb8888,
                };
                if usable && session.pending_format.is_none() {
                    session.pending_format = Some(format);
                }
            }
            ext_image_copy_capture_session_v1::Event::Done => {
                match (session.pending_size, session.pending_format) {
                    (Some(size), Some(format)) => session.constraints = Some((size, format)),
                    _ => {
                        if *kind == Kind::Screen {
                            state
                                .close("the compositor offers no shm format the streamer can read");
                        }
                    }
                }
                let session = match kind {
                    Kind::Screen => &mut state.ext.screen,
                    Kind::Cursor => &mut state.ext.cursor,
                };
                session.pending_format = None;
            }
            ext_image_copy_capture_session_v1::Event::Stopped => {
                session.stop();
                if *kind == Kind::Screen {
                    state.close("the compositor stopped the capture session");
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, Kind> for State {
    fn event(
        state: &mut Self,
        frame: &ExtImageCopyCaptureFrameV1,
        event: ext_image_copy_capture_frame_v1::Event,
        kind: &Kind,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let session = match kind {
            Kind::Screen => &mut state.ext.screen,
            Kind::Cursor => &mut state.ext.cursor,
        };
        let Some(pending) = session.frame.as_mut().filter(|f| f.object == *frame) else {
            return;
        };
        match event {
            ext_image_copy_capture_frame_v1::Event::Damage {
                x,
                y,
                width,
                height,
            } => {
                if let Some(((w, h), _)) = session.constraints
                    && let Some(r) = clip(x, y, width, height, w, h)
                {
                    pending.damage.push(r);
                }
            }
            ext_image_copy_capture_frame_v1::Event::Ready => state.ext_frame_ready(*kind),
            ext_image_copy_capture_frame_v1::Event::Failed { reason } => {
                state.ext_frame_failed(*kind, reason);
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ExtImageCopyCaptureCursorSessionV1,
        event: ext_image_copy_capture_cursor_session_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            ext_image_copy_capture_cursor_session_v1::Event::Enter => {
                state.ext.cursor_visible = true;
                if let Some(image) = state.ext.cursor_image.clone() {
                    state.emit(CaptureEvent::Cursor(Some(image)));
                }
            }
            ext_image_copy_capture_cursor_session_v1::Event::Leave => {
                state.ext.cursor_visible = false;
                state.emit(CaptureEvent::Cursor(None));
            }
            ext_image_copy_capture_cursor_session_v1::Event::Position { x, y } => {
                state.emit(CaptureEvent::CursorPosition { x, y });
            }
            ext_image_copy_capture_cursor_session_v1::Event::Hotspot { x, y } => {
                // Takes effect with the next cursor frame (the protocol says so).
                state.ext.hotspot = (x, y);
            }
            _ => {}
        }
    }
}

macro_rules! ignore_events {
    ($($ty:ty => $event:ty),* $(,)?) => {$(
        impl Dispatch<$ty, ()> for State {
            fn event(
                _: &mut Self,
                _: &$ty,
                _: $event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
            }
        }
    )*};
}

ignore_events!(
    ExtImageCopyCaptureManagerV1 => ext_image_copy_capture_manager_v1::Event,
    ExtOutputImageCaptureSourceManagerV1 => ext_output_image_capture_source_manager_v1::Event,
    ExtImageCaptureSourceV1 => ext_image_capture_source_v1::Event,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_pixels_become_straight_rgba() {
        // Opaque red, half-transparent premultiplied white, fully transparent.
        let bgra = [0, 0, 255, 255, 128, 128, 128, 128, 0, 0, 0, 0];
        assert_eq!(
            unpremultiply_bgra(&bgra),
            vec![255, 0, 0, 255, 255, 255, 255, 128, 0, 0, 0, 0]
        );
    }
}
