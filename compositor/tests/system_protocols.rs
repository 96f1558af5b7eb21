//! The real `skerry-compositor` binary with programs nobody here wrote (grim, wlr-randr,
//! foot) and a wayland-client test client speaking the wlr virtual-pointer and
//! foreign-toplevel protocols and ext-image-copy-capture: screenshots have a client's
//! exact colour where it is, wlr-randr resizes the output, a virtual click moves focus, a
//! cursor session follows the pointer, image-copy frames carry damage only on change, and
//! the window list closes foot.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Running, have, wait_for};
use wayland_client::globals::{GlobalList, GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer, wl_output, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};
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
use wayland_protocols_wlr::foreign_toplevel::v1::client::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1, zwlr_virtual_pointer_v1,
};

const W: u32 = 640;
const H: u32 = 480;

fn require(programs: &[&str]) {
    for p in programs {
        assert!(have(p), "{p} is not installed (see ci/packages.txt)");
    }
}

fn start(args: &[&str]) -> Running {
    Running::start(&[("SKERRY_RESOLUTION", "640x480")], args)
}

/// A desktop large enough for two cascaded foot windows not to cover each other.
const BIG: (u32, u32) = (1280, 720);

/// Starts foot with a solid background colour (`rrggbb`) and app id, and waits for it.
fn foot(c: &mut Running, app_id: &str, background: &str) -> usize {
    let mut cmd = c.command("foot");
    cmd.args([
        "--app-id",
        app_id,
        "-o",
        &format!("colors.background={background}"),
        "sh",
        "-c",
        "sleep 600",
    ]);
    c.spawn(cmd);
    c.wait_toplevel(app_id, |t| {
        t["app_id"] == app_id && t["has_surface"] == true
    });
    c.children.len() - 1
}

/// A grim screenshot as (width, height, RGB rows).
fn grim(c: &Running) -> (u32, u32, Vec<u8>) {
    let path = c.path("shot.png");
    let _ = std::fs::remove_file(&path);
    let mut cmd = c.command("grim");
    cmd.args(["-t", "png"])
        .arg(&path)
        .stderr(std::process::Stdio::piped());
    let out = cmd.output().expect("run grim");
    assert!(
        out.status.success(),
        "grim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::fs::File::open(&path).expect("png written"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png data");
    let n = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(n)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

fn rgb_at(shot: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * shot.0 + x) * 3) as usize;
    [shot.2[i], shot.2[i + 1], shot.2[i + 2]]
}

