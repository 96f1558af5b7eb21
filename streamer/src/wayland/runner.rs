//! The capture thread: connect, bind, then sleep in `poll` on the Wayland socket and the
//! command eventfd until one of them has something, with a timeout only while a paced
//! capture is waiting for its slot.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{TryRecvError, sync_channel};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use wayland_client::backend::WaylandError;
use wayland_client::{Connection, EventQueue};

use super::control::{Command, Control, Inbox, channel_pair};
use super::state::State;
use super::{Error, WaylandOptions};
use crate::desktop::{CaptureEvent, CaptureSink, DesktopControl};

fn socket_path(display: Option<&str>) -> Result<PathBuf, Error> {
    let name = match display {
        Some(d) => d.to_owned(),
        None => std::env::var("WAYLAND_DISPLAY").map_err(|_| Error::NoDisplay)?,
    };
    let path = PathBuf::from(&name);
    if path.is_absolute() {
        return Ok(path);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR").ok_or(Error::NoDisplay)?;
    Ok(PathBuf::from(dir).join(name))
}

pub fn spawn(
    options: WaylandOptions,
    sink: Arc<dyn CaptureSink>,
) -> Result<Arc<dyn DesktopControl>, Error> {
    let path = socket_path(options.display.as_deref())?;
    let stream = UnixStream::connect(&path).map_err(|source| Error::Connect {
        path: path.clone(),
        source,
    })?;
    let conn = Connection::from_socket(stream).map_err(|e| Error::Wayland(e.to_string()))?;
    let (waker, inbox) = channel_pair()?;
    let (ready_tx, ready_rx) = sync_channel(1);
    let thread_waker = waker.clone();
    std::thread::Builder::new()
        .name("wayland-capture".into())
        .spawn(move || {
            let setup = setup(conn, options, sink.clone(), thread_waker);
            match setup {
                Ok((conn, queue, state)) => {
                    let _ = ready_tx.send(Ok(()));
                    let reason = run(&conn, queue, state, &inbox);
                    if let Some(reason) = reason {
                        tracing::info!(reason, "Wayland capture ended");
                        sink.deliver(CaptureEvent::Closed { reason });
                    }
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        })
        .map_err(|e| Error::Thread(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Arc::new(Control { waker })),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(Error::Thread("capture thread ended during setup".into())),
    }
}

fn wayland_err(e: impl std::fmt::Display) -> Error {
    Error::Wayland(e.to_string())
}

fn setup(
    conn: Connection,
    options: WaylandOptions,
    sink: Arc<dyn CaptureSink>,
    waker: super::control::Waker,
) -> Result<(Connection, EventQueue<State>, State), Error> {
    let mut queue = conn.new_event_queue();
    let qh = queue.handle();
    let mut state = State::new(options, sink, waker);
    state.qh = Some(qh.clone());
    conn.display().get_registry(&qh, ());
    // Globals, then what they describe (output names and modes, heads, seat capabilities).
    queue.roundtrip(&mut state).map_err(wayland_err)?;
    queue.roundtrip(&mut state).map_err(wayland_err)?;
    let wanted = state.options.output.clone();
    let target = state
        .outputs
        .iter()
        .find(|o| wanted.is_none() || o.name == wanted)
        .map(|o| o.output.clone())
        .ok_or(Error::NoOutput(wanted))?;
    state.target = Some(wayland_client::Proxy::id(&target));
    if state.globals.shm.is_none() {
        return Err(Error::Wayland("the compositor has no wl_shm".into()));
    }
    state.setup_input(&qh)?;
    state.setup_clipboard(&qh);
    // Virtual devices can give the seat a pointer; learn that before choosing capture.
    queue.roundtrip(&mut state).map_err(wayland_err)?;
    let ext = !state.options.force_screencopy && state.start_ext_capture(&qh);
    if !ext && state.globals.screencopy.is_none() {
        return Err(Error::NoCapture);
    }
    tracing::info!(
        protocol = if ext { "ext-image-copy-capture-v1" } else { "zwlr_screencopy_v1" },
        output = ?state.target_output().and_then(|o| o.name.clone()),
        "capturing"
    );
    Ok((conn, queue, state))
}

impl State {
    /// Starts whatever capture work is due; returns when the next paced capture may start,
    /// if one is waiting for that.
    fn pump(&mut self) -> Option<Instant> {
        let qh = self.qh.clone()?;
        if self.capture.take_output_dirty() {
            // Sizes also come with the capture buffers; this catches scale-only changes.
            let size = self
                .target_output()
                .map(|o| o.size)
                .filter(|&(w, h)| w > 0 && h > 0)
                .or_else(|| self.output_size());
            if let Some((w, h)) = size {
                self.announce_mode(w, h);
            }
        }
        let waiting = if self.ext.active() {
            self.pump_ext(&qh);
            !self.ext_frame_pending() && self.capture.has_free_slot()
        } else {
            self.pump_screencopy(&qh);
            self.screencopy.idle()
        };
        // Only a capture held back by the frame-rate cap needs a timer.
        let next = self.capture.next_allowed();
        (waiting && next > Instant::now()).then_some(next)
    }

    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Input(event) => self.inject(event),
            Command::SetMode(mode) => self.set_mode(mode),
            Command::SetMaxFps(fps) => self.capture.set_max_fps(fps),
            Command::SetClipboard(data) => self.set_clipboard(data),
            Command::FullFrame => {
                self.capture.full_next = true;
                if self.ext.active() {
                    if let Some(qh) = self.qh.clone() {
                        self.ext_full_frame(&qh);
                    }
                } else {
                    self.screencopy.cancel(self.capture.pool.as_mut());
                }
            }
            Command::BufferReturned { generation, index } => {
                self.capture.buffer_returned(generation, index);
            }
            Command::Shutdown => return false,
        }
        true
    }
}

/// Runs until the compositor goes away (returns the reason) or the control handle is
/// dropped (returns `None`).
fn run(
    conn: &Connection,
    mut queue: EventQueue<State>,
    mut state: State,
    inbox: &Inbox,
) -> Option<String> {
    loop {
        if let Err(err) = queue.dispatch_pending(&mut state) {
            return Some(format!("Wayland protocol error: {err}"));
        }
        loop {
            match inbox.rx.try_recv() {
                Ok(command) => {
                    if !state.handle(command) {
                        return None;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return None,
            }
        }
        if let Some(reason) = state.closed.take() {
            return Some(reason);
        }
        let deadline = state.pump();
        if let Some(reason) = state.closed.take() {
            return Some(reason);
        }
        match conn.flush() {
            Ok(()) => {}
            Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) => return Some(format!("lost the compositor: {err}")),
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        let wayland_fd = guard.connection_fd();
        let inbox_fd = inbox.fd();
        let mut fds = [
            PollFd::new(&wayland_fd, PollFlags::IN),
            PollFd::new(&inbox_fd, PollFlags::IN),
        ];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Some(format!("poll failed: {err}")),
        }
        let wayland = fds[0].revents();
        let commands = fds[1].revents();
        if commands.contains(PollFlags::IN) {
            inbox.clear();
        }
        if wayland.intersects(PollFlags::IN | PollFlags::ERR | PollFlags::HUP) {
            match guard.read() {
                Ok(_) => {}
                Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) => return Some(format!("lost the compositor: {err}")),
            }
        }
    }
}
