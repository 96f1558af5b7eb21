//! Test harness for the protocol modules: a real `wayland_server::Display` running on its
//! own thread with a minimal state, reached by real `wayland-client` connections over
//! socket pairs, plus shm buffers backed by memfds.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Output as ProcessOutput, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::utils::Transform;
use wayland_client::protocol::{wl_buffer, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle};
use wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use wayland_server::{Display, DisplayHandle, ListeningSocket};

type Command<S> = Box<dyn FnOnce(&mut S, &mut Display<S>) + Send>;

/// A Wayland server on its own thread. Closures passed to [`Server::with`] run on that
/// thread between dispatches, so tests drive the compositor side deterministically.
pub struct Server<S: 'static> {
    tx: Sender<Option<Command<S>>>,
    thread: Option<JoinHandle<()>>,
}

/// Client data every test client gets; smithay's compositor keeps per-client state here.
#[derive(Default)]
pub struct TestClientData {
    pub compositor: smithay::wayland::compositor::CompositorClientState,
}

impl ClientData for TestClientData {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, _reason: DisconnectReason) {}
}

impl<S: 'static> Server<S> {
    pub fn start(make_state: impl FnOnce(&DisplayHandle) -> S + Send + 'static) -> Self {
        Self::start_inner(None, make_state)
    }

    /// Also listens on a Wayland socket at `socket`, for programs that connect by
    /// `WAYLAND_DISPLAY`.
    pub fn start_listening(
        socket: PathBuf,
        make_state: impl FnOnce(&DisplayHandle) -> S + Send + 'static,
    ) -> Self {
        Self::start_inner(Some(socket), make_state)
    }

    fn start_inner(
        socket: Option<PathBuf>,
        make_state: impl FnOnce(&DisplayHandle) -> S + Send + 'static,
    ) -> Self {
        let (tx, rx) = channel::<Option<Command<S>>>();
        let listener =
            socket.map(|path| ListeningSocket::bind_absolute(path).expect("bind wayland socket"));
        let thread = std::thread::spawn(move || {
            let Ok(mut display) = Display::<S>::new() else {
                panic!("cannot create a wayland display");
            };
            let mut state = make_state(&display.handle());
            serve(&mut display, &mut state, &rx, listener.as_ref());
        });
        Self {
            tx,
            thread: Some(thread),
        }
    }

    /// Runs `f` on the server thread and returns its result.
    pub fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S, &DisplayHandle) -> R + Send + 'static,
    ) -> R {
        let (rtx, rrx) = channel();
        let cmd: Command<S> = Box::new(move |state, display| {
            let r = f(state, &display.handle());
            let _ = rtx.send(r);
        });
        self.tx.send(Some(cmd)).expect("server thread is gone");
        rrx.recv_timeout(Duration::from_secs(10))
            .expect("server thread did not answer")
    }

    /// A new client connection over a socket pair.
    pub fn connect(&self) -> Connection {
        let (server_end, client_end) = UnixStream::pair().expect("socketpair");
        self.with(move |_, display| {
            display
                .clone()
                .insert_client(server_end, Arc::new(TestClientData::default()))
                .expect("insert client");
        });
        Connection::from_socket(client_end).expect("client connection")
    }
}

fn serve<S>(
    display: &mut Display<S>,
    state: &mut S,
    rx: &Receiver<Option<Command<S>>>,
    listener: Option<&ListeningSocket>,
) {
    loop {
        if let Some(stream) = listener.and_then(|l| l.accept().ok().flatten()) {
            display
                .handle()
                .insert_client(stream, Arc::new(TestClientData::default()))
                .expect("insert client");
        }
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(Some(cmd)) => cmd(state, display),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(err) = display.dispatch_clients(state) {
            panic!("server dispatch failed: {err}");
        }
        let _ = display.flush_clients();
    }
}

impl<S: 'static> Drop for Server<S> {
    fn drop(&mut self) {
        let _ = self.tx.send(None);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A headless output like the compositor's: one mode, at (0, 0).
pub fn make_output(name: &str, width: i32, height: i32) -> Output {
    let output = Output::new(
        name.to_string(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Skerry".into(),
            model: "Headless".into(),
        },
    );
    let mode = Mode {
        size: (width, height).into(),
        refresh: 60_000,
    };
    output.add_mode(mode);
    output.set_preferred(mode);
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        Some(Scale::Integer(1)),
        Some((0, 0).into()),
    );
    output
}

/// A BGRA image whose pixel at (x, y) is `pixel(x, y)`.
pub fn pattern(width: i32, height: i32, pixel: impl Fn(i32, i32) -> [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            out.extend_from_slice(&pixel(x, y));
        }
    }
    out
}

