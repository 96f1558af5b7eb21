//! Shared pieces of the Wayland capture tests: a headless sway run as an unprivileged user,
//! a recording sink, and checks on delivered frames.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use skerry_streamer::desktop::{CaptureEvent, CaptureSink, CursorImage, PixelFormat, Rect};

/// The unprivileged user sway runs as (sway refuses root).
pub const NOBODY: u32 = 65534;

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Fails with the reason when a tool the test needs is missing (they are all listed in
/// ci/packages.txt, so a missing one is a broken machine, not a skip).
pub fn require(program: &str) {
    assert!(
        which(program).is_some(),
        "`{program}` is not installed; install the packages in ci/packages.txt"
    );
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// sway 1.7 on the headless backend with the pixman renderer, in its own runtime dir.
pub struct Sway {
    pub dir: tempfile::TempDir,
    child: Child,
    pub socket: PathBuf,
    clients: Vec<Child>,
}

impl Sway {
    pub fn start(width: u32, height: u32, background: &str) -> Sway {
        require("sway");
        // sway refuses to run as root: as root, run it as nobody; otherwise as ourselves.
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            require("setpriv");
        }
        let dir = tempfile::Builder::new()
            .prefix("skerry-sway-")
            .tempdir()
            .expect("temp dir");
        if as_root {
            std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!(
                "output HEADLESS-1 resolution {width}x{height} position 0 0 bg {background} solid_color\n\
                 default_border none\n\
                 focus_follows_mouse no\n"
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.path().join("sway.log")).expect("log");
        let mut command = if as_root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "sway",
            ]);
            c
        } else {
            Command::new("sway")
        };
        let child = command
            .arg("-c")
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_HEADLESS_OUTPUTS", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start sway");
        let mut sway = Sway {
            dir,
            child,
            socket: PathBuf::new(),
            clients: Vec::new(),
        };
        let dir = sway.dir.path().to_owned();
        sway.socket = wait_until(Duration::from_secs(20), "sway's Wayland socket", || {
            if let Ok(Some(status)) = sway.child.try_wait() {
                panic!("sway exited early ({status}): {}", sway.log());
            }
            std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
                let name = e.file_name().into_string().ok()?;
                (name.starts_with("wayland-") && !name.ends_with(".lock")).then(|| e.path())
            })
        });
        // The socket exists before sway has configured its output: wait for IPC to answer.
        wait_until(Duration::from_secs(20), "sway's IPC", || {
            sway.swaymsg(&["-t", "get_outputs"]).ok()
        });
        sway
    }

    /// sway's log and every client's, for failure messages.
    pub fn log(&self) -> String {
        logs_in(self.dir.path())
    }

    pub fn display(&self) -> String {
        self.socket.to_string_lossy().into_owned()
    }

    fn ipc_socket(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .ok()?
            .flatten()
            .find_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.starts_with("sway-ipc.").then(|| e.path())
            })
    }

    /// Runs `swaymsg` against this sway; `Err` with its output when it fails.
    pub fn swaymsg(&self, args: &[&str]) -> Result<String, String> {
        let sock = self.ipc_socket().ok_or("no IPC socket yet")?;
        let out = Command::new("swaymsg")
            .arg("-s")
            .arg(sock)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Starts a Wayland client of this sway (killed when the fixture drops).
    pub fn spawn_client(&mut self, program: &str, args: &[&str]) {
        let child = spawn_client_in(
            self.dir.path(),
            &self.socket,
            self.clients.len(),
            program,
            args,
        );
        self.clients.push(child);
    }

    /// Waits until a window with this app_id has keyboard focus.
    pub fn wait_focused(&self, app_id: &str) {
        fn focused(node: &serde_json::Value, app_id: &str) -> bool {
            if node["focused"] == true && node["app_id"] == app_id {
                return true;
            }
            ["nodes", "floating_nodes"].iter().any(|key| {
                node[key]
                    .as_array()
                    .is_some_and(|children| children.iter().any(|c| focused(c, app_id)))
            })
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let tree = self.swaymsg(&["-t", "get_tree"]).unwrap_or_default();
            let tree: serde_json::Value = serde_json::from_str(&tree).unwrap_or_default();
            if focused(&tree, app_id) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{app_id} never took focus; tree: {tree}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops sway (and so every client of it).
    pub fn kill(&mut self) {
        // sway leads its own process group (swaybg and anything it started are in it).
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        for client in &mut self.clients {
            let _ = client.kill();
            let _ = client.wait();
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// A frame as recorded: its shape, damage and a copy of its pixels (the original buffer
/// goes back to the capture pool at once, as the pipeline would do).
#[derive(Clone)]
pub struct RecordedFrame {
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub format: PixelFormat,
    pub damage: Vec<Rect>,
    pub pixels: Vec<u8>,
}

impl RecordedFrame {
    /// (R, G, B) at a pixel.
    pub fn rgb(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let at = (y * self.stride + x * 4) as usize;
        (self.pixels[at + 2], self.pixels[at + 1], self.pixels[at])
    }

    pub fn is_full(&self) -> bool {
        self.damage == [Rect::new(0, 0, self.width, self.height)]
    }
}

pub enum Recorded {
    Frame(RecordedFrame),
    Cursor(Option<CursorImage>),
    CursorPosition(i32, i32),
    Mode(u32, u32, f64),
    Closed(String),
    Clipboard(skerry_streamer::clipboard::ClipboardEvent),
}

#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Recorded>>,
    changed: Condvar,
}

impl CaptureSink for Recorder {
    fn deliver(&self, event: CaptureEvent) {
        let recorded = match event {
            CaptureEvent::Frame(f) => Recorded::Frame(RecordedFrame {
                width: f.width,
                height: f.height,
                stride: f.stride,
                format: f.format,
                damage: f.damage.clone(),
                pixels: f.pixels.bytes().to_vec(),
            }),
            CaptureEvent::Cursor(c) => Recorded::Cursor(c),
            CaptureEvent::CursorPosition { x, y } => Recorded::CursorPosition(x, y),
            CaptureEvent::Mode {
                width,
                height,
                scale,
            } => Recorded::Mode(width, height, scale),
            CaptureEvent::Closed { reason } => Recorded::Closed(reason),
            CaptureEvent::Clipboard(e) => Recorded::Clipboard(e),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(recorded);
        }
        self.changed.notify_all();
    }
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Waits (on the sink's condition variable) until `check` finds something.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&[Recorded]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut events = self.events.lock().expect("recorder lock");
        loop {
            if let Some(v) = check(&events) {
                return v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            events = self.changed.wait_timeout(events, left).expect("lock").0;
        }
    }

    pub fn frames(&self) -> Vec<RecordedFrame> {
        self.events
            .lock()
            .expect("recorder lock")
            .iter()
            .filter_map(|e| match e {
                Recorded::Frame(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn frame_count(&self) -> usize {
        self.events
            .lock()
            .expect("recorder lock")
            .iter()
            .filter(|e| matches!(e, Recorded::Frame(_)))
            .count()
    }

    /// Waits until `gap` passes with no new frame (at most `timeout`); returns the count.
    pub fn settle(&self, gap: Duration, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut events = self.events.lock().expect("recorder lock");
        loop {
            let count = events
                .iter()
                .filter(|e| matches!(e, Recorded::Frame(_)))
                .count();
            let quiet_until = Instant::now() + gap;
            loop {
                let left = quiet_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return count;
                }
                events = self.changed.wait_timeout(events, left).expect("lock").0;
                let now = events
                    .iter()
                    .filter(|e| matches!(e, Recorded::Frame(_)))
                    .count();
                if now != count {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "frames kept coming for {timeout:?}"
            );
        }
    }

    /// The first frame after the first `skip` frames that satisfies `check`.
    pub fn wait_frame(
        &self,
        timeout: Duration,
        what: &str,
        skip: usize,
        check: impl Fn(&RecordedFrame) -> bool,
    ) -> (usize, RecordedFrame) {
        self.wait_for(timeout, what, |events| {
            events
                .iter()
                .filter_map(|e| match e {
                    Recorded::Frame(f) => Some(f),
                    _ => None,
                })
                .enumerate()
                .skip(skip)
                .find(|(_, f)| check(f))
                .map(|(i, f)| (i, f.clone()))
        })
    }
}

fn inside(r: &Rect, x: u32, y: u32) -> bool {
    x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height
}

/// Every pixel that differs between consecutive frames of one size lies inside the later
/// frame's damage: the damage is relative to the previous frame delivered.
pub fn assert_damage_covers_changes(frames: &[RecordedFrame]) {
    for (i, pair) in frames.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        if (a.width, a.height) != (b.width, b.height) {
            assert!(
                b.is_full(),
                "frame {} after a size change is not full",
                i + 1
            );
            continue;
        }
        for y in 0..b.height {
            let row = (y * b.stride) as usize;
            let (ra, rb) = (
                &a.pixels[row..row + b.width as usize * 4],
                &b.pixels[row..row + b.width as usize * 4],
            );
            if ra == rb {
                continue;
            }
            for x in 0..b.width {
                let at = x as usize * 4;
                // Padding bytes of xrgb are not content.
                if ra[at..at + 3] != rb[at..at + 3] {
                    assert!(
                        b.damage.iter().any(|r| inside(r, x, y)),
                        "frame {}: pixel {x},{y} changed outside damage {:?}",
                        i + 1,
                        b.damage
                    );
                }
            }
        }
    }
}

/// The newest modification time of any file under `dir`.
fn newest_under(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_under(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

/// Finds the workspace's `skerry-compositor` binary, building it when it is missing or older
/// than its sources. Another package's binary has no `CARGO_BIN_EXE_…`; CI builds the whole
/// workspace first, so there this only finds it (building it here with other features could
/// take minutes).
pub fn skerry_compositor_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_owned();
    let target_dir = profile_dir.parent().expect("target dir").to_owned();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let binary = profile_dir.join("skerry-compositor");
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let sources = newest_under(&workspace.join("compositor"));
    if built.is_some() && built >= sources {
        return binary;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "skerry-compositor",
            "--bin",
            "skerry-compositor",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building skerry-compositor failed");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// Skerry's own compositor, headless, on its own socket in its own runtime dir.
pub struct Skerry {
    pub dir: tempfile::TempDir,
    child: Child,
    pub socket: PathBuf,
    clients: Vec<Child>,
}

impl Skerry {
    pub fn start(width: u32, height: u32) -> Skerry {
        let binary = skerry_compositor_binary();
        let dir = tempfile::Builder::new()
            .prefix("skerry-comp-")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let log = std::fs::File::create(dir.path().join("compositor.log")).expect("log");
        let child = Command::new(binary)
            .arg("--no-xwayland")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("WAYLAND_DISPLAY", "skerry-test")
            .env("SKERRY_RESOLUTION", format!("{width}x{height}"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start skerry-compositor");
        let socket = dir.path().join("skerry-test");
        let mut skerry = Skerry {
            dir,
            child,
            socket: socket.clone(),
            clients: Vec::new(),
        };
        wait_until(Duration::from_secs(60), "the compositor's socket", || {
            if let Ok(Some(status)) = skerry.child.try_wait() {
                panic!(
                    "skerry-compositor exited early ({status}): {}",
                    skerry.log()
                );
            }
            std::os::unix::net::UnixStream::connect(&socket)
                .ok()
                .map(drop)
        });
        skerry
    }

    pub fn display(&self) -> String {
        self.socket.to_string_lossy().into_owned()
    }

    pub fn log(&self) -> String {
        logs_in(self.dir.path())
    }

    pub fn spawn_client(&mut self, program: &str, args: &[&str]) {
        let child = spawn_client_in(
            self.dir.path(),
            &self.socket,
            self.clients.len(),
            program,
            args,
        );
        self.clients.push(child);
    }

    pub fn kill(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Skerry {
    fn drop(&mut self) {
        for client in &mut self.clients {
            let _ = client.kill();
            let _ = client.wait();
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Every `*.log` in `dir`, for failure messages.
pub fn logs_in(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") {
                let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
                text.push_str(&format!("--- {name}\n{body}\n"));
            }
        }
    }
    text
}

/// Starts a Wayland client of the compositor on `socket`, logging into `dir`.
pub fn spawn_client_in(
    dir: &Path,
    socket: &Path,
    index: usize,
    program: &str,
    args: &[&str],
) -> Child {
    require(program);
    let log = std::fs::File::create(dir.join(format!("client-{index}-{program}.log")))
        .expect("client log");
    Command::new(program)
        .args(args)
        .env("XDG_RUNTIME_DIR", dir)
        .env("WAYLAND_DISPLAY", socket)
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("client log"))
        .stderr(log)
        .spawn()
        .expect("start client")
}

/// Context switches so far of each of this process's threads named `name`, by thread id
/// (Linux truncates thread names to 15 bytes). A thread blocked in `poll` makes none.
pub fn thread_switches(name: &str) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return counts;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != &name[..name.len().min(15)] {
            continue;
        }
        // A thread that ended between the listing and this read is left out.
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let total = status
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.ends_with("ctxt_switches"))
            .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
            .sum();
        counts.insert(task.file_name().to_string_lossy().into_owned(), total);
    }
    counts
}

/// Context switches the threads named `name` that were counted in `before` made since then
/// (threads that started or ended in between are not counted).
pub fn thread_switches_since(before: &std::collections::BTreeMap<String, u64>, name: &str) -> u64 {
    thread_switches(name)
        .iter()
        .filter_map(|(tid, now)| Some(now.saturating_sub(*before.get(tid)?)))
        .sum()
}
