//! Clipboard and primary selection against Skerry's own compositor, with wl-clipboard's
//! `wl-copy` and `wl-paste` as the applications on the other side.

mod wayland_support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skerry_streamer::clipboard::{ClipboardData, ClipboardEvent, PNG_MIME, Selection, TEXT_MIMES};
use skerry_streamer::desktop::{CaptureSink, DesktopControl};
use skerry_streamer::wayland::{self, WaylandOptions};
use wayland_support::{Recorded, Recorder, Skerry, require};

const TIMEOUT: Duration = Duration::from_secs(30);

fn start(skerry: &Skerry, recorder: &Arc<Recorder>, limit: usize) -> Arc<dyn DesktopControl> {
    let sink: Arc<dyn CaptureSink> = recorder.clone();
    wayland::start(
        WaylandOptions {
            display: Some(skerry.display()),
            clipboard_max: limit,
            ..WaylandOptions::default()
        },
        sink,
    )
    .unwrap_or_else(|err| panic!("capture did not start: {err}\n{}", skerry.log()))
}

fn tool(skerry: &Skerry, program: &str, args: &[&str]) -> Command {
    require(program);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("XDG_RUNTIME_DIR", skerry.dir.path())
        .env("WAYLAND_DISPLAY", &skerry.socket)
        .env_remove("DISPLAY");
    cmd
}

/// `wl-copy` sets the selection and leaves a background process serving it (it ends when
/// the selection is replaced or the compositor stops).
fn wl_copy(skerry: &Skerry, args: &[&str], data: &[u8]) {
    let mut child = tool(skerry, "wl-copy", args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wl-copy");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(data).expect("feed wl-copy");
    }
    let status = wait_child(&mut child, "wl-copy");
    assert!(status.success(), "wl-copy failed: {status}");
}

