//! The X11 socket directory, `/tmp/.X11-unix`, made safe to use before Xwayland starts.
//!
//! X11 clients find a display's filesystem socket at `/tmp/.X11-unix/X<n>` (and its abstract
//! twin of the same name), and Xwayland's launcher binds exactly there. A fresh machine has
//! no such directory: the compositor creates it the way every X server does, mode 1777, so
//! each user's sockets sit side by side and the sticky bit keeps one user from removing
//! another's. Created by root it belongs to root. An existing directory is used only when
//! nobody else could swap the sockets inside it: a real directory (not a symbolic link)
//! owned by root with mode 1777, or owned by the user running the compositor and writable by
//! no one else unless sticky. Anything else is reported, and X11 applications do not run,
//! rather than letting another user's directory serve the desktop's display.
//!
//! Everything after the `mkdir` goes through one descriptor opened without following links,
//! so a link planted between the check and the use is never followed.

use std::{io, os::fd::OwnedFd, path::Path};

use rustix::fs::{self as rfs, AtFlags, CWD, FileType, Mode, OFlags};

/// Where X11 clients look for local display sockets.
pub const X11_UNIX_DIR: &str = "/tmp/.X11-unix";

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    /// The directory existed and is safe to use.
    Existing,
    /// The directory was missing and is now created, mode 1777, owned by the caller.
    Created,
}

/// Why the X11 socket directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum X11DirError {
    #[error("{path} is a symbolic link; X11 sockets need a real directory there")]
    Symlink { path: String },
    #[error("{path} exists but is not a directory")]
    NotDirectory { path: String },
    #[error(
        "{path} is owned by uid {owner}; it must belong to root (or to uid {me}, who runs \
         Xwayland) so no other user can replace the display's sockets"
    )]
    Owner { path: String, owner: u32, me: u32 },
    #[error("{path} has mode {mode:04o}; it must be {expected}")]
    Mode {
        path: String,
        mode: u32,
        expected: &'static str,
    },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Makes `dir` ready for X11 sockets of a server run by `euid`: creates it (1777) when
/// missing, otherwise checks that nobody else can tamper with it.
pub fn ensure(dir: &Path, euid: u32) -> Result<Prepared, X11DirError> {
    let path = dir.display().to_string();
    let io_err = |what: &'static str| {
        let path = path.clone();
        move |e: rustix::io::Errno| X11DirError::Io {
            what,
            path,
            source: e.into(),
        }
    };
    let created = match rfs::mkdirat(CWD, dir, Mode::RWXU) {
        Ok(()) => true,
        Err(rustix::io::Errno::EXIST) => false,
        Err(e) => return Err(io_err("create")(e)),
    };
    if !created {
        // Look at the entry itself first: a link or a file gets a precise message.
        let st = rfs::statat(CWD, dir, AtFlags::SYMLINK_NOFOLLOW).map_err(io_err("inspect"))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {}
            FileType::Symlink => return Err(X11DirError::Symlink { path }),
            _ => return Err(X11DirError::NotDirectory { path }),
        }
    }
    let fd: OwnedFd = rfs::openat(
        CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => X11DirError::Symlink { path: path.clone() },
        rustix::io::Errno::NOTDIR => X11DirError::NotDirectory { path: path.clone() },
        e => io_err("open")(e),
    })?;
    let st = rfs::fstat(&fd).map_err(io_err("inspect"))?;
    if created {
        if st.st_uid != euid {
            // Only possible if someone else replaced the entry between mkdir and open.
            return Err(X11DirError::Owner {
                path,
                owner: st.st_uid,
                me: euid,
            });
        }
        rfs::fchmod(&fd, Mode::from_raw_mode(0o1777)).map_err(io_err("set the mode of"))?;
        return Ok(Prepared::Created);
    }
    check(&path, st.st_uid, st.st_mode & 0o7777, euid)?;
    Ok(Prepared::Existing)
}

/// The ownership and mode rules for an existing socket directory.
fn check(path: &str, owner: u32, mode: u32, euid: u32) -> Result<(), X11DirError> {
    let mode_err = |expected| X11DirError::Mode {
        path: path.to_string(),
        mode,
        expected,
    };
    if owner == 0 {
        // Root's shared directory: everyone may add sockets, nobody may remove another's.
        if mode & 0o1777 != 0o1777 {
            return Err(mode_err(
                "1777 (writable by every user, with the sticky bit)",
            ));
        }
        return Ok(());
    }
    if owner != euid {
        return Err(X11DirError::Owner {
            path: path.to_string(),
            owner,
            me: euid,
        });
    }
    // Our own directory: others may write in it only under the sticky bit.
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(mode_err(
            "1777 (with the sticky bit) or not writable by other users",
        ));
    }
    if mode & 0o700 != 0o700 {
        return Err(mode_err("readable, writable and searchable by its owner"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn me() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    #[test]
    fn a_missing_directory_is_created_sticky_and_world_writable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".X11-unix");
        assert_eq!(ensure(&dir, me()).unwrap(), Prepared::Created);
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
        assert_eq!(meta.uid(), me());
        // A second start finds it as made.
        assert_eq!(ensure(&dir, me()).unwrap(), Prepared::Existing);
    }

    #[test]
    fn a_symbolic_link_is_refused_and_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let dir = tmp.path().join(".X11-unix");
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        let err = ensure(&dir, me()).unwrap_err();
        assert!(matches!(err, X11DirError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700, "the link's target was changed");
    }

    #[test]
    fn a_file_in_its_place_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".X11-unix");
        std::fs::write(&dir, b"").unwrap();
        let err = ensure(&dir, me()).unwrap_err();
        assert!(matches!(err, X11DirError::NotDirectory { .. }), "{err}");
    }

    #[test]
    fn a_directory_another_user_owns_is_reported_with_its_owner() {
        let err = check("/tmp/.X11-unix", 1000, 0o1777, 1001).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("owned by uid 1000"), "{text}");
        assert!(text.contains("uid 1001"), "{text}");
        // Even root does not use a directory a user made.
        assert!(check("/tmp/.X11-unix", 1000, 0o1777, 0).is_err());
    }

    #[test]
    fn modes_that_let_others_swap_sockets_are_reported() {
        let text = check("/tmp/.X11-unix", 0, 0o755, 1000)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("mode 0755") && text.contains("1777"),
            "{text}"
        );
        assert!(check("/tmp/.X11-unix", 1000, 0o777, 1000).is_err());
        assert!(check("/tmp/.X11-unix", 1000, 0o500, 1000).is_err());
    }

    #[test]
    fn the_usual_directories_are_accepted() {
        check("/tmp/.X11-unix", 0, 0o1777, 1000).unwrap();
        check("/tmp/.X11-unix", 0, 0o1777, 0).unwrap();
        check("/tmp/.X11-unix", 1000, 0o1777, 1000).unwrap();
        check("/tmp/.X11-unix", 1000, 0o700, 1000).unwrap();
    }
}