/// Runs a wlr-randr command line against the compositor.
fn wlr_randr(c: &Running, args: &[&str]) -> String {
    let mut cmd = c.command("wlr-randr");
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = cmd.output().expect("run wlr-randr");
    assert!(
        out.status.success(),
        "wlr-randr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn grim_sees_a_single_app_in_its_exact_colour() {
    require(&["foot", "grim"]);
    let mut c = start(&["--single-app", "--no-xwayland"]);
    foot(&mut c, "skerry-red", "ff0000");
    // The first frame with foot's content may be a frame later than its map.
    let shot = wait_for(
        "foot's red background on screen",
        Duration::from_secs(20),
        || {
            let shot = grim(&c);
            (rgb_at(&shot, W / 2, H / 2) == [0xff, 0, 0]).then_some(shot)
        },
    );
    assert_eq!((shot.0, shot.1), (W, H));
    for (x, y) in [(W - 2, H - 2), (W / 2, H - 2), (W - 2, H / 2), (10, H - 10)] {
        assert_eq!(rgb_at(&shot, x, y), [0xff, 0, 0], "at ({x}, {y})");
    }
}

#[test]
fn wlr_randr_resizes_the_output_and_grim_follows() {
    require(&["wlr-randr", "grim"]);
    let c = start(&["--no-xwayland"]);
    let listing = wlr_randr(&c, &[]);
    assert!(
        listing.contains("HEADLESS-1") && listing.contains("640x480"),
        "{listing}"
    );
    wlr_randr(&c, &["--output", "HEADLESS-1", "--custom-mode", "1280x720"]);
    let shot = grim(&c);
    assert_eq!((shot.0, shot.1), (1280, 720));
    wlr_randr(&c, &["--output", "HEADLESS-1", "--scale", "2"]);
    let listing = wlr_randr(&c, &[]);
    assert!(listing.contains("Scale: 2.0"), "{listing}");
    let shot = grim(&c);
    assert_eq!((shot.0, shot.1), (1280, 720), "grim captures output pixels");
    wlr_randr(
        &c,
        &[
            "--output",
            "HEADLESS-1",
            "--custom-mode",
            "640x480",
            "--scale",
            "1",
        ],
    );
    let shot = grim(&c);
    assert_eq!((shot.0, shot.1), (640, 480));
}

// ---- the test client ----

#[derive(Debug, Default)]
struct Toplevel {
    app_id: String,
    closed: bool,
}

#[derive(Debug, Default)]
struct Frame {
    damage: Vec<(i32, i32, i32, i32)>,
    ready: bool,
    failed: bool,
}

#[derive(Default)]
struct Client {
    toplevels: Vec<(ZwlrForeignToplevelHandleV1, Arc<Mutex<Toplevel>>)>,
    session_size: Option<(u32, u32)>,
    cursor_positions: Vec<(i32, i32)>,
    cursor_entered: bool,
}

struct Conn {
    _conn: Connection,
    queue: EventQueue<Client>,
    state: Client,
    globals: GlobalList,
}

impl Conn {
    fn open(c: &Running) -> Self {
        let conn = Connection::from_socket(
            std::os::unix::net::UnixStream::connect(c.path(&c.socket))
                .expect("connect to the compositor"),
        )
        .expect("wayland connection");
        let (globals, queue) = registry_queue_init::<Client>(&conn).expect("registry");
        Self {
            _conn: conn,
            queue,
            state: Client::default(),
            globals,
        }
    }

    fn bind<I: Proxy + 'static>(&self, version: u32) -> I
    where
        Client: Dispatch<I, ()>,
    {
        self.globals
            .bind(&self.queue.handle(), version..=version, ())
            .unwrap_or_else(|e| panic!("{}: {e}", I::interface().name))
    }

    fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.state).expect("roundtrip");
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&Client) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.state) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.roundtrip();
            std::thread::sleep(Duration::from_millis(10));
        }
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

macro_rules! ignore {
    ($($iface:ty),*) => {$(
        impl Dispatch<$iface, ()> for Client {
            fn event(_: &mut Self, _: &$iface, _: <$iface as Proxy>::Event, _: &(), _: &Connection, _: &QueueHandle<Self>) {}
        }
    )*};
}
ignore!(
    wl_output::WlOutput,
    wl_seat::WlSeat,
    wl_pointer::WlPointer,
    wl_shm::WlShm,
    wl_shm_pool::WlShmPool,
    wl_buffer::WlBuffer,
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
    ExtOutputImageCaptureSourceManagerV1,
    ExtImageCaptureSourceV1,
    ExtImageCopyCaptureManagerV1
);

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ZwlrForeignToplevelManagerV1,
        event: zwlr_foreign_toplevel_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwlr_foreign_toplevel_manager_v1::Event::Toplevel { toplevel } = event {
            let data = toplevel
                .data::<Arc<Mutex<Toplevel>>>()
                .cloned()
                .unwrap_or_default();
            state.toplevels.push((toplevel, data));
        }
    }
    wayland_client::event_created_child!(Client, ZwlrForeignToplevelManagerV1, [
        zwlr_foreign_toplevel_manager_v1::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, Arc::<Mutex<Toplevel>>::default())
    ]);
}

