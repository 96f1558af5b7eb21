//! Configuration: defaults, environment over file, and every bad value reported at once,
//! one line each.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use skerry_init::config::{Config, ConfigError, GpuChoice};
use skerry_init::machine::RestartPolicy;
use skerry_init::services::{self, CommandLine};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(pairs: &[(&str, &str)], file: Option<&str>) -> Result<Config, Vec<ConfigError>> {
    let path = Path::new("/etc/skerry/skerry.toml");
    Config::parse(&env(pairs), file.map(|t| (path, t))).map_err(|e| e.0)
}

fn errors(pairs: &[(&str, &str)], file: Option<&str>) -> Vec<String> {
    match parse(pairs, file) {
        Ok(_) => panic!("expected errors for {pairs:?} {file:?}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn defaults_when_nothing_is_set() {
    let c = parse(&[], None).expect("valid");
    assert_eq!(c.app, ["foot"]);
    assert!(!c.app_set);
    // The full desktop, with a terminal, unless told otherwise.
    assert!(c.desktop);
    assert_eq!((c.puid, c.pgid), (None, None));
    assert_eq!(c.user, "skerry");
    assert_eq!(c.tz, "Etc/UTC");
    assert_eq!(c.wayland_display, "skerry-0");
    assert_eq!(c.x_display, ":0");
    assert_eq!(c.gpu, GpuChoice::Auto);
    assert_eq!(c.timing.grace, Duration::from_secs(10));
    assert_eq!(c.timing.backoff_initial, Duration::from_millis(500));
    assert_eq!(c.timing.backoff_max, Duration::from_secs(30));
    assert_eq!(c.timing.restart_limit, 10);
    assert_eq!(c.timing.restart_window, Duration::from_secs(60));
    assert_eq!(c.ready_timeout, None);
    assert_eq!(c.status_interval, Duration::from_secs(5));
    assert!(c.services.is_none());
    assert!(c.exports.is_empty());
}

#[test]
fn environment_wins_over_the_file() {
    let file = r#"
        app = "xterm -fa Mono"
        puid = 2000
        pgid = 2001
        grace_period = 3
        restart_delay = 0.25
        fps = 30
        resolution = "1280x720"
    "#;
    let c = parse(
        &[
            ("PUID", "3000"),
            ("SKERRY_FPS", "50"),
            ("SKERRY_APP", "chromium --kiosk 'https://example.org/a b'"),
        ],
        Some(file),
    )
    .expect("valid");
    assert_eq!(c.app, ["chromium", "--kiosk", "https://example.org/a b"]);
    // Naming only an application makes it fill the screen.
    assert!(c.app_set && !c.desktop);
    assert_eq!(c.puid, Some(3000));
    assert_eq!(c.pgid, Some(2001));
    assert_eq!(c.timing.grace, Duration::from_secs(3));
    assert_eq!(c.timing.backoff_initial, Duration::from_millis(250));
    // The file's component settings reach the children; the environment's already do.
    assert_eq!(
        c.exports,
        [("SKERRY_RESOLUTION".to_string(), "1280x720".to_string())]
    );
}

#[test]
fn each_bad_value_is_one_clear_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "SKERRY_FPS",
            "sixty",
            "SKERRY_FPS=\"sixty\": expected a whole number of frames per second from 1 to 240",
        ),
        (
            "SKERRY_FPS",
            "0",
            "SKERRY_FPS=\"0\": expected a whole number",
        ),
        (
            "SKERRY_RESOLUTION",
            "1920*1080",
            "SKERRY_RESOLUTION=\"1920*1080\": expected WIDTHxHEIGHT",
        ),
        (
            "SKERRY_SCALE",
            "9",
            "SKERRY_SCALE=\"9\": expected a scale factor",
        ),
        (
            "SKERRY_PORT",
            "70000",
            "SKERRY_PORT=\"70000\": expected a TCP port",
        ),
        (
            "SKERRY_BIND",
            "localhost",
            "SKERRY_BIND=\"localhost\": expected an IP address",
        ),
        (
            "SKERRY_TLS",
            "maybe",
            "SKERRY_TLS=\"maybe\": expected on or off",
        ),
        (
            "SKERRY_DESKTOP",
            "2",
            "SKERRY_DESKTOP=\"2\": expected on or off",
        ),
        ("PUID", "-1", "PUID=\"-1\": expected a numeric user id"),
        (
            "PGID",
            "staff",
            "PGID=\"staff\": expected a numeric group id",
        ),
        (
            "SKERRY_GRACE_PERIOD",
            "10s",
            "SKERRY_GRACE_PERIOD=\"10s\": expected a number of seconds",
        ),
        (
            "SKERRY_STATUS_INTERVAL",
            "0",
            "SKERRY_STATUS_INTERVAL=\"0\": expected a number of seconds from 0.1",
        ),
        (
            "SKERRY_RESTART_LIMIT",
            "many",
            "SKERRY_RESTART_LIMIT=\"many\": expected a whole number of restarts",
        ),
        ("SKERRY_APP", "", "SKERRY_APP=\"\": expected a command line"),
        (
            "SKERRY_APP",
            "foot 'unclosed",
            "SKERRY_APP=\"foot 'unclosed\": expected a command line",
        ),
        (
            "SKERRY_HOME",
            "config",
            "SKERRY_HOME=\"config\": expected an absolute path",
        ),
        // Compared with the system's folders once `..` is resolved.
        (
            "SKERRY_HOME",
            "/home/../etc",
            "SKERRY_HOME=\"/home/../etc\": expected an absolute path outside the system's folders",
        ),
        (
            "SKERRY_RUNTIME_DIR",
            "/usr/./../run",
            "SKERRY_RUNTIME_DIR=\"/usr/./../run\": expected an absolute path outside the system's folders",
        ),
        (
            "SKERRY_GPU",
            "nvidia",
            "SKERRY_GPU=\"nvidia\": expected auto, none, or the path",
        ),
        (
            "SKERRY_X_DISPLAY",
            "0",
            "SKERRY_X_DISPLAY=\"0\": expected an X display",
        ),
        (
            "SKERRY_WAYLAND_DISPLAY",
            "a/b",
            "SKERRY_WAYLAND_DISPLAY=\"a/b\": expected a socket name",
        ),
        (
            "SKERRY_USER",
            "Root User",
            "SKERRY_USER=\"Root User\": expected a user name",
        ),
    ];
    for (key, value, message) in cases {
        let errs = errors(&[(key, value)], None);
        assert_eq!(errs.len(), 1, "{key}={value}: {errs:?}");
        assert!(
            errs[0].starts_with(message),
            "{key}={value}: got {:?}, expected it to start with {message:?}",
            errs[0]
        );
        assert!(!errs[0].contains('\n'), "one line: {:?}", errs[0]);
    }
}

