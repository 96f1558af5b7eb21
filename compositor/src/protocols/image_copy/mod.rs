//! `ext_image_copy_capture_manager_v1` with `ext_output_image_capture_source_manager_v1`:
//! the capture path Skerry's streamer prefers.
//!
//! Each session keeps its own [`DamageTracker`], so a frame carries exactly what changed
//! since that session's previous frame and a capture waits while nothing changes (the first
//! frame is always full). Cursor sessions report the pointer's position and hotspot as
//! events and hand out the cursor image as frames of their own, so the browser can draw the
//! cursor locally instead of waiting for video. Sessions created with `paint_cursors` get
//! the cursor blended into the output image instead.
//!
//! A capture writes only what the client declared stale in its buffer (`damage_buffer`)
//! and what changed since the session's previous frame; the streamer rotates a few buffers
//! and declares each one's own history, so a typed glyph copies a few kilobytes, not the
//! whole output.

mod dispatch;

use std::sync::Arc;
use std::time::Duration;

use smithay::output::Output;
use smithay::utils::{Physical, Point, Rectangle, Size};
use wayland_protocols::ext::image_capture_source::v1::server::{
    ext_image_capture_source_v1::ExtImageCaptureSourceV1,
    ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
};
use wayland_protocols::ext::image_copy_capture::v1::server::{
    ext_image_copy_capture_cursor_session_v1::ExtImageCopyCaptureCursorSessionV1,
    ext_image_copy_capture_frame_v1::{ExtImageCopyCaptureFrameV1, FailureReason},
    ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1,
    ext_image_copy_capture_session_v1::ExtImageCopyCaptureSessionV1,
};
use wayland_server::backend::GlobalId;
use wayland_server::protocol::{wl_buffer::WlBuffer, wl_output};
use wayland_server::{Client, Dispatch, DisplayHandle, GlobalDispatch, Resource};

use super::capture::{self, Cursor, DamageTracker, Image, RenderedOutput, SHM_FORMATS};

pub use dispatch::{CaptureSource, CursorSessionData, FrameData, SessionData};

/// The compositor side of image copy capture.
pub trait ImageCopyCaptureHandler:
    GlobalDispatch<ExtImageCopyCaptureManagerV1, ImageCopyGlobalData>
    + GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, ImageCopyGlobalData>
    + Dispatch<ExtImageCopyCaptureManagerV1, ()>
    + Dispatch<ExtOutputImageCaptureSourceManagerV1, ()>
    + Dispatch<ExtImageCaptureSourceV1, CaptureSource>
    + Dispatch<ExtImageCopyCaptureSessionV1, Arc<SessionData>>
    + Dispatch<ExtImageCopyCaptureCursorSessionV1, Arc<CursorSessionData>>
    + Dispatch<ExtImageCopyCaptureFrameV1, FrameData>
    + 'static
{
    fn image_copy_capture_state(&mut self) -> &mut ImageCopyCaptureState;

    /// A frame of `output` waits for [`ImageCopyCaptureState::on_output_rendered`]; if it is
    /// a session's first frame it is answered even without new damage.
    fn image_copy_frame_requested(&mut self, _output: &Output) {}

    /// A cursor session of `output` began: it learns where the cursor is at the next
    /// [`ImageCopyCaptureState::on_cursor_changed`], which the compositor may call now.
    fn image_copy_cursor_session_created(&mut self, _output: &Output) {}
}

/// Global data: which clients may see the globals.
pub struct ImageCopyGlobalData {
    filter: Arc<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for ImageCopyGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageCopyGlobalData")
            .finish_non_exhaustive()
    }
}

/// The cursor as one cursor session last reported it.
#[derive(Debug, Default, Clone, PartialEq)]
struct CursorSeen {
    /// `Some` while the cursor is inside the captured area.
    position: Option<Point<i32, Physical>>,
    hotspot: Option<Point<i32, Physical>>,
}

#[derive(Debug)]
struct PendingCapture {
    frame: ExtImageCopyCaptureFrameV1,
    buffer: WlBuffer,
    buffer_damage: BufferDamage,
    session: Arc<SessionData>,
}

/// The parts of a frame's buffer its client declared stale (`damage_buffer`). The copy
/// writes these and the frame's own damage, never the rest: the client keeps it current.
#[derive(Debug, Default)]
pub(crate) struct BufferDamage {
    rects: Vec<Rectangle<i32, Physical>>,
    /// Too many rectangles: rewrite the whole buffer.
    everything: bool,
}

