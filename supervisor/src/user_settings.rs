//! Settings from a file the desktop user can write: `SKERRY_USER_SETTINGS` names it
//! (`/config/skerry.env` in the VM and kiosk image, where `/config` is the user's home).
//!
//! Lines of `KEY=value` as in the container's `-e`. Only the settings in
//! [`USER_SAFE_KEYS`] are taken (what the desktop looks like and runs); anything that decides
//! who runs what, where, or who may log in (`PUID`, `SKERRY_HOME`, `SKERRY_AUTH_*`,
//! `LD_PRELOAD`, service lists…) is ignored with a line in the log, since whoever holds the
//! desktop could otherwise choose it for root at the next start. The environment
//! skerry-init was started with wins over the file, and a value the file gets wrong is
//! dropped rather than stopping the appliance.
//!
//! The file is opened without following a symbolic link, must be a regular file and is
//! read up to [`MAX_LEN`] bytes.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::{USER_SAFE_KEYS, env_name};

/// The largest file read.
pub const MAX_LEN: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserSettingsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a regular file (a link, a folder or a device): ignored")]
    NotAFile(PathBuf),
    #[error("{0}: larger than 64 KiB: ignored")]
    TooLarge(PathBuf),
}

/// What the file holds: the settings taken, and one line for each thing left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub values: Vec<(String, String)>,
    pub ignored: Vec<String>,
}

/// Reads `path`; a missing file is an empty one.
pub fn read(path: &Path) -> Result<UserSettings, UserSettingsError> {
    let io = |source| UserSettingsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserSettings::default()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(UserSettingsError::NotAFile(path.to_path_buf()));
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(UserSettingsError::NotAFile(path.to_path_buf()));
    }
    if meta.len() > MAX_LEN {
        return Err(UserSettingsError::TooLarge(path.to_path_buf()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_LEN).read_to_end(&mut bytes).map_err(io)?;
    Ok(parse(
        &path.display().to_string(),
        &String::from_utf8_lossy(&bytes),
    ))
}

/// Parses the file's text; `name` labels the lines about it.
pub fn parse(name: &str, text: &str) -> UserSettings {
    let allowed: Vec<String> = USER_SAFE_KEYS.iter().map(|k| env_name(k)).collect();
    let mut out = UserSettings::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            out.ignored
                .push(format!("{name}:{}: not a KEY=value line: ignored", n + 1));
            continue;
        };
        let key = key.trim();
        if !allowed.iter().any(|a| a == key) {
            out.ignored.push(format!(
                "{name}:{}: {key} is ignored: this file is the desktop user's, and it may hold \
                 only {}",
                n + 1,
                allowed.join(", ")
            ));
            continue;
        }
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
            .unwrap_or(value);
        out.values.retain(|(k, _)| k != key);
        out.values.push((key.to_string(), value.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_that_cannot_change_who_runs_what_are_taken() {
        let text = "# kiosk\nSKERRY_FPS=50\nPUID=0\nLD_PRELOAD=/home/u/evil.so\n\
                    SKERRY_HOME=/home/../etc\nSKERRY_AUTH_PASSWORD=mine\nSKERRY_APP=\"chromium --kiosk\"\n\
                    TZ='Europe/Paris'\nSKERRY_USER_SETTINGS=/tmp/x\nnonsense\nSKERRY_FPS=60\n";
        let s = parse("/config/skerry.env", text);
        assert_eq!(
            s.values,
            [
                ("SKERRY_APP".to_string(), "chromium --kiosk".to_string()),
                ("TZ".into(), "Europe/Paris".into()),
                ("SKERRY_FPS".into(), "60".into()),
            ]
        );
        let ignored = s.ignored.join("\n");
        for key in [
            "PUID",
            "LD_PRELOAD",
            "SKERRY_HOME",
            "SKERRY_AUTH_PASSWORD",
            "SKERRY_USER_SETTINGS",
        ] {
            assert!(
                ignored.contains(&format!(": {key} is ignored")),
                "{ignored}"
            );
        }
        assert!(ignored.contains("/config/skerry.env:10: not a KEY=value line"));
        // The value of a refused setting is never repeated.
        assert!(!ignored.contains("mine") && !ignored.contains("evil"));
    }

    #[test]
    fn a_link_a_folder_or_a_huge_file_is_refused_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.env");
        std::fs::write(&real, "SKERRY_FPS=30\n").expect("write");
        let link = dir.path().join("link.env");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert!(matches!(read(&link), Err(UserSettingsError::NotAFile(_))));
        assert!(matches!(
            read(dir.path()),
            Err(UserSettingsError::NotAFile(_))
        ));
        let big = dir.path().join("big.env");
        std::fs::write(&big, vec![b'#'; MAX_LEN as usize + 1]).expect("write");
        assert!(matches!(read(&big), Err(UserSettingsError::TooLarge(_))));
        assert_eq!(
            read(&dir.path().join("none.env")).expect("missing"),
            UserSettings::default()
        );
        assert_eq!(
            read(&real).expect("real").values,
            [("SKERRY_FPS".to_string(), "30".to_string())]
        );
    }
}
