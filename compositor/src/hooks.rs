//! What the capture, virtual-input, output-management and toplevel-management protocol
//! modules plug into. Those modules live in `protocols/` and only use what is listed here.
//!
//! - **Frames**: register a [`FrameListener`] in `Skerry::frame_listeners`; after each render
//!   that changed pixels it gets the whole [`OutputImage`] (the pixman offscreen buffer,
//!   B,G,R,A bytes) and the damaged rectangles in output pixels, and copies what it needs
//!   into client buffers. `Skerry::request_frame` asks for a render even with no new damage
//!   (a capture client attached a buffer and wants the current image; listeners then get it
//!   with empty damage). `Skerry::damaged_since(counter)` tells whether any frame after
//!   `Stats::frames_damaged == counter` changed pixels.
//! - **Cursor**: `Skerry::cursor_state` returns the cursor image (RGBA), hotspot and position
//!   in output pixels; `Skerry::cursor_listeners` are told when image or position change. The
//!   cursor is never drawn into the output image (the browser draws it);
//!   `Skerry::render_with_cursor` composes it onto a copy for captures that ask for it.
//! - **Input**: `Skerry::pointer_motion_absolute`, `pointer_motion_relative`,
//!   `pointer_button`, `pointer_axis`, `pointer_frame` (see `input.rs`) take the same path as
//!   real input, focus-follows-click included.
//! - **Output**: `Skerry::set_output_mode(width, height, scale)`; `Skerry::mode_listeners`
//!   are told after every change (capture sessions must renegotiate buffer sizes).
//! - **Toplevels**: `Skerry::toplevels()` lists [`ToplevelInfo`]; `activate_window`,
//!   `set_window_minimized`, `set_window_maximized`, `close_window` act on one;
//!   `Skerry::toplevel_listeners` are told when the list or a state changes.

use serde::Serialize;
use smithay::utils::{Physical, Rectangle};

use crate::layout::WindowId;

/// The output image after a render: `height` rows of `stride` bytes, each pixel B,G,R,A
/// (Wayland `argb8888`), alpha always opaque.
#[derive(Debug, Clone, Copy)]
pub struct OutputImage<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub bytes: &'a [u8],
}

/// Gets every rendered frame. Must not block: copy what is needed and return.
pub trait FrameListener {
    /// `damage` is empty when the frame was forced by `request_frame` and nothing changed.
    fn on_frame_rendered(&mut self, image: &OutputImage<'_>, damage: &[Rectangle<i32, Physical>]);
}

impl<F> FrameListener for F
where
    F: FnMut(&OutputImage<'_>, &[Rectangle<i32, Physical>]),
{
    fn on_frame_rendered(&mut self, image: &OutputImage<'_>, damage: &[Rectangle<i32, Physical>]) {
        self(image, damage)
    }
}

/// Told when the cursor image or position changes.
pub type CursorListener = Box<dyn FnMut(&CursorState)>;
/// Told when the toplevel list or a toplevel's state changes.
pub type ToplevelListener = Box<dyn FnMut(&[ToplevelInfo])>;

/// Told after the output's mode changed: width and height in pixels, scale.
pub type ModeListener = Box<dyn FnMut(u32, u32, f64)>;

/// Counters readable by tests and logged at debug level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Times the renderer ran (each paced frame deadline that had something to do).
    pub renders: u64,
    /// Renders that changed pixels.
    pub frames_damaged: u64,
    /// Surface trees offered frame callbacks (one per mapped surface tree per render).
    pub frame_callbacks: u64,
    /// Windows mapped since start.
    pub windows_mapped: u64,
}

/// The cursor as the capture protocols see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorState {
    /// Changes whenever the image changes.
    pub serial: u32,
    /// `None` when a client hid the cursor.
    pub image: Option<CursorImage>,
    /// For named cursors (cursor-shape protocol, or no client image): the shape's name,
    /// which is also its CSS `cursor` name ("default", "text", "pointer"…). Viewers may use
    /// it instead of the image.
    pub name: Option<&'static str>,
    /// Pointer position in output pixels.
    pub x: i32,
    pub y: i32,
}

/// A cursor image, straight RGBA.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorImage {
    pub width: u32,
    pub height: u32,
    pub hotspot_x: i32,
    pub hotspot_y: i32,
    pub rgba: Vec<u8>,
}

/// One toplevel window as the foreign-toplevel protocols list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToplevelInfo {
    #[serde(serialize_with = "ser_id")]
    pub id: WindowId,
    pub title: String,
    pub app_id: String,
    pub activated: bool,
    pub minimized: bool,
    pub maximized: bool,
    pub fullscreen: bool,
    /// X11 window (through Xwayland) rather than xdg-shell.
    pub x11: bool,
    /// The window has a surface with content (it is drawn).
    pub has_surface: bool,
}

fn ser_id<S: serde::Serializer>(id: &WindowId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(id.0)
}
