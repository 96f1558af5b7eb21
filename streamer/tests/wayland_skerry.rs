//! The Wayland capture client against Skerry's own compositor, which offers
//! ext-image-copy-capture (with cursor sessions) as well as screencopy: frames with damage
//! from a pool of buffers each with its own history, the cursor delivered apart from the
//! frames, typing, and resizing.

mod wayland_support;

use std::sync::Arc;
use std::time::Duration;

use skerry_streamer::desktop::{CaptureSink, DesktopControl, InputEvent, ModeRequest};
use skerry_streamer::wayland::{self, WaylandOptions};
use wayland_support::{Recorded, Recorder, Skerry, assert_damage_covers_changes, wait_until};

const TIMEOUT: Duration = Duration::from_secs(60);

fn start_with(
    skerry: &Skerry,
    recorder: &Arc<Recorder>,
    options: WaylandOptions,
) -> Arc<dyn DesktopControl> {
    let sink: Arc<dyn CaptureSink> = recorder.clone();
    wayland::start(
        WaylandOptions {
            display: Some(skerry.display()),
            ..options
        },
        sink,
    )
    .unwrap_or_else(|err| panic!("capture did not start: {err}\n{}", skerry.log()))
}

fn key(control: &dyn DesktopControl, code: &str) {
    for pressed in [true, false] {
        control.inject(InputEvent::Key {
            code: code.into(),
            pressed,
        });
    }
}

fn capture_full_idle_damage(force_screencopy: bool) {
    let mut skerry = Skerry::start(640, 480);
    let recorder = Recorder::new();
    let control = start_with(
        &skerry,
        &recorder,
        WaylandOptions {
            force_screencopy,
            ..WaylandOptions::default()
        },
    );
    recorder.wait_for(TIMEOUT, "Mode 640x480", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::Mode(640, 480, _)))
            .then_some(())
    });
    let (_, first) = recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    assert_eq!((first.width, first.height), (640, 480));
    assert!(first.is_full(), "first frame damage {:?}", first.damage);

    let quiet_from = recorder.settle(Duration::from_millis(300), TIMEOUT);
    let settled = recorder.settle(Duration::from_secs(1), Duration::from_secs(1));
    assert_eq!(settled, quiet_from, "frames while idle");

    // A terminal appears, then echoes typed letters one frame after another: several
    // buffers in turn, and each frame's damage must account for every pixel that changed
    // since the previous one.
    skerry.spawn_client("foot", &["sh", "-c", "exec cat"]);
    recorder.wait_frame(TIMEOUT, "the terminal", quiet_from, |f| {
        f.pixels != first.pixels
    });
    let shown = recorder.settle(Duration::from_millis(300), TIMEOUT);
    for code in ["KeyS", "KeyK", "KeyE", "KeyR", "KeyR", "KeyY"] {
        let before = recorder.frame_count();
        key(&*control, code);
        recorder.wait_frame(TIMEOUT, "the echoed letter", before, |_| true);
    }
    let frames = recorder.frames();
    assert!(
        frames[shown..].iter().all(|f| !f.is_full()),
        "a typed letter repainted the whole output"
    );
    assert_damage_covers_changes(&frames);

    let before = recorder.frame_count();
    control.request_full_frame();
    let (_, full) = recorder.wait_frame(TIMEOUT, "a requested full frame", before, |_| true);
    assert!(full.is_full(), "requested frame damage {:?}", full.damage);
}

#[test]
fn skerry_ext_capture_full_first_frame_idle_then_damage() {
    capture_full_idle_damage(false);
}

#[test]
fn skerry_screencopy_full_first_frame_idle_then_damage() {
    capture_full_idle_damage(true);
}

