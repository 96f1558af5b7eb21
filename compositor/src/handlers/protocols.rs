//! Skerry's side of the protocols in [`crate::protocols`]: screencopy and image copy capture
//! fed from the render loop and the cursor, virtual pointers into the shared input path,
//! output management onto [`Skerry::set_output_mode`], and the wlr window list kept in step
//! with the layout's toplevels.

use std::collections::HashMap;
use std::time::Duration;

use smithay::backend::input::{Axis, AxisSource, ButtonState};
use smithay::output::Output;
use smithay::reexports::wayland_server::{DisplayHandle, protocol::wl_seat::WlSeat};
use smithay::utils::{Logical, Physical, Rectangle};

use crate::hooks::{CursorState, OutputImage};
use crate::input::AxisAmount;
use crate::layout::WindowId;
use crate::protocols::capture::{Cursor, Image, RenderedOutput};
use crate::protocols::foreign_toplevel::{
    ForeignToplevelHandler, ForeignToplevelManagerState, ToplevelHandle, ToplevelInfo,
    ToplevelRequest,
};
use crate::protocols::image_copy::{ImageCopyCaptureHandler, ImageCopyCaptureState};
use crate::protocols::output_management::{
    ModeRequest, OutputConfigError, OutputConfiguration, OutputManagementHandler,
    OutputManagementState,
};
use crate::protocols::screencopy::{ScreencopyHandler, ScreencopyManagerState};
use crate::protocols::virtual_pointer::{
    VirtualPointerEvent, VirtualPointerHandler, VirtualPointerManagerState,
};
use crate::state::Skerry;

/// The protocol states this module serves, one field in [`Skerry`].
#[derive(Debug)]
pub struct ProtocolStates {
    pub screencopy: ScreencopyManagerState,
    pub image_copy: ImageCopyCaptureState,
    pub virtual_pointer: VirtualPointerManagerState,
    pub output_management: OutputManagementState,
    pub foreign_toplevel: ForeignToplevelManagerState,
    /// wlr window-list handles of the layout's windows.
    toplevels: HashMap<WindowId, ToplevelHandle>,
    /// A cursor update for the capture protocols is queued.
    cursor_update_pending: bool,
}

impl ProtocolStates {
    pub fn new(display: &DisplayHandle, output: &Output) -> Self {
        let mut output_management = OutputManagementState::new::<Skerry>(display, |_| true);
        output_management.add_head::<Skerry>(output);
        Self {
            screencopy: ScreencopyManagerState::new::<Skerry>(display, |_| true),
            image_copy: ImageCopyCaptureState::new::<Skerry>(display, |_| true),
            virtual_pointer: VirtualPointerManagerState::new::<Skerry>(display, |_| true),
            output_management,
            foreign_toplevel: ForeignToplevelManagerState::new::<Skerry>(display, |_| true),
            toplevels: HashMap::new(),
            cursor_update_pending: false,
        }
    }
}

/// The cursor converted for the capture protocols: premultiplied B,G,R,A.
struct CursorPixels {
    x: i32,
    y: i32,
    image: Option<(u32, u32, i32, i32, Vec<u8>)>,
}

impl CursorPixels {
    fn of(state: &CursorState) -> Self {
        let image = state.image.as_ref().map(|c| {
            let bgra = c
                .rgba
                .chunks_exact(4)
                .flat_map(|p| {
                    let a = u16::from(p[3]);
                    let pre = |v: u8| ((u16::from(v) * a + 127) / 255) as u8;
                    [pre(p[2]), pre(p[1]), pre(p[0]), p[3]]
                })
                .collect();
            (c.width, c.height, c.hotspot_x, c.hotspot_y, bgra)
        });
        Self {
            x: state.x,
            y: state.y,
            image,
        }
    }

    fn cursor(&self) -> Cursor<'_> {
        Cursor {
            position: (self.x, self.y).into(),
            image: self.image.as_ref().map(|(w, h, hx, hy, px)| {
                (
                    Image {
                        size: (*w as i32, *h as i32).into(),
                        stride: *w as usize * 4,
                        pixels: px,
                    },
                    (*hx, *hy).into(),
                )
            }),
        }
    }
}

