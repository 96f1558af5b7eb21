//! ext-image-copy-capture against real wayland-client clients: session constraints, frames
//! with per-session damage, cursor sessions (position, hotspot, cursor image frames), the
//! paint_cursors option, bad buffers and protocol misuse.

#[macro_use]
mod proto_harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto_harness::{Server, ShmBuffer, dispatch_until, make_output, pattern};
use skerry_compositor::protocols::capture::{Cursor, Image, RenderedOutput};
use skerry_compositor::protocols::image_copy::{ImageCopyCaptureHandler, ImageCopyCaptureState};
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::output::Output;
use smithay::utils::{Physical, Point, Rectangle};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use smithay::wayland::shm::{ShmHandler, ShmState};
use wayland_client::globals::{GlobalList, GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer, wl_output, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle};
use wayland_protocols::ext::image_capture_source::v1::client::{
    ext_image_capture_source_v1::ExtImageCaptureSourceV1,
    ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
};
use wayland_protocols::ext::image_copy_capture::v1::client::{
    ext_image_copy_capture_cursor_session_v1::{self, ExtImageCopyCaptureCursorSessionV1},
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};
use wayland_server::protocol::wl_surface::WlSurface;

const W: i32 = 100;
const H: i32 = 80;

struct State {
    compositor: smithay::wayland::compositor::CompositorState,
    shm: ShmState,
    _outputs: OutputManagerState,
    seat_state: SeatState<State>,
    _seat: Seat<State>,
    capture: ImageCopyCaptureState,
    output: Output,
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
impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;
    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.seat_state
    }
}
impl ImageCopyCaptureHandler for State {
    fn image_copy_capture_state(&mut self) -> &mut ImageCopyCaptureState {
        &mut self.capture
    }
}
smithay::delegate_shm!(State);
smithay::delegate_output!(State);
test_compositor!(State);
smithay::delegate_seat!(State);
skerry_compositor::delegate_image_copy_capture!(State);

fn start() -> Server<State> {
    Server::start(|display| {
        let output = make_output("HEADLESS-1", W, H);
        output.create_global::<State>(display);
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(display, "seat0");
        seat.add_pointer();
        State {
            compositor: smithay::wayland::compositor::CompositorState::new::<State>(display),
            shm: ShmState::new::<State>(display, []),
            _outputs: OutputManagerState::new(),
            seat_state,
            _seat: seat,
            capture: ImageCopyCaptureState::new::<State>(display, |_| true),
            output,
        }
    })
}

fn output_pixel(x: i32, y: i32) -> [u8; 4] {
    [x as u8, y as u8, 0x40, 0xff]
}

/// A 4x4 cursor, hotspot (1, 1); each pixel encodes its place, fully opaque.
fn cursor_pixel(x: i32, y: i32) -> [u8; 4] {
    [0xf0 + x as u8, 0xe0 + y as u8, 0xd0, 0xff]
}

type Damage = Vec<Rectangle<i32, Physical>>;

fn render(server: &Server<State>, damage: Damage, cursor_at: Option<(i32, i32)>) {
    server.with(move |state, _| {
        let pixels = pattern(W, H, output_pixel);
        let cursor_px = pattern(4, 4, cursor_pixel);
        let cursor = cursor_at.map(|(x, y)| Cursor {
            position: Point::from((x, y)),
            image: Some((
                Image {
                    size: (4, 4).into(),
                    stride: 16,
                    pixels: &cursor_px,
                },
                (1, 1).into(),
            )),
        });
        state.capture.on_output_rendered(&RenderedOutput {
            output: &state.output,
            image: Image {
                size: (W, H).into(),
                stride: (W * 4) as usize,
                pixels: &pixels,
            },
            damage: &damage,
            cursor,
            time: Duration::new(7, 9),
        });
    });
}

/// Tells the server the cursor moved (or left, with `None`) without a render; returns
/// whether a waiting frame now wants a render.
fn move_cursor(server: &Server<State>, at: Option<(i32, i32)>) -> bool {
    server.with(move |state, _| {
        let cursor_px = pattern(4, 4, cursor_pixel);
        let cursor = at.map(|(x, y)| Cursor {
            position: Point::from((x, y)),
            image: Some((
                Image {
                    size: (4, 4).into(),
                    stride: 16,
                    pixels: &cursor_px,
                },
                (1, 1).into(),
            )),
        });
        let output = state.output.clone();
        state
            .capture
            .on_cursor_changed(&output, cursor.as_ref(), Duration::new(8, 0))
    })
}

