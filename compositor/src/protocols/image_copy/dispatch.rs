//! Requests of the image-copy-capture objects: sources, sessions, cursor sessions and
//! frames, with the protocol's misuse errors.

use std::sync::{Arc, Mutex};

use smithay::output::{Output, WeakOutput};
use smithay::utils::Rectangle;
use wayland_protocols::ext::image_capture_source::v1::server::{
    ext_image_capture_source_v1::{self, ExtImageCaptureSourceV1},
    ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
};
use wayland_protocols::ext::image_copy_capture::v1::server::{
    ext_image_copy_capture_cursor_session_v1::{self, ExtImageCopyCaptureCursorSessionV1},
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1, FailureReason},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};
use wayland_server::backend::ClientId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};

use super::{
    BufferDamage, CursorSeen, ImageCopyCaptureHandler, ImageCopyCaptureState, ImageCopyGlobalData,
    PendingCapture, SessionInner, SessionKind, send_constraints,
};
use crate::protocols::capture::{self, DamageTracker};

/// What an `ext_image_capture_source_v1` refers to.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    Output(WeakOutput),
}

impl CaptureSource {
    fn output(&self) -> Option<Output> {
        match self {
            CaptureSource::Output(output) => output.upgrade(),
        }
    }
}

/// User data of a capture session.
#[derive(Debug)]
pub struct SessionData {
    pub(super) output: WeakOutput,
    pub(super) kind: SessionKind,
    pub(super) inner: Mutex<SessionInner>,
}

/// User data of a cursor session.
#[derive(Debug)]
pub struct CursorSessionData {
    pub(super) output: WeakOutput,
    pub(super) seen: Mutex<CursorSeen>,
    has_capture_session: Mutex<bool>,
}

/// User data of a frame.
#[derive(Debug)]
pub struct FrameData {
    session: Arc<SessionData>,
    state: Mutex<FrameState>,
}

#[derive(Debug, Default)]
struct FrameState {
    buffer: Option<WlBuffer>,
    /// What the client says is stale in its buffer (`damage_buffer`).
    buffer_damage: BufferDamage,
    captured: bool,
}

impl<D: ImageCopyCaptureHandler>
    GlobalDispatch<ExtImageCopyCaptureManagerV1, ImageCopyGlobalData, D> for ImageCopyCaptureState
{
    fn bind(
        _state: &mut D,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ExtImageCopyCaptureManagerV1>,
        _global_data: &ImageCopyGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &ImageCopyGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: ImageCopyCaptureHandler>
    GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, ImageCopyGlobalData, D>
    for ImageCopyCaptureState
{
    fn bind(
        _state: &mut D,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ExtOutputImageCaptureSourceManagerV1>,
        _global_data: &ImageCopyGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &ImageCopyGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: ImageCopyCaptureHandler> Dispatch<ExtOutputImageCaptureSourceManagerV1, (), D>
    for ImageCopyCaptureState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _manager: &ExtOutputImageCaptureSourceManagerV1,
        request: ext_output_image_capture_source_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let ext_output_image_capture_source_manager_v1::Request::CreateSource {
            source,
            output,
        } = request
        {
            // An unknown output gives a source whose sessions stop at once.
            let weak = Output::from_resource(&output)
                .map(|o| o.downgrade())
                .unwrap_or_default();
            data_init.init(source, CaptureSource::Output(weak));
        }
    }
}

impl<D: ImageCopyCaptureHandler> Dispatch<ExtImageCaptureSourceV1, CaptureSource, D>
    for ImageCopyCaptureState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _source: &ExtImageCaptureSourceV1,
        _request: ext_image_capture_source_v1::Request,
        _data: &CaptureSource,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
    }
}

/// Creates a session object, sends its first constraints (or `stopped`) and registers it.
fn start_session<D: ImageCopyCaptureHandler>(
    state: &mut D,
    data_init: &mut DataInit<'_, D>,
    id: New<ExtImageCopyCaptureSessionV1>,
    output: Option<Output>,
    kind: SessionKind,
) {
    let state = state.image_copy_capture_state();
    let size = match (&output, kind) {
        (Some(output), SessionKind::Output { .. }) => capture::output_buffer_size(output),
        (Some(_), SessionKind::Cursor) => Some(state.cursor_size),
        (None, _) => None,
    };
    let data = Arc::new(SessionData {
        output: output.as_ref().map(Output::downgrade).unwrap_or_default(),
        kind,
        inner: Mutex::new(SessionInner {
            size: size.unwrap_or_default(),
            damage: DamageTracker::new_full(),
            cursor_key: None,
            frame: None,
            stopped: size.is_none(),
        }),
    });
    let resource = data_init.init(id, data.clone());
    match size {
        Some(size) => {
            send_constraints(&resource, size);
            state.sessions.push((resource, data));
        }
        None => resource.stopped(),
    }
}