impl Dispatch<ZwlrForeignToplevelHandleV1, Arc<Mutex<Toplevel>>> for Client {
    fn event(
        _: &mut Self,
        _: &ZwlrForeignToplevelHandleV1,
        event: zwlr_foreign_toplevel_handle_v1::Event,
        data: &Arc<Mutex<Toplevel>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut t = data.lock().expect("toplevel");
        match event {
            zwlr_foreign_toplevel_handle_v1::Event::AppId { app_id } => t.app_id = app_id,
            zwlr_foreign_toplevel_handle_v1::Event::Closed => t.closed = true,
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ExtImageCopyCaptureSessionV1,
        event: ext_image_copy_capture_session_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let ext_image_copy_capture_session_v1::Event::BufferSize { width, height } = event {
            state.session_size = Some((width, height));
        }
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, ()> for Client {
    fn event(
        state: &mut Self,
        _: &ExtImageCopyCaptureCursorSessionV1,
        event: ext_image_copy_capture_cursor_session_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            ext_image_copy_capture_cursor_session_v1::Event::Enter => state.cursor_entered = true,
            ext_image_copy_capture_cursor_session_v1::Event::Position { x, y } => {
                state.cursor_positions.push((x, y))
            }
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, Arc<Mutex<Frame>>> for Client {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureFrameV1,
        event: ext_image_copy_capture_frame_v1::Event,
        data: &Arc<Mutex<Frame>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut f = data.lock().expect("frame");
        match event {
            ext_image_copy_capture_frame_v1::Event::Damage {
                x,
                y,
                width,
                height,
            } => f.damage.push((x, y, width, height)),
            ext_image_copy_capture_frame_v1::Event::Ready => f.ready = true,
            ext_image_copy_capture_frame_v1::Event::Failed { .. } => f.failed = true,
            _ => {}
        }
    }
}

/// A shm buffer of the output's size.
fn buffer(conn: &Conn, shm: &wl_shm::WlShm, w: u32, h: u32) -> wl_buffer::WlBuffer {
    use std::os::fd::AsFd;
    let fd =
        rustix::fs::memfd_create("skerry-capture", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    let len = (w * h * 4) as i32;
    rustix::fs::ftruncate(&fd, len as u64).expect("ftruncate");
    let qh = conn.queue.handle();
    let pool = shm.create_pool(fd.as_fd(), len, &qh, ());
    let buffer = pool.create_buffer(
        0,
        w as i32,
        h as i32,
        (w * 4) as i32,
        wl_shm::Format::Xrgb8888,
        &qh,
        (),
    );
    pool.destroy();
    buffer
}

#[test]
fn virtual_pointer_click_moves_focus_and_cursor_session_follows() {
    require(&["foot", "grim"]);
    let mut c = Running::start(&[("SKERRY_RESOLUTION", "1280x720")], &["--no-xwayland"]);
    foot(&mut c, "skerry-left", "ff0000");
    foot(&mut c, "skerry-right", "0000ff");
    let focused = |c: &Running, id: &str| {
        c.toplevels()
            .iter()
            .any(|t| t["app_id"] == id && t["activated"] == true)
    };
    assert!(focused(&c, "skerry-right"), "the newest window has focus");

    // Find a pixel of the red (unfocused, partly covered) window on screen.
    let (x, y) = wait_for("the red window on screen", Duration::from_secs(20), || {
        let shot = grim(&c);
        (0..shot.1)
            .step_by(4)
            .flat_map(|y| (0..shot.0).step_by(4).map(move |x| (x, y)))
            .find(|&(x, y)| rgb_at(&shot, x, y) == [0xff, 0, 0])
    });

    let mut conn = Conn::open(&c);
    let qh = conn.queue.handle();
    let seat: wl_seat::WlSeat = conn.bind(1);
    let output: wl_output::WlOutput = conn.bind(4);
    let pointer = seat.get_pointer(&qh, ());
    let sources: ExtOutputImageCaptureSourceManagerV1 = conn.bind(1);
    let capture: ExtImageCopyCaptureManagerV1 = conn.bind(1);
    let source = sources.create_source(&output, &qh, ());
    let _cursor = capture.create_pointer_cursor_session(&source, &pointer, &qh, ());
    let vpm: zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1 = conn.bind(2);
    let vp = vpm.create_virtual_pointer_with_output(Some(&seat), Some(&output), &qh, ());
    conn.roundtrip();

    vp.motion_absolute(1, x, y, BIG.0, BIG.1);
    vp.frame();
    conn.until("the cursor session's position", |s| {
        s.cursor_positions.contains(&(x as i32, y as i32))
    });
    assert!(conn.state.cursor_entered);
    vp.button(2, 0x110, wl_pointer::ButtonState::Pressed);
    vp.frame();
    vp.button(3, 0x110, wl_pointer::ButtonState::Released);
    vp.frame();
    conn.roundtrip();
    wait_for(
        "the red window to get focus",
        Duration::from_secs(20),
        || focused(&c, "skerry-left").then_some(()),
    );
    assert!(!focused(&c, "skerry-right"));

    // A cursor session opened while the pointer rests learns where it is at once.
    let mut late = Conn::open(&c);
    let qh = late.queue.handle();
    let seat: wl_seat::WlSeat = late.bind(1);
    let output: wl_output::WlOutput = late.bind(4);
    let pointer = seat.get_pointer(&qh, ());
    let sources: ExtOutputImageCaptureSourceManagerV1 = late.bind(1);
    let capture: ExtImageCopyCaptureManagerV1 = late.bind(1);
    let source = sources.create_source(&output, &qh, ());
    let _cursor = capture.create_pointer_cursor_session(&source, &pointer, &qh, ());
    late.until("the resting cursor's position", |s| {
        s.cursor_entered && s.cursor_positions.last() == Some(&(x as i32, y as i32))
    });
}

#[test]
fn image_copy_frames_carry_damage_only_when_something_changes() {
    require(&["foot"]);
    let mut c = start(&["--no-xwayland"]);
    let mut conn = Conn::open(&c);
    let qh = conn.queue.handle();
    let output: wl_output::WlOutput = conn.bind(4);
    let shm: wl_shm::WlShm = conn.bind(1);
    let sources: ExtOutputImageCaptureSourceManagerV1 = conn.bind(1);
    let capture: ExtImageCopyCaptureManagerV1 = conn.bind(1);
    let source = sources.create_source(&output, &qh, ());
    let session = capture.create_session(
        &source,
        ext_image_copy_capture_manager_v1::Options::empty(),
        &qh,
        (),
    );
    conn.until("the session's buffer size", |s| s.session_size.is_some());
    assert_eq!(conn.state.session_size, Some((W, H)));
    let buffer = buffer(&conn, &shm, W, H);
    let grab = |conn: &mut Conn| {
        let log = Arc::new(Mutex::new(Frame::default()));
        let frame = session.create_frame(&conn.queue.handle(), log.clone());
        frame.attach_buffer(&buffer);
        frame.damage_buffer(0, 0, W as i32, H as i32);
        frame.capture();
        (frame, log)
    };

    let (frame, log) = grab(&mut conn);
    conn.until("the first frame", |_| log.lock().expect("f").ready);
    assert_eq!(
        log.lock().expect("f").damage,
        vec![(0, 0, W as i32, H as i32)]
    );
    frame.destroy();

    // Nothing changes on an empty desktop: no frame comes.
    let (frame, log) = grab(&mut conn);
    let quiet_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < quiet_until {
        conn.roundtrip();
        assert!(!log.lock().expect("f").ready, "a frame without any change");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A window appears: the frame comes, with damage inside the output.
    foot(&mut c, "skerry-damage", "00ff00");
    conn.until("a frame after foot mapped", |_| {
        log.lock().expect("f").ready
    });
    let damage = log.lock().expect("f").damage.clone();
    assert!(!damage.is_empty());
    for (x, y, w, h) in damage {
        assert!(
            x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= W as i32 && y + h <= H as i32,
            "{x},{y} {w}x{h}"
        );
    }
    frame.destroy();
}

#[test]
fn foreign_toplevel_lists_foot_and_close_closes_it() {
    require(&["foot"]);
    let mut c = start(&["--no-xwayland"]);
    let child = foot(&mut c, "skerry-listed", "000000");
    let mut conn = Conn::open(&c);
    let _manager: ZwlrForeignToplevelManagerV1 = conn.bind(3);
    conn.until("foot in the window list", |s| {
        s.toplevels
            .iter()
            .any(|(_, t)| t.lock().expect("t").app_id == "skerry-listed")
    });
    let (handle, data) = conn
        .state
        .toplevels
        .iter()
        .find(|(_, t)| t.lock().expect("t").app_id == "skerry-listed")
        .cloned()
        .expect("foot's handle");
    handle.close();
    conn.until("foot's handle closed", |_| data.lock().expect("t").closed);
    wait_for("foot to exit", Duration::from_secs(20), || {
        matches!(c.children[child].0.try_wait(), Ok(Some(_))).then_some(())
    });
}
