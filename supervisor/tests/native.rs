//! `skerry-init` as an ordinary, unprivileged process (how the appliance runs natively): it
//! becomes a child subreaper, so orphans still come back to it, and runs services as the
//! current user.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SIGTERM first so skerry-init stops its services, then make sure.
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        if !wait_for(Duration::from_secs(5), || {
            self.0.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs skerry-init as `nobody` (65534) with `toml`; `@DIR@` is the test directory.
fn start_as_nobody(dir: &std::path::Path, toml: &str, env: &[(&str, &str)]) -> KillOnDrop {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test drops to the nobody user with setpriv: it needs root"
    );
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let d = dir.display().to_string();
    let config = dir.join("skerry.toml");
    std::fs::write(&config, toml.replace("@DIR@", &d)).expect("config");
    let log = std::fs::File::create(dir.join("init.log")).expect("log");
    std::fs::set_permissions(dir.join("init.log"), std::fs::Permissions::from_mode(0o666))
        .expect("chmod");
    // The build directory may sit where nobody cannot reach it (/root): run a copy.
    let bin = dir.join("skerry-init");
    std::fs::copy(env!("CARGO_BIN_EXE_skerry-init"), &bin).expect("copy skerry-init");
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.join("home"))
        .env("USER", "nobody")
        .env("SKERRY_CONFIG", &config)
        .env("SKERRY_RUNTIME_DIR", dir.join("run"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("setpriv (util-linux) runs");
    KillOnDrop(child)
}

fn ppid(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)
        .map(str::to_string)
}

#[test]
fn unprivileged_supervisor_adopts_and_reaps_orphans_and_runs_services_as_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = r#"
[[service]]
name = "parent"
command = ["/bin/sh", "-c", "id -u > @DIR@/uid; (sh -c 'echo $$ > @DIR@/orphan; exec sleep 1' &); exec sleep 1000"]
"#;
    let mut init = start_as_nobody(dir.path(), toml, &[]);
    let init_pid = init.0.id().to_string();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(10), || !read("orphan")
            .trim()
            .is_empty()),
        "{}",
        read("init.log")
    );
    assert_eq!(read("uid").trim(), "65534");
    let orphan = read("orphan").trim().to_string();
    // The orphan's parent is skerry-init (a subreaper), not the machine's init.
    if let Some(parent) = ppid(&orphan) {
        assert_eq!(parent, init_pid, "orphan {orphan} not adopted");
    }
    assert!(
        wait_for(Duration::from_secs(10), || ppid(&orphan).is_none()),
        "orphan {orphan} left as a zombie:\n{}",
        read("init.log")
    );
    let run = std::fs::metadata(dir.path().join("run")).expect("runtime dir");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&run), 65534);
    kill(Pid::from_raw(init.0.id() as i32), Signal::SIGTERM).expect("signal");
    assert!(wait_for(Duration::from_secs(20), || {
        init.0.try_wait().ok().flatten().is_some()
    }));
    assert_eq!(
        init.0.wait().expect("wait").code(),
        Some(0),
        "{}",
        read("init.log")
    );
}

#[test]
fn unprivileged_supervisor_refuses_another_puid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[[service]]\nname = \"x\"\ncommand = \"/bin/true\"\n";
    let mut init = start_as_nobody(dir.path(), toml, &[("PUID", "12345")]);
    assert!(wait_for(Duration::from_secs(10), || {
        init.0.try_wait().ok().flatten().is_some()
    }));
    assert_eq!(init.0.wait().expect("wait").code(), Some(78));
    let log = std::fs::read_to_string(dir.path().join("init.log")).expect("log");
    assert!(
        log.contains("PUID=12345: running children as another user needs root"),
        "{log}"
    );
}