#[derive(Debug, Default)]
struct SessionEvents {
    size: Option<(u32, u32)>,
    formats: Vec<u32>,
    done: usize,
    stopped: bool,
}
type SessionLog = Arc<Mutex<SessionEvents>>;

#[derive(Debug, Default)]
struct FrameEvents {
    transform: bool,
    damage: Vec<(i32, i32, i32, i32)>,
    time: Option<(u32, u32, u32)>,
    ready: bool,
    failed: Option<u32>,
}
type FrameLog = Arc<Mutex<FrameEvents>>;

#[derive(Debug, Default, Clone, PartialEq)]
enum CursorEvent {
    #[default]
    Enter,
    Leave,
    Position(i32, i32),
    Hotspot(i32, i32),
}
type CursorLog = Arc<Mutex<Vec<CursorEvent>>>;

struct Client {
    shm: wl_shm::WlShm,
    output: wl_output::WlOutput,
    seat: wl_seat::WlSeat,
    sources: ExtOutputImageCaptureSourceManagerV1,
    manager: ExtImageCopyCaptureManagerV1,
}

impl Client {
    fn connect(server: &Server<State>) -> (Connection, EventQueue<Self>, Self) {
        let conn = server.connect();
        let (globals, queue): (GlobalList, _) =
            registry_queue_init::<Self>(&conn).expect("registry");
        let qh = queue.handle();
        let client = Self {
            shm: globals.bind(&qh, 1..=1, ()).expect("wl_shm"),
            output: globals.bind(&qh, 1..=4, ()).expect("wl_output"),
            seat: globals.bind(&qh, 1..=9, ()).expect("wl_seat"),
            sources: globals.bind(&qh, 1..=1, ()).expect("output source manager"),
            manager: globals.bind(&qh, 1..=1, ()).expect("image copy manager"),
        };
        (conn, queue, client)
    }

    fn source(&self, qh: &QueueHandle<Self>) -> ExtImageCaptureSourceV1 {
        self.sources.create_source(&self.output, qh, ())
    }

    fn session(
        &self,
        qh: &QueueHandle<Self>,
        options: ext_image_copy_capture_manager_v1::Options,
    ) -> (ExtImageCopyCaptureSessionV1, SessionLog) {
        let log = SessionLog::default();
        let session = self
            .manager
            .create_session(&self.source(qh), options, qh, log.clone());
        (session, log)
    }
}

/// Attaches `buffer` to a new frame of `session`, damages it whole and captures.
fn capture(
    session: &ExtImageCopyCaptureSessionV1,
    buffer: &ShmBuffer,
    qh: &QueueHandle<Client>,
) -> (ExtImageCopyCaptureFrameV1, FrameLog) {
    let log = FrameLog::default();
    let frame = session.create_frame(qh, log.clone());
    frame.attach_buffer(&buffer.buffer);
    frame.damage_buffer(0, 0, buffer.width, buffer.height);
    frame.capture();
    (frame, log)
}

