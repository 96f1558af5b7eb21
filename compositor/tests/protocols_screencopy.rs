//! wlr-screencopy against real wayland-client clients: buffer negotiation, copies of known
//! pixels, regions, damage-gated copies, the cursor overlay, bad buffers and misuse.

#[macro_use]
mod proto_harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto_harness::{Server, ShmBuffer, dispatch_until, make_output, pattern};
use skerry_compositor::protocols::capture::{Cursor, Image, RenderedOutput};
use skerry_compositor::protocols::screencopy::{ScreencopyHandler, ScreencopyManagerState};
use smithay::output::Output;
use smithay::utils::Rectangle;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use smithay::wayland::shm::{ShmHandler, ShmState};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};

const W: i32 = 100;
const H: i32 = 80;
/// Where the tests' cursor usually is.
const CURSOR: Option<(i32, i32)> = Some((50, 40));

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    shm: ShmState,
    _outputs: OutputManagerState,
    screencopy: ScreencopyManagerState,
    output: Output,
    requested: usize,
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {}
}
impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}
impl OutputHandler for State {}
impl ScreencopyHandler for State {
    fn screencopy_state(&mut self) -> &mut ScreencopyManagerState {
        &mut self.screencopy
    }
    fn screencopy_frame_requested(&mut self, _output: &Output) {
        self.requested += 1;
    }
}
smithay::delegate_shm!(State);
smithay::delegate_output!(State);
test_compositor!(State);
skerry_compositor::delegate_screencopy!(State);

fn start() -> Server<State> {
    Server::start(|display| {
        let output = make_output("HEADLESS-1", W, H);
        output.create_global::<State>(display);
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            shm: ShmState::new::<State>(
                display,
                [wayland_server::protocol::wl_shm::Format::Abgr8888],
            ),
            _outputs: OutputManagerState::new(),
            screencopy: ScreencopyManagerState::new::<State>(display, |_| true),
            output,
            requested: 0,
        }
    })
}

/// The output's content in these tests: a colour that encodes its coordinates.
fn output_pixel(x: i32, y: i32) -> [u8; 4] {
    [x as u8, y as u8, 0x80, 0xff]
}

/// Feeds the server one render of the output with `damage`, optionally with a cursor.
fn render(
    server: &Server<State>,
    damage: Vec<Rectangle<i32, smithay::utils::Physical>>,
    cursor_at: Option<(i32, i32)>,
) {
    server.with(move |state, _| {
        let pixels = pattern(W, H, output_pixel);
        // A 2x2 opaque white cursor with its hotspot at its top-left pixel.
        let cursor_px = [0xffu8; 16];
        let cursor = cursor_at.map(|at| Cursor {
            position: at.into(),
            image: Some((
                Image {
                    size: (2, 2).into(),
                    stride: 8,
                    pixels: &cursor_px,
                },
                (0, 0).into(),
            )),
        });
        state.screencopy.on_output_rendered(&RenderedOutput {
            output: &state.output,
            image: Image {
                size: (W, H).into(),
                stride: (W * 4) as usize,
                pixels: &pixels,
            },
            damage: &damage,
            cursor,
            time: Duration::new(5, 42),
        });
    });
}

#[derive(Debug, Default)]
struct FrameEvents {
    buffers: Vec<(WEnum<wl_shm::Format>, u32, u32, u32)>,
    buffer_done: bool,
    flags: Option<u32>,
    damage: Vec<(u32, u32, u32, u32)>,
    ready: Option<(u32, u32, u32)>,
    failed: bool,
}
type Frame = Arc<Mutex<FrameEvents>>;

struct Client {
    shm: wl_shm::WlShm,
    output: wl_output::WlOutput,
    manager: zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
}

impl Client {
    fn connect(server: &Server<State>) -> (Connection, EventQueue<Self>, Self) {
        let conn = server.connect();
        let (globals, queue) = registry_queue_init::<Self>(&conn).expect("registry");
        let qh = queue.handle();
        let client = Self {
            shm: globals.bind(&qh, 1..=1, ()).expect("wl_shm"),
            output: globals.bind(&qh, 1..=4, ()).expect("wl_output"),
            manager: globals.bind(&qh, 3..=3, ()).expect("screencopy v3"),
        };
        (conn, queue, client)
    }

