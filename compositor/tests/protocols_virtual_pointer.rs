//! wlr-virtual-pointer against a real wayland-client client: every request reaches the
//! handler with the values the seat needs, absolute motion lands on the right output.

#[macro_use]
mod proto_harness;

use proto_harness::{Server, make_output};
use skerry_compositor::protocols::virtual_pointer::{
    VirtualPointerEvent, VirtualPointerHandler, VirtualPointerManagerState,
};
use smithay::backend::input::{AxisSource, ButtonState};
use smithay::output::{Output, Scale};
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_output, wl_pointer, wl_registry};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1, zwlr_virtual_pointer_v1,
};

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    _outputs: OutputManagerState,
    _virtual_pointer: VirtualPointerManagerState,
    _keep: Vec<Output>,
    events: Vec<VirtualPointerEvent>,
}

impl OutputHandler for State {}
impl VirtualPointerHandler for State {
    fn virtual_pointer_layout(&mut self) -> Rectangle<i32, Logical> {
        Rectangle::from_size((2000, 1000).into())
    }
    fn virtual_pointer_event(
        &mut self,
        _seat: Option<&wayland_server::protocol::wl_seat::WlSeat>,
        event: VirtualPointerEvent,
    ) {
        self.events.push(event);
    }
}
smithay::delegate_output!(State);
test_compositor!(State);
skerry_compositor::delegate_virtual_pointer!(State);

struct Client;
impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
ignore_events!(Client: wl_output::WlOutput, zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1);

#[test]
fn virtual_pointer_events_reach_the_handler_in_compositor_coordinates() {
    let server = Server::start(|display| {
        // A HiDPI output (1920x1080 at scale 2, so 960x540 logical) at the origin.
        let output = make_output("HEADLESS-1", 1920, 1080);
        output.change_current_state(None, None, Some(Scale::Integer(2)), None);
        output.create_global::<State>(display);
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            _outputs: OutputManagerState::new(),
            _virtual_pointer: VirtualPointerManagerState::new::<State>(display, |_| true),
            _keep: vec![output],
            events: Vec::new(),
        }
    });
    let conn = server.connect();
    let (globals, mut queue) = registry_queue_init::<Client>(&conn).expect("registry");
    let qh = queue.handle();
    let output: wl_output::WlOutput = globals.bind(&qh, 1..=4, ()).expect("wl_output");
    let manager: zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1 =
        globals.bind(&qh, 2..=2, ()).expect("virtual pointer v2");
    let on_output = manager.create_virtual_pointer_with_output(None, Some(&output), &qh, ());
    let anywhere = manager.create_virtual_pointer(None, &qh, ());

    on_output.motion_absolute(1, 480, 135, 960, 540);
    on_output.frame();
    anywhere.motion_absolute(2, 3, 1, 4, 2);
    anywhere.motion(3, 1.5, -2.0);
    anywhere.button(4, 0x110, wl_pointer::ButtonState::Pressed);
    anywhere.button(5, 0x110, wl_pointer::ButtonState::Released);
    anywhere.axis_source(wl_pointer::AxisSource::Wheel);
    anywhere.axis_discrete(6, wl_pointer::Axis::VerticalScroll, 15.0, -2);
    anywhere.axis(6, wl_pointer::Axis::HorizontalScroll, 3.5);
    anywhere.frame();
    anywhere.axis_source(wl_pointer::AxisSource::Finger);
    anywhere.axis_stop(7, wl_pointer::Axis::VerticalScroll);
    anywhere.frame();
    queue.roundtrip(&mut Client).expect("roundtrip");

    let events = server.with(|s, _| std::mem::take(&mut s.events));
    let mut it = events.into_iter();
    let mut next = || it.next().expect("another event");
    match next() {
        VirtualPointerEvent::MotionAbsolute { time: 1, position } => {
            assert_eq!((position.x, position.y), (480.0, 135.0))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(next(), VirtualPointerEvent::Frame));
    match next() {
        VirtualPointerEvent::MotionAbsolute { time: 2, position } => {
            assert_eq!((position.x, position.y), (1500.0, 500.0))
        }
        other => panic!("unexpected {other:?}"),
    }
    match next() {
        VirtualPointerEvent::Motion { time: 3, delta } => {
            assert_eq!((delta.x, delta.y), (1.5, -2.0))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        next(),
        VirtualPointerEvent::Button {
            time: 4,
            button: 0x110,
            state: ButtonState::Pressed
        }
    ));
    assert!(matches!(
        next(),
        VirtualPointerEvent::Button {
            time: 5,
            button: 0x110,
            state: ButtonState::Released
        }
    ));
    match next() {
        VirtualPointerEvent::Axis(frame) => {
            assert_eq!(frame.source, Some(AxisSource::Wheel));
            assert_eq!(frame.time, 6);
            assert_eq!(frame.axis, (3.5, 15.0));
            assert_eq!(frame.v120, Some((0, -240)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(next(), VirtualPointerEvent::Frame));
    match next() {
        VirtualPointerEvent::Axis(frame) => {
            assert_eq!(frame.source, Some(AxisSource::Finger));
            assert_eq!(frame.stop, (false, true));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(next(), VirtualPointerEvent::Frame));
}
