//! The runtime user: every child runs as it, with the `PUID`/`PGID` the operator chose so
//! files in mounted volumes get the owner they expect.
//!
//! Containers are started with arbitrary ids, so the account is created or adjusted at each
//! start by editing `passwd` and `group` directly (written whole to a temporary file, then
//! renamed over the old one): no `useradd` needs to exist in the image. A real account that
//! already owns the uid (a native install on a workstation) is used as it is, never edited.
//! The home is handed over to the user recursively only when its top directory has the
//! wrong owner, so a large home is not walked on every start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("changing the owner of {path}: {source}")]
    Chown { path: PathBuf, source: nix::Error },
    #[error("{0} is a system directory: not giving it to the runtime user")]
    SystemDir(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UserError + '_ {
    move |source| UserError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The user every child runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Makes `passwd`/`group` under `etc` hold an account with `uid`/`gid` and returns it.
///
/// An existing entry with that uid is used untouched; otherwise the entry called `name` is
/// moved to the ids (or added). The same goes for the group.
pub fn ensure_account(
    etc: &Path,
    name: &str,
    uid: u32,
    gid: u32,
    home: &Path,
) -> Result<Account, UserError> {
    let group_path = etc.join("group");
    let groups = read_lines(&group_path)?;
    let has_gid = groups
        .iter()
        .any(|l| field(l, 2).and_then(|g| g.parse::<u32>().ok()) == Some(gid));
    if !has_gid {
        let mut found = false;
        let mut lines: Vec<String> = groups
            .iter()
            .map(|l| {
                if field(l, 0) == Some(name) {
                    found = true;
                    set_field(l, 2, &gid.to_string())
                } else {
                    l.clone()
                }
            })
            .collect();
        if !found {
            lines.push(format!("{name}:x:{gid}:"));
        }
        write_atomic(&group_path, &lines)?;
    }

    let passwd_path = etc.join("passwd");
    let users = read_lines(&passwd_path)?;
    if let Some(l) = users
        .iter()
        .find(|l| field(l, 2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
    {
        return Ok(Account {
            name: field(l, 0).unwrap_or(name).to_string(),
            uid,
            gid,
            home: home.to_path_buf(),
        });
    }
    let home_s = home.display().to_string();
    let mut found = false;
    let mut lines: Vec<String> = users
        .iter()
        .map(|l| {
            if field(l, 0) == Some(name) {
                found = true;
                let l = set_field(l, 2, &uid.to_string());
                let l = set_field(&l, 3, &gid.to_string());
                set_field(&l, 5, &home_s)
            } else {
                l.clone()
            }
        })
        .collect();
    if !found {
        lines.push(format!("{name}:x:{uid}:{gid}:Skerry:{home_s}:/bin/sh"));
    }
    write_atomic(&passwd_path, &lines)?;
    Ok(Account {
        name: name.to_string(),
        uid,
        gid,
        home: home.to_path_buf(),
    })
}

/// The passwd entry for `uid` under `etc`: name and home.
pub fn lookup_uid(etc: &Path, uid: u32) -> Option<(String, PathBuf)> {
    read_lines(&etc.join("passwd")).ok()?.iter().find_map(|l| {
        (field(l, 2)?.parse::<u32>().ok()? == uid)
            .then(|| Some((field(l, 0)?.to_string(), PathBuf::from(field(l, 5)?))))
            .flatten()
    })
}

/// Creates `dir` (and parents) and, when running as root, gives it to `uid:gid` if its owner
/// differs; `recursive` then walks the whole tree. `mode`, if given, is enforced; otherwise
/// a new directory gets 0755 and an existing one keeps its mode.
pub fn ensure_dir(
    dir: &Path,
    uid: u32,
    gid: u32,
    mode: Option<u32>,
    recursive: bool,
) -> Result<(), UserError> {
    if !dir.is_dir() {
        if let Some(parent) = dir.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(io(parent))?;
        }
        match fs::DirBuilder::new()
            .mode(mode.unwrap_or(0o755))
            .create(dir)
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(dir)(e)),
        }
    }
    let meta = fs::metadata(dir).map_err(io(dir))?;
    if let Some(mode) = mode
        && meta.mode() & 0o7777 != mode
    {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(io(dir))?;
    }
    if !nix::unistd::geteuid().is_root() || (meta.uid() == uid && meta.gid() == gid) {
        return Ok(());
    }
    if is_system_dir(dir) {
        return Err(UserError::SystemDir(dir.to_path_buf()));
    }
    if recursive {
        chown_tree(dir, uid, gid)
    } else {
        chown(dir, uid, gid)
    }
}

/// Directories of the operating system that must never be given to the runtime user, even
/// when an account's home points at one (`/`, `/usr/sbin`, `/nonexistent`'s parent…).
pub fn is_system_dir(dir: &Path) -> bool {
    const EXACT: &[&str] = &[
        "/",
        "/home",
        "/run",
        "/run/user",
        "/tmp",
        "/var",
        "/opt",
        "/srv",
        "/mnt",
        "/media",
    ];
    const TREES: &[&str] = &[
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/proc",
        "/root",
        "/sbin",
        "/sys",
        "/usr",
        "/var/lib",
        "/var/log",
        "/var/cache",
        "/var/spool",
    ];
    let d = dir.to_string_lossy();
    let d = d.trim_end_matches('/');
    let d = if d.is_empty() { "/" } else { d };
    EXACT.contains(&d)
        || TREES
            .iter()
            .any(|t| d == *t || d.strip_prefix(t).is_some_and(|rest| rest.starts_with('/')))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), UserError> {
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|source| UserError::Chown {
        path: path.to_path_buf(),
        source,
    })
}

/// Gives a tree to `uid:gid` without following symbolic links or leaving the filesystem.
/// The streamer's folder in it stays root's (`crate::secrets`).
fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<(), UserError> {
    let dev = fs::symlink_metadata(root).map_err(io(root))?.dev();
    let keep = root.join(crate::secrets::DIR_NAME);
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path == keep {
            continue;
        }
        chown(&path, uid, gid)?;
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() && meta.dev() == dev {
            for entry in fs::read_dir(&path).map_err(io(&path))? {
                stack.push(entry.map_err(io(&path))?.path());
            }
        }
    }
    Ok(())
}

fn read_lines(path: &Path) -> Result<Vec<String>, UserError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(t.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes the whole file next to itself, then renames it over the old one.
fn write_atomic(path: &Path, lines: &[String]) -> Result<(), UserError> {
    let tmp = path.with_extension("skerry-new");
    let mode = fs::metadata(path).map_or(0o644, |m| m.mode() & 0o7777);
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut text = lines.join("\n");
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(io(&tmp))?;
    match fs::rename(&tmp, path) {
        Ok(()) => Ok(()),
        // A file mounted over by the container runtime cannot be replaced: rewrite it.
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let _ = fs::remove_file(&tmp);
            fs::write(path, text).map_err(io(path))
        }
        Err(e) => Err(io(path)(e)),
    }
}

fn field(line: &str, i: usize) -> Option<&str> {
    line.split(':').nth(i)
}

fn set_field(line: &str, i: usize, value: &str) -> String {
    let mut parts: Vec<&str> = line.split(':').collect();
    if parts.len() <= i {
        parts.resize(i + 1, "");
    }
    parts[i] = value;
    parts.join(":")
}
