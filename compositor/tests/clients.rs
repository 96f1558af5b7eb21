//! The real compositor binary with real programs from Debian: Wayland and X11 windows map,
//! the clipboard round-trips through data-control, typed text arrives, a killed client
//! disturbs nobody, and an idle desktop renders nothing.

mod common;

use std::time::Duration;

use common::{Running, X11_UNIX, have, ran_on_a_fresh_tmp, random_word, read, wait_for};

/// Fails loudly (instead of passing) when a required program is missing.
fn require(programs: &[&str]) {
    for p in programs {
        assert!(have(p), "{p} is not installed (see ci/packages.txt)");
    }
}

#[test]
fn foot_and_weston_simple_shm_map_windows() {
    require(&["foot", "weston-simple-shm"]);
    let mut c = Running::start(&[], &["--no-xwayland"]);
    c.spawn(c.command("weston-simple-shm"));
    let shm = c.wait_toplevel("weston-simple-shm", |t| t["title"] == "simple-shm");
    assert_eq!(shm["has_surface"], true);
    let mut foot = c.command("foot");
    foot.args(["--app-id", "skerry-test-foot"]);
    c.spawn(foot);
    let foot = c.wait_toplevel("foot", |t| t["app_id"] == "skerry-test-foot");
    assert_eq!(foot["activated"], true, "a new window gets focus");
    assert!(c.counter("frames_damaged") > 0);
    assert!(c.alive());
}

/// Waits for Xwayland; the display number and the Xauthority file its clients need.
fn x11_of(c: &Running) -> (u64, String) {
    wait_for("Xwayland", Duration::from_secs(30), || {
        let s = c.stats()?;
        Some((
            s["x11_display"].as_u64()?,
            s["x11_authority"].as_str()?.to_string(),
        ))
    })
}

/// Waits for Xwayland, then maps `xlogo` through it.
fn xlogo_maps(c: &mut Running) {
    let (display, authority) = x11_of(c);
    let mut xlogo = c.command("xlogo");
    xlogo
        .env("DISPLAY", format!(":{display}"))
        .env("XAUTHORITY", authority);
    c.spawn(xlogo);
    let t = c.wait_toplevel("xlogo with a surface", |t| {
        t["x11"] == true && t["has_surface"] == true
    });
    assert_eq!(t["app_id"], "XLogo", "{t}");
    assert!(c.alive());
}

fn mode_and_owner(path: &str) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).expect("the X11 socket directory exists");
    assert!(meta.is_dir(), "{path} is not a directory");
    (meta.mode() & 0o7777, meta.uid())
}

#[test]
fn x11_window_maps_with_a_wl_surface() {
    require(&["xlogo", "Xwayland"]);
    if ran_on_a_fresh_tmp("x11_window_maps_with_a_wl_surface") {
        return;
    }
    // No /tmp/.X11-unix, as on a fresh machine: the compositor (root here) makes it.
    let mut c = Running::start(&[], &[]);
    xlogo_maps(&mut c);
    assert_eq!(mode_and_owner(X11_UNIX), (0o1777, 0), "{}", c.log());
}