#[test]
fn several_bad_values_are_all_reported() {
    let file = r#"
        scale = "big"
        colour = "blue"
        restart_window = -4
    "#;
    let errs = errors(
        &[
            ("SKERRY_FPS", "fast"),
            ("PUID", "me"),
            ("SKERRY_TLS_CERT", "/etc/cert.pem"),
        ],
        Some(file),
    );
    let joined = errs.join("\n");
    assert_eq!(errs.len(), 6, "{joined}");
    for part in [
        "SKERRY_FPS=\"fast\"",
        "PUID=\"me\"",
        "scale in /etc/skerry/skerry.toml=\"big\"",
        "unknown setting \"colour\"",
        "restart_window in /etc/skerry/skerry.toml=\"-4\"",
        "SKERRY_TLS_CERT and SKERRY_TLS_KEY must be given together",
    ] {
        assert!(joined.contains(part), "missing {part:?} in:\n{joined}");
    }
    let whole = Config::parse(&env(&[("SKERRY_FPS", "fast"), ("PUID", "me")]), None)
        .expect_err("invalid")
        .to_string();
    assert!(
        whole.starts_with("invalid configuration (2 problems):"),
        "{whole}"
    );
}

#[test]
fn a_broken_file_is_reported_with_its_name() {
    let errs = errors(&[], Some("app = \"foot"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("/etc/skerry/skerry.toml: "), "{errs:?}");
}

#[test]
fn missing_default_file_is_fine_but_a_named_one_must_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let err = Config::from_env(&env(&[("SKERRY_CONFIG", missing.to_str().expect("utf-8"))]))
        .expect_err("named file missing");
    assert!(err.to_string().contains("cannot read"), "{err}");
    let file = dir.path().join("skerry.toml");
    std::fs::write(&file, "desktop = true\n").expect("write");
    let c =
        Config::from_env(&env(&[("SKERRY_CONFIG", file.to_str().expect("utf-8"))])).expect("valid");
    assert!(c.desktop);
    assert_eq!(c.file.as_deref(), Some(file.as_path()));
}

