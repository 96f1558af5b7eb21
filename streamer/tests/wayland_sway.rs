//! The Wayland capture client against sway 1.7 headless: wlr-screencopy capture with damage,
//! the virtual keyboard typing into a real terminal, output resizing, and losing the
//! compositor. sway has no ext-image-copy-capture, so this covers the screencopy path.

mod wayland_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use skerry_streamer::desktop::{
    CaptureSink, DesktopControl, InputEvent, ModeRequest, PointerButton, Rect,
};
use skerry_streamer::wayland::{self, WaylandOptions};
use wayland_support::{Recorded, Recorder, Sway, assert_damage_covers_changes, wait_until};

const TIMEOUT: Duration = Duration::from_secs(30);

fn start_capture(sway: &Sway, recorder: &Arc<Recorder>) -> Arc<dyn DesktopControl> {
    start_with(sway, recorder, WaylandOptions::default())
}

fn start_with(
    sway: &Sway,
    recorder: &Arc<Recorder>,
    options: WaylandOptions,
) -> Arc<dyn DesktopControl> {
    let sink: Arc<dyn CaptureSink> = recorder.clone();
    wayland::start(
        WaylandOptions {
            display: Some(sway.display()),
            output: Some("HEADLESS-1".into()),
            ..options
        },
        sink,
    )
    .unwrap_or_else(|err| panic!("capture did not start: {err}\n{}", sway.log()))
}

/// Starts `foot` running `cat > FILE` and waits until it has focus and is on screen.
fn terminal_writing_to(sway: &mut Sway, recorder: &Recorder, file: &std::path::Path) -> usize {
    let script = format!("cat > {}", file.display());
    sway.spawn_client("foot", &["--app-id", "skerry-test", "sh", "-c", &script]);
    sway.wait_focused("skerry-test");
    let (shown, _) = recorder.wait_frame(TIMEOUT, "the terminal", 0, |f| {
        f.rgb(320, 240) != (0, 0, 0) || f.rgb(5, 5) != (0, 0, 0)
    });
    shown
}

fn file_becomes(file: &std::path::Path, expected: &str) {
    wait_until(TIMEOUT, &format!("{expected:?} in the file"), || {
        let text = std::fs::read_to_string(file).ok()?;
        (text == expected).then_some(())
    });
}

fn key(control: &dyn DesktopControl, code: &str) {
    control.inject(InputEvent::Key {
        code: code.into(),
        pressed: true,
    });
    control.inject(InputEvent::Key {
        code: code.into(),
        pressed: false,
    });
}

/// A word of random lowercase letters (no dependency on a RNG crate: the clock's nanos).
fn random_word(len: usize) -> String {
    let mut seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (b'a' + (seed % 26) as u8) as char
        })
        .collect()
}

#[test]
fn sway_capture_full_first_frame_idle_then_damage() {
    let sway = Sway::start(640, 480, "#336699");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);

    recorder.wait_for(TIMEOUT, "Mode 640x480", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::Mode(640, 480, s) if *s == 1.0))
            .then_some(())
    });
    let (_, first) = recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    assert_eq!((first.width, first.height), (640, 480));
    assert!(first.is_full(), "first frame damage {:?}", first.damage);
    // swaybg may paint after the first frame; the background arrives with damage.
    let (blue_at, _) = recorder.wait_frame(TIMEOUT, "the background colour", 0, |f| {
        f.rgb(320, 240) == (0x33, 0x66, 0x99)
    });

    // Idle: once the desktop has settled nothing changes, so nothing is captured for a
    // whole second (counted, not timed: any frame at all fails).
    // The capture thread sleeps in poll meanwhile: it barely wakes at all.
    let quiet_from = recorder.settle(Duration::from_millis(300), TIMEOUT);
    let switches = wayland_support::thread_switches("wayland-capture");
    assert!(
        !switches.is_empty(),
        "no thread named wayland-capture in this process"
    );
    let settled = recorder.settle(Duration::from_secs(1), Duration::from_secs(1));
    assert_eq!(
        settled, quiet_from,
        "frames were captured while the desktop was idle"
    );
    let woke = wayland_support::thread_switches_since(&switches, "wayland-capture");
    assert!(
        woke <= 5,
        "the idle capture thread woke {woke} times in a second"
    );

    sway.swaymsg(&["output", "HEADLESS-1", "bg", "#cc2211", "solid_color"])
        .expect("swaymsg bg");
    let (red_at, red) = recorder.wait_frame(TIMEOUT, "the new background", blue_at + 1, |f| {
        f.rgb(10, 10) == (0xcc, 0x22, 0x11)
    });
    assert!(red_at >= quiet_from);
    assert!(red.damage.iter().any(|r| r.width > 0 && r.height > 0));
    assert_damage_covers_changes(&recorder.frames());

    // On request the next frame carries the whole output even though nothing changed.
    let before = recorder.frame_count();
    control.request_full_frame();
    let (_, full) = recorder.wait_frame(TIMEOUT, "a requested full frame", before, |_| true);
    assert!(full.is_full(), "requested frame damage {:?}", full.damage);
}