#[test]
fn an_x11_client_without_the_cookie_is_refused() {
    require(&["xlogo", "Xwayland"]);
    if ran_on_a_fresh_tmp("an_x11_client_without_the_cookie_is_refused") {
        return;
    }
    let mut c = Running::start(&[], &[]);
    let (display, authority) = x11_of(&c);
    let meta = std::fs::metadata(&authority).expect("the Xauthority file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    // Another local program without the cookie: no Xauthority file at all.
    let mut stranger = c.command("xlogo");
    stranger
        .env("DISPLAY", format!(":{display}"))
        .env("XAUTHORITY", c.path("no-such-file"))
        .env_remove("HOME");
    let mut stranger = stranger.spawn().expect("xlogo starts");
    let refused = wait_for("xlogo to give up", Duration::from_secs(20), || {
        stranger.try_wait().expect("wait")
    });
    assert!(!refused.success(), "a client without the cookie connected");
    // With it, the same program maps.
    xlogo_maps(&mut c);
}

#[test]
fn an_unprivileged_compositor_on_a_fresh_machine_runs_x11_windows() {
    require(&["xlogo", "Xwayland", "setpriv"]);
    if !rustix::process::geteuid().is_root() {
        panic!("this test starts the compositor as another user and must run as root");
    }
    if ran_on_a_fresh_tmp("an_unprivileged_compositor_on_a_fresh_machine_runs_x11_windows") {
        return;
    }
    const NOBODY: u32 = 65534;
    let mut c = Running::start_as(NOBODY, &[], &[]);
    xlogo_maps(&mut c);
    assert_eq!(mode_and_owner(X11_UNIX), (0o1777, NOBODY), "{}", c.log());
}

#[test]
fn an_x11_socket_directory_another_user_owns_is_reported_and_left_alone() {
    require(&["Xwayland"]);
    if ran_on_a_fresh_tmp("an_x11_socket_directory_another_user_owns_is_reported_and_left_alone") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(X11_UNIX).unwrap();
    std::fs::set_permissions(X11_UNIX, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(X11_UNIX, Some(4242), Some(4242)).unwrap();
    let mut c = Running::start(&[], &[]);
    let line = wait_for("the report", Duration::from_secs(20), || {
        c.log()
            .lines()
            .find(|l| l.contains("cannot start Xwayland"))
            .map(str::to_string)
    });
    assert!(
        line.contains("/tmp/.X11-unix is owned by uid 4242"),
        "{line}"
    );
    assert_eq!(
        mode_and_owner(X11_UNIX),
        (0o755, 4242),
        "the directory was changed"
    );
    assert!(c.stats().is_some_and(|s| s["x11_display"].is_null()));
    // Wayland clients still work.
    assert!(c.alive(), "{}", c.log());
}

#[test]
fn clipboard_round_trips_through_data_control() {
    require(&["wl-copy", "wl-paste"]);
    let mut c = Running::start(&[], &["--no-xwayland"]);
    let word = random_word(16);
    let mut copy = c.command("wl-copy");
    copy.arg(&word);
    c.spawn(copy);
    let pasted = wait_for("wl-paste to see the copy", Duration::from_secs(20), || {
        let out = c
            .command("wl-paste")
            .arg("--no-newline")
            .stdout(std::process::Stdio::piped())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text == word).then_some(text)
    });
    assert_eq!(pasted, word);
}

#[test]
fn wtype_text_arrives_in_foot() {
    require(&["foot", "wtype"]);
    let mut c = Running::start(&[], &["--no-xwayland"]);
    let file = c.path("typed.txt");
    let mut foot = c.command("foot");
    foot.args(["--app-id", "typing-target", "-e", "sh", "-c"])
        .arg(format!("cat > {}", file.display()));
    c.spawn(foot);
    c.wait_toplevel("foot focused", |t| {
        t["app_id"] == "typing-target" && t["activated"] == true
    });
    let word = random_word(12);
    // foot may still be starting `cat`; typing is retried until the word arrives.
    let got = wait_for("typed word in the file", Duration::from_secs(30), || {
        let status = c
            .command("wtype")
            .arg(&word)
            .args(["-k", "Return"])
            .status()
            .ok()?;
        assert!(status.success(), "wtype failed");
        let text = read(&file);
        text.lines().any(|l| l.ends_with(&word)).then_some(text)
    });
    assert!(got.contains(&word), "{got:?}");
}

#[test]
fn killed_client_does_not_disturb_others() {
    require(&["foot", "weston-simple-shm"]);
    let mut c = Running::start(&[], &["--no-xwayland"]);
    let pid = c.spawn(c.command("weston-simple-shm"));
    c.wait_toplevel("weston-simple-shm", |t| t["title"] == "simple-shm");
    // It animates: wait for a few more frames so the kill lands mid-stream.
    let before = c.counter("frames_damaged");
    wait_for("animation frames", Duration::from_secs(10), || {
        (c.counter("frames_damaged") > before + 5).then_some(())
    });
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    wait_for("the window to go away", Duration::from_secs(10), || {
        c.toplevels()
            .iter()
            .all(|t| t["title"] != "simple-shm")
            .then_some(())
    });
    assert!(c.alive(), "compositor died:\n{}", c.log());
    let mut foot = c.command("foot");
    foot.args(["--app-id", "after-kill"]);
    c.spawn(foot);
    c.wait_toplevel("a new client", |t| t["app_id"] == "after-kill");
    assert!(c.alive());
}

#[test]
fn readiness_is_notified_and_bad_config_is_reported_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let notify = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_skerry-compositor"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .env("NOTIFY_SOCKET", &notify)
        .arg("--no-xwayland")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start compositor");
    let mut child = common::Guard(child);
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("READY=1 within the deadline");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    // No WAYLAND_DISPLAY given: the picked name is printed on stdout and exists.
    let mut line = String::new();
    let stdout = child.0.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("read name");
    assert!(line.trim().starts_with("wayland-"), "{line:?}");
    assert!(dir.path().join(line.trim()).exists());
    drop(child);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skerry-compositor"))
        .env_remove("XDG_RUNTIME_DIR")
        .env("SKERRY_FPS", "500")
        .env("SKERRY_RESOLUTION", "big")
        .output()
        .expect("run compositor");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["XDG_RUNTIME_DIR", "SKERRY_FPS", "SKERRY_RESOLUTION"] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
}

#[test]
fn wtype_text_arrives_in_an_x11_xterm() {
    require(&["xterm", "wtype", "Xwayland"]);
    if ran_on_a_fresh_tmp("wtype_text_arrives_in_an_x11_xterm") {
        return;
    }
    let mut c = Running::start(&[], &[]);
    let (display, authority) = x11_of(&c);
    let file = c.path("typed-x11.txt");
    let mut xterm = c.command("xterm");
    xterm
        .env("DISPLAY", format!(":{display}"))
        .env("XAUTHORITY", authority)
        .args(["-class", "SkerryXterm", "-e", "sh", "-c"])
        .arg(format!("cat > {}", file.display()));
    c.spawn(xterm);
    c.wait_toplevel("xterm focused with a surface", |t| {
        t["app_id"] == "SkerryXterm" && t["activated"] == true && t["has_surface"] == true
    });
    let word = random_word(10);
    let got = wait_for("typed word in the file", Duration::from_secs(30), || {
        let status = c
            .command("wtype")
            .arg(&word)
            .args(["-k", "Return"])
            .status()
            .ok()?;
        assert!(status.success(), "wtype failed");
        let text = read(&file);
        text.lines().any(|l| l.ends_with(&word)).then_some(text)
    });
    assert!(got.contains(&word), "{got:?}");
}

#[test]
fn fractional_scale_output_maps_foot() {
    require(&["foot"]);
    let mut c = Running::start(
        &[("SKERRY_SCALE", "1.5"), ("SKERRY_RESOLUTION", "1280x720")],
        &["--no-xwayland"],
    );
    let mut foot = c.command("foot");
    foot.args(["--app-id", "scaled"]);
    c.spawn(foot);
    c.wait_toplevel("foot at scale 1.5", |t| {
        t["app_id"] == "scaled" && t["has_surface"] == true
    });
    wait_for("a damaged frame", Duration::from_secs(10), || {
        (c.counter("frames_damaged") > 0).then_some(())
    });
    assert!(c.alive(), "{}", c.log());
}