#[test]
fn service_tables_replace_the_default_list() {
    let file = r#"
        [[service]]
        name = "first"
        command = ["/bin/sh", "-c", "exit 0"]
        notify = true
        critical = true

        [[service]]
        name = "second"
        command = "/bin/sh -c 'sleep 1'"
        after = ["first"]
        restart = "on-failure"
        ready_timeout = 5
    "#;
    let c = parse(&[], Some(file)).expect("valid");
    let list = c.services.clone().expect("service list");
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[1].command,
        CommandLine::Shell("/bin/sh -c 'sleep 1'".into())
    );
    let mut errs = Vec::new();
    let specs = services::plan(&c, None, "/usr/bin:/bin", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(specs[0].program, Path::new("/bin/sh"));
    assert!(specs[0].plan.critical && !specs[0].plan.ready_on_start);
    assert_eq!(specs[1].args, ["-c", "sleep 1"]);
    assert_eq!(specs[1].plan.after, [0]);
    assert_eq!(specs[1].plan.restart, RestartPolicy::OnFailure);
    assert_eq!(specs[1].plan.ready_timeout, Some(Duration::from_secs(5)));
    assert!(specs[1].plan.ready_on_start);
}

#[test]
fn bad_service_lists_are_all_reported() {
    let file = r#"
        [[service]]
        name = "a"
        command = "/bin/true"
        after = ["c"]

        [[service]]
        name = "b"
        command = "no-such-program-skerry"
        after = ["ghost"]
        restart = "sometimes"

        [[service]]
        name = "c"
        command = "/bin/true"
        after = ["a"]

        [[service]]
        name = "a"
        command = ""
    "#;
    let c = parse(&[], Some(file)).expect("the file itself is valid");
    let mut errs = Vec::new();
    services::plan(&c, None, "/usr/bin:/bin", &mut errs);
    let joined = errs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for part in [
        "service \"b\": program \"no-such-program-skerry\" not found in PATH",
        "service \"b\": after \"ghost\", which is not another service",
        "service \"b\": restart \"sometimes\"",
        "service \"a\" is listed twice",
        "the command is empty",
        "in a circle: a -> c -> a",
    ] {
        assert!(joined.contains(part), "missing {part:?} in:\n{joined}");
    }
    let errs = errors(
        &[],
        Some("[[service]]\nname = \"x\"\ncommand = \"/bin/true\"\ncolour = 1\n"),
    );
    assert!(
        errs[0].contains("[[service]]: unknown field `colour`"),
        "{errs:?}"
    );
}

