//! The streamer's own folder: the owner's password hash, the cookie signing key, the share
//! links and the TLS key, out of the desktop user's reach although the streamer runs as
//! that user.
//!
//! skerry-init, as root serving another user, makes `<home>/.skerry` root's, with a group
//! that only the streamer's process is given, mode 0770, and opens it once
//! at start. The streamer gets that open descriptor and `SKERRY_CONFIG_DIR=/proc/self/fd/N`:
//! the desktop user, whose programs lack the group, can neither enter the folder nor read
//! the streamer's descriptors (it is not dumpable), and moving the folder away or putting
//! another in its place changes nothing for the streamer, which keeps the one opened here.
//! Something else already at that name (a link, a file, a folder of the user's) is moved
//! aside with a warning and a root-owned folder made in its place.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, openat, renameat};
use nix::sys::stat::{Mode, fchmod, fstat};
use nix::unistd::{Gid, Uid, fchown, fchownat};

use crate::state_dir::{DIR_FLAGS, make_and_open};

/// The folder's name in the home.
pub const DIR_NAME: &str = ".skerry";
/// A group of this name in `/etc/group` is used for the folder (else a free id).
pub const GROUP_NAME: &str = "skerry-secrets";
/// Where a free group id is looked for, downwards.
const FIRST_GID: u32 = 64_999;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{path}: {source}")]
    Sys { path: PathBuf, source: Errno },
    #[error("{0}: something keeps taking the streamer's folder's place")]
    Contested(PathBuf),
}

/// The prepared folder: open, and the group that reaches it.
#[derive(Debug)]
pub struct Secrets {
    pub dir: OwnedFd,
    pub gid: u32,
}

impl Secrets {
    /// `SKERRY_CONFIG_DIR` for the streamer.
    pub fn config_dir(&self) -> String {
        format!("/proc/self/fd/{}", self.dir.as_raw_fd())
    }
}

fn name() -> CString {
    CString::new(DIR_NAME).expect("no NUL")
}

/// Makes `<home>/.skerry` the streamer's (owned by root, group `gid`, 0770) and opens it;
/// what the streamer left there before is handed to `uid` (a changed `PUID`).
pub fn prepare(home: &Path, uid: u32, gid: u32) -> Result<Secrets, SecretsError> {
    let path = home.join(DIR_NAME);
    let sys = |p: &Path| {
        let p = p.to_path_buf();
        move |source| SecretsError::Sys { path: p, source }
    };
    let home_fd = nix::fcntl::open(home, DIR_FLAGS, Mode::empty()).map_err(sys(home))?;
    let name = name();
    for attempt in 0..3 {
        let found = match make_and_open(home_fd.as_fd(), name.as_c_str(), 0o700) {
            Ok(fd) => match fstat(&fd) {
                Ok(st) if st.st_uid == 0 => Some(fd),
                Ok(st) => {
                    tracing::warn!(
                        "{} belongs to uid {}: moving it aside",
                        path.display(),
                        st.st_uid
                    );
                    None
                }
                Err(e) => return Err(sys(&path)(e)),
            },
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                tracing::warn!("{} is not a folder: moving it aside", path.display());
                None
            }
            Err(e) => return Err(sys(&path)(e)),
        };
        if let Some(dir) = found {
            fchown(&dir, Some(Uid::from_raw(0)), Some(Gid::from_raw(gid))).map_err(sys(&path))?;
            fchmod(&dir, Mode::from_bits_truncate(0o770)).map_err(sys(&path))?;
            hand_over(&dir, &path, uid)?;
            return Ok(Secrets { dir, gid });
        }
        let aside = CString::new(format!(
            "{DIR_NAME}.not-root.{}.{attempt}",
            std::process::id()
        ))
        .expect("no NUL");
        renameat(
            home_fd.as_fd(),
            name.as_c_str(),
            home_fd.as_fd(),
            aside.as_c_str(),
        )
        .map_err(sys(&path))?;
    }
    Err(SecretsError::Contested(path))
}

/// Gives what is inside `dir` to `uid`, not following links; only the streamer writes there.
fn hand_over(dir: &OwnedFd, path: &Path, uid: u32) -> Result<(), SecretsError> {
    let sys = |source| SecretsError::Sys {
        path: path.to_path_buf(),
        source,
    };
    let listing = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let Ok(entries) = std::fs::read_dir(&listing) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = CString::new(entry.file_name().as_bytes()).expect("no NUL in a file name");
        let Ok(meta) = entry.metadata() else { continue };
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != uid {
            fchownat(
                dir.as_fd(),
                name.as_c_str(),
                Some(Uid::from_raw(uid)),
                None,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(sys)?;
        }
        if meta.is_dir() {
            let sub =
                openat(dir.as_fd(), name.as_c_str(), DIR_FLAGS, Mode::empty()).map_err(sys)?;
            hand_over(&sub, &path.join(entry.file_name()), uid)?;
        }
    }
    Ok(())
}

/// The group for the folder: [`GROUP_NAME`]'s in `etc/group`, else the first id from
/// 64999 down that no group has and that is not in `taken`.
pub fn choose_gid(etc: &Path, taken: &[u32]) -> u32 {
    let text = std::fs::read_to_string(etc.join("group")).unwrap_or_default();
    let mut used = Vec::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(gid)) = (f.next(), f.nth(1)) else {
            continue;
        };
        let Ok(gid) = gid.parse::<u32>() else {
            continue;
        };
        if name == GROUP_NAME && !taken.contains(&gid) {
            return gid;
        }
        used.push(gid);
    }
    (1000..=FIRST_GID)
        .rev()
        .find(|g| !used.contains(g) && !taken.contains(g))
        .unwrap_or(FIRST_GID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_the_named_one_or_a_free_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("group"),
            "root:x:0:\nodd:x:64999:\nskerry:x:1000:\n",
        )
        .expect("group");
        assert_eq!(choose_gid(dir.path(), &[]), 64_998);
        assert_eq!(choose_gid(dir.path(), &[64_998]), 64_997);
        std::fs::write(dir.path().join("group"), "skerry-secrets:x:4321:\n").expect("group");
        assert_eq!(choose_gid(dir.path(), &[]), 4321);
        // The desktop user's own group never doubles as it.
        assert_eq!(choose_gid(dir.path(), &[4321]), 64_999);
    }
}
