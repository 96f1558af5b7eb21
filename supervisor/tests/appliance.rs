//! The default service list — audio server, compositor, application, streamer — with
//! stand-ins for the audio server, compositor and streamer placed next to a copy of `skerry-init`, as PID 1 of a PID
//! namespace: the wiring (order, readiness, environment, DISPLAY, restart isolation, stop
//! order) the real appliance relies on.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{Appliance, wait_for};
use nix::sys::signal::Signal;

const KEYS: &str = "['WAYLAND_DISPLAY', 'DISPLAY', 'XAUTHORITY', 'XDG_RUNTIME_DIR', 'SKERRY_SERVICE', 'SKERRY_GPU', 'SKERRY_STATUS_FILE', 'TZ', 'SKERRY_FPS', 'PULSE_SERVER', 'SKERRY_AUTH_PASSWORD', 'PASSWORD']";

/// A stand-in service: records its environment, pid and start, binds a socket under the
/// runtime directory if asked (the Wayland display, the audio server's `pulse/native`),
/// says READY=1 (with `extra`), logs SIGTERM, and exits 1 when `DIR/crash-NAME` appears.
fn fake(name: &str, bind: &str, extra: &str) -> String {
    format!(
        r#"#!/usr/bin/python3
import os, signal, socket, sys, time
d = "@DIR@"
env = os.environ
with open(d + "/{name}.env", "w") as f:
    f.write("".join("%s=%s\n" % (k, env.get(k, "")) for k in {KEYS}))
with open(d + "/{name}.pids", "a") as f:
    f.write("%d\n" % os.getpid())
with open(d + "/order", "a") as f:
    f.write("{name}\n")
def stop(*_):
    with open(d + "/stopped", "a") as f:
        f.write("{name}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
if "{bind}":
    path = env["XDG_RUNTIME_DIR"] + "/" + "{bind}"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    time.sleep(0.3)  # a slow start: nothing that waits for it may start before the socket
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen()
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.sendto(b"READY=1{extra}", env["NOTIFY_SOCKET"])
while True:
    if os.path.exists(d + "/crash-{name}"):
        os.remove(d + "/crash-{name}")
        sys.exit(1)
    time.sleep(0.05)
"#,
    )
}

/// Puts an executable `name` into `dir/bin`, with `@DIR@` standing for `dir`.
fn install(dir: &Path, name: &str, text: &str) {
    let p = dir.join("bin").join(name);
    std::fs::write(&p, text.replace("@DIR@", &dir.display().to_string())).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn env_of(app: &Appliance, name: &str) -> Vec<String> {
    app.lines(&format!("{name}.env"))
}

#[test]
fn default_services_are_wired_as_the_appliance_needs() {
    let mut app = Appliance::start_prepared(
        "fps = 30\n",
        // A bare name: found next to skerry-init, like the compositor and streamer.
        &[
            ("SKERRY_APP", "app"),
            ("SKERRY_AUTH_PASSWORD", "owner-secret"),
            ("PASSWORD", "other-secret"),
        ],
        |dir| {
            let bin = dir.join("bin");
            std::fs::create_dir_all(&bin).expect("mkdir");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            std::fs::copy(env!("CARGO_BIN_EXE_skerry-init"), bin.join("skerry-init"))
                .expect("copy");
            install(
                dir,
                "skerry-compositor",
                &fake(
                    "compositor",
                    "skerry-0",
                    "\\nDISPLAY=:7\\nXAUTHORITY=/run/x/cookie",
                ),
            );
            install(dir, "pulseaudio", &fake("audio", "pulse/native", ""));
            install(dir, "skerry-streamer", &fake("streamer", "", ""));
            install(dir, "app", &fake("app", "", ""));
        },
    );
    // The app counts as ready once started; wait for it to have written its environment too.
    assert!(
        wait_for(Duration::from_secs(20), || app
            .status()
            .is_some_and(|s| s["ready"] == true)
            && !env_of(&app, "app").is_empty()),
        "not ready:\n{}",
        app.log()
    );
    // A service is ready once started; its stand-in then writes what it saw.
    assert!(
        wait_for(Duration::from_secs(20), || [
            "audio",
            "compositor",
            "app",
            "streamer"
        ]
        .iter()
        .all(|n| app.lines("order").iter().any(|o| o == n))),
        "not all started:\n{}",
        app.log()
    );
    let d = app.dir.path().display().to_string();
    let compositor = env_of(&app, "compositor");
    assert!(
        compositor.contains(&"WAYLAND_DISPLAY=skerry-0".to_string()),
        "{compositor:?}"
    );
    assert!(
        compositor.contains(&"DISPLAY=:0".to_string()),
        "{compositor:?}"
    );
    assert!(
        compositor.contains(&format!("XDG_RUNTIME_DIR={d}/run")),
        "{compositor:?}"
    );
    assert!(
        compositor.contains(&"SKERRY_GPU=none".to_string())
            || compositor
                .iter()
                .any(|l| l.starts_with("SKERRY_GPU=/dev/dri/"))
    );
    assert!(
        compositor.contains(&"TZ=Etc/UTC".to_string()),
        "{compositor:?}"
    );
    // A component setting from the file reaches the components.
    assert!(
        compositor.contains(&"SKERRY_FPS=30".to_string()),
        "{compositor:?}"
    );
    // Every service reaches the audio server through PULSE_SERVER; the application starts
    // only once the audio server's socket exists.
    for name in ["audio", "compositor", "app", "streamer"] {
        let env = env_of(&app, name);
        assert!(
            env.contains(&format!("PULSE_SERVER=unix:{d}/run/pulse/native")),
            "{name}: {env:?}"
        );
    }
    // The owner's password reaches the streamer, which checks it, and nothing else: not the
    // compositor, the audio server or the application (nor what a terminal starts).
    let streamer = env_of(&app, "streamer");
    assert!(
        streamer.contains(&"SKERRY_AUTH_PASSWORD=owner-secret".to_string())
            && streamer.contains(&"PASSWORD=other-secret".to_string()),
        "{streamer:?}"
    );
    for name in ["audio", "compositor", "app"] {
        let env = env_of(&app, name);
        assert!(
            env.contains(&"SKERRY_AUTH_PASSWORD=".to_string())
                && env.contains(&"PASSWORD=".to_string()),
            "{name} sees a secret: {env:?}"
        );
    }
    let order = app.lines("order");
    let at = |n: &str| order.iter().position(|o| o == n).expect(n);
    // Audio and compositor start together (neither waits for the other); the app waits
    // for both.
    assert!(at("app") > at("audio"), "{order:?}");
    assert!(at("app") > at("compositor"), "{order:?}");
    for name in ["app", "streamer"] {
        let env = env_of(&app, name);
        // Started after the compositor said DISPLAY=:7.
        assert!(env.contains(&"DISPLAY=:7".to_string()), "{name}: {env:?}");
        assert!(
            env.contains(&"XAUTHORITY=/run/x/cookie".to_string()),
            "{name}: {env:?}"
        );
        assert!(
            env.contains(&"WAYLAND_DISPLAY=skerry-0".to_string()),
            "{name}: {env:?}"
        );
        assert!(
            env.contains(&format!("SKERRY_SERVICE={name}")),
            "{name}: {env:?}"
        );
        assert!(env.contains(&"SKERRY_STATUS_FILE=/run/skerry/status.json".to_string()));
    }
    let status = app.status().expect("status");
    let names: Vec<&str> = status["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["audio", "compositor", "app", "streamer"]);

    // The streamer crashes: it alone comes back; the application is not touched.
    std::fs::write(app.path("crash-streamer"), "").expect("trigger");
    assert!(
        wait_for(Duration::from_secs(20), || {
            app.lines("streamer.pids").len() == 2
                && app.status().is_some_and(|s| s["ready"] == true)
        }),
        "streamer not back:\n{}",
        app.log()
    );
    assert_eq!(app.lines("app.pids").len(), 1);
    assert_eq!(app.lines("compositor.pids").len(), 1);
    let status = app.status().expect("status");
    assert_eq!(status["services"][3]["restarts"], 1);
    assert_eq!(status["services"][3]["last_exit"], "exited 1");
    assert_eq!(status["services"][2]["restarts"], 0);
    assert_eq!(status["services"][0]["restarts"], 0);

    // Stopping: the compositor goes last.
    app.signal(Signal::SIGTERM);
    assert_eq!(
        app.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        app.log()
    );
    let stopped = app.lines("stopped");
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    let at = |n: &str| stopped.iter().position(|o| o == n).expect(n);
    assert!(at("compositor") > at("app") && at("compositor") > at("streamer"));
    assert!(at("audio") > at("app"), "{stopped:?}");
}
