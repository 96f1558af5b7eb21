//! Starting applications so that they outlive the shell and never become its zombies.
//!
//! Each program starts in its own session (`setsid`), so stopping or restarting the shell
//! (the supervisor signals the shell's process group) leaves the user's applications
//! running. The shell still reaps the child it forked, on a small waiter thread, so no
//! zombie is left behind while the shell lives; if the shell goes first, the supervisor
//! (PID 1 or a subreaper) inherits and reaps them.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::entry::{DesktopEntry, ExecError};

/// Why something could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot build the command line of {id}: {source}")]
    Exec {
        id: String,
        #[source]
        source: ExecError,
    },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// The terminal that `Terminal=true` entries run in.
pub const TERMINAL: &str = "foot";

/// Runs `argv` detached, in `dir` when given; returns the child's pid.
pub fn spawn_detached(argv: &[String], dir: Option<&Path>) -> Result<u32, LaunchError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(LaunchError::Spawn {
            program: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        });
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        cmd.current_dir(dir);
    }
    // SAFETY: setsid is async-signal-safe and allocates nothing, as the code between fork
    // and exec must.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| LaunchError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    let name = program.clone();
    let reaper = std::thread::Builder::new()
        .name("skerry-shell-reap".into())
        .spawn(move || match child.wait() {
            Ok(status) => tracing::debug!(program = %name, %status, "application exited"),
            Err(e) => tracing::warn!(program = %name, error = %e, "waiting for application"),
        });
    if let Err(e) = reaper {
        tracing::warn!(error = %e, "cannot start a reaper thread; the child will be reaped later");
    }
    tracing::info!(program = %program, pid, "started");
    Ok(pid)
}

/// Launches a desktop entry, opening `files` with it.
pub fn launch_entry(entry: &DesktopEntry, files: &[String]) -> Result<u32, LaunchError> {
    let argv = entry
        .command_line(files, TERMINAL)
        .map_err(|source| LaunchError::Exec {
            id: entry.id.clone(),
            source,
        })?;
    // Applications start in the entry's `Path`, else in the user's home (not wherever
    // the shell happens to run).
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let dir = entry
        .working_dir
        .as_deref()
        .map(Path::new)
        .or(home.as_deref());
    spawn_detached(&argv, dir)
}

/// The command that opens a plain file: `xdg-open` when installed, else a terminal showing
/// the file's folder (always there in a Skerry desktop).
pub fn open_file_command(file: &Path, path_var: &str) -> Vec<String> {
    let file_s = file.to_string_lossy().into_owned();
    if crate::entry::program_exists("xdg-open", path_var) {
        return vec!["xdg-open".into(), file_s];
    }
    let dir = if file.is_dir() {
        file
    } else {
        file.parent().unwrap_or(Path::new("/"))
    };
    vec![
        TERMINAL.into(),
        "--working-directory".into(),
        dir.to_string_lossy().into_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn detached_children_get_their_own_session_and_are_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sid");
        let script = format!("ps -o sid= -p $$ > {}.tmp && mv {0}.tmp {0}", out.display());
        let pid = spawn_detached(&["sh".into(), "-c".into(), script], None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !out.exists() {
            assert!(
                Instant::now() < deadline,
                "the child never wrote its session id"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let sid: u32 = std::fs::read_to_string(&out)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(sid, pid, "the child leads its own session");
        // Reaped: /proc/<pid> disappears (a zombie would keep it with state Z).
        loop {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => break,
                Ok(stat) => {
                    assert!(Instant::now() < deadline, "child not reaped: {stat}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    #[test]
    fn missing_program_is_an_error() {
        let err = spawn_detached(&["/nonexistent/skerry-x".into()], None).unwrap_err();
        assert!(matches!(err, LaunchError::Spawn { .. }));
    }

    #[test]
    fn files_open_with_xdg_open_or_a_terminal_in_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("notes.txt");
        assert_eq!(
            open_file_command(&f, "/nonexistent"),
            ["foot", "--working-directory", &dir.path().to_string_lossy()]
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let xo = bin.join("xdg-open");
        std::fs::write(&xo, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&xo, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            open_file_command(&f, &bin.to_string_lossy()),
            ["xdg-open", &f.to_string_lossy()]
        );
    }
}