    fn capture(
        &self,
        qh: &QueueHandle<Self>,
        overlay_cursor: bool,
    ) -> (zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, Frame) {
        let events = Frame::default();
        let frame = self.manager.capture_output(
            i32::from(overlay_cursor),
            &self.output,
            qh,
            events.clone(),
        );
        (frame, events)
    }
}

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

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, Frame> for Client {
    fn event(
        _: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        data: &Frame,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event;
        let mut f = data.lock().expect("frame events");
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => f.buffers.push((format, width, height, stride)),
            Event::BufferDone => f.buffer_done = true,
            Event::Flags { flags } => f.flags = Some(u32::from(flags)),
            Event::Damage {
                x,
                y,
                width,
                height,
            } => f.damage.push((x, y, width, height)),
            Event::Ready {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => f.ready = Some((tv_sec_hi, tv_sec_lo, tv_nsec)),
            Event::Failed => f.failed = true,
            _ => {}
        }
    }
}

ignore_events!(Client: wl_shm::WlShm, wl_output::WlOutput, wl_shm_pool::WlShmPool, wl_buffer::WlBuffer,
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1);

fn done(frame: &Frame) -> bool {
    let f = frame.lock().expect("frame");
    f.ready.is_some() || f.failed
}

#[test]
fn screencopy_negotiates_shm_buffer_and_copies_known_pixels() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (frame, events) = client.capture(&qh, false);
    dispatch_until(&mut queue, &mut client, |_| {
        events.lock().expect("f").buffer_done
    });
    {
        let f = events.lock().expect("f");
        // Exactly one shm buffer event: grim 1.4 copies on each one it gets.
        assert_eq!(
            f.buffers,
            vec![(
                WEnum::Value(wl_shm::Format::Xrgb8888),
                W as u32,
                H as u32,
                W as u32 * 4
            )]
        );
    }
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    frame.copy(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(!done(&events), "no frame before the output rendered");
    assert_eq!(
        server.with(|s, _| (s.requested, s.screencopy.wants_frame(&s.output))),
        (1, true)
    );

    // A plain copy is answered by the next render even without damage.
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    let f = events.lock().expect("f");
    assert!(!f.failed);
    assert_eq!(f.flags, Some(0), "not y-inverted");
    assert_eq!(f.ready, Some((0, 5, 42)));
    assert!(f.damage.is_empty(), "plain copy sends no damage");
    for (x, y) in [(0, 0), (99, 0), (0, 79), (37, 61), (99, 79)] {
        assert_eq!(
            buffer.pixel(x, y),
            output_pixel(x, y),
            "pixel at ({x}, {y})"
        );
    }
}

#[test]
fn screencopy_region_is_clipped_and_offset() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let events = Frame::default();
    let frame = client.manager.capture_output_region(
        0,
        &client.output,
        90,
        10,
        30,
        20,
        &qh,
        events.clone(),
    );
    dispatch_until(&mut queue, &mut client, |_| {
        events.lock().expect("f").buffer_done
    });
    assert_eq!(
        events.lock().expect("f").buffers[0],
        (WEnum::Value(wl_shm::Format::Xrgb8888), 10, 20, 40),
        "region clipped to the output's right edge"
    );
    let buffer = ShmBuffer::new(&client.shm, &qh, 10, 20, 40, wl_shm::Format::Argb8888);
    frame.copy(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    assert!(events.lock().expect("f").ready.is_some());
    assert_eq!(buffer.pixel(0, 0), output_pixel(90, 10));
    assert_eq!(buffer.pixel(9, 19), output_pixel(99, 29));
}

