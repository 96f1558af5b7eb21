//! An idle desktop costs nothing: with static clients and no input the compositor renders no
//! frames. CPU time over the idle period is printed for the record (not asserted).

mod common;

use std::time::Duration;

use common::{Running, have, wait_for};

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

#[test]
fn idle_desktop_renders_no_frames() {
    assert!(have("foot"), "foot is not installed");
    let mut c = Running::start(&[], &["--no-xwayland"]);
    let mut foot = c.command("foot");
    foot.args([
        "--app-id",
        "idle",
        "-e",
        "sh",
        "-c",
        "echo ready; exec sleep 600",
    ]);
    c.spawn(foot);
    c.wait_toplevel("foot", |t| t["app_id"] == "idle");
    // Let start-up settle: wait until no render happened for half a second.
    let mut last = c.counter("renders");
    let mut stable_since = std::time::Instant::now();
    wait_for("rendering to settle", Duration::from_secs(20), || {
        let now = c.counter("renders");
        if now != last {
            last = now;
            stable_since = std::time::Instant::now();
        }
        (stable_since.elapsed() > Duration::from_millis(500)).then_some(())
    });
    let renders = c.counter("renders");
    let damaged = c.counter("frames_damaged");
    let pid = c.compositor.0.id();
    let ticks = cpu_ticks(pid);
    // The measurement window itself (not a synchronisation): nothing may happen in it.
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - ticks;
    assert_eq!(c.counter("renders"), renders, "rendered while idle");
    assert_eq!(c.counter("frames_damaged"), damaged);
    assert!(c.alive());
    #[allow(clippy::disallowed_macros)]
    {
        println!("idle compositor: {used} CPU ticks (1/100 s) over 3 s, {renders} renders total");
    }
}
