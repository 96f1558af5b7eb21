//! Frame pacing and idle cost of the real compositor binary, printed as a table.
//!
//! - Rate: `weston-simple-shm` redraws on every frame callback, so the compositor's frame
//!   rate under it shows whether pacing reaches the `SKERRY_FPS` cap without exceeding it.
//! - Idle: with a static `foot` and no input, CPU time over 10 s (utime + stime from
//!   /proc/PID/stat) and renders in that period (should be 0).
//!
//! Run with `cargo bench -p skerry-compositor --bench pacing`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Running, have, wait_for};

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

#[allow(clippy::disallowed_macros)]
fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !have("weston-simple-shm") || !have("foot") {
        println!("pacing bench skipped: weston-simple-shm and foot are required");
        return;
    }
    println!("{:>8} {:>10} {:>10}", "cap", "fps", "cpu %");
    for fps in ["30", "60", "120"] {
        let mut c = Running::start(&[("SKERRY_FPS", fps)], &["--no-xwayland"]);
        c.spawn(c.command("weston-simple-shm"));
        c.wait_toplevel("weston-simple-shm", |t| t["title"] == "simple-shm");
        std::thread::sleep(Duration::from_millis(500));
        let (f0, t0, start) = (
            c.counter("frames_damaged"),
            cpu_ticks(c.compositor.0.id()),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(3));
        let secs = start.elapsed().as_secs_f64();
        let frames = c.counter("frames_damaged") - f0;
        let cpu = (cpu_ticks(c.compositor.0.id()) - t0) as f64 / secs; // ticks/s = % at 100 Hz
        println!("{fps:>8} {:>10.1} {:>10.1}", frames as f64 / secs, cpu);
    }

    let mut c = Running::start(&[], &["--no-xwayland"]);
    let mut foot = c.command("foot");
    foot.args(["--app-id", "idle", "-e", "sh", "-c", "exec sleep 600"]);
    c.spawn(foot);
    c.wait_toplevel("foot", |t| t["app_id"] == "idle");
    let mut last = (c.counter("renders"), Instant::now());
    wait_for("rendering to settle", Duration::from_secs(20), || {
        let now = c.counter("renders");
        if now != last.0 {
            last = (now, Instant::now());
        }
        (last.1.elapsed() > Duration::from_millis(500)).then_some(())
    });
    let (r0, t0) = (c.counter("renders"), cpu_ticks(c.compositor.0.id()));
    std::thread::sleep(Duration::from_secs(10));
    println!(
        "idle 10 s: {} renders, {} CPU ticks (1/100 s)",
        c.counter("renders") - r0,
        cpu_ticks(c.compositor.0.id()) - t0
    );
}
