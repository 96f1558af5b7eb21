//! Runs the real shell against a real compositor (sway 1.7, headless, CPU renderer) in a
//! private runtime directory, and looks at the result with `grim`.

#![allow(dead_code)]

pub mod wl;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps the child when dropped.
pub struct ChildGuard(pub Child, pub &'static str);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Why a test against `kind` cannot run here, or `None` when it can.
fn missing_tools(kind: Kind) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let tools: &[&str] = match kind {
        Kind::Sway => &["sway", "setpriv", "grim", "foot"],
        Kind::Skerry => &["grim", "foot"],
    };
    for tool in tools {
        if !skerry_shell::entry::program_exists(tool, &path) {
            return Some(format!("{tool} is not installed (see ci/packages.txt)"));
        }
    }
    // SAFETY: geteuid has no preconditions.
    if kind == Kind::Sway && unsafe { libc::geteuid() } != 0 {
        return Some(
            "sway refuses root and these tests switch to `nobody` with setpriv, which needs root"
                .into(),
        );
    }
    None
}

/// Skips the calling test (with the reason) when the machine lacks what it needs.
macro_rules! require_tools {
    ($kind:expr) => {
        if let Some(why) = common::missing_for($kind) {
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!("SKIPPED: {why}");
            }
            return;
        }
    };
}

/// Which compositor the shell runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sway,
    Skerry,
}

/// The workspace's compositor binary, next to the shell's.
pub fn skerry_compositor() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_skerry-shell")).with_file_name("skerry-compositor")
}

/// Why the tests against `kind` cannot run here, or `None`.
pub fn missing_for(kind: Kind) -> Option<String> {
    if let Some(why) = missing_tools(kind) {
        return Some(why);
    }
    if kind == Kind::Skerry && !skerry_compositor().is_file() {
        return Some(format!(
            "{} is not built (cargo build -p skerry-compositor)",
            skerry_compositor().display()
        ));
    }
    None
}

fn wait_socket(
    dir: &tempfile::TempDir,
    runtime: &Path,
    child: &mut ChildGuard,
    log: &str,
) -> PathBuf {
    wait_for(
        Duration::from_secs(60),
        "the compositor's Wayland socket",
        || {
            if let Ok(Some(status)) = child.0.try_wait() {
                let text = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
                panic!("{} exited with {status}: {text}", child.1);
            }
            std::fs::read_dir(runtime)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        (n.starts_with("wayland-") || n.starts_with("skerry-"))
                            && !n.ends_with(".lock")
                    })
                })
        },
    )
}

/// Skerry's own compositor, headless, as root (it needs no other user).
fn start_skerry(
    dir: &tempfile::TempDir,
    size: (u32, u32),
    scale: f64,
) -> (ChildGuard, PathBuf, PathBuf) {
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = std::fs::File::create(dir.path().join("compositor.log")).unwrap();
    let child = Command::new(skerry_compositor())
        .arg("--no-xwayland")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WAYLAND_DISPLAY", "skerry-test")
        .env("SKERRY_RESOLUTION", format!("{}x{}", size.0, size.1))
        .env("SKERRY_SCALE", scale.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start skerry-compositor");
    let mut child = ChildGuard(child, "skerry-compositor");
    let socket = wait_socket(dir, &runtime, &mut child, "compositor.log");
    (child, runtime, socket)
}

/// sway 1.7 headless with the pixman renderer; it refuses root, so it runs as nobody.
fn start_sway(
    dir: &tempfile::TempDir,
    size: (u32, u32),
    scale: f64,
) -> (ChildGuard, PathBuf, PathBuf) {
    // sway runs as nobody: everything it reads must be reachable for that user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let chown = |p: &Path| {
        let c = std::ffi::CString::new(p.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        let rc = unsafe { libc::chown(c.as_ptr(), 65534, 65534) };
        assert_eq!(rc, 0, "chown {}", p.display());
    };
    chown(&runtime);
    let config = dir.path().join("sway.conf");
    std::fs::write(
        &config,
        format!(
            "output HEADLESS-1 resolution {}x{} position 0,0 scale {scale}\n\
                 xwayland disable\n\
                 default_border pixel 2\n\
                 focus_follows_mouse no\n",
            size.0, size.1
        ),
    )
    .unwrap();
    let sway_log = std::fs::File::create(dir.path().join("sway.log")).unwrap();
    let sway = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sway",
            "-d",
            "-c",
        ])
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", dir.path())
        .env("WLR_BACKENDS", "headless")
        .env("WLR_RENDERER", "pixman")
        .env("WLR_LIBINPUT_NO_DEVICES", "1")
        .env("WLR_HEADLESS_OUTPUTS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(sway_log)
        .spawn()
        .expect("start sway");
    let mut sway = ChildGuard(sway, "sway");
    let socket = wait_socket(dir, &runtime, &mut sway, "sway.log");
    (sway, runtime, socket)
}

