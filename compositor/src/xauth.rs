//! Xwayland takes X11 clients only with a cookie.
//!
//! Without `-auth`, an X server lets every local process connect, so any user of the
//! machine (or of the network namespace, through the abstract socket) could read the
//! desktop's keystrokes and windows. The compositor starts Xwayland through itself: smithay
//! runs `Xwayland` from `PATH`, which here is first a folder in the runtime directory whose
//! `Xwayland` is a link to this binary. Started under that name, [`run_as_xwayland`] makes a
//! fresh random MIT-MAGIC-COOKIE-1, writes it (0600) to the Xauthority file the compositor
//! chose, and execs the real Xwayland with `-auth` and that file. The compositor hands the
//! file's path to X11 clients as `XAUTHORITY`, with `DISPLAY`.
//!
//! Xwayland keeps its abstract socket as well: every connection still needs the cookie, and
//! holding that name keeps another program from taking it and receiving the desktop's
//! clients.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The program name smithay starts.
const XWAYLAND: &str = "Xwayland";
/// The real Xwayland, for the link's run.
const ENV_REAL: &str = "SKERRY_XWAYLAND_REAL";
/// The Xauthority file to write, for the link's run.
const ENV_AUTH: &str = "SKERRY_XWAYLAND_AUTH";

/// How Xwayland is to be started: the environment for smithay's spawn, and the file clients
/// get as `XAUTHORITY`.
#[derive(Debug, Clone)]
pub struct Launch {
    pub env: Vec<(String, OsString)>,
    pub authority: PathBuf,
}

/// Prepares the link in `runtime_dir` to `launcher` (this program when `None`) and names
/// the Xauthority file there.
pub fn prepare(runtime_dir: &Path, launcher: Option<&Path>) -> std::io::Result<Launch> {
    let path_var = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let real = std::env::split_paths(&path_var)
        .map(|d| d.join(XWAYLAND))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "Xwayland is not on PATH")
        })?;
    let dir = runtime_dir.join("skerry-xwayland");
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let link = dir.join(XWAYLAND);
    let _ = std::fs::remove_file(&link);
    let launcher = match launcher {
        Some(l) => l.to_path_buf(),
        None => std::env::current_exe()?,
    };
    std::os::unix::fs::symlink(launcher, &link)?;
    let mut path = vec![dir];
    path.extend(std::env::split_paths(&path_var));
    let authority = runtime_dir.join("skerry-xauthority");
    Ok(Launch {
        env: vec![
            (
                "PATH".into(),
                std::env::join_paths(path).map_err(std::io::Error::other)?,
            ),
            (ENV_REAL.into(), real.into()),
            (ENV_AUTH.into(), authority.clone().into()),
        ],
        authority,
    })
}

/// One Xauthority entry: any address (FamilyWild), display `number`, the cookie.
pub fn entry(number: &str, cookie: &[u8; 16]) -> Vec<u8> {
    let mut out = 0xffffu16.to_be_bytes().to_vec();
    for field in [&b""[..], number.as_bytes(), b"MIT-MAGIC-COOKIE-1", cookie] {
        out.extend_from_slice(&(field.len() as u16).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// When this process was started as `Xwayland` through the link: writes the cookie and
/// becomes the real Xwayland. Returns only if it was not (or the exec failed).
pub fn run_as_xwayland() -> Option<std::io::Error> {
    let argv0 = std::env::args_os().next()?;
    if Path::new(&argv0).file_name()? != XWAYLAND {
        return None;
    }
    let real = std::env::var_os(ENV_REAL)?;
    let auth = PathBuf::from(std::env::var_os(ENV_AUTH)?);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // The display is the first argument that looks like `:N`.
    let number = args
        .iter()
        .filter_map(|a| a.to_str()?.strip_prefix(':'))
        .find(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("")
        .to_owned();
    let result = (|| {
        let mut cookie = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut cookie)?;
        let tmp = auth.with_extension("new");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?;
        f.write_all(&entry(&number, &cookie))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &auth)
    })();
    if let Err(e) = result {
        return Some(e);
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(real)
        .args(args)
        .arg("-auth")
        .arg(&auth)
        .env_remove(ENV_REAL)
        .env_remove(ENV_AUTH)
        .exec();
    Some(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_in_the_xauthority_format() {
        let cookie = [7u8; 16];
        let e = entry("3", &cookie);
        let mut want = vec![0xff, 0xff, 0, 0, 0, 1, b'3', 0, 18];
        want.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
        want.extend_from_slice(&[0, 16]);
        want.extend_from_slice(&cookie);
        assert_eq!(e, want);
    }
}
