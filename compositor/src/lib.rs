//! Skerry's compositor: a headless smithay compositor that apps, the desktop shell and the
//! streamer reach only through standard Wayland protocols.
//!
//! The binary is a thin `main.rs` over [`Compositor`], so tests run the very same compositor
//! in-process ([`CompositorThread`]) with real Wayland clients. Module map:
//! - `config`: environment and command line, validated as a whole;
//! - `layout`: window-management policy, pure and property-tested;
//! - `state`: the state struct, one field per protocol; `handlers/`: one file per protocol;
//! - `windows`: applies the layout's decisions to protocol windows;
//! - `x11_dir`: the X11 socket directory, created or checked before Xwayland starts;
//! - `input`, `grabs`, `cursor`: pointer and keyboard paths shared by every input source;
//! - `render` + `backend/`: damage-driven paced rendering into the offscreen image;
//! - `hooks`: what the capture / virtual-pointer / management protocol modules plug into;
//! - `protocols`: the capture, virtual-pointer, output-management and window-list protocols
//!   smithay does not implement, wired in `handlers/protocols.rs`.

pub mod backend;
pub mod config;
pub mod cursor;
pub mod decoration;
pub mod grabs;
mod handlers;
pub mod hooks;
pub mod input;
pub mod layout;
pub mod protocols;
pub mod render;
pub mod shortcuts;
mod ssd;
pub mod state;
pub mod windows;
pub mod x11_dir;
pub mod xauth;