fn finished(log: &FrameLog) -> bool {
    let f = log.lock().expect("frame");
    f.ready || f.failed.is_some()
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
ignore_events!(Client: wl_shm::WlShm, wl_output::WlOutput, wl_seat::WlSeat, wl_pointer::WlPointer,
    wl_shm_pool::WlShmPool, wl_buffer::WlBuffer, ExtOutputImageCaptureSourceManagerV1,
    ExtImageCaptureSourceV1, ExtImageCopyCaptureManagerV1);

impl Dispatch<ExtImageCopyCaptureSessionV1, SessionLog> for Client {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureSessionV1,
        event: ext_image_copy_capture_session_v1::Event,
        data: &SessionLog,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_session_v1::Event;
        let mut s = data.lock().expect("session");
        match event {
            Event::BufferSize { width, height } => s.size = Some((width, height)),
            Event::ShmFormat { format } => s.formats.push(u32::from(format)),
            Event::Done => s.done += 1,
            Event::Stopped => s.stopped = true,
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, FrameLog> for Client {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureFrameV1,
        event: ext_image_copy_capture_frame_v1::Event,
        data: &FrameLog,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_frame_v1::Event;
        let mut f = data.lock().expect("frame");
        match event {
            Event::Transform { .. } => f.transform = true,
            Event::Damage {
                x,
                y,
                width,
                height,
            } => f.damage.push((x, y, width, height)),
            Event::PresentationTime {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => f.time = Some((tv_sec_hi, tv_sec_lo, tv_nsec)),
            Event::Ready => f.ready = true,
            Event::Failed { reason } => f.failed = Some(u32::from(reason)),
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, CursorLog> for Client {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureCursorSessionV1,
        event: ext_image_copy_capture_cursor_session_v1::Event,
        data: &CursorLog,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_cursor_session_v1::Event;
        let event = match event {
            Event::Enter => CursorEvent::Enter,
            Event::Leave => CursorEvent::Leave,
            Event::Position { x, y } => CursorEvent::Position(x, y),
            Event::Hotspot { x, y } => CursorEvent::Hotspot(x, y),
            _ => return,
        };
        data.lock().expect("cursor").push(event);
    }
}

const NO_OPTIONS: ext_image_copy_capture_manager_v1::Options =
    ext_image_copy_capture_manager_v1::Options::empty();

#[test]
fn image_copy_first_frame_is_full_then_frames_wait_for_damage() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (session, log) = client.session(&qh, NO_OPTIONS);
    dispatch_until(&mut queue, &mut client, |_| {
        log.lock().expect("s").done == 1
    });
    {
        let s = log.lock().expect("s");
        assert_eq!(s.size, Some((W as u32, H as u32)));
        assert!(s.formats.contains(&u32::from(wl_shm::Format::Xrgb8888)));
        assert!(s.formats.contains(&u32::from(wl_shm::Format::Argb8888)));
    }
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);

    let (frame, events) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(
        server.with(|s, _| s.capture.wants_frame(&s.output)),
        "first frame is due at once"
    );
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    {
        let f = events.lock().expect("f");
        assert!(f.ready && f.transform);
        assert_eq!(f.damage, vec![(0, 0, W, H)]);
        assert_eq!(f.time, Some((0, 7, 9)));
    }
    for (x, y) in [(0, 0), (99, 79), (12, 34)] {
        assert_eq!(buffer.pixel(x, y), output_pixel(x, y));
    }
    frame.destroy();

    let (_frame, events) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(!server.with(|s, _| s.capture.wants_frame(&s.output)));
    render(&server, vec![], None);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(!finished(&events), "nothing changed, no frame");
    render(
        &server,
        vec![Rectangle::new((10, 20).into(), (5, 6).into())],
        None,
    );
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    let f = events.lock().expect("f");
    assert!(f.ready);
    assert_eq!(f.damage, vec![(10, 20, 5, 6)]);
}

#[test]
fn image_copy_writes_only_what_the_buffer_lacks() {
    use std::os::unix::fs::FileExt;
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (session, _) = client.session(&qh, NO_OPTIONS);
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (first, log) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&log));
    first.destroy();
    assert_eq!(buffer.pixel(20, 20), output_pixel(20, 20));

    // Mark the buffer so untouched pixels show; the client declares only its top-left
    // corner stale, and the output changes elsewhere.
    let marker = [0xaa; 4];
    buffer
        .file
        .write_all_at(&vec![0xaa; (W * H * 4) as usize], 0)
        .expect("mark");
    let log = FrameLog::default();
    let frame = session.create_frame(&qh, log.clone());
    frame.attach_buffer(&buffer.buffer);
    frame.damage_buffer(0, 0, 4, 4);
    frame.capture();
    queue.roundtrip(&mut client).expect("roundtrip");
    render(
        &server,
        vec![Rectangle::new((50, 60).into(), (3, 4).into())],
        None,
    );
    dispatch_until(&mut queue, &mut client, |_| finished(&log));
    assert!(log.lock().expect("frame").ready);
    assert_eq!(log.lock().expect("frame").damage, vec![(50, 60, 3, 4)]);
    // Declared stale: written.
    assert_eq!(buffer.pixel(0, 0), output_pixel(0, 0));
    assert_eq!(buffer.pixel(3, 3), output_pixel(3, 3));
    // Changed since the last frame: written.
    assert_eq!(buffer.pixel(50, 60), output_pixel(50, 60));
    assert_eq!(buffer.pixel(52, 63), output_pixel(52, 63));
    // Neither: left as the client had it.
    assert_eq!(buffer.pixel(4, 4), marker);
    assert_eq!(buffer.pixel(20, 20), marker);
    assert_eq!(buffer.pixel(53, 60), marker);
}

#[test]
fn image_copy_damage_accumulates_per_session() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (a, _) = client.session(&qh, NO_OPTIONS);
    let (b, _) = client.session(&qh, NO_OPTIONS);
    let buffer_a = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let buffer_b = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (fa, ea) = capture(&a, &buffer_a, &qh);
    let (fb, eb) = capture(&b, &buffer_b, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&ea) && finished(&eb));
    fa.destroy();
    fb.destroy();

    // Session A captures each change; B only after two.
    let (fa, ea) = capture(&a, &buffer_a, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(
        &server,
        vec![Rectangle::new((1, 1).into(), (2, 2).into())],
        None,
    );
    dispatch_until(&mut queue, &mut client, |_| finished(&ea));
    assert_eq!(ea.lock().expect("a").damage, vec![(1, 1, 2, 2)]);
    fa.destroy();
    render(
        &server,
        vec![Rectangle::new((50, 60).into(), (3, 4).into())],
        None,
    );

    let (_fb, eb) = capture(&b, &buffer_b, &qh);
    let (_fa, ea) = capture(&a, &buffer_a, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(server.with(|s, _| s.capture.wants_frame(&s.output)));
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&eb) && finished(&ea));
    let mut damage_b = eb.lock().expect("b").damage.clone();
    damage_b.sort_unstable();
    assert_eq!(damage_b, vec![(1, 1, 2, 2), (50, 60, 3, 4)]);
    assert_eq!(ea.lock().expect("a").damage, vec![(50, 60, 3, 4)]);
}