fn wait_child(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What `wl-paste` reads, or `None` when it fails (no selection, or no such type).
fn wl_paste(skerry: &Skerry, args: &[&str]) -> Option<Vec<u8>> {
    let mut child = tool(skerry, "wl-paste", args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wl-paste");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let status = wait_child(&mut child, "wl-paste");
    let out = reader.join().expect("reader");
    status.success().then_some(out)
}

/// Polls `wl-paste` until it returns `want`.
fn wait_paste(skerry: &Skerry, args: &[&str], want: &[u8]) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = wl_paste(skerry, args);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "wl-paste {args:?} gave {:?}, not {:?}",
            got.map(|g| String::from_utf8_lossy(&g).into_owned()),
            String::from_utf8_lossy(want)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn clipboard_events(events: &[Recorded]) -> Vec<ClipboardEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Recorded::Clipboard(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn wait_changed(recorder: &Recorder, selection: Selection, data: &[u8]) -> ClipboardData {
    recorder.wait_for(TIMEOUT, "a clipboard event", |events| {
        clipboard_events(events).into_iter().find_map(|e| match e {
            ClipboardEvent::Changed(d) if d.selection == selection && &*d.data == data => Some(d),
            _ => None,
        })
    })
}

fn random_text(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("skerry {tag} {nanos:08x} ✓")
}

fn text(selection: Selection, s: &str) -> ClipboardData {
    ClipboardData {
        selection,
        mime: TEXT_MIMES[0].into(),
        data: Arc::from(s.as_bytes()),
    }
}

/// A small real PNG, made by ffmpeg.
fn png_file(dir: &Path) -> Vec<u8> {
    require("ffmpeg");
    let path = dir.join("clip.png");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=97x61:rate=1")
        .args(["-frames:v", "1"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("run ffmpeg");
    assert!(status.success());
    let bytes = std::fs::read(&path).expect("png");
    assert!(bytes.starts_with(b"\x89PNG"));
    bytes
}

#[test]
fn clipboard_and_primary_both_ways_without_echo() {
    let skerry = Skerry::start(320, 240);
    let recorder = Recorder::new();
    let control = start(&skerry, &recorder, 1 << 20);

    // An app copies: the streamer reads it as text.
    let copied = random_text("copied");
    wl_copy(&skerry, &[], copied.as_bytes());
    let got = wait_changed(&recorder, Selection::Clipboard, copied.as_bytes());
    assert!(got.is_text(), "mime {}", got.mime);

    // The primary selection is its own.
    let selected = random_text("selected");
    wl_copy(&skerry, &["--primary"], selected.as_bytes());
    wait_changed(&recorder, Selection::Primary, selected.as_bytes());

    // A browser copies: apps paste it, from either selection, under the usual text types.
    let from_browser = random_text("browser");
    control.set_clipboard(text(Selection::Clipboard, &from_browser));
    wait_paste(&skerry, &["--no-newline"], from_browser.as_bytes());
    for mime in ["UTF8_STRING", "text/plain"] {
        wait_paste(
            &skerry,
            &["--no-newline", "--type", mime],
            from_browser.as_bytes(),
        );
    }
    let primary = random_text("browser primary");
    control.set_clipboard(text(Selection::Primary, &primary));
    wait_paste(&skerry, &["--no-newline", "--primary"], primary.as_bytes());

    // Our own selections are not read back. A later app copy is the barrier: by then any
    // echo would have been read (our writer serves it at once).
    let barrier = random_text("barrier");
    wl_copy(&skerry, &[], barrier.as_bytes());
    wait_changed(&recorder, Selection::Clipboard, barrier.as_bytes());
    let events = recorder.wait_for(TIMEOUT, "events", |e| Some(clipboard_events(e)));
    for e in &events {
        if let ClipboardEvent::Changed(d) = e {
            assert!(
                &*d.data != from_browser.as_bytes() && &*d.data != primary.as_bytes(),
                "echo of our own selection: {d:?}"
            );
        }
    }
    drop(control);
}

#[test]
fn png_both_ways_byte_identical() {
    let skerry = Skerry::start(320, 240);
    let recorder = Recorder::new();
    let control = start(&skerry, &recorder, 1 << 20);
    let png = png_file(skerry.dir.path());

    wl_copy(&skerry, &["--type", PNG_MIME], &png);
    let got = wait_changed(&recorder, Selection::Clipboard, &png);
    assert_eq!(got.mime, PNG_MIME);

    // Something else first, so the paste below can only be the browser's PNG.
    wl_copy(&skerry, &[], b"not a picture");
    wait_changed(&recorder, Selection::Clipboard, b"not a picture");
    control.set_clipboard(ClipboardData {
        selection: Selection::Clipboard,
        mime: PNG_MIME.into(),
        data: Arc::from(&png[..]),
    });
    wait_paste(&skerry, &["--type", PNG_MIME], &png);
    let types = wl_paste(&skerry, &["--list-types"]).expect("types");
    let types = String::from_utf8_lossy(&types);
    assert!(
        !types.lines().any(|t| TEXT_MIMES.contains(&t)),
        "a PNG offered as text: {types}"
    );
    drop(control);
}

#[test]
fn over_limit_selection_is_refused_and_sync_goes_on() {
    let skerry = Skerry::start(320, 240);
    let recorder = Recorder::new();
    let control = start(&skerry, &recorder, 4096);

    let big = "x".repeat(64 * 1024);
    wl_copy(&skerry, &[], big.as_bytes());
    let limit = recorder.wait_for(TIMEOUT, "the too-big notice", |events| {
        clipboard_events(events).into_iter().find_map(|e| match e {
            ClipboardEvent::TooBig {
                selection: Selection::Clipboard,
                limit,
                ..
            } => Some(limit),
            _ => None,
        })
    });
    assert_eq!(limit, 4096);

    // Still working both ways afterwards; a browser copy over the limit changes nothing.
    let small = random_text("small");
    wl_copy(&skerry, &[], small.as_bytes());
    wait_changed(&recorder, Selection::Clipboard, small.as_bytes());
    control.set_clipboard(text(Selection::Clipboard, &big));
    let fits = random_text("fits");
    control.set_clipboard(text(Selection::Clipboard, &fits));
    wait_paste(&skerry, &["--no-newline"], fits.as_bytes());
    let events = recorder.wait_for(TIMEOUT, "events", |e| Some(clipboard_events(e)));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClipboardEvent::Changed(d) if d.data.len() > 4096)),
        "an over-limit selection was delivered"
    );
    drop(control);
}
