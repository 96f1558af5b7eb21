//! Capture requests against the real compositor in-process: a frame whose content is already
//! rendered is copied at once, not at the next frame slot. A streamer asks for the next
//! frame just after each render; answering only at the slot after that would give it every
//! other frame (30 fps from a 60 Hz desktop). The compositor runs at 1 fps here, so a frame
//! answered by a later render would show in the render counter.

#[macro_use]
mod proto_harness;
mod harness;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use harness::Harness;
use wayland_client::globals::{GlobalList, GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols::ext::image_capture_source::v1::client::{
    ext_image_capture_source_v1::ExtImageCaptureSourceV1,
    ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
};
use wayland_protocols::ext::image_copy_capture::v1::client::{
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};

const W: i32 = 320;
const H: i32 = 240;

#[derive(Debug, Default)]
struct SessionEvents {
    size: Option<(u32, u32)>,
    formats: Vec<wl_shm::Format>,
    done: bool,
}

#[derive(Debug, Default)]
struct FrameEvents {
    damage: Vec<(i32, i32, i32, i32)>,
    ready: bool,
    failed: bool,
}

struct Capturer {
    shm: wl_shm::WlShm,
    session: ExtImageCopyCaptureSessionV1,
    session_log: Arc<Mutex<SessionEvents>>,
    /// The session's current frame (one at a time: the previous is destroyed first).
    frame: Option<ExtImageCopyCaptureFrameV1>,
}

impl Capturer {
    fn connect(h: &Harness) -> (EventQueue<Self>, Self) {
        let stream = UnixStream::connect(h._dir.path().join("skerry-inprocess")).expect("connect");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, mut queue): (GlobalList, _) =
            registry_queue_init::<Self>(&conn).expect("registry");
        let qh = queue.handle();
        let shm: wl_shm::WlShm = globals.bind(&qh, 1..=1, ()).expect("wl_shm");
        let output: wl_output::WlOutput = globals.bind(&qh, 1..=4, ()).expect("wl_output");
        let sources: ExtOutputImageCaptureSourceManagerV1 =
            globals.bind(&qh, 1..=1, ()).expect("source manager");
        let manager: ExtImageCopyCaptureManagerV1 =
            globals.bind(&qh, 1..=1, ()).expect("image copy manager");
        let session_log = Arc::new(Mutex::new(SessionEvents::default()));
        let session = manager.create_session(
            &sources.create_source(&output, &qh, ()),
            ext_image_copy_capture_manager_v1::Options::empty(),
            &qh,
            session_log.clone(),
        );
        let mut me = Self {
            shm,
            session,
            session_log,
            frame: None,
        };
        while !me.session_log.lock().unwrap().done {
            queue.roundtrip(&mut me).expect("roundtrip");
        }
        (queue, me)
    }

    /// Asks for one frame into a new buffer; returns its events and pixels after
    /// `roundtrips` round trips (one is enough when the compositor answers at once).
    fn capture(
        &mut self,
        queue: &mut EventQueue<Self>,
        roundtrips: usize,
    ) -> (Arc<Mutex<FrameEvents>>, OwnedFd) {
        let (size, format) = {
            let s = self.session_log.lock().unwrap();
            (s.size.expect("buffer size"), s.formats[0])
        };
        let (w, h) = (size.0 as i32, size.1 as i32);
        let fd = rustix::fs::memfd_create("skerry-capture", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd");
        rustix::fs::ftruncate(&fd, (w * h * 4) as u64).expect("size the buffer");
        let qh = queue.handle();
        let pool = self.shm.create_pool(fd.as_fd(), w * h * 4, &qh, ());
        let buffer = pool.create_buffer(0, w, h, w * 4, format, &qh, ());
        if let Some(previous) = self.frame.take() {
            previous.destroy();
        }
        let log = Arc::new(Mutex::new(FrameEvents::default()));
        let frame = self.session.create_frame(&qh, log.clone());
        frame.attach_buffer(&buffer);
        frame.damage_buffer(0, 0, w, h);
        frame.capture();
        self.frame = Some(frame);
        for _ in 0..roundtrips {
            queue.roundtrip(self).expect("roundtrip");
        }
        (log, fd)
    }
}

/// The pixel at (x, y) of a captured buffer, as B,G,R,A.
fn pixel(fd: &OwnedFd, x: i32, y: i32) -> [u8; 4] {
    let mut px = [0u8; 4];
    rustix::io::pread(fd, &mut px, ((y * W + x) * 4) as u64).expect("read pixel");
    px
}

fn renders(h: &Harness) -> u64 {
    h.compositor.with_state(|s| s.stats.renders)
}

/// Waits until nothing is left to render, then returns the render count.
fn settled(h: &mut Harness) -> u64 {
    h.pixel(0, 0);
    renders(h)
}

#[test]
fn a_frame_already_rendered_is_copied_at_once_not_at_the_next_slot() {
    let mut h = Harness::with_config(|c| {
        c.fps = 1;
        (c.width, c.height) = (W as u32, H as u32);
    });
    let window = h.toplevel("pacing");
    h.show_color(&window, W, H, 0xffff0000);
    let before = settled(&mut h);
    let (mut queue, mut cap) = Capturer::connect(&h);

    // The session's first frame: the image rendered before it existed answers it.
    let (first, fd) = cap.capture(&mut queue, 2);
    assert!(first.lock().unwrap().ready, "{:?}", first.lock().unwrap());
    assert_eq!(renders(&h), before, "the first frame waited for a render");
    assert_eq!(pixel(&fd, W / 2, H / 2), [0, 0, 0xff, 0xff]);

    // New content renders with no capture waiting; the next request gets it at once, with
    // the damage, although the next 1 fps slot is far away.
    h.show_color(&window, W, H, 0xff00ff00);
    let rendered = settled(&mut h);
    assert!(rendered > before, "the new colour did not render");
    let (second, fd) = cap.capture(&mut queue, 2);
    let events = second.lock().unwrap();
    assert!(events.ready && !events.failed, "{events:?}");
    assert_eq!(renders(&h), rendered, "the frame waited for another render");
    assert!(!events.damage.is_empty(), "no damage for the new colour");
    assert_eq!(pixel(&fd, W / 2, H / 2), [0, 0xff, 0, 0xff]);
    drop(events);

    // With nothing new the request waits (idle costs nothing) until something changes.
    let (third, _fd) = cap.capture(&mut queue, 2);
    assert!(!third.lock().unwrap().ready, "answered with nothing new");
    h.show_color(&window, W, H, 0xff0000ff);
    settled(&mut h);
    queue.roundtrip(&mut cap).expect("roundtrip");
    assert!(
        third.lock().unwrap().ready,
        "the waiting frame was not answered"
    );
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Capturer {
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
ignore_events!(Capturer: wl_shm::WlShm, wl_output::WlOutput, wl_shm_pool::WlShmPool,
    wl_buffer::WlBuffer, ExtOutputImageCaptureSourceManagerV1, ExtImageCaptureSourceV1,
    ExtImageCopyCaptureManagerV1);

impl Dispatch<ExtImageCopyCaptureSessionV1, Arc<Mutex<SessionEvents>>> for Capturer {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureSessionV1,
        event: ext_image_copy_capture_session_v1::Event,
        data: &Arc<Mutex<SessionEvents>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_session_v1::Event;
        let mut s = data.lock().unwrap();
        match event {
            Event::BufferSize { width, height } => s.size = Some((width, height)),
            Event::ShmFormat {
                format: WEnum::Value(f),
            } => s.formats.push(f),
            Event::Done => s.done = true,
            _ => {}
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, Arc<Mutex<FrameEvents>>> for Capturer {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureFrameV1,
        event: ext_image_copy_capture_frame_v1::Event,
        data: &Arc<Mutex<FrameEvents>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_frame_v1::Event;
        let mut f = data.lock().unwrap();
        match event {
            Event::Damage {
                x,
                y,
                width,
                height,
            } => f.damage.push((x, y, width, height)),
            Event::Ready => f.ready = true,
            Event::Failed { .. } => f.failed = true,
            _ => {}
        }
    }
}