#[test]
fn sway_typing_lands_in_a_terminal_with_partial_damage() {
    let mut sway = Sway::start(640, 480, "#000000");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);
    let out = sway.dir.path().join("typed.txt");
    let shown = terminal_writing_to(&mut sway, &recorder, &out);

    let word = random_word(8);
    for c in word.chars() {
        key(&*control, &format!("Key{}", c.to_ascii_uppercase()));
    }
    // Shift+A types an upper-case A: modifiers follow the keys held.
    control.inject(InputEvent::Key {
        code: "ShiftLeft".into(),
        pressed: true,
    });
    key(&*control, "KeyA");
    control.inject(InputEvent::Key {
        code: "ShiftLeft".into(),
        pressed: false,
    });
    key(&*control, "Enter");
    let expected = format!("{word}A\n");
    wait_until(TIMEOUT, "the typed word in the file", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == expected).then_some(())
    });

    // Typing redrew a line of text, not the whole output.
    let (_, partial) =
        recorder.wait_frame(TIMEOUT, "a frame with partial damage", shown + 1, |f| {
            !f.is_full()
        });
    let area: u64 = partial
        .damage
        .iter()
        .map(|r: &Rect| u64::from(r.width) * u64::from(r.height))
        .sum();
    assert!(area < 640 * 480, "damage {:?}", partial.damage);
    assert_damage_covers_changes(&recorder.frames());

    // Text no key of the layout produces.
    control.inject(InputEvent::Text("é✓ß".into()));
    key(&*control, "Enter");
    let expected = format!("{word}A\né✓ß\n");
    wait_until(TIMEOUT, "the typed text in the file", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == expected).then_some(())
    });

    // A held key is released by ReleaseAll: after it, typing is plain again.
    control.inject(InputEvent::Key {
        code: "ShiftLeft".into(),
        pressed: true,
    });
    control.inject(InputEvent::ReleaseAll);
    key(&*control, "KeyB");
    key(&*control, "Enter");
    let expected = format!("{expected}b\n");
    wait_until(TIMEOUT, "ReleaseAll to clear Shift", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == expected).then_some(())
    });
}

#[test]
fn sway_set_mode_resizes_the_output() {
    let sway = Sway::start(640, 480, "#336699");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);
    recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);

    // Asking for the current mode changes nothing.
    control.set_mode(ModeRequest {
        width: 640,
        height: 480,
        scale: 1.0,
    });
    control.set_mode(ModeRequest {
        width: 800,
        height: 600,
        scale: 1.0,
    });
    recorder.wait_for(TIMEOUT, "Mode 800x600", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::Mode(800, 600, _)))
            .then_some(())
    });
    let (_, frame) = recorder.wait_frame(TIMEOUT, "an 800x600 frame", 0, |f| f.width == 800);
    assert_eq!(frame.height, 600);
    assert!(
        frame.is_full(),
        "first frame after resize: {:?}",
        frame.damage
    );
    let outputs = sway.swaymsg(&["-t", "get_outputs"]).expect("get_outputs");
    assert!(outputs.contains("\"width\": 800"), "{outputs}");

    // A scale change alone is announced too.
    control.set_mode(ModeRequest {
        width: 800,
        height: 600,
        scale: 1.5,
    });
    recorder.wait_for(TIMEOUT, "Mode 800x600 at scale 1.5", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::Mode(800, 600, s) if *s == 1.5))
            .then_some(())
    });
    let outputs = sway.swaymsg(&["-t", "get_outputs"]).expect("get_outputs");
    assert!(outputs.contains("\"scale\": 1.5"), "{outputs}");
    assert_damage_covers_changes(&recorder.frames());
}

#[test]
fn sway_exit_closes_the_capture() {
    let mut sway = Sway::start(320, 240, "#336699");
    let recorder = Recorder::new();
    let _control = start_capture(&sway, &recorder);
    recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    sway.kill();
    let reason = recorder.wait_for(TIMEOUT, "Closed", |events| {
        events.iter().find_map(|e| match e {
            Recorded::Closed(reason) => Some(reason.clone()),
            _ => None,
        })
    });
    assert!(!reason.is_empty());
}

#[test]
fn sway_text_through_temporary_keymaps() {
    let mut sway = Sway::start(640, 480, "#000000");
    let recorder = Recorder::new();
    // Without the input method every character goes through a keymap swapped in and out.
    let control = start_with(
        &sway,
        &recorder,
        WaylandOptions {
            input_method: false,
            ..WaylandOptions::default()
        },
    );
    let out = sway.dir.path().join("typed.txt");
    terminal_writing_to(&mut sway, &recorder, &out);
    // More distinct characters than there are spare keys, and a held Shift that must not
    // leak into them.
    let text = "héllo wörld ✓ ŋ€ 😀 ßàçèñ";
    control.inject(InputEvent::Key {
        code: "ShiftLeft".into(),
        pressed: true,
    });
    control.inject(InputEvent::Text(text.into()));
    control.inject(InputEvent::Key {
        code: "ShiftLeft".into(),
        pressed: false,
    });
    // The base keymap is back: a physical key types its own letter.
    key(&*control, "KeyQ");
    key(&*control, "Enter");
    file_becomes(&out, &format!("{text}q\n"));
}