#[test]
fn image_copy_cursor_session_reports_position_hotspot_and_image() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let pointer = client.seat.get_pointer(&qh, ());
    let cursor_log = CursorLog::default();
    let cursor_session = client.manager.create_pointer_cursor_session(
        &client.source(&qh),
        &pointer,
        &qh,
        cursor_log.clone(),
    );
    let session_log = SessionLog::default();
    let session = cursor_session.get_capture_session(&qh, session_log.clone());
    dispatch_until(&mut queue, &mut client, |_| {
        session_log.lock().expect("s").done == 1
    });

    render(&server, vec![], Some((30, 20)));
    dispatch_until(&mut queue, &mut client, |_| {
        cursor_log.lock().expect("c").len() >= 3
    });
    assert_eq!(
        *cursor_log.lock().expect("c"),
        vec![
            CursorEvent::Enter,
            CursorEvent::Position(30, 20),
            CursorEvent::Hotspot(1, 1)
        ]
    );
    dispatch_until(&mut queue, &mut client, |_| {
        session_log.lock().expect("s").size == Some((4, 4))
    });

    let buffer = ShmBuffer::new(&client.shm, &qh, 4, 4, 16, wl_shm::Format::Argb8888);
    let (frame, events) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], Some((30, 20)));
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    assert!(events.lock().expect("f").ready);
    assert_eq!(events.lock().expect("f").damage, vec![(0, 0, 4, 4)]);
    for (x, y) in [(0, 0), (3, 3), (2, 1)] {
        assert_eq!(buffer.pixel(x, y), cursor_pixel(x, y));
    }
    frame.destroy();

    // Moving changes the position only; the same image is not sent again.
    let (_frame, events) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(
        !move_cursor(&server, Some((40, 25))),
        "a cursor move needs no render"
    );
    dispatch_until(&mut queue, &mut client, |_| {
        cursor_log.lock().expect("c").len() == 4
    });
    assert_eq!(
        cursor_log.lock().expect("c")[3],
        CursorEvent::Position(40, 25)
    );
    assert!(
        !finished(&events),
        "cursor image unchanged, no cursor frame"
    );

    move_cursor(&server, None);
    dispatch_until(&mut queue, &mut client, |_| {
        cursor_log.lock().expect("c").len() == 5
    });
    assert_eq!(cursor_log.lock().expect("c")[4], CursorEvent::Leave);
}

