//! Runs the real `skerry-init` as PID 1 of its own PID namespace, with small shell services.
//!
//! The namespace also gets its own mount namespace where /etc is an overlay, so creating
//! the runtime user never touches the host's /etc/passwd, and /run is the test's `sysrun`
//! folder, where skerry-init keeps its own files when it serves another user. Everything else the supervisor
//! writes goes to the test's temporary directory. Dropping the handle kills `unshare`,
//! which (`--kill-child`) kills the namespace's PID 1 and with it every process inside.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Appliance {
    pub dir: tempfile::TempDir,
    unshare: Child,
    /// skerry-init's pid as seen from outside the namespace.
    pub init_pid: i32,
    exited: Option<ExitStatus>,
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests run skerry-init as PID 1 in a new PID namespace (unshare) with an \
         overlay over /etc: they need root"
    );
}

impl Appliance {
    /// Starts skerry-init with `toml` and extra environment (every `@DIR@` in either
    /// replaced by the test directory).
    pub fn start(toml: &str, env: &[(&str, &str)]) -> Self {
        Self::start_prepared(toml, env, |_| {})
    }

    /// Like [`Appliance::start`], with `prepare` run on the test directory first.
    pub fn start_prepared(toml: &str, env: &[(&str, &str)], prepare: impl FnOnce(&Path)) -> Self {
        require_root();
        let dir = tempfile::tempdir().expect("tempdir");
        // Services may run as an unprivileged user and write their reports here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let d = dir.path().display().to_string();
        let config = dir.path().join("skerry.toml");
        std::fs::write(&config, toml.replace("@DIR@", &d)).expect("config");
        for sub in ["ov/up", "ov/work", "sysrun"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        prepare(dir.path());
        // A test may put its own copy (with fake neighbours) at bin/skerry-init.
        let own = dir.path().join("bin/skerry-init");
        let bin = if own.exists() {
            own
        } else {
            PathBuf::from(env!("CARGO_BIN_EXE_skerry-init"))
        };
        let log = std::fs::File::create(dir.path().join("init.log")).expect("log");
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--fork",
            "--pid",
            "--mount-proc",
            "--kill-child",
            "/bin/sh",
            "-c",
        ])
        .arg(
            "mount -t overlay overlay -o lowerdir=/etc,upperdir=\"$1\",workdir=\"$2\" /etc \
                 || { echo 'cannot mount an overlay over /etc' >&2; exit 97; }; \
             mount --bind \"$3\" /run || { echo 'cannot mount over /run' >&2; exit 97; }; \
             exec \"$4\"",
        )
        .arg("sh")
        .arg(dir.path().join("ov/up"))
        .arg(dir.path().join("ov/work"))
        .arg(dir.path().join("sysrun"))
        .arg(bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SKERRY_CONFIG", &config)
        .env("SKERRY_HOME", dir.path().join("home"))
        .env("SKERRY_RUNTIME_DIR", dir.path().join("run"))
        .env("SKERRY_LOG", "debug")
        .envs(env.iter().map(|(k, v)| (k, v.replace("@DIR@", &d))))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
        let unshare = cmd.spawn().expect("unshare (util-linux) runs");
        let upid = unshare.id();
        let mut me = Appliance {
            dir,
            unshare,
            init_pid: 0,
            exited: None,
        };
        let children = format!("/proc/{upid}/task/{upid}/children");
        // skerry-init may also refuse to start and be gone before it is seen.
        let found = wait_for(Duration::from_secs(10), || {
            let pid = std::fs::read_to_string(&children)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok());
            match pid {
                Some(pid) => me.init_pid = pid,
                None => {
                    me.exited = me.unshare.try_wait().expect("try_wait");
                }
            }
            pid.is_some() || me.exited.is_some()
        });
        assert!(found, "skerry-init did not start:\n{}", me.log());
        me
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub fn lines(&self, name: &str) -> Vec<String> {
        self.read(name).lines().map(str::to_string).collect()
    }

    pub fn log(&self) -> String {
        self.read("init.log")
    }

    /// The namespace's own /proc, seen through PID 1's root.
    pub fn ns_proc(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/proc", self.init_pid))
    }

    /// The status file: in skerry-init's own /run/skerry when the services run as another
    /// user, in the runtime directory when they run as skerry-init's user.
    pub fn status(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("sysrun/skerry/status.json"))
            .or_else(|_| std::fs::read_to_string(self.path("run/skerry/status.json")))
            .ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.init_pid), sig)
            .expect("signal skerry-init");
    }

    /// skerry-init's exit code once it ended within `timeout` (unshare passes it on).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut status = self.exited;
        wait_for(timeout, || {
            if status.is_some() {
                return true;
            }
            status = self.unshare.try_wait().expect("try_wait");
            status.is_some()
        });
        self.exited = status;
        status.map(|s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)))
    }

    /// Zombies inside the namespace: (pid, command).
    pub fn zombies(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.ns_proc()) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            if stat[close + 1..].trim_start().starts_with('Z') {
                out.push((name, stat[..close + 1].to_string()));
            }
        }
        out
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}