#[test]
fn default_services_are_the_appliance() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Binaries next to skerry-init are found first.
    for name in [
        "skerry-compositor",
        "skerry-streamer",
        "skerry-shell",
        "foot",
        "pulseaudio",
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        let mut perm = std::fs::metadata(&p).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).expect("chmod");
    }
    // One application filling the screen: no shell, the compositor told so.
    let c = parse(&[("SKERRY_APP", "foot")], None).expect("valid");
    let mut errs = Vec::new();
    let specs = services::plan(&c, Some(dir.path()), "", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let names: Vec<_> = specs.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(names, ["audio", "compositor", "app", "streamer"]);
    // The audio server starts first, waits for nothing, is ready when its socket exists.
    assert_eq!(specs[0].program, dir.path().join("pulseaudio"));
    assert!(specs[0].plan.after.is_empty() && !specs[0].plan.critical);
    assert_eq!(
        specs[0].ready_path.as_deref(),
        Some("$XDG_RUNTIME_DIR/pulse/native")
    );
    assert!(
        specs[0]
            .args
            .iter()
            .any(|a| a.contains("sink_name=skerry_out"))
    );
    assert!(
        specs[0]
            .args
            .iter()
            .any(|a| a.contains("source_name=skerry_mic"))
    );
    assert_eq!(specs[1].program, dir.path().join("skerry-compositor"));
    assert_eq!(specs[1].args, ["--single-app"]);
    assert!(specs[1].plan.critical && specs[1].notify);
    // Ready only on READY=1, which carries Xwayland's DISPLAY for the apps started after.
    assert_eq!(specs[1].ready_path, None);
    // The compositor does not wait for audio (an audio restart must not restart it);
    // the application does, so it finds the sound server when it starts.
    assert!(specs[1].plan.after.is_empty());
    assert_eq!(specs[2].plan.after, [1, 0]);
    assert!(specs[2].plan.ready_on_start && !specs[2].plan.critical);
    // A kiosk's application always comes back.
    assert_eq!(specs[2].plan.restart, RestartPolicy::Always);
    assert_eq!(specs[3].plan.after, [1]);
    assert!(specs[3].notify);
    assert_eq!(
        services::audio_server_env(std::path::Path::new("/run/user/1000")),
        "unix:/run/user/1000/pulse/native"
    );

    // Nothing set: the full desktop, the shell ready once its panel shows, then a
    // terminal that stays closed once the user closes it.
    let c = parse(&[], None).expect("valid");
    let specs = services::plan(&c, Some(dir.path()), "", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let names: Vec<_> = specs.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(names, ["audio", "compositor", "shell", "app", "streamer"]);
    assert_eq!(specs[1].args, ["--desktop"]);
    assert!(specs[2].notify && specs[2].plan.after == [1]);
    assert_eq!(specs[3].program, dir.path().join("foot"));
    assert_eq!(specs[3].plan.after, [1, 2, 0]);
    assert_eq!(specs[3].plan.restart, RestartPolicy::Never);

    // An application on the desktop: the shell too; it comes back only when it fails.
    let c = parse(&[("SKERRY_APP", "foot"), ("SKERRY_DESKTOP", "on")], None).expect("valid");
    let specs = services::plan(&c, Some(dir.path()), "", &mut errs);
    let names: Vec<_> = specs.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(names, ["audio", "compositor", "shell", "app", "streamer"]);
    assert_eq!(specs[1].args, ["--desktop"]);
    assert_eq!(specs[3].plan.after, [1, 2, 0]);
    assert_eq!(specs[3].plan.restart, RestartPolicy::OnFailure);

    // No application, desktop off: the terminal alone, filling the screen.
    let c = parse(&[("SKERRY_DESKTOP", "off")], None).expect("valid");
    let specs = services::plan(&c, Some(dir.path()), "", &mut errs);
    let names: Vec<_> = specs.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(names, ["audio", "compositor", "app", "streamer"]);
    assert_eq!(specs[1].args, ["--single-app"]);

    // Missing binaries are configuration errors naming where they were looked for.
    let c = parse(&[], None).expect("valid");
    let empty = tempfile::tempdir().expect("tempdir");
    let mut errs = Vec::new();
    services::plan(&c, Some(empty.path()), "", &mut errs);
    // pulseaudio, skerry-compositor, skerry-shell, foot, skerry-streamer.
    assert_eq!(errs.len(), 5, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .contains("\"pulseaudio\" not found next to skerry-init")
    );
    assert!(
        errs[1]
            .to_string()
            .contains("\"skerry-compositor\" not found next to skerry-init")
    );
}

#[test]
fn shell_settings_from_the_file_are_checked_and_passed_on() {
    let c = parse(
        &[],
        Some("wallpaper = \"/config/wall.png\"\ndesktop_apps = \"foot, chromium.desktop\"\n"),
    )
    .expect("valid");
    assert!(
        c.exports
            .contains(&("SKERRY_WALLPAPER".into(), "/config/wall.png".into()))
    );
    assert!(c.exports.contains(&(
        "SKERRY_DESKTOP_APPS".into(),
        "foot, chromium.desktop".into()
    )));
    let errs = errors(
        &[
            ("SKERRY_WALLPAPER", "wall.png"),
            ("SKERRY_DESKTOP_APPS", "foot,../x"),
        ],
        None,
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("SKERRY_DESKTOP_APPS")),
        "{errs:?}"
    );
}

#[test]
fn paths_are_normalised_before_they_are_used() {
    let c = parse(&[("SKERRY_HOME", "/srv/desk/../desk2/./")], None).expect("valid");
    assert_eq!(c.home.as_deref(), Some(Path::new("/srv/desk2")));
    let c = parse(&[("SKERRY_RUNTIME_DIR", "/run/user/1000/../1001")], None).expect("valid");
    assert_eq!(c.runtime_dir.as_deref(), Some(Path::new("/run/user/1001")));
}
