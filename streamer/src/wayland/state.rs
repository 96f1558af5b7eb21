//! The capture thread's state: one field per protocol, as the registry offered them, and
//! the `Dispatch` impls for the plain core objects (registry, outputs, seat, shm).
//! Capture, input and output configuration keep their own handlers in their own files.

use std::sync::Arc;
use std::time::Instant;

use wayland_client::backend::ObjectId;
use wayland_client::protocol::{
    wl_buffer::{self, WlBuffer},
    wl_output::{self, WlOutput},
    wl_pointer::{self, WlPointer},
    wl_registry::{self, WlRegistry},
    wl_seat::{self, WlSeat},
    wl_shm::{self, WlShm},
    wl_shm_pool::{self, WlShmPool},
};
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle, WEnum};
use wayland_protocols::ext::image_capture_source::v1::client::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1;
use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1;
use wayland_protocols_misc::zwp_input_method_v2::client::zwp_input_method_manager_v2::ZwpInputMethodManagerV2;
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use wayland_protocols_wlr::output_management::v1::client::zwlr_output_manager_v1::ZwlrOutputManagerV1;
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1;

use super::WaylandOptions;
use super::capture::Capture;
use super::clipboard::Clipboard;
use super::control::Waker;
use super::ext_capture::ExtCapture;
use super::input::Input;
use super::output_config::OutputConfig;
use super::screencopy::Screencopy;
use crate::desktop::{CaptureEvent, CaptureSink};

/// Globals the compositor offered that we use.
#[derive(Default)]
pub struct Globals {
    pub shm: Option<WlShm>,
    pub seat: Option<WlSeat>,
    pub screencopy: Option<ZwlrScreencopyManagerV1>,
    pub ext_capture: Option<ExtImageCopyCaptureManagerV1>,
    pub ext_output_source: Option<ExtOutputImageCaptureSourceManagerV1>,
    pub virtual_keyboard: Option<ZwpVirtualKeyboardManagerV1>,
    pub virtual_pointer: Option<ZwlrVirtualPointerManagerV1>,
    pub input_method: Option<ZwpInputMethodManagerV2>,
    pub output_manager: Option<ZwlrOutputManagerV1>,
}

/// What we know of one `wl_output`.
pub struct OutputInfo {
    pub output: WlOutput,
    pub global: u32,
    pub name: Option<String>,
    /// Current mode in pixels.
    pub size: (u32, u32),
    pub scale: i32,
}

pub struct State {
    pub sink: Arc<dyn CaptureSink>,
    pub waker: Waker,
    pub options: WaylandOptions,
    pub globals: Globals,
    pub outputs: Vec<OutputInfo>,
    /// The `wl_output` we capture, once chosen.
    pub target: Option<ObjectId>,
    pub capture: Capture,
    pub screencopy: Screencopy,
    pub ext: ExtCapture,
    pub input: Input,
    pub output_config: OutputConfig,
    pub clipboard: Clipboard,
    pub seat_has_pointer: bool,
    pub seat_pointer: Option<WlPointer>,
    /// Set when the client must stop; the reason goes into `CaptureEvent::Closed`.
    pub closed: Option<String>,
    pub epoch: Instant,
    pub qh: Option<QueueHandle<State>>,
}

impl State {
    pub fn new(options: WaylandOptions, sink: Arc<dyn CaptureSink>, waker: Waker) -> Self {
        let capture = Capture::new(options.max_fps, options.buffers);
        Self {
            sink,
            waker,
            options,
            globals: Globals::default(),
            outputs: Vec::new(),
            target: None,
            capture,
            screencopy: Screencopy::default(),
            ext: ExtCapture::default(),
            input: Input::default(),
            output_config: OutputConfig::default(),
            clipboard: Clipboard::default(),
            seat_has_pointer: false,
            seat_pointer: None,
            closed: None,
            epoch: Instant::now(),
            qh: None,
        }
    }

    pub fn target_output(&self) -> Option<&OutputInfo> {
        let id = self.target.as_ref()?;
        self.outputs.iter().find(|o| o.output.id() == *id)
    }

    /// Milliseconds for input event timestamps.
    pub fn now_ms(&self) -> u32 {
        self.epoch.elapsed().as_millis() as u32
    }

    pub fn emit(&self, event: CaptureEvent) {
        self.sink.deliver(event);
    }

