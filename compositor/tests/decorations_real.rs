//! Decorations on real programs from Debian, against the compositor running in-process:
//! `foot` (which asks for server-side decorations) and an X11 `xterm` get a title bar that
//! `grim` sees above their content, and the close button makes both exit. The screenshot is
//! kept as an artifact (`$SKERRY_ARTIFACTS`, else the target directory) for a human to look at.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use common::{Guard, have, ran_on_a_fresh_tmp, wait_for};
use skerry_compositor::{
    CompositorThread, Config,
    decoration::{BUTTON_W, Palette, SwitcherOverlay, TITLE_H, switcher},
    layout::Rect,
};

fn require(programs: &[&str]) {
    for p in programs {
        assert!(have(p), "{p} is not installed (see ci/packages.txt)");
    }
}

struct Desktop {
    compositor: CompositorThread,
    dir: tempfile::TempDir,
    socket: String,
}

impl Desktop {
    fn start(xwayland: bool) -> Self {
        Self::start_at(xwayland, (1280, 720), 1.0)
    }

    fn start_at(xwayland: bool, size: (u32, u32), scale: f64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = format!("skerry-ssd-{}", std::process::id());
        let mut config = Config::new(dir.path().to_path_buf());
        config.socket_name = Some(socket.clone());
        config.width = size.0;
        config.height = size.1;
        config.scale = scale;
        config.xwayland = xwayland;
        // Embedded here: Xwayland starts through the real binary (crate::xauth).
        config.xwayland_launcher = Some(env!("CARGO_BIN_EXE_skerry-compositor").into());
        let compositor = CompositorThread::spawn(config).expect("start compositor");
        Self {
            compositor,
            dir,
            socket,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("XDG_RUNTIME_DIR", self.dir.path())
            .env("WAYLAND_DISPLAY", &self.socket)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// The frame of the mapped window whose app id (X11: class) is `app_id`, if there is one.
    fn frame(&self, app_id: &'static str) -> Option<Rect> {
        self.compositor.with_state(move |s| {
            let t = s
                .toplevels()
                .into_iter()
                .find(|t| t.app_id == app_id && t.has_surface)?;
            s.layout.get(t.id).map(|w| w.rect)
        })
    }

    /// Waits until a screenshot of the window `app_id` passes `check` while its frame stays
    /// put: a client may still resize or be moved after it first maps (a decoration mode
    /// change, its real size arriving), and a frame read too early would aim clicks and
    /// pixel checks at the wrong place. Returns the settled frame and the screenshot.
    fn settled(
        &self,
        app_id: &'static str,
        what: &str,
        artifact: &str,
        check: impl Fn(&(u32, u32, Vec<u8>), Rect) -> bool,
    ) -> (Rect, (u32, u32, Vec<u8>)) {
        wait_for(what, Duration::from_secs(30), || {
            let before = self.frame(app_id)?;
            let shot = self.grim(artifact);
            let after = self.frame(app_id)?;
            (before == after && check(&shot, after)).then_some((after, shot))
        })
    }

    /// A grim screenshot as (width, height, RGB), also written to `name` as an artifact.
    fn grim(&self, name: &str) -> (u32, u32, Vec<u8>) {
        let path = artifacts().join(name);
        let _ = std::fs::remove_file(&path);
        let out = self
            .command("grim")
            .args(["-t", "png"])
            .arg(&path)
            .stderr(Stdio::piped())
            .output()
            .expect("run grim");
        assert!(
            out.status.success(),
            "grim: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoder = png::Decoder::new(std::fs::File::open(&path).expect("png written"));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png data");
        let n = info.color_type.samples();
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(n)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        (info.width, info.height, rgb)
    }
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("SKERRY_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts"));
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

fn rgb_at(shot: &(u32, u32, Vec<u8>), x: i32, y: i32) -> [u8; 3] {
    let i = ((y as u32 * shot.0 + x as u32) * 3) as usize;
    [shot.2[i], shot.2[i + 1], shot.2[i + 2]]
}

fn rgb(argb: u32) -> [u8; 3] {
    [(argb >> 16) as u8, (argb >> 8) as u8, argb as u8]
}

#[test]
fn foot_gets_a_title_bar_and_its_close_button_ends_it() {
    require(&["foot", "grim"]);
    let d = Desktop::start(false);
    let mut cmd = d.command("foot");
    cmd.args([
        "--app-id",
        "ssd-foot",
        "--title",
        "Skerry terminal",
        "-o",
        "colors.background=203040",
        "sh",
        "-c",
        "echo decorated; sleep 600",
    ]);
    let mut foot = Guard(cmd.spawn().expect("start foot"));
    let (frame, shot) = d.settled(
        "ssd-foot",
        "foot's content under a title bar",
        "foot-decorated.png",
        |shot, frame| {
            let bar = rgb_at(shot, frame.x + 3, frame.y + TITLE_H / 2);
            let content = rgb_at(shot, frame.x + 3, frame.y + TITLE_H + frame.h / 2);
            bar == rgb(Palette::ACTIVE.title) && content == [0x20, 0x30, 0x40]
        },
    );
    assert_eq!(
        rgb_at(&shot, frame.x + 3, frame.y + 1),
        rgb(Palette::ACTIVE.title)
    );
    // Sampled at the right edge: the left of the first rows holds the echoed text and the
    // cursor once the shell has run.
    assert_eq!(
        rgb_at(&shot, frame.x + frame.w - 4, frame.y + TITLE_H + 2),
        [0x20, 0x30, 0x40],
        "foot's content starts right below the bar"
    );

    // Alt+Tab shows the switcher overlay above foot (kept as an artifact to look at).
    const KEY_LEFTALT: u32 = 56;
    const KEY_TAB: u32 = 15;
    d.compositor.with_state(|s| {
        s.keyboard_key(KEY_LEFTALT, true);
        s.keyboard_key(KEY_TAB, true);
        s.keyboard_key(KEY_TAB, false);
    });
    let overlay = SwitcherOverlay::rect(Rect::new(0, 0, 1280, 720), 1);
    wait_for("the Alt+Tab overlay", Duration::from_secs(20), || {
        let shot = d.grim("alt-tab.png");
        (rgb_at(&shot, overlay.x + 10, overlay.y + 12) == rgb(switcher::SELECTED)).then_some(())
    });
    d.compositor
        .with_state(|s| s.keyboard_key(KEY_LEFTALT, false));
    assert_eq!(
        d.frame("ssd-foot"),
        Some(frame),
        "foot stays where it settled"
    );

    let (x, y) = (
        f64::from(frame.x + frame.w - BUTTON_W / 2),
        f64::from(frame.y + TITLE_H / 2),
    );
    d.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x, y);
        s.pointer_frame();
        s.pointer_button(0x110, true);
        s.pointer_frame();
        s.pointer_button(0x110, false);
        s.pointer_frame();
    });
    // foot ends its shell and exits (with the shell's status, which is not 0 after a
    // hang-up, so only the exit itself is checked).
    wait_for("foot to exit", Duration::from_secs(20), || {
        foot.0.try_wait().ok().flatten()
    });
}

