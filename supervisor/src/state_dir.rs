//! skerry-init's own directory when it runs as root for another desktop user: where the
//! status file and the notify socket live, out of that user's reach.
//!
//! The desktop user owns `XDG_RUNTIME_DIR` and can rename, replace or plant links in
//! anything under it, so root never writes there. This directory (`/run/skerry` unless
//! `SKERRY_STATE_DIR` names another) is reached by opening every component from `/` with
//! `O_NOFOLLOW`: each one must be a real directory that only root can change (owned by
//! root, not writable by group or others unless sticky), and the last one is root's with
//! mode 0755, so services can read the status file and reach the socket but change neither.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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

/// How root opens a folder it is about to trust: a directory, never through a link.
pub(crate) const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_RDONLY);

/// Makes `name` in `parent` with `mode` unless something is there already, then opens
/// whatever is there with [`DIR_FLAGS`] (`ELOOP`/`ENOTDIR` for a link or a file).
pub(crate) fn make_and_open(
    parent: BorrowedFd<'_>,
    name: &CStr,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    match mkdirat(parent, name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    openat(parent, name, DIR_FLAGS, Mode::empty())
}

/// Creates (or checks) `dir` as described above.
pub fn prepare(dir: &Path) -> Result<(), StateDirError> {
    let mut parts = dir.components();
    if parts.next() != Some(Component::RootDir)
        || !parts.clone().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(StateDirError::NotAbsolute(dir.to_path_buf()));
    }
    let sys = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StateDirError::Sys { path, source }
    };
    let root = Path::new("/");
    let mut fd = nix::fcntl::open(root, DIR_FLAGS, Mode::empty()).map_err(sys(root))?;
    check(&fd, root, false)?;
    let mut path = PathBuf::from("/");
    let names: Vec<_> = parts.collect();
    for (i, name) in names.iter().enumerate() {
        path.push(name);
        let last = i + 1 == names.len();
        let c = CString::new(name.as_os_str().as_bytes())
            .map_err(|_| StateDirError::NotAbsolute(dir.to_path_buf()))?;
        let next = match make_and_open(fd.as_fd(), c.as_c_str(), MODE) {
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
