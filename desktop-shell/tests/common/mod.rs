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

/// Why a test cannot run here, or `None` when it can.
pub fn missing_tools() -> Option<String> {
    for tool in ["sway", "grim", "foot", "setpriv"] {
        if !skerry_shell::entry::program_exists(tool, &std::env::var("PATH").unwrap_or_default()) {
            return Some(format!("{tool} is not installed (see ci/packages.txt)"));
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "sway refuses root and these tests switch to `nobody` with setpriv, which needs root"
                .into(),
        );
    }
    None
}

/// Skips the calling test (with the reason) when the machine lacks what it needs.
macro_rules! require_tools {
    () => {
        if let Some(why) = common::missing_tools() {
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!("SKIPPED: {why}");
            }
            return;
        }
    };
}

/// A headless sway with the shell running on it.
pub struct Desktop {
    pub dir: tempfile::TempDir,
    pub runtime: PathBuf,
    pub home: PathBuf,
    pub socket: PathBuf,
    /// Output size in buffer pixels and the output scale.
    pub size: (u32, u32),
    pub scale: u32,
    shell: Option<ChildGuard>,
    sway: Option<ChildGuard>,
}

impl Desktop {
    /// Logical output size.
    pub fn logical(&self) -> (u32, u32) {
        (self.size.0 / self.scale, self.size.1 / self.scale)
    }

    /// Starts sway with one `size` output at `scale`, and the shell with a data dir that
    /// holds only `apps` (file name, contents) so the menu's rows are known.
    pub fn start(size: (u32, u32), scale: u32, apps: &[(&str, &str)], desktop_apps: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
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
        let socket = wait_for(Duration::from_secs(60), "sway's Wayland socket", || {
            if let Ok(Some(status)) = sway.0.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("sway.log")).unwrap_or_default();
                panic!("sway exited with {status}: {log}");
            }
            std::fs::read_dir(&runtime)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name().is_some_and(|n| {
                        n.to_string_lossy().starts_with("wayland-")
                            && !n.to_string_lossy().ends_with(".lock")
                    })
                })
        });

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
            sway: Some(sway),
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
                    for log in ["sway.log", "shell.log"] {
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
            let (rx, ry) = ((x - 18) * s, (y - 13) * s);
            self.wait_screen("hover feedback", |img| {
                img.diff(&before, rx, ry, 4 * s, 4 * s) > 0.5
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
        self.sway.take();
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