#[test]
fn sway_pointer_moves_the_painted_cursor() {
    let sway = Sway::start(640, 480, "#336699");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);
    let (_, first) = recorder.wait_frame(TIMEOUT, "the background", 0, |f| {
        f.rgb(320, 240) == (0x33, 0x66, 0x99)
    });
    let before = recorder.settle(Duration::from_millis(300), TIMEOUT);
    // With screencopy the cursor is painted into frames: moving it damages where it goes.
    control.inject(InputEvent::PointerMotion { x: 200.0, y: 150.0 });
    let (_, moved) = recorder.wait_frame(TIMEOUT, "the cursor drawn at 200,150", before, |f| {
        f.damage
            .iter()
            .any(|r| r.x <= 200 && r.y <= 150 && r.x + r.width > 200 && r.y + r.height > 150)
    });
    assert_ne!(
        moved.pixels, first.pixels,
        "the cursor changed nothing on screen"
    );
    let before = recorder.settle(Duration::from_millis(300), TIMEOUT);
    control.inject(InputEvent::PointerMotion { x: 500.0, y: 400.0 });
    recorder.wait_frame(TIMEOUT, "the cursor drawn at 500,400", before, |f| {
        f.damage
            .iter()
            .any(|r| r.x <= 500 && r.y <= 400 && r.x + r.width > 500 && r.y + r.height > 400)
    });
    assert_damage_covers_changes(&recorder.frames());
}

#[test]
fn sway_wheel_scrolls_a_terminal() {
    let mut sway = Sway::start(640, 480, "#000000");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);
    // Three hundred numbered lines: the terminal has scrollback to show.
    sway.spawn_client(
        "foot",
        &["--app-id", "skerry-test", "sh", "-c", "seq 1 300; exec cat"],
    );
    sway.wait_focused("skerry-test");
    recorder.wait_frame(TIMEOUT, "the terminal", 0, |f| f.rgb(5, 5) != (0, 0, 0));
    control.inject(InputEvent::PointerMotion { x: 320.0, y: 240.0 });
    let before = recorder.settle(Duration::from_millis(300), TIMEOUT);
    let still = recorder.frames().pop().expect("a frame");
    // Three wheel lines up (discrete steps): the terminal scrolls back, most of it repaints.
    control.inject(InputEvent::Wheel {
        dx: 0.0,
        dy: -3.0,
        unit: skerry_streamer::desktop::WheelUnit::Line,
    });
    let (_, scrolled) = recorder.wait_frame(TIMEOUT, "the scrolled terminal", before, |f| {
        let area: u64 = f
            .damage
            .iter()
            .map(|r| u64::from(r.width) * u64::from(r.height))
            .sum();
        area > 640 * 100
    });
    assert_ne!(scrolled.pixels, still.pixels);
    assert_damage_covers_changes(&recorder.frames());
}

#[test]
fn sway_clicks_focus_the_window_under_the_pointer() {
    let mut sway = Sway::start(640, 480, "#000000");
    let recorder = Recorder::new();
    let control = start_capture(&sway, &recorder);
    // Two terminals side by side; the newer one (right) has focus.
    sway.spawn_client("foot", &["--app-id", "left", "sh", "-c", "exec cat"]);
    sway.wait_focused("left");
    sway.spawn_client("foot", &["--app-id", "right", "sh", "-c", "exec cat"]);
    sway.wait_focused("right");
    recorder.wait_frame(TIMEOUT, "a frame", 0, |_| true);

    let click = |button| {
        control.inject(InputEvent::Button {
            button,
            pressed: true,
        });
        control.inject(InputEvent::Button {
            button,
            pressed: false,
        });
    };
    // Absolute motion into the left half, then a left click focuses it.
    control.inject(InputEvent::PointerMotion { x: 100.0, y: 240.0 });
    click(PointerButton::Left);
    sway.wait_focused("left");
    // Relative motion carries the pointer into the right half.
    control.inject(InputEvent::PointerRelative { dx: 400.0, dy: 0.0 });
    click(PointerButton::Left);
    sway.wait_focused("right");
    // A button held when the viewer leaves is released: the next press is a fresh click.
    control.inject(InputEvent::PointerMotion { x: 100.0, y: 240.0 });
    control.inject(InputEvent::Button {
        button: PointerButton::Left,
        pressed: true,
    });
    sway.wait_focused("left");
    control.inject(InputEvent::ReleaseAll);
    control.inject(InputEvent::PointerMotion { x: 500.0, y: 240.0 });
    click(PointerButton::Left);
    sway.wait_focused("right");
}