/// More declared rectangles than this and the whole buffer is rewritten.
const MAX_BUFFER_DAMAGE: usize = 64;

impl BufferDamage {
    pub(crate) fn add(&mut self, rect: Rectangle<i32, Physical>) {
        if self.rects.len() >= MAX_BUFFER_DAMAGE {
            self.everything = true;
            self.rects.clear();
        }
        if !self.everything {
            self.rects.push(rect);
        }
    }

    /// What the copy must write: the declared rectangles and `damage`, or `None` for the
    /// whole buffer.
    fn with(&self, damage: &[Rectangle<i32, Physical>]) -> Option<Vec<Rectangle<i32, Physical>>> {
        if self.everything {
            return None;
        }
        Some(self.rects.iter().chain(damage).copied().collect())
    }
}

/// State of the image-copy-capture globals: live sessions and frames waiting for content.
#[derive(Debug)]
pub struct ImageCopyCaptureState {
    copy_global: GlobalId,
    source_global: GlobalId,
    sessions: Vec<(ExtImageCopyCaptureSessionV1, Arc<SessionData>)>,
    cursor_sessions: Vec<(ExtImageCopyCaptureCursorSessionV1, Arc<CursorSessionData>)>,
    pending: Vec<PendingCapture>,
    /// The size of the cursor image last seen, offered to new cursor capture sessions.
    cursor_size: Size<i32, Physical>,
}

/// Cursor images up to this size are assumed until the compositor shows one.
const DEFAULT_CURSOR_SIZE: (i32, i32) = (64, 64);

