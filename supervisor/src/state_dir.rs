//! skerry-init's own directory when it runs as root for another desktop user: where the
//! status file and the notify socket live, out of that user's reach.
//!
//! The desktop user owns `XDG_RUNTIME_DIR` and can rename, replace or plant links in
//! anything under it, so root never writes there. This directory (`/run/skerry` unless
//! `SKERRY_STATE_DIR` names another) is reached by opening every component from `/` with
//! `O_NOFOLLOW`: each one must be a real directory that only root can change (owned by
//! root, not writable by group or others unless sticky), and the last one is root's with
//! mode 0755, so services can read the status file and reach the socket but change neither.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fchmod, fstat, mkdirat};

#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("{path}: {source}")]
    Sys { path: PathBuf, source: Errno },
    #[error("{0} must be an absolute path without . or .. components")]
    NotAbsolute(PathBuf),
    #[error(
        "{path} is {what}; skerry-init keeps its status there and needs every folder on the way to be root's alone"
    )]
    Unsafe { path: PathBuf, what: String },
}

const MODE: u32 = 0o755;

/// Creates (or checks) `dir` as described above.
pub fn prepare(dir: &Path) -> Result<(), StateDirError> {
    let mut parts = dir.components();
    if parts.next() != Some(Component::RootDir)
        || !parts.clone().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(StateDirError::NotAbsolute(dir.to_path_buf()));
    }
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    let sys = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StateDirError::Sys { path, source }
    };
    let root = Path::new("/");
    let mut fd = nix::fcntl::open(root, flags, Mode::empty()).map_err(sys(root))?;
    check(&fd, root, false)?;
    let mut path = PathBuf::from("/");
    let names: Vec<_> = parts.collect();
    for (i, name) in names.iter().enumerate() {
        path.push(name);
        let last = i + 1 == names.len();
        let c = CString::new(name.as_os_str().as_bytes())
            .map_err(|_| StateDirError::NotAbsolute(dir.to_path_buf()))?;
        match mkdirat(fd.as_fd(), c.as_c_str(), Mode::from_bits_truncate(MODE)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(sys(&path)(e)),
        }
        let next = match openat(fd.as_fd(), c.as_c_str(), flags, Mode::empty()) {
            Ok(next) => next,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(StateDirError::Unsafe {
                    path,
                    what: "a symbolic link or not a directory".into(),
                });
            }
            Err(e) => return Err(sys(&path)(e)),
        };
        check(&next, &path, last)?;
        fd = next;
    }
    Ok(())
}

/// One component: root's and changeable by root alone; the last one gets mode 0755.
fn check(fd: &OwnedFd, path: &Path, last: bool) -> Result<(), StateDirError> {
    let st = fstat(fd).map_err(|source| StateDirError::Sys {
        path: path.to_path_buf(),
        source,
    })?;
    let unsafe_ = |what: String| StateDirError::Unsafe {
        path: path.to_path_buf(),
        what,
    };
    if st.st_uid != 0 {
        return Err(unsafe_(format!("owned by uid {}", st.st_uid)));
    }
    let mode = st.st_mode & 0o7777;
    if last {
        // Entries planted while others could write here would stay: refuse, do not repair.
        if mode & 0o022 != 0 {
            return Err(unsafe_(format!("writable by other users (mode {mode:o})")));
        }
        if mode != MODE {
            fchmod(fd, Mode::from_bits_truncate(MODE)).map_err(|source| StateDirError::Sys {
                path: path.to_path_buf(),
                source,
            })?;
        }
    } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(unsafe_(format!(
            "writable by other users (mode {mode:o}) without the sticky bit"
        )));
    }
    Ok(())
}