use std::{
    ffi::OsString,
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use smithay::reexports::{
    calloop::{EventLoop, Interest, Mode, PostAction, channel, generic::Generic},
    wayland_server::{Display, ListeningSocket},
};

pub use config::Config;
pub use state::Skerry;

/// Errors starting the compositor.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the event loop: {0}")]
    EventLoop(#[source] std::io::Error),
    #[error("cannot create the Wayland display: {0}")]
    Display(String),
    #[error("cannot listen on {path}: {reason}")]
    Socket { path: PathBuf, reason: String },
    #[error("no free wayland-N socket name in {0}")]
    NoFreeSocket(PathBuf),
    #[error("cannot register an event source: {0}")]
    Source(String),
    #[error(transparent)]
    Init(#[from] state::InitError),
}

/// A compositor and its event loop.
pub struct Compositor {
    event_loop: EventLoop<'static, Skerry>,
    pub state: Skerry,
}

fn bind_socket(config: &Config) -> Result<(ListeningSocket, OsString), StartError> {
    let bind = |name: &str| {
        ListeningSocket::bind_absolute(config.runtime_dir.join(name)).map_err(|e| {
            StartError::Socket {
                path: config.runtime_dir.join(name),
                reason: e.to_string(),
            }
        })
    };
    match &config.socket_name {
        Some(name) => Ok((bind(name)?, name.into())),
        None => (1..64)
            .find_map(|n| {
                let name = format!("wayland-{n}");
                bind(&name).ok().map(|s| (s, name.into()))
            })
            .ok_or_else(|| StartError::NoFreeSocket(config.runtime_dir.clone())),
    }
}

impl Compositor {
    /// Creates the display, listens on the socket and registers every global. Xwayland and
    /// the command are started by [`Compositor::start_children`].
    pub fn new(config: Config) -> Result<Self, StartError> {
        let event_loop: EventLoop<'static, Skerry> =
            EventLoop::try_new().map_err(|e| StartError::EventLoop(e.into()))?;
        let display: Display<Skerry> =
            Display::new().map_err(|e| StartError::Display(e.to_string()))?;
        let dh = display.handle();
        let (socket, socket_name) = bind_socket(&config)?;
        let handle = event_loop.handle();

        handle
            .insert_source(
                Generic::new(socket, Interest::READ, Mode::Level),
                |_, socket, state| {
                    loop {
                        match socket.accept() {
                            Ok(Some(stream)) => {
                                if let Err(e) = state
                                    .display_handle
                                    .insert_client(stream, state::new_client_data())
                                {
                                    tracing::warn!("cannot add a Wayland client: {e}");
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!("accepting a Wayland client failed: {e}");
                                break;
                            }
                        }
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| StartError::Source(e.to_string()))?;
        handle
            .insert_source(
                Generic::new(display, Interest::READ, Mode::Level),
                |_, display, state| {
                    // SAFETY: the display is not dropped while the event loop holds it.
                    let result = unsafe { display.get_mut().dispatch_clients(state) };
                    if let Err(e) = result {
                        tracing::error!("dispatching Wayland clients failed: {e}");
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| StartError::Source(e.to_string()))?;

        let state = Skerry::new(config, dh, handle, event_loop.get_signal(), socket_name)?;
        Ok(Self { event_loop, state })
    }

    /// The socket name clients connect to (in `XDG_RUNTIME_DIR`).
    pub fn socket_name(&self) -> &OsString {
        &self.state.socket_name
    }

    /// Adds a client on an already connected socket (a socket pair, in tests).
    pub fn insert_client(&mut self, stream: UnixStream) -> Result<(), StartError> {
        self.state
            .display_handle
            .insert_client(stream, state::new_client_data())
            .map(|_| ())
            .map_err(|e| StartError::Source(e.to_string()))
    }

    /// Starts Xwayland (if configured) and then the configured command.
    pub fn start_children(&mut self) {
        let spawn = |state: &mut Skerry, display: Option<u32>| {
            notify_ready(display, state.xauthority.as_deref());
            if let Some(cmd) = state.config.command.clone() {
                spawn_command(state, &cmd, display);
            }
        };
        if self.state.config.xwayland {
            self.state.start_xwayland(spawn);
        } else {
            spawn(&mut self.state, None);
        }
    }

    /// Runs one iteration of the event loop.
    pub fn dispatch(&mut self, timeout: Option<Duration>) -> Result<(), StartError> {
        self.event_loop
            .dispatch(timeout, &mut self.state)
            .map_err(|e| StartError::Source(e.to_string()))?;
        self.state.refresh();
        Ok(())
    }

    /// Runs until [`Skerry::loop_signal`] is stopped.
    pub fn run(mut self) -> Result<(), StartError> {
        self.state.schedule_render();
        self.event_loop
            .run(None, &mut self.state, |state| state.refresh())
            .map_err(|e| StartError::Source(e.to_string()))
    }
}

/// Tells a supervisor (sd_notify, when `NOTIFY_SOCKET` is set) that clients can connect, and
/// which X display Xwayland took, so applications it starts afterwards get the right
/// `DISPLAY`.
fn notify_ready(display: Option<u32>, authority: Option<&std::path::Path>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let display = display.map(|d| format!("DISPLAY=:{d}"));
    let authority = authority.map(|a| format!("XAUTHORITY={}", a.display()));
    let mut states = vec![sd_notify::NotifyState::Ready];
    for field in display.iter().chain(&authority) {
        states.push(sd_notify::NotifyState::Custom(field));
    }
    if let Err(e) = sd_notify::notify(false, &states) {
        tracing::warn!("cannot notify readiness: {e}");
    }
}

impl Skerry {
    /// Housekeeping after each event-loop iteration: flush replies to clients, drop dead
    /// popups and foreign-toplevel handles.
    pub fn refresh(&mut self) {
        self.popups.cleanup();
        // Old Xwayland names an X11 window's surface in a client message that may arrive
        // after the surface's last commit: look again after every batch of events.
        if self.xwm.is_some()
            && self
                .windows
                .values()
                .chain(self.override_redirect.iter())
                .any(|m| m.window.x11_surface().is_some() && m.surface().is_none())
        {
            self.resolve_x11_surfaces();
        }
        self.foreign_toplevel_list_state.cleanup_closed_handles();
        if let Err(e) = self.display_handle.flush_clients() {
            tracing::debug!("flushing clients: {e}");
        }
    }
}

/// Runs `cmd` through `sh -c` with the compositor's socket (and X display) in its environment.
pub fn spawn_command(state: &Skerry, cmd: &str, display: Option<u32>) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .env("WAYLAND_DISPLAY", &state.socket_name)
        .env("XDG_RUNTIME_DIR", &state.config.runtime_dir)
        .stdin(Stdio::null());
    match display {
        Some(d) => {
            command.env("DISPLAY", format!(":{d}"));
        }
        None => {
            command.env_remove("DISPLAY");
        }
    }
    match &state.xauthority {
        Some(a) => {
            command.env("XAUTHORITY", a);
        }
        None => {
            command.env_remove("XAUTHORITY");
        }
    }
    match command.spawn() {
        Ok(mut child) => {
            tracing::info!(pid = child.id(), "started {cmd:?}");
            // Reap it when it exits, without waking the event loop.
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::error!("cannot start {cmd:?}: {e}"),
    }
}

type Job = Box<dyn FnOnce(&mut Skerry) + Send>;

/// A compositor running on its own thread, for tests: closures run on the compositor thread
/// with the state, between event-loop iterations.
pub struct CompositorThread {
    jobs: channel::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub socket_name: OsString,
    pub runtime_dir: PathBuf,
}

impl CompositorThread {
    pub fn spawn(config: Config) -> Result<Self, StartError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let runtime_dir = config.runtime_dir.clone();
        let thread = std::thread::spawn(move || {
            let mut compositor = match Compositor::new(config) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let (tx, rx) = channel::channel::<Job>();
            let inserted = compositor
                .event_loop
                .handle()
                .insert_source(rx, |event, _, state| match event {
                    channel::Event::Msg(job) => job(state),
                    channel::Event::Closed => state.loop_signal.stop(),
                });
            if let Err(e) = inserted {
                let _ = ready_tx.send(Err(StartError::Source(e.to_string())));
                return;
            }
            compositor.start_children();
            let _ = ready_tx.send(Ok((tx, compositor.socket_name().clone())));
            if let Err(e) = compositor.run() {
                tracing::error!("compositor thread stopped: {e}");
            }
        });
        let (jobs, socket_name) = ready_rx
            .recv()
            .map_err(|_| StartError::Source("compositor thread died".into()))??;
        Ok(Self {
            jobs,
            thread: Some(thread),
            socket_name,
            runtime_dir,
        })
    }

    /// Runs `f` on the compositor thread and returns its result.
    pub fn with_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Skerry) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |state| {
                let _ = tx.send(f(state));
            }))
            .expect("compositor thread is gone");
        rx.recv().expect("compositor thread is gone")
    }
}

impl Drop for CompositorThread {
    fn drop(&mut self) {
        let _ = self.jobs.send(Box::new(|state| state.loop_signal.stop()));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