#[test]
fn screencopy_copy_with_damage_waits_for_damage() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);

    // First copy of this client: full damage, answered at once.
    let (frame, events) = client.capture(&qh, false);
    frame.copy_with_damage(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    assert_eq!(
        events.lock().expect("f").damage,
        vec![(0, 0, W as u32, H as u32)]
    );
    frame.destroy();

    // Second: held while renders bring no damage.
    let (frame, events) = client.capture(&qh, false);
    frame.copy_with_damage(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(!server.with(|s, _| s.screencopy.wants_frame(&s.output)));
    render(&server, vec![], None);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(!done(&events), "no damage, no frame");

    render(
        &server,
        vec![Rectangle::new((5, 6).into(), (10, 11).into())],
        None,
    );
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    let f = events.lock().expect("f");
    assert!(f.ready.is_some());
    assert_eq!(f.damage, vec![(5, 6, 10, 11)]);
}

#[test]
fn screencopy_overlay_cursor_only_when_asked() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let with = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let without = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (frame_with, events_with) = client.capture(&qh, true);
    let (frame_without, events_without) = client.capture(&qh, false);
    frame_with.copy(&with.buffer);
    frame_without.copy(&without.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], CURSOR);
    dispatch_until(&mut queue, &mut client, |_| {
        done(&events_with) && done(&events_without)
    });
    assert_eq!(with.pixel(51, 41), [0xff; 4], "cursor painted");
    assert_eq!(with.pixel(52, 41), output_pixel(52, 41), "cursor is 2x2");
    assert_eq!(
        without.pixel(51, 41),
        output_pixel(51, 41),
        "no cursor without overlay_cursor"
    );
}

#[test]
fn screencopy_bad_buffers_fail_without_harming_the_session() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let bad = [
        ShmBuffer::new(&client.shm, &qh, W - 1, H, W * 4, wl_shm::Format::Xrgb8888),
        ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Abgr8888),
        ShmBuffer::new(&client.shm, &qh, W, H + 1, W * 4, wl_shm::Format::Xrgb8888),
    ];
    let frames: Vec<_> = bad
        .iter()
        .map(|b| {
            let (frame, events) = client.capture(&qh, false);
            frame.copy(&b.buffer);
            events
        })
        .collect();
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| frames.iter().all(done));
    for events in &frames {
        let f = events.lock().expect("f");
        assert!(f.failed && f.ready.is_none(), "{f:?}");
    }

    let good = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (frame, events) = client.capture(&qh, false);
    frame.copy(&good.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    assert!(events.lock().expect("f").ready.is_some());
}

#[test]
fn screencopy_second_copy_is_a_protocol_error_and_others_keep_working() {
    let server = start();
    let (bad_conn, mut bad_queue, mut bad) = Client::connect(&server);
    let (_conn, mut queue, mut good) = Client::connect(&server);
    let bad_qh = bad_queue.handle();
    let qh = queue.handle();

    let buffer = ShmBuffer::new(&bad.shm, &bad_qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (frame, _events) = bad.capture(&bad_qh, false);
    frame.copy(&buffer.buffer);
    frame.copy(&buffer.buffer);
    assert!(bad_queue.roundtrip(&mut bad).is_err());
    let err = bad_conn.protocol_error().expect("protocol error");
    assert_eq!(
        err.code,
        zwlr_screencopy_frame_v1::Error::AlreadyUsed as u32
    );
    assert_eq!(err.object_interface, "zwlr_screencopy_frame_v1");

    let buffer = ShmBuffer::new(&good.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (frame, events) = good.capture(&qh, false);
    frame.copy(&buffer.buffer);
    queue.roundtrip(&mut good).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut good, |_| done(&events));
    assert!(events.lock().expect("f").ready.is_some());
}

#[test]
fn screencopy_cursor_moves_damage_frames_that_paint_the_cursor() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (frame, events) = client.capture(&qh, true);
    frame.copy_with_damage(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], CURSOR);
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    frame.destroy();

    let (frame, events) = client.capture(&qh, true);
    frame.copy_with_damage(&buffer.buffer);
    queue.roundtrip(&mut client).expect("roundtrip");
    // The cursor (2x2, drawn at (50, 40) so far) moves to (10, 10) between renders.
    let wants = server.with(|state, _| {
        let px = [0xffu8; 16];
        let cursor = Cursor {
            position: (10, 10).into(),
            image: Some((
                Image {
                    size: (2, 2).into(),
                    stride: 8,
                    pixels: &px,
                },
                (0, 0).into(),
            )),
        };
        let output = state.output.clone();
        state.screencopy.on_cursor_changed(&output, Some(&cursor))
    });
    assert!(
        wants,
        "the cursor move is damage for a frame that paints it"
    );
    render(&server, vec![], Some((10, 10)));
    dispatch_until(&mut queue, &mut client, |_| done(&events));
    let mut damage = events.lock().expect("f").damage.clone();
    damage.sort_unstable();
    assert_eq!(damage, vec![(10, 10, 2, 2), (50, 40, 2, 2)]);
}
