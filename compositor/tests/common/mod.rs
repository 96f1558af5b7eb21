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

/// Where X11 clients look for display sockets; missing on a fresh machine.
pub const X11_UNIX: &str = "/tmp/.X11-unix";

/// Gives the calling test the `/tmp` of a fresh machine, whatever this machine's holds.
///
/// The first call re-runs the test (`name`, as libtest names it) in its own mount namespace
/// whose `/tmp` is a new, empty tmpfs — no `/tmp/.X11-unix`, no X lock files — asserts that
/// run passed and returns `true`: the caller then returns. In the re-run it returns `false`
/// and the test goes on. Root gets a plain mount namespace; other users a user namespace
/// in which they are root.
pub fn ran_on_a_fresh_tmp(name: &str) -> bool {
    const MARK: &str = "SKERRY_TEST_FRESH_TMP";
    if std::env::var_os(MARK).is_some() {
        assert!(
            !Path::new(X11_UNIX).exists(),
            "the fresh /tmp already holds {X11_UNIX}"
        );
        return false;
    }
    let root = rustix::process::geteuid().is_root();
    let mut cmd = Command::new("unshare");
    if !root {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount -t tmpfs -o mode=1777 skerry-fresh-tmp /tmp && exec \"$@\"")
        .arg("sh")
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(MARK, "1");
    let out = cmd.output().expect("run unshare (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name} on a fresh /tmp failed:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "{name} did not run on the fresh /tmp:\n{text}"
    );
    true
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
    /// The user the compositor runs as when it is not this test's (see [`Running::start_as`]);
    /// [`Running::command`] runs clients as that user too.
    pub uid: Option<u32>,
}

impl Running {
    /// Starts the compositor with `extra` environment and waits until its socket listens.
    pub fn start(extra: &[(&str, &str)], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cmd = Command::new(env!("CARGO_BIN_EXE_skerry-compositor"));
        Self::start_command(dir, cmd, extra, args)
    }

    /// Starts the compositor as the unprivileged user `uid` (this test runs as root): the
    /// binary is copied where that user can run it and the runtime directory is theirs.
    pub fn start_as(uid: u32, extra: &[(&str, &str)], args: &[&str]) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("skerry-compositor");
        std::fs::copy(env!("CARGO_BIN_EXE_skerry-compositor"), &bin).expect("copy binary");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod runtime dir");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).expect("chown runtime dir");
        let mut running = Self::start_command(dir, as_user(uid, &bin), extra, args);
        running.uid = Some(uid);
        running
    }

    fn start_command(
        dir: tempfile::TempDir,
        mut cmd: Command,
        extra: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        let socket = format!("skerry-test-{}", std::process::id());
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
            uid: None,
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
        let mut cmd = match self.uid {
            Some(uid) => as_user(uid, program),
            None => Command::new(program),
        };
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

/// `program` run as the user and group `uid`, without supplementary groups.
fn as_user(uid: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        "--".into(),
    ])
    .arg(program);
    cmd
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
