//! The supervisor's own sd_notify socket: how services say they are ready.
//!
//! One unix datagram socket for all services, in the supervisor's runtime directory, given
//! to every child as `NOTIFY_SOCKET`. The kernel stamps each datagram with the sender's
//! pid (`SO_PASSCRED` / `SCM_CREDENTIALS`), which the runner maps to a service — also when
//! the sender is a child of the service's main process, through its process group. Senders
//! cannot lie about their pid, so one service cannot mark another ready.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("binding the notify socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("setting up the notify socket: {0}")]
    Setup(#[from] nix::Error),
}

/// One datagram: who sent it and its `KEY=value` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub pid: i32,
    pub fields: Vec<(String, String)>,
}

impl Message {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds at `path` (replacing a stale socket), writable by any local user: the directory
    /// around it decides who can reach it.
    pub fn bind(path: &Path) -> Result<Self, NotifyError> {
        let bind_err = |source| NotifyError::Bind {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(bind_err(e)),
        }
        let sock = UnixDatagram::bind(path).map_err(bind_err)?;
        sock.set_nonblocking(true).map_err(bind_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(bind_err)?;
        setsockopt(&sock, sockopt::PassCred, &true)?;
        Ok(Self {
            sock,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next datagram, or `None` when none is waiting.
    pub fn recv(&self) -> Option<Message> {
        let mut buf = [0u8; 4096];
        let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(m) => m,
                Err(nix::Error::EINTR) => continue,
                Err(_) => return None,
            };
            let pid = msg.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
                    _ => None,
                })
            });
            let len = msg.bytes;
            let Some(pid) = pid else {
                // No credentials: the sender cannot be identified; drop it.
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..len]);
            let fields = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            return Some(Message { pid, fields });
        }
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
