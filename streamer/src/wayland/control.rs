//! How other threads talk to the capture thread: a channel of [`Command`]s plus an eventfd
//! that the thread polls next to the Wayland socket, so it sleeps in `poll` until either the
//! compositor or the pipeline has something for it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use rustix::event::{EventfdFlags, eventfd};

use super::Error;
use crate::desktop::{DesktopControl, InputEvent, ModeRequest};

#[derive(Debug)]
pub enum Command {
    Input(InputEvent),
    SetMode(ModeRequest),
    SetMaxFps(u32),
    SetClipboard(crate::clipboard::ClipboardData),
    FullFrame,
    /// A lent capture buffer came back from the pipeline.
    BufferReturned {
        generation: u64,
        index: usize,
    },
    /// The last [`DesktopControl`] handle was dropped.
    Shutdown,
}

/// Sends commands to the capture thread and wakes it.
#[derive(Clone)]
pub struct Waker {
    tx: Sender<Command>,
    fd: Arc<OwnedFd>,
}

impl Waker {
    pub fn send(&self, command: Command) {
        // A closed channel means the thread has ended; there is nobody left to tell.
        if self.tx.send(command).is_ok() {
            let _ = rustix::io::write(&*self.fd, &1u64.to_ne_bytes());
        }
    }
}

/// The capture thread's end.
pub struct Inbox {
    pub rx: Receiver<Command>,
    fd: Arc<OwnedFd>,
}

impl Inbox {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Clears the eventfd's counter; the commands themselves are read from `rx`.
    pub fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&*self.fd, &mut buf);
    }
}

pub fn channel_pair() -> Result<(Waker, Inbox), Error> {
    let fd =
        Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).map_err(Error::Os)?);
    let (tx, rx) = channel();
    Ok((Waker { tx, fd: fd.clone() }, Inbox { rx, fd }))
}

/// The [`DesktopControl`] handed to the pipeline; dropping it stops the capture thread.
pub struct Control {
    pub waker: Waker,
}

impl DesktopControl for Control {
    fn inject(&self, event: InputEvent) {
        self.waker.send(Command::Input(event));
    }

    fn set_mode(&self, mode: ModeRequest) {
        self.waker.send(Command::SetMode(mode));
    }

    fn set_max_fps(&self, fps: u32) {
        self.waker.send(Command::SetMaxFps(fps));
    }

    fn request_full_frame(&self) {
        self.waker.send(Command::FullFrame);
    }

    fn set_clipboard(&self, data: crate::clipboard::ClipboardData) {
        self.waker.send(Command::SetClipboard(data));
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.waker.send(Command::Shutdown);
    }
}
