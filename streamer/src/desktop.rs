//! The seam between a desktop *source* (the Wayland capture client, or the synthetic source
//! used by tests and benchmarks) and the encoder pipeline and server that consume it.
//!
//! A source pushes [`CaptureEvent`]s into a [`CaptureSink`] from its own thread and is driven
//! through [`DesktopControl`]. Nothing here knows about Wayland or about encoders, so the
//! pipeline is tested without a compositor and the capture client without an encoder.

use std::time::Instant;

/// A rectangle in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    pub const fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// Layout of the pixels in a [`Frame`]. Both are 4 bytes a pixel, in memory order
/// B, G, R, then alpha or padding (Wayland's little-endian `argb8888` / `xrgb8888`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Bgra8888,
    Bgrx8888,
}

/// Memory holding one frame's pixels. A capture source usually hands out its shm buffers
/// directly (no copy) and gets them back when the frame is dropped.
pub trait PixelBuffer: Send + Sync {
    fn bytes(&self) -> &[u8];
}

impl PixelBuffer for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// One captured image of the whole output.
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
    pub format: PixelFormat,
    pub pixels: Box<dyn PixelBuffer>,
    /// What changed since the previous frame this source delivered. The first frame, and
    /// the first after a mode change or a [`DesktopControl::request_full_frame`], carries
    /// the whole output.
    pub damage: Vec<Rect>,
    /// When the compositor presented this content (or when the copy finished, if the
    /// compositor gave no time).
    pub captured_at: Instant,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("stride", &self.stride)
            .field("format", &self.format)
            .field("damage", &self.damage)
            .finish_non_exhaustive()
    }
}

/// The pointer's image, drawn by the browser itself so the cursor never lags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Changes whenever the image changes, so viewers can cache by it.
    pub serial: u32,
    pub width: u32,
    pub height: u32,
    pub hotspot_x: u32,
    pub hotspot_y: u32,
    /// Straight (not premultiplied) RGBA, `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

#[derive(Debug)]
pub enum CaptureEvent {
    Frame(Frame),
    /// A new cursor image; `None` when the cursor is hidden.
    Cursor(Option<CursorImage>),
    /// The pointer moved on the output (output pixels).
    CursorPosition {
        x: i32,
        y: i32,
    },
    /// The output's size or scale changed; the next frame is a full one.
    Mode {
        width: u32,
        height: u32,
        scale: f64,
    },
    /// The clipboard or primary selection changed on the desktop.
    Clipboard(crate::clipboard::ClipboardEvent),
    /// The source lost its compositor and will deliver nothing more.
    Closed {
        reason: String,
    },
}

/// Where a source delivers its events. Called from the source's own thread; must not block
/// for long (the pipeline keeps only the latest frame, merging damage of frames it skips).
pub trait CaptureSink: Send + Sync + 'static {
    fn deliver(&self, event: CaptureEvent);
}

/// Which pointer button, in the browser's numbering (`MouseEvent.button`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerButton {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

/// How a wheel delta is measured (`WheelEvent.deltaMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WheelUnit {
    Pixel,
    Line,
    Page,
}

/// Input from a viewer, already checked for its role and rate.
#[derive(Debug, Clone, PartialEq)]
pub enum InputEvent {
    /// A physical key, named by the browser's `KeyboardEvent.code` ("KeyA", "ShiftLeft"…).
    Key { code: String, pressed: bool },
    /// Text that no key produces (IME commit, emoji, dead-key result).
    Text(String),
    /// Absolute pointer position in output pixels.
    PointerMotion { x: f64, y: f64 },
    /// Relative motion, under pointer lock.
    PointerRelative { dx: f64, dy: f64 },
    Button {
        button: PointerButton,
        pressed: bool,
    },
    /// Wheel; positive `dy` scrolls down, positive `dx` scrolls right.
    Wheel { dx: f64, dy: f64, unit: WheelUnit },
    /// Release every key and button this viewer holds (page lost focus).
    ReleaseAll,
}

/// A requested output mode: the browser's canvas size in device pixels and its scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeRequest {
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}

/// How the pipeline and server drive a running source.
pub trait DesktopControl: Send + Sync {
    fn inject(&self, event: InputEvent);
    fn set_mode(&self, mode: ModeRequest);
    /// Never capture more often than this.
    fn set_max_fps(&self, fps: u32);
    /// Deliver the next frame with the whole output as damage.
    fn request_full_frame(&self);
    /// Become the owner of a selection with this content. Sources without a clipboard
    /// (the synthetic one) drop it.
    fn set_clipboard(&self, data: crate::clipboard::ClipboardData) {
        tracing::debug!(?data, "this source has no clipboard");
    }
}