#[test]
fn image_copy_paint_cursors_blends_the_cursor() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (painted, _) = client.session(
        &qh,
        ext_image_copy_capture_manager_v1::Options::PaintCursors,
    );
    let (plain, _) = client.session(&qh, NO_OPTIONS);
    let buffer_painted = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let buffer_plain = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (fp, ep) = capture(&painted, &buffer_painted, &qh);
    let (_fq, eq) = capture(&plain, &buffer_plain, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], Some((30, 20)));
    dispatch_until(&mut queue, &mut client, |_| finished(&ep) && finished(&eq));
    // The cursor's top-left pixel sits at position - hotspot = (29, 19).
    assert_eq!(buffer_painted.pixel(29, 19), cursor_pixel(0, 0));
    assert_eq!(buffer_painted.pixel(32, 22), cursor_pixel(3, 3));
    assert_eq!(buffer_painted.pixel(33, 22), output_pixel(33, 22));
    assert_eq!(buffer_plain.pixel(29, 19), output_pixel(29, 19));
    fp.destroy();

    // A cursor move is damage for the painted session (old and new place).
    let (_fp, ep) = capture(&painted, &buffer_painted, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    assert!(
        move_cursor(&server, Some((60, 50))),
        "the painted session wants a render for the cursor move"
    );
    render(&server, vec![], Some((60, 50)));
    dispatch_until(&mut queue, &mut client, |_| finished(&ep));
    let mut damage = ep.lock().expect("p").damage.clone();
    damage.sort_unstable();
    assert_eq!(damage, vec![(29, 19, 4, 4), (59, 49, 4, 4)]);
}

#[test]
fn image_copy_wrong_buffer_fails_with_buffer_constraints() {
    let server = start();
    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (session, _) = client.session(&qh, NO_OPTIONS);
    let small = ShmBuffer::new(&client.shm, &qh, W / 2, H, W * 2, wl_shm::Format::Xrgb8888);
    let (frame, events) = capture(&session, &small, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    assert_eq!(
        events.lock().expect("f").failed,
        Some(u32::from(
            ext_image_copy_capture_frame_v1::FailureReason::BufferConstraints
        ))
    );
    frame.destroy();

    let good = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (_frame, events) = capture(&session, &good, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    let f = events.lock().expect("f");
    assert!(
        f.ready,
        "the failed frame did not consume the session's first full frame"
    );
    assert_eq!(f.damage, vec![(0, 0, W, H)]);
}

/// One way to break the protocol on a fresh session.
type Misuse = fn(&ExtImageCopyCaptureSessionV1, &QueueHandle<Client>, &ShmBuffer);

#[test]
fn image_copy_misuse_is_a_protocol_error_and_others_keep_working() {
    let server = start();
    let cases: [(&str, u32, Misuse); 3] = [
        (
            "duplicate frame",
            ext_image_copy_capture_session_v1::Error::DuplicateFrame as u32,
            |s, qh, _| {
                let _a = s.create_frame(qh, FrameLog::default());
                let _b = s.create_frame(qh, FrameLog::default());
            },
        ),
        (
            "capture without buffer",
            ext_image_copy_capture_frame_v1::Error::NoBuffer as u32,
            |s, qh, _| {
                s.create_frame(qh, FrameLog::default()).capture();
            },
        ),
        (
            "capture twice",
            ext_image_copy_capture_frame_v1::Error::AlreadyCaptured as u32,
            |s, qh, b| {
                let (frame, _) = capture(s, b, qh);
                frame.capture();
            },
        ),
    ];
    for (what, code, misuse) in cases {
        let (conn, mut queue, mut client) = Client::connect(&server);
        let qh = queue.handle();
        let (session, _) = client.session(&qh, NO_OPTIONS);
        let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
        misuse(&session, &qh, &buffer);
        assert!(queue.roundtrip(&mut client).is_err(), "{what}");
        assert_eq!(conn.protocol_error().map(|e| e.code), Some(code), "{what}");
    }

    let (_conn, mut queue, mut client) = Client::connect(&server);
    let qh = queue.handle();
    let (session, _) = client.session(&qh, NO_OPTIONS);
    let buffer = ShmBuffer::new(&client.shm, &qh, W, H, W * 4, wl_shm::Format::Xrgb8888);
    let (_frame, events) = capture(&session, &buffer, &qh);
    queue.roundtrip(&mut client).expect("roundtrip");
    render(&server, vec![], None);
    dispatch_until(&mut queue, &mut client, |_| finished(&events));
    assert!(events.lock().expect("f").ready);
}
