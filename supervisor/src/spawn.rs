//! Starting one service: its own process group, the runtime user's identity, a clean
//! environment.
//!
//! Everything the child needs is computed before `fork`; between `fork` and `exec` only
//! async-signal-safe system calls run (no allocation): `setgroups` → `setgid` → `setuid`,
//! then the working directory (as the user: root keeps no right to enter its home), then an
//! empty signal mask and every signal at its default disposition (the supervisor
//! blocks the signals it reads, and masks and ignored signals survive exec), then a
//! parent-death signal so a supervisor that dies natively does not leave the desktop running.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::services::ServiceSpec;

/// Who the children run as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (GPU device owners).
    pub groups: Vec<u32>,
    /// Switch identity: only when the supervisor runs as root.
    pub switch: bool,
}

/// What one service gets beyond the common identity: the streamer's group and folder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra {
    /// One more supplementary group.
    pub group: Option<u32>,
    /// A descriptor left open across exec, at its own number.
    pub keep_fd: Option<std::os::fd::RawFd>,
}

/// Starts `spec` with exactly `env`; returns its pid (also its process group id).
pub fn spawn(
    spec: &ServiceSpec,
    env: &[(String, OsString)],
    cwd: &Path,
    who: &Identity,
    extra: Extra,
) -> std::io::Result<i32> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0);
    let cwd = std::ffi::CString::new(cwd.as_os_str().as_encoded_bytes()).ok();
    let mut groups: Vec<libc::gid_t> = who.groups.clone();
    groups.extend(extra.group);
    let keep_fd = extra.keep_fd;
    let (uid, gid, switch) = (who.uid, who.gid, who.switch);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls on data prepared before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if switch
                && (libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = keep_fd
                && libc::fcntl(fd, libc::F_SETFD, 0) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // A home that cannot be entered leaves the child where the supervisor is.
            if let Some(cwd) = &cwd {
                libc::chdir(cwd.as_ptr());
            }
            // The supervisor blocks the signals it reads through its signalfd; a child must
            // start with none blocked.
            let mut empty = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(empty.as_mut_ptr());
            libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
            // Every disposition back to the default, including ignored ones the supervisor
            // inherited. The raw system call also reaches the signals libc reserves.
            let dfl = [0u64; 4];
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
                }
            }
            // Set after setuid: a change of credentials clears it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The runner reaps every child with waitpid(-1); the handle is not needed.
    Ok(child.id() as i32)
}