impl<D: ImageCopyCaptureHandler> Dispatch<ExtImageCopyCaptureManagerV1, (), D>
    for ImageCopyCaptureState
{
    fn request(
        state: &mut D,
        _client: &Client,
        manager: &ExtImageCopyCaptureManagerV1,
        request: ext_image_copy_capture_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use ext_image_copy_capture_manager_v1::{Error, Options, Request};
        match request {
            Request::CreateSession {
                session,
                source,
                options,
            } => {
                let paint_cursors = match options {
                    WEnum::Value(o) => o.contains(Options::PaintCursors),
                    WEnum::Unknown(bits) => {
                        manager
                            .post_error(Error::InvalidOption, format!("unknown options {bits:#x}"));
                        false
                    }
                };
                let output = source
                    .data::<CaptureSource>()
                    .and_then(CaptureSource::output);
                start_session(
                    state,
                    data_init,
                    session,
                    output,
                    SessionKind::Output { paint_cursors },
                );
            }
            Request::CreatePointerCursorSession {
                session,
                source,
                pointer: _,
            } => {
                // Skerry has one seat, so the pointer names the only cursor there is.
                let output = source
                    .data::<CaptureSource>()
                    .and_then(CaptureSource::output);
                let data = Arc::new(CursorSessionData {
                    output: output.as_ref().map(Output::downgrade).unwrap_or_default(),
                    seen: Mutex::new(CursorSeen::default()),
                    has_capture_session: Mutex::new(false),
                });
                let resource = data_init.init(session, data.clone());
                state
                    .image_copy_capture_state()
                    .cursor_sessions
                    .push((resource, data));
                if let Some(output) = output {
                    state.image_copy_cursor_session_created(&output);
                }
            }
            _ => {}
        }
    }
}

impl<D: ImageCopyCaptureHandler>
    Dispatch<ExtImageCopyCaptureCursorSessionV1, Arc<CursorSessionData>, D>
    for ImageCopyCaptureState
{
    fn request(
        state: &mut D,
        _client: &Client,
        resource: &ExtImageCopyCaptureCursorSessionV1,
        request: ext_image_copy_capture_cursor_session_v1::Request,
        data: &Arc<CursorSessionData>,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use ext_image_copy_capture_cursor_session_v1::{Error, Request};
        if let Request::GetCaptureSession { session } = request {
            let duplicate = data
                .has_capture_session
                .lock()
                .map(|mut has| std::mem::replace(&mut *has, true))
                .unwrap_or(true);
            if duplicate {
                resource.post_error(
                    Error::DuplicateSession,
                    "get_capture_session was already sent",
                );
            }
            start_session(
                state,
                data_init,
                session,
                data.output.upgrade(),
                SessionKind::Cursor,
            );
        }
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        resource: &ExtImageCopyCaptureCursorSessionV1,
        _data: &Arc<CursorSessionData>,
    ) {
        state
            .image_copy_capture_state()
            .cursor_sessions
            .retain(|(r, _)| r != resource);
    }
}

impl<D: ImageCopyCaptureHandler> Dispatch<ExtImageCopyCaptureSessionV1, Arc<SessionData>, D>
    for ImageCopyCaptureState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        resource: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        data: &Arc<SessionData>,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        use ext_image_copy_capture_session_v1::{Error, Request};
        if let Request::CreateFrame { frame } = request {
            let frame = data_init.init(
                frame,
                FrameData {
                    session: data.clone(),
                    state: Mutex::new(FrameState::default()),
                },
            );
            let mut inner = data.lock();
            if inner.frame.as_ref().is_some_and(Resource::is_alive) {
                resource.post_error(
                    Error::DuplicateFrame,
                    "the previous frame was not destroyed",
                );
                return;
            }
            inner.frame = Some(frame);
        }
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        resource: &ExtImageCopyCaptureSessionV1,
        _data: &Arc<SessionData>,
    ) {
        state
            .image_copy_capture_state()
            .sessions
            .retain(|(r, _)| r != resource);
    }
}

impl<D: ImageCopyCaptureHandler> Dispatch<ExtImageCopyCaptureFrameV1, FrameData, D>
    for ImageCopyCaptureState
{
    fn request(
        state: &mut D,
        _client: &Client,
        frame: &ExtImageCopyCaptureFrameV1,
        request: ext_image_copy_capture_frame_v1::Request,
        data: &FrameData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        use ext_image_copy_capture_frame_v1::{Error, Request};
        let Ok(mut frame_state) = data.state.lock() else {
            return;
        };
        if frame_state.captured && !matches!(request, Request::Destroy) {
            frame.post_error(
                Error::AlreadyCaptured,
                "capture was already requested on this frame",
            );
            return;
        }
        match request {
            Request::AttachBuffer { buffer } => frame_state.buffer = Some(buffer),
            Request::DamageBuffer {
                x,
                y,
                width,
                height,
            } => {
                if x < 0 || y < 0 || width <= 0 || height <= 0 {
                    frame.post_error(
                        Error::InvalidBufferDamage,
                        "damage must be inside the buffer",
                    );
                    return;
                }
                frame_state
                    .buffer_damage
                    .add(Rectangle::new((x, y).into(), (width, height).into()));
            }
            Request::Capture => {
                let Some(buffer) = frame_state.buffer.clone() else {
                    frame.post_error(Error::NoBuffer, "capture without an attached buffer");
                    return;
                };
                frame_state.captured = true;
                let buffer_damage = std::mem::take(&mut frame_state.buffer_damage);
                drop(frame_state);
                let Some(output) = data
                    .session
                    .output
                    .upgrade()
                    .filter(|_| !data.session.lock().stopped)
                else {
                    frame.failed(FailureReason::Stopped);
                    return;
                };
                state
                    .image_copy_capture_state()
                    .pending
                    .push(PendingCapture {
                        frame: frame.clone(),
                        buffer,
                        buffer_damage,
                        session: data.session.clone(),
                    });
                state.image_copy_frame_requested(&output);
            }
            _ => {}
        }
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        frame: &ExtImageCopyCaptureFrameV1,
        data: &FrameData,
    ) {
        state
            .image_copy_capture_state()
            .pending
            .retain(|p| p.frame != *frame);
        let mut inner = data.session.lock();
        if inner.frame.as_ref() == Some(frame) {
            inner.frame = None;
        }
    }
}
