//! The real pipeline under test: Skerry's compositor, one workload client and the streamer,
//! each in its own process group inside a private `XDG_RUNTIME_DIR`, on a free loopback
//! port, so parallel runs never meet. Dropping a [`Stack`] kills every process it started.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{0} not found next to skerry-bench ({1}); build the workspace first")]
    MissingBinary(&'static str, PathBuf),
    #[error("starting {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} exited ({status}) before {what}; log: {log}")]
    Exited {
        name: String,
        status: std::process::ExitStatus,
        what: String,
        log: PathBuf,
    },
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A child that leads its own process group; the whole group is stopped on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn check_alive(&mut self, what: &str) -> Result<(), StackError> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(StackError::Exited {
                name: self.name.clone(),
                status,
                what: what.to_owned(),
                log: self.log.clone(),
            });
        }
        Ok(())
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pgid = self.child.id() as i32;
            // SAFETY: kill(2) on our own child's process group; no memory is touched.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above; the group may already be gone, which kill reports harmlessly.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the Skerry binaries are: `SKERRY_BIN_DIR`, else the directory of this executable
/// (cargo puts every workspace binary there; tests run from `deps/`, one level below).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKERRY_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

pub fn skerry_binary(name: &'static str) -> Result<PathBuf, StackError> {
    let path = bin_dir().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(StackError::MissingBinary(name, path))
    }
}

/// One private runtime: the temp dir holds the Wayland socket, logs and workload files.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub wayland_display: String,
    pub procs: Vec<Proc>,
}

impl Stack {
    pub fn new() -> Result<Self, StackError> {
        let dir = tempfile::Builder::new().prefix("skerry-bench-").tempdir()?;
        std::fs::create_dir(dir.path().join("run"))?;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        Ok(Self {
            wayland_display: format!("skerry-bench-{}", std::process::id()),
            dir,
            procs: Vec::new(),
        })
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Spawns `argv` in its own process group with a clean Wayland environment.
    pub fn spawn(
        &mut self,
        name: &str,
        argv: &[String],
        env: &[(&str, String)],
    ) -> Result<usize, StackError> {
        let log = self.dir.path().join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env_remove("DISPLAY")
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|source| StackError::Spawn {
            name: name.to_owned(),
            source,
        })?;
        self.procs.push(Proc {
            name: name.to_owned(),
            child,
            log,
        });
        Ok(self.procs.len() - 1)
    }

    /// Polls `ready` until it holds, failing early when process `idx` dies.
    pub fn wait_for(
        &mut self,
        idx: usize,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), StackError> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready() {
                return Ok(());
            }
            self.procs[idx].check_alive(what)?;
            if Instant::now() > deadline {
                return Err(StackError::Timeout(format!(
                    "{what} ({})",
                    self.procs[idx].name
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn start_compositor(&mut self, resolution: &str) -> Result<usize, StackError> {
        let bin = skerry_binary("skerry-compositor")?;
        let idx = self.spawn(
            "compositor",
            &[bin.display().to_string()],
            &[
                ("WAYLAND_DISPLAY", self.wayland_display.clone()),
                ("SKERRY_RESOLUTION", resolution.to_owned()),
                ("RUST_LOG", "warn".to_owned()),
            ],
        )?;
        let sock = self.runtime_dir().join(&self.wayland_display);
        self.wait_for(idx, "the Wayland socket", Duration::from_secs(30), || {
            sock.exists()
        })?;
        Ok(idx)
    }

    /// A Wayland client of the compositor (the workload).
    pub fn start_client(&mut self, name: &str, argv: &[String]) -> Result<usize, StackError> {
        let display = self.wayland_display.clone();
        self.spawn(name, argv, &[("WAYLAND_DISPLAY", display)])
    }

    /// The streamer on `port`, plain HTTP on loopback (TLS would only add the same constant
    /// cost to every workload and make the client heavier).
    pub fn start_streamer(&mut self, port: u16, encoder: &str) -> Result<usize, StackError> {
        let bin = skerry_binary("skerry-streamer")?;
        let idx = self.spawn(
            "streamer",
            &[bin.display().to_string()],
            &[
                ("WAYLAND_DISPLAY", self.wayland_display.clone()),
                ("SKERRY_PORT", port.to_string()),
                ("SKERRY_BIND", "127.0.0.1".to_owned()),
                ("SKERRY_TLS", "off".to_owned()),
                ("SKERRY_ENCODER", encoder.to_owned()),
                ("RUST_LOG", "warn".to_owned()),
            ],
        )?;
        let addr = format!("127.0.0.1:{port}");
        self.wait_for(idx, "the streamer's port", Duration::from_secs(30), || {
            std::net::TcpStream::connect(&addr).is_ok()
        })?;
        Ok(idx)
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16, StackError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