#[test]
fn xterm_gets_a_title_bar_and_its_close_button_ends_it() {
    require(&["xterm", "Xwayland", "grim"]);
    if ran_on_a_fresh_tmp("xterm_gets_a_title_bar_and_its_close_button_ends_it") {
        return;
    }
    let d = Desktop::start(true);
    let (display, authority) = wait_for("Xwayland", Duration::from_secs(30), || {
        d.compositor
            .with_state(|s| s.xdisplay.zip(s.xauthority.clone()))
    });
    let mut cmd = d.command("xterm");
    cmd.env("DISPLAY", format!(":{display}"))
        .env("XAUTHORITY", authority)
        .args(["-class", "SsdXterm", "-bg", "#102030", "-e", "sleep", "600"]);
    let mut xterm = Guard(cmd.spawn().expect("start xterm"));
    let (frame, _) = d.settled(
        "SsdXterm",
        "xterm under a title bar",
        "xterm-decorated.png",
        |shot, frame| {
            let bar = rgb_at(shot, frame.x + 3, frame.y + TITLE_H / 2);
            let content = rgb_at(shot, frame.x + frame.w / 2, frame.y + frame.h - 4);
            bar == rgb(Palette::ACTIVE.title) && content == [0x10, 0x20, 0x30]
        },
    );
    // The close button sends WM_DELETE_WINDOW, on which xterm exits.
    let (x, y) = (
        f64::from(frame.x + frame.w - BUTTON_W / 2),
        f64::from(frame.y + TITLE_H / 2),
    );
    d.compositor.with_state(move |s| {
        s.pointer_motion_absolute(x, y);
        s.pointer_frame();
        s.pointer_button(0x110, true);
        s.pointer_frame();
        s.pointer_button(0x110, false);
        s.pointer_frame();
    });
    wait_for("xterm to exit", Duration::from_secs(20), || {
        xterm.0.try_wait().ok().flatten()
    });
}