impl ImageCopyCaptureState {
    pub fn new<D: ImageCopyCaptureHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let filter: Arc<dyn Fn(&Client) -> bool + Send + Sync> = Arc::new(filter);
        let copy_global = display.create_global::<D, ExtImageCopyCaptureManagerV1, _>(
            1,
            ImageCopyGlobalData {
                filter: filter.clone(),
            },
        );
        let source_global = display.create_global::<D, ExtOutputImageCaptureSourceManagerV1, _>(
            1,
            ImageCopyGlobalData { filter },
        );
        Self {
            copy_global,
            source_global,
            sessions: Vec::new(),
            cursor_sessions: Vec::new(),
            pending: Vec::new(),
            cursor_size: DEFAULT_CURSOR_SIZE.into(),
        }
    }

    pub fn globals(&self) -> [GlobalId; 2] {
        [self.copy_global.clone(), self.source_global.clone()]
    }

    /// Whether a waiting frame of `output` can be answered now (a session's first frame, or
    /// one whose session already has damage).
    pub fn wants_frame(&self, output: &Output) -> bool {
        self.pending
            .iter()
            .any(|p| p.session.output == *output && !p.session.lock().damage.is_empty())
    }

    /// Feeds one render of an output: updates constraints, damage and cursor state of its
    /// sessions and completes the frames that have something new.
    pub fn on_output_rendered(&mut self, rendered: &RenderedOutput<'_>) {
        let output = rendered.output;
        self.prune();
        self.update_cursor(output, rendered.cursor.as_ref(), rendered.time);

        for (resource, session) in self.sessions.iter().filter(|(_, s)| s.output == *output) {
            if session.kind == SessionKind::Cursor {
                continue;
            }
            let mut inner = session.lock();
            if inner.size != rendered.image.size {
                inner.size = rendered.image.size;
                inner.damage.set_full();
                send_constraints(resource, rendered.image.size);
            }
            inner.damage.add(rendered.damage);
        }

        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                p.session.output == *output
                    && p.session.kind != SessionKind::Cursor
                    && !p.session.lock().damage.is_empty()
            });
        self.pending = waiting;
        for capture in ready {
            let cursor = match capture.session.kind {
                SessionKind::Output {
                    paint_cursors: true,
                } => rendered.cursor.as_ref(),
                _ => None,
            };
            complete(capture, &rendered.image, cursor, rendered.time);
        }
    }

    /// The cursor moved, changed or hid on `output` (`None`: it left the output) between
    /// renders. Cursor sessions hear about it at once; returns whether a frame waiting on
    /// this output now wants a render (a `paint_cursors` session saw the cursor move).
    pub fn on_cursor_changed(
        &mut self,
        output: &Output,
        cursor: Option<&Cursor<'_>>,
        time: Duration,
    ) -> bool {
        self.prune();
        self.update_cursor(output, cursor, time);
        self.wants_frame(output)
    }

    fn prune(&mut self) {
        self.sessions.retain(|(r, _)| r.is_alive());
        self.cursor_sessions.retain(|(r, _)| r.is_alive());
        self.pending.retain(|p| p.frame.is_alive());
    }

    /// Cursor session events, cursor damage, and frames of the cursor image.
    fn update_cursor(&mut self, output: &Output, cursor: Option<&Cursor<'_>>, time: Duration) {
        let cursor_image = cursor.and_then(|c| c.image);
        if let Some((image, _)) = cursor_image {
            self.cursor_size = image.size;
        }
        let cursor_key = cursor.map(CursorKey::of);
        let area = capture::output_buffer_size(output).map(Rectangle::from_size);

        for (resource, data) in &self.cursor_sessions {
            if data.output == *output {
                update_cursor_session(resource, data, cursor, area);
            }
        }

        for (resource, session) in self.sessions.iter().filter(|(_, s)| s.output == *output) {
            let mut inner = session.lock();
            if inner.cursor_key == cursor_key {
                continue;
            }
            match session.kind {
                SessionKind::Output {
                    paint_cursors: false,
                } => {}
                SessionKind::Output {
                    paint_cursors: true,
                } => {
                    let rects: Vec<_> = [inner.cursor_key.as_ref(), cursor_key.as_ref()]
                        .into_iter()
                        .flatten()
                        .filter_map(|k| k.rect)
                        .collect();
                    inner.damage.add(&rects);
                }
                SessionKind::Cursor => {
                    if let Some((image, _)) = cursor_image {
                        if image.size != inner.size {
                            inner.size = image.size;
                            inner.damage.set_full();
                            send_constraints(resource, image.size);
                        }
                        let old_image = inner.cursor_key.as_ref().map(|k| k.image);
                        if old_image != cursor_key.as_ref().map(|k| k.image) {
                            inner.damage.set_full();
                        }
                    }
                }
            }
            inner.cursor_key = cursor_key.clone();
        }

        let Some((image, _)) = cursor_image else {
            return;
        };
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                p.session.output == *output
                    && p.session.kind == SessionKind::Cursor
                    && !p.session.lock().damage.is_empty()
            });
        self.pending = waiting;
        for capture in ready {
            complete(capture, &image, None, time);
        }
    }

    /// `output` is gone: its sessions stop and their frames fail.
    pub fn output_removed(&mut self, output: &Output) {
        for (resource, session) in self
            .sessions
            .iter()
            .filter(|(_, s)| s.output == *output || !s.output.is_alive())
        {
            session.lock().stopped = true;
            resource.stopped();
        }
        self.sessions
            .retain(|(_, s)| s.output != *output && s.output.is_alive());
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.session.lock().stopped);
        self.pending = keep;
        for p in gone {
            p.frame.failed(FailureReason::Stopped);
        }
    }
}

/// What identifies the cursor's look and place, to notice when it changed.
#[derive(Debug, Clone, PartialEq)]
struct CursorKey {
    /// Where the cursor image covers the output, if it is shown.
    rect: Option<Rectangle<i32, Physical>>,
    /// A hash of the cursor image's pixels and hotspot.
    image: u64,
}

impl CursorKey {
    fn of(cursor: &Cursor<'_>) -> Self {
        match cursor.image {
            Some((image, hotspot)) => Self {
                rect: Some(Rectangle::new(cursor.position - hotspot, image.size)),
                image: hash_image(&image, hotspot),
            },
            None => Self {
                rect: None,
                image: 0,
            },
        }
    }
}

