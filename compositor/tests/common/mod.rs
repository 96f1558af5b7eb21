//! Starting the real `skerry-compositor` binary and real clients for integration tests.
//! Every test gets its own XDG_RUNTIME_DIR and socket; every child is killed on drop.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `f` until it returns `Some` or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a program is installed (tests that need it say so when it is not).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub struct Running {
    pub dir: tempfile::TempDir,
    pub socket: String,
    pub compositor: Guard,
    pub children: Vec<Guard>,
}

impl Running {
    /// Starts the compositor with `extra` environment and waits until its socket listens.
    pub fn start(extra: &[(&str, &str)], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = format!("skerry-test-{}", std::process::id());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skerry-compositor"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("WAYLAND_DISPLAY", &socket)
            .env("SKERRY_STATS_FILE", dir.path().join("stats.json"))
            .env("RUST_LOG", "info")
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("compositor.log")).expect("log file"));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let compositor = Guard(cmd.spawn().expect("start skerry-compositor"));
        let running = Self {
            socket,
            compositor,
            children: Vec::new(),
            dir,
        };
        let sock = running.dir.path().join(&running.socket);
        wait_for("the Wayland socket", Duration::from_secs(20), || {
            (sock.exists() && running.stats().is_some()).then_some(())
        });
        running
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The compositor's latest stats snapshot.
    pub fn stats(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("stats.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.stats()
            .and_then(|s| s["stats"][name].as_u64())
            .unwrap_or(0)
    }

    pub fn toplevels(&self) -> Vec<Value> {
        self.stats()
            .and_then(|s| s["toplevels"].as_array().cloned())
            .unwrap_or_default()
    }

    /// A command with this compositor's Wayland environment.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("XDG_RUNTIME_DIR", self.dir.path())
            .env("WAYLAND_DISPLAY", &self.socket)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    pub fn spawn(&mut self, mut cmd: Command) -> u32 {
        let child = cmd.spawn().expect("start client");
        let pid = child.id();
        self.children.push(Guard(child));
        pid
    }

    /// Waits until a toplevel matching `pred` is listed.
    pub fn wait_toplevel(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_for(what, Duration::from_secs(30), || {
            self.toplevels().into_iter().find(|t| pred(t))
        })
    }

    /// Whether the compositor process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.compositor.0.try_wait(), Ok(None))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
    }
}

/// A random lowercase word, different on every run.
pub fn random_word(len: usize) -> String {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id()).rotate_left(32);
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(b'a' + (seed % 26) as u8)
        })
        .collect()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