/// The title text's bounding box (physical pixels, relative to the bar's top-left corner)
/// in a screenshot: pixels in the bar, left of the buttons, that are not the bar's colour.
fn title_text_box(shot: &(u32, u32, Vec<u8>), frame: Rect, scale: f64) -> Option<Rect> {
    let p = |v: i32| (f64::from(v) * scale).round() as i32;
    let (x0, y0) = (p(frame.x), p(frame.y));
    let (w, h) = (p(frame.w) - p(3 * BUTTON_W), p(TITLE_H));
    let bar = rgb(Palette::ACTIVE.title);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (i32::MAX, i32::MAX, -1, -1);
    for y in 0..h {
        for x in 0..w {
            let px = rgb_at(shot, x0 + x, y0 + y);
            if px.iter().zip(bar).any(|(a, b)| a.abs_diff(b) > 40) {
                (min_x, min_y) = (min_x.min(x), min_y.min(y));
                (max_x, max_y) = (max_x.max(x), max_y.max(y));
            }
        }
    }
    (max_x >= 0).then(|| Rect::new(min_x, min_y, max_x - min_x + 1, max_y - min_y + 1))
}

/// The title of a window at scale 1 and at scale 2: at 2 it is the same text drawn with
/// twice the pixels, not magnified past the bar. The screenshots are kept as artifacts.
#[test]
fn title_text_fits_the_bar_at_scale_1_and_2() {
    require(&["foot", "grim"]);
    let mut boxes = Vec::new();
    for (scale, size) in [(1.0, (1280, 720)), (2.0, (2560, 1440))] {
        let d = Desktop::start_at(false, size, scale);
        let mut cmd = d.command("foot");
        cmd.args([
            "--app-id",
            "ssd-title",
            "--title",
            "Skerry title text",
            "-o",
            "colors.background=203040",
            "sh",
            "-c",
            "sleep 600",
        ]);
        let _foot = Guard(cmd.spawn().expect("start foot"));
        let name = format!("title-bar-scale{scale}.png");
        let text = wait_for("the title drawn", Duration::from_secs(30), || {
            let frame = d.frame("ssd-title")?;
            let shot = d.grim(&name);
            let b = title_text_box(&shot, frame, scale)?;
            (f64::from(b.w) > 40.0 * scale).then_some(b)
        });
        let bar_h = (f64::from(TITLE_H) * scale).round() as i32;
        assert!(
            text.y >= 2 && text.y + text.h <= bar_h - 2,
            "scale {scale}: title text {text:?} touches the edges of a {bar_h} px bar"
        );
        assert!(
            f64::from(text.h) <= 16.0 * scale,
            "scale {scale}: title text {text:?} is too tall"
        );
        boxes.push(text);
    }
    // The same text at twice the scale is twice as wide (within a few pixels of hinting).
    let (one, two) = (boxes[0], boxes[1]);
    assert!(
        (two.w - 2 * one.w).abs() <= 6 + one.w / 20,
        "text {one:?} at scale 1 vs {two:?} at scale 2"
    );
    assert!((two.x - 2 * one.x).abs() <= 4, "{one:?} vs {two:?}");
}
