//! `zwlr_virtual_pointer_manager_v1` (version 2): how the streamer moves the pointer,
//! clicks and scrolls on behalf of the browser.
//!
//! Requests become [`VirtualPointerEvent`]s in compositor coordinates: absolute motion is
//! mapped onto the output the pointer was created for (or the whole layout), and axis
//! requests are gathered into one smithay [`AxisFrame`] delivered at `frame`, which is what
//! the seat's pointer expects, so virtual input goes through the same path as real input.

use std::sync::Mutex;

use smithay::backend::input::{Axis, AxisSource, ButtonState};
use smithay::input::pointer::AxisFrame;
use smithay::output::{Output, WeakOutput};
use smithay::utils::{Logical, Point, Rectangle};
use wayland_protocols_wlr::virtual_pointer::v1::server::{
    zwlr_virtual_pointer_manager_v1::{self, ZwlrVirtualPointerManagerV1},
    zwlr_virtual_pointer_v1::{self, ZwlrVirtualPointerV1},
};
use wayland_server::backend::GlobalId;
use wayland_server::protocol::{wl_pointer, wl_seat::WlSeat};
use wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};

const VERSION: u32 = 2;

/// One pointer event, in compositor coordinates.
#[derive(Debug, Clone)]
pub enum VirtualPointerEvent {
    /// Relative motion (unaccelerated, logical pixels).
    Motion {
        time: u32,
        delta: Point<f64, Logical>,
    },
    /// Absolute motion, already mapped to the layout.
    MotionAbsolute {
        time: u32,
        position: Point<f64, Logical>,
    },
    /// `button` is a Linux input event code (`BTN_LEFT` = 0x110).
    Button {
        time: u32,
        button: u32,
        state: ButtonState,
    },
    /// Everything scrolled since the previous `frame`; `v120` holds discrete steps in
    /// 1/120ths of a wheel notch.
    Axis(AxisFrame),
    /// End of a group of events that belong together.
    Frame,
}

/// The compositor side of virtual pointers.
pub trait VirtualPointerHandler:
    GlobalDispatch<ZwlrVirtualPointerManagerV1, VirtualPointerGlobalData>
    + Dispatch<ZwlrVirtualPointerManagerV1, ()>
    + Dispatch<ZwlrVirtualPointerV1, VirtualPointerData>
    + 'static
{
    /// The whole output layout, for absolute motion of a pointer bound to no output.
    fn virtual_pointer_layout(&mut self) -> Rectangle<i32, Logical>;

    /// Feed `event` into the seat (`seat` is the one the client named, if any).
    fn virtual_pointer_event(&mut self, seat: Option<&WlSeat>, event: VirtualPointerEvent);
}

/// Global data: which clients may see the global (the streamer, not every app).
pub struct VirtualPointerGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for VirtualPointerGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualPointerGlobalData")
            .finish_non_exhaustive()
    }
}

/// Per-pointer data: its seat, its output and the axis frame being gathered.
#[derive(Debug)]
pub struct VirtualPointerData {
    seat: Option<WlSeat>,
    output: Option<WeakOutput>,
    axis: Mutex<Option<AxisFrame>>,
}

#[derive(Debug)]
pub struct VirtualPointerManagerState {
    global: GlobalId,
}

impl VirtualPointerManagerState {
    pub fn new<D: VirtualPointerHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let global = display.create_global::<D, ZwlrVirtualPointerManagerV1, _>(
            VERSION,
            VirtualPointerGlobalData {
                filter: Box::new(filter),
            },
        );
        Self { global }
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }
}

/// The output's area in the layout, in logical coordinates.
pub fn output_logical_geometry(output: &Output) -> Option<Rectangle<f64, Logical>> {
    let mode = output.current_mode()?;
    let size = output
        .current_transform()
        .transform_size(mode.size)
        .to_f64()
        .to_logical(output.current_scale().fractional_scale());
    Some(Rectangle::new(output.current_location().to_f64(), size))
}

impl<D: VirtualPointerHandler>
    GlobalDispatch<ZwlrVirtualPointerManagerV1, VirtualPointerGlobalData, D>
    for VirtualPointerManagerState
{
    fn bind(
        _state: &mut D,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrVirtualPointerManagerV1>,
        _global_data: &VirtualPointerGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &VirtualPointerGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: VirtualPointerHandler> Dispatch<ZwlrVirtualPointerManagerV1, (), D>
    for VirtualPointerManagerState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _manager: &ZwlrVirtualPointerManagerV1,
        request: zwlr_virtual_pointer_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let (seat, output, id) = match request {
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointer { seat, id } => {
                (seat, None, id)
            }
            zwlr_virtual_pointer_manager_v1::Request::CreateVirtualPointerWithOutput {
                seat,
                output,
                id,
            } => (seat, output.as_ref().and_then(Output::from_resource), id),
            _ => return,
        };
        data_init.init(
            id,
            VirtualPointerData {
                seat,
                output: output.map(|o| o.downgrade()),
                axis: Mutex::new(None),
            },
        );
    }
}

