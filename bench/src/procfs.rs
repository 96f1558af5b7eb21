//! CPU time and peak memory of the processes under test, read from procfs. Every figure is a
//! difference of two readings around a measurement window, so processes that started
//! earlier (warm-up, other workloads) do not count.

use std::collections::HashMap;
use std::fs;

/// CPU seconds (user + system) and peak RSS of one process group.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// (pgid, utime + stime in ticks) of one process, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); pgrp is field 5, utime 14, stime 15.
    let pgid = fields.get(2)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((pgid, utime + stime))
}

fn peak_rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU ticks and peak RSS of every live process, grouped by process group. Each process
/// under test is started as the leader of its own group, so its group is the process with
/// every helper it forks (foot's shell and `cat`, mpv's threads are already in its stat).
pub fn snapshot(groups: &[u32]) -> HashMap<u32, Usage> {
    let ticks = clock_ticks();
    let mut out: HashMap<u32, Usage> = groups.iter().map(|g| (*g, Usage::default())).collect();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((pgid, t)) = stat(pid) else { continue };
        if let Some(u) = out.get_mut(&pgid) {
            u.cpu_s += t as f64 / ticks;
            u.peak_rss_kib = u.peak_rss_kib.max(peak_rss_kib(pid));
        }
    }
    out
}

/// CPU seconds this process group used between two snapshots (processes that exited in
/// between are lost, which the harness avoids by keeping every process alive per workload).
pub fn cpu_between(before: &HashMap<u32, Usage>, after: &HashMap<u32, Usage>, group: u32) -> f64 {
    let a = after.get(&group).map_or(0.0, |u| u.cpu_s);
    let b = before.get(&group).map_or(0.0, |u| u.cpu_s);
    (a - b).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_group_is_seen() {
        // SAFETY: getpgrp has no preconditions.
        let me = unsafe { libc::getpgrp() } as u32;
        let before = snapshot(&[me]);
        // Busy work until the kernel's clock-tick accounting shows it (optimised builds
        // finish a fixed loop within one tick), with a deadline so a broken reader fails.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 0u64;
        let after = loop {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            let after = snapshot(&[me]);
            if cpu_between(&before, &after, me) > 0.0 || std::time::Instant::now() > deadline {
                break after;
            }
        };
        assert!(after[&me].peak_rss_kib > 0);
        assert!(cpu_between(&before, &after, me) > 0.0);
    }
}
