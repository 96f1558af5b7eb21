//! The status file: what every service is doing, for the streamer's `/healthz`, `/readyz`
//! and `/api/status` and for people debugging a container.
//!
//! It is written whole to a temporary file and renamed into place, so a reader never sees
//! half of it. The schema is versioned and documented in docs/configuration.md.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::gpu::Gpu;
use crate::machine::{Exit, Machine};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub version: u32,
    pub ready: bool,
    /// `starting`, `running` or `stopping`.
    pub state: &'static str,
    pub uptime_s: u64,
    pub gpu: Gpu,
    pub services: Vec<ServiceStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub state: &'static str,
    pub pid: Option<i32>,
    pub restarts: u32,
    pub ready: bool,
    pub cpu_seconds: Option<f64>,
    pub rss_bytes: Option<u64>,
    /// `exited 1`, `killed by signal 9`, `could not start`, or null.
    pub last_exit: Option<String>,
}

/// CPU time and resident memory of one process, from `/proc/<pid>/stat`.
pub fn proc_stats(proc_root: &Path, pid: i32) -> Option<(f64, u64)> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is index 0, utime 11, stime 12, rss 21 (fields 3, 14, 15, 24 of stat).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100) as f64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|&p| p > 0)
        .unwrap_or(4096) as u64;
    Some(((utime + stime) as f64 / ticks, rss_pages * page))
}

fn describe(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exited {c}"),
        Exit::Signal(s) => format!("killed by signal {s}"),
        Exit::SpawnFailed => "could not start".into(),
    }
}

/// A snapshot of the machine; with `proc_root`, CPU and memory are read from it.
pub fn snapshot(machine: &Machine, gpu: &Gpu, uptime_s: u64, proc_root: Option<&Path>) -> Status {
    let services = machine
        .services()
        .iter()
        .map(|s| {
            let usage = s
                .pid
                .zip(proc_root)
                .and_then(|(pid, root)| proc_stats(root, pid));
            ServiceStatus {
                name: s.plan.name.clone(),
                state: s.state.name(),
                pid: s.pid,
                restarts: s.restarts,
                ready: s.ready(),
                cpu_seconds: usage.map(|u| (u.0 * 100.0).round() / 100.0),
                rss_bytes: usage.map(|u| u.1),
                last_exit: s.last_exit.map(describe),
            }
        })
        .collect();
    let ready = machine.ready();
    Status {
        version: 1,
        ready,
        state: if machine.is_stopping() {
            "stopping"
        } else if ready {
            "running"
        } else {
            "starting"
        },
        uptime_s,
        gpu: gpu.clone(),
        services,
    }
}

/// Writes `status` to `path` through a temporary file and a rename. The folder is
/// skerry-init's own; the temporary file is still never reached through a link.
pub fn write(path: &Path, status: &Status) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp: PathBuf = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    serde_json::to_writer_pretty(&mut f, status)?;
    f.write_all(b"\n")?;
    drop(f);
    std::fs::rename(&tmp, path)
}