#[test]
fn skerry_cursor_session_reports_image_and_position() {
    let skerry = Skerry::start(640, 480);
    let recorder = Recorder::new();
    let control = start_with(&skerry, &recorder, WaylandOptions::default());
    recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    control.inject(InputEvent::PointerMotion { x: 200.0, y: 150.0 });
    recorder.wait_for(TIMEOUT, "the cursor at 200,150", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::CursorPosition(200, 150)))
            .then_some(())
    });
    let image = recorder.wait_for(TIMEOUT, "a cursor image", |events| {
        events.iter().find_map(|e| match e {
            Recorded::Cursor(Some(image)) => Some(image.clone()),
            _ => None,
        })
    });
    assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize);
    assert!(
        image.rgba.chunks(4).any(|px| px[3] != 0),
        "the cursor image is empty"
    );
    // The cursor is not painted into frames: moving it costs no frame.
    let before = recorder.settle(Duration::from_millis(300), TIMEOUT);
    control.inject(InputEvent::PointerMotion { x: 400.0, y: 300.0 });
    recorder.wait_for(TIMEOUT, "the cursor at 400,300", |events| {
        events
            .iter()
            .any(|e| matches!(e, Recorded::CursorPosition(400, 300)))
            .then_some(())
    });
    assert_eq!(
        recorder.settle(Duration::from_millis(300), TIMEOUT),
        before,
        "moving the cursor produced frames"
    );
}

#[test]
fn skerry_typing_lands_in_a_terminal() {
    let mut skerry = Skerry::start(640, 480);
    let recorder = Recorder::new();
    let control = start_with(&skerry, &recorder, WaylandOptions::default());
    let out = skerry.dir.path().join("typed.txt");
    let script = format!("cat > {}", out.display());
    skerry.spawn_client("foot", &["sh", "-c", &script]);
    let (_, first) = recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    recorder.wait_frame(TIMEOUT, "the terminal", 0, |f| f.pixels != first.pixels);
    // A mapped window has keyboard focus.
    recorder.settle(Duration::from_millis(300), TIMEOUT);
    for c in "skerry".chars() {
        key(&*control, &format!("Key{}", c.to_ascii_uppercase()));
    }
    key(&*control, "Enter");
    wait_until(TIMEOUT, "typed text in the file", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == "skerry\n").then_some(())
    });
    // Text no key produces (through the input method when the terminal has text-input on).
    // Debian's foot drops input-method text whose serial is behind its own, and it commits
    // text-input state whenever its cursor moves: let the echo of the line above settle first.
    recorder.settle(Duration::from_millis(300), TIMEOUT);
    control.inject(InputEvent::Text("é✓ß".into()));
    key(&*control, "Enter");
    wait_until(TIMEOUT, "typed text in the file", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == "skerry\né✓ß\n").then_some(())
    });
}

#[test]
fn skerry_set_mode_resizes_the_output() {
    let skerry = Skerry::start(640, 480);
    let recorder = Recorder::new();
    let control = start_with(&skerry, &recorder, WaylandOptions::default());
    recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
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
    assert_damage_covers_changes(&recorder.frames());
}

#[test]
fn skerry_text_through_temporary_keymaps() {
    let mut skerry = Skerry::start(640, 480);
    let recorder = Recorder::new();
    let control = start_with(
        &skerry,
        &recorder,
        WaylandOptions {
            input_method: false,
            ..WaylandOptions::default()
        },
    );
    let out = skerry.dir.path().join("typed.txt");
    let script = format!("cat > {}", out.display());
    skerry.spawn_client("foot", &["sh", "-c", &script]);
    let (_, first) = recorder.wait_frame(TIMEOUT, "a first frame", 0, |_| true);
    recorder.wait_frame(TIMEOUT, "the terminal", 0, |f| f.pixels != first.pixels);
    recorder.settle(Duration::from_millis(300), TIMEOUT);
    control.inject(InputEvent::Text("héllo ✓ ß".into()));
    key(&*control, "KeyQ");
    key(&*control, "Enter");
    wait_until(TIMEOUT, "typed text in the file", || {
        let text = std::fs::read_to_string(&out).ok()?;
        (text == "héllo ✓ ßq\n").then_some(())
    });
}