/// A client shm buffer backed by a memfd the test can read back.
pub struct ShmBuffer {
    pub file: File,
    pub buffer: wl_buffer::WlBuffer,
    pub width: i32,
    pub height: i32,
    pub stride: i32,
}

impl ShmBuffer {
    pub fn new<C>(
        shm: &wl_shm::WlShm,
        qh: &QueueHandle<C>,
        width: i32,
        height: i32,
        stride: i32,
        format: wl_shm::Format,
    ) -> Self
    where
        C: Dispatch<wl_shm_pool::WlShmPool, ()> + Dispatch<wl_buffer::WlBuffer, ()> + 'static,
    {
        let fd = rustix::fs::memfd_create("skerry-test-shm", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd");
        let len = (stride * height).max(1);
        rustix::fs::ftruncate(&fd, len as u64).expect("ftruncate");
        let pool = shm.create_pool(fd.as_fd(), len, qh, ());
        let buffer = pool.create_buffer(0, width, height, stride, format, qh, ());
        pool.destroy();
        let file = File::from(fd);
        file.write_all_at(&vec![0x55; len as usize], 0)
            .expect("fill buffer");
        Self {
            file,
            buffer,
            width,
            height,
            stride,
        }
    }

    /// The BGRA pixel at (x, y).
    pub fn pixel(&self, x: i32, y: i32) -> [u8; 4] {
        let mut px = [0u8; 4];
        self.file
            .read_exact_at(&mut px, (y * self.stride + x * 4) as u64)
            .expect("read pixel");
        px
    }
}

/// Dispatches `queue` until `done` holds, failing the test after a few seconds.
pub fn dispatch_until<C>(
    queue: &mut EventQueue<C>,
    state: &mut C,
    mut done: impl FnMut(&C) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(state) {
        assert!(
            Instant::now() < deadline,
            "condition not reached before the deadline"
        );
        queue.roundtrip(state).expect("roundtrip");
    }
}

/// Client-side no-op dispatch for objects whose events these tests ignore.
#[macro_export]
macro_rules! ignore_events {
    ($client:ty: $($iface:ty),* $(,)?) => {
        $(
            impl wayland_client::Dispatch<$iface, ()> for $client {
                fn event(
                    _: &mut Self,
                    _: &$iface,
                    _: <$iface as wayland_client::Proxy>::Event,
                    _: &(),
                    _: &wayland_client::Connection,
                    _: &wayland_client::QueueHandle<Self>,
                ) {
                }
            }
        )*
    };
}

/// Implements smithay's compositor for a test state with a `compositor` field: wl_output
/// (and so every capture test) needs wl_compositor to exist.
#[macro_export]
macro_rules! test_compositor {
    ($ty:ty) => {
        impl smithay::wayland::compositor::CompositorHandler for $ty {
            fn compositor_state(&mut self) -> &mut smithay::wayland::compositor::CompositorState {
                &mut self.compositor
            }
            fn client_compositor_state<'a>(
                &self,
                client: &'a wayland_server::Client,
            ) -> &'a smithay::wayland::compositor::CompositorClientState {
                &client
                    .get_data::<$crate::proto_harness::TestClientData>()
                    .expect("test client data")
                    .compositor
            }
            fn commit(&mut self, _surface: &wayland_server::protocol::wl_surface::WlSurface) {}
        }
        smithay::delegate_compositor!($ty);
    };
}

/// A program run against a test server, killed if it outlives the test.
pub struct Program(Option<Child>);

impl Program {
    /// Starts `program` connected to the Wayland socket `socket`.
    pub fn spawn(socket: &std::path::Path, program: &str, args: &[&str]) -> Self {
        let dir = socket.parent().expect("socket dir");
        let child = Process::new(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("XDG_RUNTIME_DIR", dir)
            .env("WAYLAND_DISPLAY", socket.file_name().expect("socket name"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Self(Some(child))
    }

    /// Waits for the program to exit (failing the test after `timeout`) and returns its
    /// output.
    pub fn wait(mut self, timeout: Duration) -> ProcessOutput {
        let deadline = Instant::now() + timeout;
        let mut child = self.0.take().expect("child");
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                return child.wait_with_output().expect("program output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("program output");
                panic!(
                    "program did not finish in time; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `program` to completion against the socket and returns its output, asserting it
/// succeeded.
pub fn run_ok(socket: &std::path::Path, program: &str, args: &[&str]) -> ProcessOutput {
    let out = Program::spawn(socket, program, args).wait(Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