fn axis_of(pointer: &ZwlrVirtualPointerV1, axis: WEnum<wl_pointer::Axis>) -> Option<Axis> {
    match axis {
        WEnum::Value(wl_pointer::Axis::VerticalScroll) => Some(Axis::Vertical),
        WEnum::Value(wl_pointer::Axis::HorizontalScroll) => Some(Axis::Horizontal),
        _ => {
            pointer.post_error(zwlr_virtual_pointer_v1::Error::InvalidAxis, "unknown axis");
            None
        }
    }
}

/// The frame being gathered, stamped with the time of its latest axis event.
fn timed(frame: Option<AxisFrame>, time: u32) -> AxisFrame {
    let mut frame = frame.unwrap_or_else(|| AxisFrame::new(time));
    frame.time = time;
    frame
}

impl<D: VirtualPointerHandler> Dispatch<ZwlrVirtualPointerV1, VirtualPointerData, D>
    for VirtualPointerManagerState
{
    fn request(
        state: &mut D,
        _client: &Client,
        pointer: &ZwlrVirtualPointerV1,
        request: zwlr_virtual_pointer_v1::Request,
        data: &VirtualPointerData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        use zwlr_virtual_pointer_v1::Request;
        let Ok(mut axis) = data.axis.lock() else {
            return;
        };
        let event = match request {
            Request::Motion { time, dx, dy } => VirtualPointerEvent::Motion {
                time,
                delta: (dx, dy).into(),
            },
            Request::MotionAbsolute {
                time,
                x,
                y,
                x_extent,
                y_extent,
            } => {
                if x_extent == 0 || y_extent == 0 {
                    return;
                }
                let area = match data.output.as_ref().and_then(WeakOutput::upgrade) {
                    Some(output) => output_logical_geometry(&output),
                    None => None,
                }
                .unwrap_or_else(|| state.virtual_pointer_layout().to_f64());
                let fx = f64::from(x.min(x_extent)) / f64::from(x_extent);
                let fy = f64::from(y.min(y_extent)) / f64::from(y_extent);
                VirtualPointerEvent::MotionAbsolute {
                    time,
                    position: (area.loc.x + fx * area.size.w, area.loc.y + fy * area.size.h).into(),
                }
            }
            Request::Button {
                time,
                button,
                state: button_state,
            } => VirtualPointerEvent::Button {
                time,
                button,
                state: match button_state {
                    WEnum::Value(wl_pointer::ButtonState::Pressed) => ButtonState::Pressed,
                    _ => ButtonState::Released,
                },
            },
            Request::Axis {
                time,
                axis: which,
                value,
            } => {
                let Some(which) = axis_of(pointer, which) else {
                    return;
                };
                let frame = timed(axis.take(), time);
                *axis = Some(frame.value(which, value));
                return;
            }
            Request::AxisDiscrete {
                time,
                axis: which,
                value,
                discrete,
            } => {
                let Some(which) = axis_of(pointer, which) else {
                    return;
                };
                let frame = timed(axis.take(), time);
                *axis = Some(
                    frame
                        .value(which, value)
                        .v120(which, discrete.saturating_mul(120)),
                );
                return;
            }
            Request::AxisStop { time, axis: which } => {
                let Some(which) = axis_of(pointer, which) else {
                    return;
                };
                let frame = timed(axis.take(), time);
                *axis = Some(frame.stop(which));
                return;
            }
            Request::AxisSource { axis_source } => {
                let source = match axis_source {
                    WEnum::Value(wl_pointer::AxisSource::Wheel) => AxisSource::Wheel,
                    WEnum::Value(wl_pointer::AxisSource::Finger) => AxisSource::Finger,
                    WEnum::Value(wl_pointer::AxisSource::Continuous) => AxisSource::Continuous,
                    WEnum::Value(wl_pointer::AxisSource::WheelTilt) => AxisSource::WheelTilt,
                    _ => {
                        pointer.post_error(
                            zwlr_virtual_pointer_v1::Error::InvalidAxisSource,
                            "unknown axis source",
                        );
                        return;
                    }
                };
                let frame = axis.take().unwrap_or_else(|| AxisFrame::new(0));
                *axis = Some(frame.source(source));
                return;
            }
            Request::Frame => {
                let pending = axis.take();
                drop(axis);
                if let Some(frame) = pending {
                    state.virtual_pointer_event(
                        data.seat.as_ref(),
                        VirtualPointerEvent::Axis(frame),
                    );
                }
                state.virtual_pointer_event(data.seat.as_ref(), VirtualPointerEvent::Frame);
                return;
            }
            _ => return,
        };
        drop(axis);
        state.virtual_pointer_event(data.seat.as_ref(), event);
    }
}

/// Delegates virtual pointers to [`VirtualPointerManagerState`]; implement
/// [`VirtualPointerHandler`].
#[macro_export]
macro_rules! delegate_virtual_pointer {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::wayland_protocols_wlr::virtual_pointer::v1::server::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1:
                $crate::protocols::virtual_pointer::VirtualPointerGlobalData
        ] => $crate::protocols::virtual_pointer::VirtualPointerManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::virtual_pointer::v1::server::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1: ()
        ] => $crate::protocols::virtual_pointer::VirtualPointerManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::wayland_protocols_wlr::virtual_pointer::v1::server::zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1:
                $crate::protocols::virtual_pointer::VirtualPointerData
        ] => $crate::protocols::virtual_pointer::VirtualPointerManagerState);
    };
}