/// FNV-1a over the pixels, size and hotspot: cheap for cursor-sized images.
fn hash_image(image: &Image<'_>, hotspot: Point<i32, Physical>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let header = [image.size.w, image.size.h, hotspot.x, hotspot.y];
    for byte in header
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .chain(image.pixels.iter().copied())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn send_constraints(session: &ExtImageCopyCaptureSessionV1, size: Size<i32, Physical>) {
    session.buffer_size(size.w as u32, size.h as u32);
    for format in SHM_FORMATS {
        session.shm_format(format);
    }
    session.done();
}

fn update_cursor_session(
    resource: &ExtImageCopyCaptureCursorSessionV1,
    data: &CursorSessionData,
    cursor: Option<&Cursor<'_>>,
    area: Option<Rectangle<i32, Physical>>,
) {
    let now = match (cursor, area) {
        (
            Some(Cursor {
                position,
                image: Some((image, hotspot)),
            }),
            Some(area),
        ) if Rectangle::new(*position - *hotspot, image.size).overlaps(area) => CursorSeen {
            position: Some(*position),
            hotspot: Some(*hotspot),
        },
        _ => CursorSeen::default(),
    };
    let Ok(mut seen) = data.seen.lock() else {
        return;
    };
    if *seen == now {
        return;
    }
    match (seen.position, now.position) {
        (Some(_), None) => resource.leave(),
        (None, Some(_)) => resource.enter(),
        _ => {}
    }
    if let Some(position) = now.position.filter(|p| seen.position != Some(*p)) {
        resource.position(position.x, position.y);
    }
    if let Some(hotspot) = now
        .hotspot
        .filter(|h| seen.hotspot != Some(*h) || seen.position.is_none())
    {
        resource.hotspot(hotspot.x, hotspot.y);
    }
    *seen = now;
}

/// Copies `image` (the output, or the cursor image for cursor sessions) into the frame's
/// buffer and sends the frame's metadata, damage and `ready`.
fn complete(
    capture: PendingCapture,
    image: &Image<'_>,
    cursor: Option<&Cursor<'_>>,
    time: Duration,
) {
    let full = Rectangle::from_size(image.size);
    // A painted cursor may have moved anywhere since the buffer's last copy: those
    // frames are written whole.
    let only = match cursor {
        Some(_) => None,
        None => capture
            .buffer_damage
            .with(&capture.session.lock().damage.peek(full)),
    };
    match capture::copy_to_shm(&capture.buffer, image, full, only.as_deref(), cursor) {
        Ok(()) => {}
        Err(capture::CopyError::Access) => {
            capture.frame.failed(FailureReason::Unknown);
            return;
        }
        Err(err) => {
            tracing::debug!(%err, "image copy frame does not meet the session's constraints");
            capture.frame.failed(FailureReason::BufferConstraints);
            return;
        }
    }
    capture.frame.transform(wl_output::Transform::Normal);
    for rect in capture.session.lock().damage.take(full) {
        capture
            .frame
            .damage(rect.loc.x, rect.loc.y, rect.size.w, rect.size.h);
    }
    let (hi, lo, nsec) = capture::timespec(time);
    capture.frame.presentation_time(hi, lo, nsec);
    capture.frame.ready();
}

/// What a session captures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SessionKind {
    Output {
        paint_cursors: bool,
    },
    /// The cursor image of a cursor session.
    Cursor,
}

#[derive(Debug)]
pub(crate) struct SessionInner {
    size: Size<i32, Physical>,
    damage: DamageTracker,
    cursor_key: Option<CursorKey>,
    frame: Option<ExtImageCopyCaptureFrameV1>,
    stopped: bool,
}

impl SessionData {
    fn lock(&self) -> std::sync::MutexGuard<'_, SessionInner> {
        // A poisoned lock only means a panic elsewhere; the data is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Delegates image copy capture to [`ImageCopyCaptureState`]; implement
/// [`ImageCopyCaptureHandler`].
#[macro_export]
macro_rules! delegate_image_copy_capture {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1:
                $crate::protocols::image_copy::ImageCopyGlobalData
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols::ext::image_capture_source::v1::server::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1:
                $crate::protocols::image_copy::ImageCopyGlobalData
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1: ()
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_capture_source::v1::server::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1: ()
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_capture_source::v1::server::ext_image_capture_source_v1::ExtImageCaptureSourceV1:
                $crate::protocols::image_copy::CaptureSource
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_session_v1::ExtImageCopyCaptureSessionV1:
                ::std::sync::Arc<$crate::protocols::image_copy::SessionData>
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_cursor_session_v1::ExtImageCopyCaptureCursorSessionV1:
                ::std::sync::Arc<$crate::protocols::image_copy::CursorSessionData>
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_frame_v1::ExtImageCopyCaptureFrameV1:
                $crate::protocols::image_copy::FrameData
        ] => $crate::protocols::image_copy::ImageCopyCaptureState);
    };
}