/// After a render: hands the image, its damage and the cursor to the capture protocols.
/// Takes the fields it needs so the render loop can keep the image borrowed.
pub(crate) fn feed_capture(
    protocols: &mut ProtocolStates,
    output: &Output,
    image: &OutputImage<'_>,
    damage: &[Rectangle<i32, Physical>],
    cursor: &CursorState,
    time: Duration,
) {
    let pixels = CursorPixels::of(cursor);
    let cursor = pixels.cursor();
    let rendered = RenderedOutput {
        output,
        image: Image {
            size: (image.width as i32, image.height as i32).into(),
            stride: image.stride as usize,
            pixels: image.bytes,
        },
        damage,
        cursor: Some(cursor),
        time,
    };
    protocols.screencopy.on_output_rendered(&rendered);
    protocols.image_copy.on_output_rendered(&rendered);
}

impl Skerry {
    /// The cursor moved or changed: cursor sessions hear it once the current batch of
    /// events is done; frames that paint the cursor get a render. Deferred because smithay
    /// reports cursor images while it holds the pointer, which reading the cursor needs.
    pub(crate) fn capture_cursor_changed(&mut self) {
        if std::mem::replace(&mut self.protocols.cursor_update_pending, true) {
            return;
        }
        self.loop_handle.insert_idle(|state| {
            state.protocols.cursor_update_pending = false;
            state.update_capture_cursor();
        });
    }

    fn update_capture_cursor(&mut self) {
        let pixels = CursorPixels::of(&self.cursor_state());
        let cursor = pixels.cursor();
        let time = self.now();
        let output = self.output.clone();
        let image_copy_wants =
            self.protocols
                .image_copy
                .on_cursor_changed(&output, Some(&cursor), time);
        let screencopy_wants = self
            .protocols
            .screencopy
            .on_cursor_changed(&output, Some(&cursor));
        if image_copy_wants || screencopy_wants {
            self.answer_captures();
        }
    }

    /// Brings the wlr window list in step with the layout's toplevels.
    pub(crate) fn sync_wlr_toplevels(&mut self) {
        let list = self.toplevels();
        let output = self.output.clone();
        let protocols = &mut self.protocols;
        let gone: Vec<WindowId> = protocols
            .toplevels
            .keys()
            .filter(|id| !list.iter().any(|t| t.id == **id))
            .copied()
            .collect();
        for id in gone {
            if let Some(handle) = protocols.toplevels.remove(&id) {
                protocols.foreign_toplevel.remove_toplevel(&handle);
            }
        }
        for t in &list {
            let mut info = ToplevelInfo {
                title: t.title.clone(),
                app_id: t.app_id.clone(),
                maximized: t.maximized,
                minimized: t.minimized,
                activated: t.activated,
                fullscreen: t.fullscreen,
                outputs: vec![output.clone()],
                parent: None,
            };
            if t.minimized {
                info.outputs.clear();
            }
            match protocols.toplevels.get(&t.id) {
                Some(handle) => handle.set_info(info),
                None => {
                    let handle = protocols.foreign_toplevel.new_toplevel::<Skerry>(info);
                    protocols.toplevels.insert(t.id, handle);
                }
            }
        }
    }

    /// The output's mode or scale changed: capture clients and output managers follow.
    pub(crate) fn output_mode_changed(&mut self) {
        let output = self.output.clone();
        self.protocols.screencopy.output_changed(&output);
        self.protocols.output_management.refresh::<Skerry>();
    }

    fn window_of(&self, handle: &ToplevelHandle) -> Option<WindowId> {
        self.protocols
            .toplevels
            .iter()
            .find(|(_, h)| *h == handle)
            .map(|(id, _)| *id)
    }
}

impl ScreencopyHandler for Skerry {
    fn screencopy_state(&mut self) -> &mut ScreencopyManagerState {
        &mut self.protocols.screencopy
    }

    fn screencopy_frame_requested(&mut self, output: &Output) {
        if self.protocols.screencopy.wants_frame(output) {
            self.answer_captures();
        }
    }
}
crate::delegate_screencopy!(Skerry);

impl ImageCopyCaptureHandler for Skerry {
    fn image_copy_capture_state(&mut self) -> &mut ImageCopyCaptureState {
        &mut self.protocols.image_copy
    }

    fn image_copy_frame_requested(&mut self, output: &Output) {
        if self.protocols.image_copy.wants_frame(output) {
            self.answer_captures();
        } else {
            // A cursor session's frame is answered from the cursor, not from a render.
            self.capture_cursor_changed();
        }
    }

    fn image_copy_cursor_session_created(&mut self, _output: &Output) {
        // Tell the new session where the cursor is without waiting for it to move.
        self.capture_cursor_changed();
    }
}
crate::delegate_image_copy_capture!(Skerry);

