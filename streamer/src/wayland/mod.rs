//! The streamer's Wayland side: a client of the compositor that captures the output,
//! injects the viewers' input and resizes the output to follow the browser.
//!
//! Everything crosses standard protocols so the same client works against Skerry's own
//! compositor and against others (sway in headless mode in the tests):
//! `ext-image-copy-capture-v1` when offered (frames with damage, cursor sessions), else
//! `zwlr_screencopy_v1` with `copy_with_damage` (cursor painted into frames);
//! `zwp_virtual_keyboard_v1` with a keymap of our own, `zwp_input_method_v2` for text;
//! `zwlr_virtual_pointer_v1`; `zwlr_output_management_v1` for size and scale;
//! `ext-data-control-v1` (or `zwlr_data_control_v1`) for the clipboard and primary selection.
//!
//! All Wayland objects live on one thread ([`start`] spawns it). It sleeps in `poll` on the
//! Wayland socket and an eventfd; the pipeline's calls and returned buffers arrive as
//! commands on a channel that the eventfd signals. A frame is only requested when the frame
//! rate cap allows it, and a pending capture waits in the compositor for damage, so an idle
//! desktop costs no wake-ups at all.

mod capture;
mod clipboard;
mod control;
mod damage;
mod ext_capture;
mod input;
pub mod keycodes;
pub mod keymap;
mod output_config;
mod runner;
mod screencopy;
mod shm;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

pub use keymap::KeymapNames;

use crate::desktop::{CaptureSink, DesktopControl};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Wayland socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no Wayland display: set WAYLAND_DISPLAY and XDG_RUNTIME_DIR, or pass a socket")]
    NoDisplay,
    #[error("Wayland connection: {0}")]
    Wayland(String),
    #[error("the compositor has no output{}", .0.as_deref().map(|n| format!(" named {n}")).unwrap_or_default())]
    NoOutput(Option<String>),
    #[error(
        "the compositor offers no capture protocol (ext-image-copy-capture-v1 or zwlr_screencopy_manager_v1)"
    )]
    NoCapture,
    #[error("memfd, mmap or eventfd failed: {0}")]
    Os(rustix::io::Errno),
    #[error("capture buffer of {width}x{height} is not possible")]
    BufferSize { width: u32, height: u32 },
    #[error("keymap: {0}")]
    Keymap(String),
    #[error("capture thread: {0}")]
    Thread(String),
}

/// How to reach the compositor and what to capture.
#[derive(Debug, Clone)]
pub struct WaylandOptions {
    /// A socket name in `XDG_RUNTIME_DIR` or an absolute path; `None` reads
    /// `WAYLAND_DISPLAY`.
    pub display: Option<String>,
    /// The output's name (`HEADLESS-1`…); `None` takes the first one.
    pub output: Option<String>,
    /// Frame-rate cap until [`DesktopControl::set_max_fps`] changes it.
    pub max_fps: u32,
    /// Capture buffers in the pool: one being written, the rest with the pipeline.
    pub buffers: usize,
    /// Base keymap of the virtual keyboard.
    pub keymap: KeymapNames,
    /// Prefer `zwlr_screencopy_v1` even where `ext-image-copy-capture-v1` exists.
    pub force_screencopy: bool,
    /// Commit text through `zwp_input_method_v2` when the focused app accepts it; when
    /// off (or not offered), text is always typed through temporary keymaps.
    pub input_method: bool,
    /// Largest clipboard content moved either way (`SKERRY_CLIPBOARD_MAX`); 0 turns
    /// clipboard sync off.
    pub clipboard_max: usize,
}

impl Default for WaylandOptions {
    fn default() -> Self {
        Self {
            display: None,
            output: None,
            max_fps: 60,
            buffers: 3,
            keymap: KeymapNames::default(),
            force_screencopy: false,
            input_method: true,
            clipboard_max: crate::clipboard::max(),
        }
    }
}

/// Connects to the compositor, sets up capture and input, and runs the client on its own
/// thread. Events flow into `sink`; the returned handle drives it, and dropping it ends the
/// thread.
///
/// Errors are about setup (no socket, no output, no capture protocol); once running, losing
/// the compositor arrives as [`CaptureEvent::Closed`](crate::desktop::CaptureEvent::Closed).
///
/// ```no_run
/// use std::sync::Arc;
/// use skerry_streamer::desktop::{CaptureEvent, CaptureSink, InputEvent};
/// use skerry_streamer::wayland::{self, WaylandOptions};
///
/// struct Print;
/// impl CaptureSink for Print {
///     fn deliver(&self, event: CaptureEvent) {
///         tracing::info!(?event, "capture");
///     }
/// }
///
/// let control = wayland::start(WaylandOptions::default(), Arc::new(Print))?;
/// control.set_max_fps(30);
/// control.inject(InputEvent::Key { code: "KeyA".into(), pressed: true });
/// # Ok::<(), wayland::Error>(())
/// ```
pub fn start(
    options: WaylandOptions,
    sink: Arc<dyn CaptureSink>,
) -> Result<Arc<dyn DesktopControl>, Error> {
    runner::spawn(options, sink)
}