    pub fn close(&mut self, reason: impl Into<String>) {
        if self.closed.is_none() {
            self.closed = Some(reason.into());
        }
    }
}

impl Dispatch<WlRegistry, ()> for State {
    fn event(
        state: &mut Self,
        registry: &WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        match event {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } => {
                let g = &mut state.globals;
                match interface.as_str() {
                    "wl_shm" => g.shm = Some(registry.bind(name, 1, qh, ())),
                    "wl_seat" if g.seat.is_none() => {
                        g.seat = Some(registry.bind(name, version.min(7), qh, ()));
                    }
                    "wl_output" => {
                        let output = registry.bind(name, version.min(4), qh, ());
                        state.outputs.push(OutputInfo {
                            output,
                            global: name,
                            name: None,
                            size: (0, 0),
                            scale: 1,
                        });
                    }
                    "zwlr_screencopy_manager_v1" => {
                        g.screencopy = Some(registry.bind(name, version.min(3), qh, ()));
                    }
                    "ext_image_copy_capture_manager_v1" => {
                        g.ext_capture = Some(registry.bind(name, 1, qh, ()));
                    }
                    "ext_output_image_capture_source_manager_v1" => {
                        g.ext_output_source = Some(registry.bind(name, 1, qh, ()));
                    }
                    "zwp_virtual_keyboard_manager_v1" => {
                        g.virtual_keyboard = Some(registry.bind(name, 1, qh, ()));
                    }
                    "zwlr_virtual_pointer_manager_v1" => {
                        g.virtual_pointer = Some(registry.bind(name, version.min(2), qh, ()));
                    }
                    "zwp_input_method_manager_v2" => {
                        g.input_method = Some(registry.bind(name, 1, qh, ()));
                    }
                    "zwlr_output_manager_v1" => {
                        g.output_manager = Some(registry.bind(name, version.min(4), qh, ()));
                    }
                    other => super::clipboard::bind_manager(
                        &mut state.clipboard,
                        registry,
                        name,
                        other,
                        version,
                        qh,
                    ),
                }
            }
            wl_registry::Event::GlobalRemove { name } => {
                let Some(pos) = state.outputs.iter().position(|o| o.global == name) else {
                    return;
                };
                let info = state.outputs.remove(pos);
                if state.target.as_ref() == Some(&info.output.id()) {
                    state.close(format!(
                        "output {} was removed",
                        info.name.as_deref().unwrap_or("(unnamed)")
                    ));
                }
                if info.output.version() >= 3 {
                    info.output.release();
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<WlOutput, ()> for State {
    fn event(
        state: &mut Self,
        output: &WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let is_target = state.target.as_ref() == Some(&output.id());
        let Some(info) = state.outputs.iter_mut().find(|o| o.output == *output) else {
            return;
        };
        match event {
            wl_output::Event::Name { name } => info.name = Some(name),
            wl_output::Event::Mode {
                flags,
                width,
                height,
                ..
            } => {
                let current =
                    matches!(flags, WEnum::Value(f) if f.contains(wl_output::Mode::Current));
                if current {
                    info.size = (width.max(0) as u32, height.max(0) as u32);
                }
            }
            wl_output::Event::Scale { factor } => info.scale = factor,
            wl_output::Event::Done if is_target => state.capture.output_changed(),
            _ => {}
        }
    }
}

impl Dispatch<WlSeat, ()> for State {
    fn event(
        state: &mut Self,
        seat: &WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(caps),
        } = event
        {
            state.seat_has_pointer = caps.contains(wl_seat::Capability::Pointer);
            if state.seat_has_pointer && state.seat_pointer.is_none() {
                state.seat_pointer = Some(seat.get_pointer(qh, ()));
            }
        }
    }
}

impl Dispatch<WlPointer, ()> for State {
    fn event(
        _: &mut Self,
        _: &WlPointer,
        _: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // The seat's pointer only names the cursor for a cursor capture session; where it
        // goes is learnt from that session.
    }
}

impl Dispatch<WlShm, ()> for State {
    fn event(
        _: &mut Self,
        _: &WlShm,
        _: wl_shm::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WlShmPool, ()> for State {
    fn event(
        _: &mut Self,
        _: &WlShmPool,
        _: wl_shm_pool::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WlBuffer, ()> for State {
    fn event(
        _: &mut Self,
        _: &WlBuffer,
        _: wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // Capture buffers come back through the frame's ready/failed events, not release.
    }
}