impl VirtualPointerHandler for Skerry {
    fn virtual_pointer_layout(&mut self) -> Rectangle<i32, Logical> {
        crate::protocols::virtual_pointer::output_logical_geometry(&self.output)
            .map(|g| g.to_i32_round())
            .unwrap_or_default()
    }

    fn virtual_pointer_event(&mut self, _seat: Option<&WlSeat>, event: VirtualPointerEvent) {
        // The input path takes output pixels; the protocol module speaks logical ones.
        let scale = self.scale();
        let origin = self.output.current_location().to_f64();
        match event {
            VirtualPointerEvent::Motion { delta, .. } => {
                self.pointer_motion_relative(delta.x * scale, delta.y * scale);
            }
            VirtualPointerEvent::MotionAbsolute { position, .. } => {
                let p = position - origin;
                self.pointer_motion_absolute(p.x * scale, p.y * scale);
            }
            VirtualPointerEvent::Button { button, state, .. } => {
                self.pointer_button(button, state == ButtonState::Pressed);
            }
            VirtualPointerEvent::Axis(frame) => {
                let amount = |axis: Axis| {
                    let (value, v120) = match axis {
                        Axis::Horizontal => (frame.axis.0, frame.v120.map(|v| v.0)),
                        Axis::Vertical => (frame.axis.1, frame.v120.map(|v| v.1)),
                    };
                    AxisAmount { value, v120 }
                };
                let source = frame.source.unwrap_or(AxisSource::Wheel);
                self.pointer_axis(source, amount(Axis::Horizontal), amount(Axis::Vertical));
            }
            VirtualPointerEvent::Frame => self.pointer_frame(),
        }
    }
}
crate::delegate_virtual_pointer!(Skerry);

impl OutputManagementHandler for Skerry {
    fn output_management_state(&mut self) -> &mut OutputManagementState {
        &mut self.protocols.output_management
    }

    fn test_output_configuration(
        &mut self,
        config: &OutputConfiguration,
    ) -> Result<(), OutputConfigError> {
        for head in &config.heads {
            if head.output != self.output {
                return Err(OutputConfigError::Refused("unknown output".into()));
            }
            if !head.enabled {
                return Err(OutputConfigError::NoOutputs);
            }
            if head.position.is_some_and(|p| p != (0, 0).into()) {
                return Err(OutputConfigError::Refused(
                    "the only output stays at 0,0".into(),
                ));
            }
            if head
                .transform
                .is_some_and(|t| t != smithay::utils::Transform::Normal)
            {
                return Err(OutputConfigError::Refused(
                    "rotation is not supported".into(),
                ));
            }
        }
        Ok(())
    }

    fn apply_output_configuration(
        &mut self,
        config: OutputConfiguration,
    ) -> Result<(), OutputConfigError> {
        self.test_output_configuration(&config)?;
        for head in config.heads {
            let size = match head.mode {
                Some(ModeRequest::Advertised(mode)) => mode.size,
                Some(ModeRequest::Custom { size, .. }) => size,
                None => self
                    .output
                    .current_mode()
                    .map(|m| m.size)
                    .unwrap_or_default(),
            };
            let scale = head.scale.unwrap_or_else(|| self.scale());
            self.set_output_mode(size.w as u32, size.h as u32, scale)
                .map_err(|e| OutputConfigError::Refused(e.to_string()))?;
        }
        Ok(())
    }
}
crate::delegate_output_management!(Skerry);

impl ForeignToplevelHandler for Skerry {
    fn foreign_toplevel_state(&mut self) -> &mut ForeignToplevelManagerState {
        &mut self.protocols.foreign_toplevel
    }

    fn foreign_toplevel_request(&mut self, toplevel: &ToplevelHandle, request: ToplevelRequest) {
        let Some(id) = self.window_of(toplevel) else {
            return;
        };
        match request {
            ToplevelRequest::Activate { .. } => self.activate_window(id),
            ToplevelRequest::SetMaximized(on) => self.set_window_maximized(id, on),
            ToplevelRequest::SetMinimized(on) => self.set_window_minimized(id, on),
            ToplevelRequest::SetFullscreen { fullscreen, .. } => {
                self.set_window_fullscreen(id, fullscreen)
            }
            ToplevelRequest::Close => self.close_window(id),
            ToplevelRequest::SetRectangle { .. } => {}
        }
    }
}
crate::delegate_foreign_toplevel!(Skerry);