/// A headless compositor with the shell running on it.
pub struct Desktop {
    pub dir: tempfile::TempDir,
    pub runtime: PathBuf,
    pub home: PathBuf,
    pub socket: PathBuf,
    /// Output size in buffer pixels and the output scale.
    pub size: (u32, u32),
    pub scale: f64,
    shell: Option<ChildGuard>,
    compositor: Option<ChildGuard>,
}

impl Desktop {
    /// Logical output size.
    pub fn logical(&self) -> (u32, u32) {
        (
            (self.size.0 as f64 / self.scale).round() as u32,
            (self.size.1 as f64 / self.scale).round() as u32,
        )
    }

    /// Starts the compositor with one `size` output at `scale`, and the shell with a data
    /// dir that holds only `apps` (file name, contents) so the menu's rows are known.
    pub fn start(
        kind: Kind,
        size: (u32, u32),
        scale: f64,
        apps: &[(&str, &str)],
        desktop_apps: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (compositor, runtime, socket) = match kind {
            Kind::Sway => start_sway(&dir, size, scale),
            Kind::Skerry => start_skerry(&dir, size, scale),
        };
        let home = dir.path().join("home");
        let data = dir.path().join("data");
        std::fs::create_dir_all(home.join("Desktop")).unwrap();
        std::fs::create_dir_all(data.join("applications")).unwrap();
        std::os::unix::fs::symlink("/usr/share/icons", data.join("icons")).unwrap();
        for (name, text) in apps {
            std::fs::write(data.join("applications").join(name), text).unwrap();
        }
        let shell_log = std::fs::File::create(dir.path().join("shell.log")).unwrap();
        let shell = Command::new(env!("CARGO_BIN_EXE_skerry-shell"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("WAYLAND_DISPLAY", &socket)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_DATA_DIRS", &data)
            .env("SKERRY_DESKTOP_APPS", desktop_apps)
            .env("TZ", "Etc/UTC")
            .env("RUST_LOG", "skerry_shell=trace,info")
            .env(
                "WAYLAND_DEBUG",
                std::env::var("SKERRY_WAYLAND_DEBUG").unwrap_or_default(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(shell_log)
            .spawn()
            .expect("start skerry-shell");
        let shell = ChildGuard(shell, "skerry-shell");
        Desktop {
            dir,
            runtime,
            home,
            socket,
            size,
            scale,
            shell: Some(shell),
            compositor: Some(compositor),
        }
    }

    pub fn shell_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("shell.log")).unwrap_or_default()
    }

    /// Panics with the shell's log if the shell died.
    pub fn check_shell_alive(&mut self) {
        if let Some(g) = &mut self.shell
            && let Ok(Some(status)) = g.0.try_wait()
        {
            panic!("skerry-shell exited with {status}:\n{}", self.shell_log());
        }
    }

    /// A screenshot of the output.
    pub fn capture(&mut self) -> Image {
        self.check_shell_alive();
        let out = Command::new("grim")
            .args(["-t", "ppm", "-"])
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("WAYLAND_DISPLAY", &self.socket)
            .output()
            .expect("run grim");
        assert!(
            out.status.success(),
            "grim failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image::from_ppm(&out.stdout)
    }

    /// Polls screenshots until `pred` holds.
    pub fn wait_screen(&mut self, what: &str, pred: impl Fn(&Image) -> bool) -> Image {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let img = self.capture();
            if pred(&img) {
                return img;
            }
            if Instant::now() > deadline {
                let path = img.save_artifact(&format!("failed-{}", what.replace(' ', "-")));
                if let Some(keep) = std::env::var_os("SKERRY_KEEP_LOGS") {
                    for log in ["sway.log", "compositor.log", "shell.log"] {
                        let _ =
                            std::fs::copy(self.dir.path().join(log), Path::new(&keep).join(log));
                    }
                }
                panic!(
                    "screen never showed {what} (last capture {}):\n{}",
                    path.display(),
                    self.shell_log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Moves the pointer to logical (x, y), waits until the shell shows hover feedback
    /// there (so the shell has a `wl_pointer` and the pointer has entered its surface:
    /// the seat only gains a pointer when the test's virtual pointer appears), then
    /// clicks `count` times. The compared patch is up and left of the hotspot, where the
    /// software cursor (which screencopy includes) is not drawn: callers aim so that
    /// patch is button background, not an icon or text.
    pub fn click(&mut self, c: &mut wl::TestClient, x: u32, y: u32, button: u32, count: usize) {
        if c.last != Some((x, y)) {
            let before = self.capture();
            c.move_to(x, y);
            let s = self.scale;
            let (rx, ry) = (((x - 18) as f64 * s) as u32, ((y - 13) as f64 * s) as u32);
            let side = (4.0 * s) as u32;
            self.wait_screen("hover feedback", |img| {
                img.diff(&before, rx, ry, side, side) > 0.5
            });
        }
        for _ in 0..count {
            c.press_release(button);
        }
    }

    pub fn client(&self) -> wl::TestClient {
        wl::TestClient::connect(&self.socket, self.logical())
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // The shell first, then the compositor (which ends the apps' connections).
        self.shell.take();
        self.compositor.take();
    }
}

/// Polls `f` until it returns something, or panics after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An RGB screenshot.
pub struct Image {
    pub w: u32,
    pub h: u32,
    pub rgb: Vec<u8>,
}

impl Image {
    fn from_ppm(data: &[u8]) -> Self {
        // P6\n<w> <h>\n<max>\n<bytes>
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while data[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while !data[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
        }
        i += 1;
        assert_eq!(fields[0], "P6");
        let w: u32 = fields[1].parse().unwrap();
        let h: u32 = fields[2].parse().unwrap();
        Image {
            w,
            h,
            rgb: data[i..i + (w * h * 3) as usize].to_vec(),
        }
    }

    pub fn px(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.w + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Mean absolute difference to `other` over a rectangle.
    pub fn diff(&self, other: &Image, x: u32, y: u32, w: u32, h: u32) -> f64 {
        let mut sum = 0u64;
        for yy in y..y + h {
            for xx in x..x + w {
                let (a, b) = (self.px(xx, yy), other.px(xx, yy));
                sum += (0..3).map(|k| a[k].abs_diff(b[k]) as u64).sum::<u64>();
            }
        }
        sum as f64 / (w * h * 3) as f64
    }

    /// Writes the image as PNG to `$SKERRY_ARTIFACTS` (or `target/artifacts`).
    pub fn save_artifact(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("SKERRY_ARTIFACTS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let mut pm = tiny_skia::Pixmap::new(self.w, self.h).unwrap();
        for (d, s) in pm
            .data_mut()
            .chunks_exact_mut(4)
            .zip(self.rgb.chunks_exact(3))
        {
            d[..3].copy_from_slice(s);
            d[3] = 255;
        }
        pm.save_png(&path).unwrap();
        path
    }
}

/// A desktop entry for a foot window the tests can recognise by its app_id.
pub fn terminal_entry(name: &str, app_id: &str) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName={name}\nGenericName=Terminal\n\
         Categories=System;TerminalEmulator;\nIcon=foot\nExec=foot --app-id {app_id} --title \"{name}\"\n"
    )
}
