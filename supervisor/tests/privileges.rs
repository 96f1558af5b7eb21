//! skerry-init as root serving a separate desktop user, as in the image: what that user can
//! do to its files, its settings and its rights must never reach root.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use common::{Appliance, wait_for};

const UID: &str = "12345";
const GID: &str = "12346";

/// A service that records what it can see, then stays.
const REPORTER: &str = r#"
status_interval = 0.1
[[service]]
name = "desk"
command = ["/bin/sh", "-c", "{ id -u; echo \"preload=$LD_PRELOAD\"; echo \"home=$HOME\"; echo \"fps=$SKERRY_FPS\"; echo \"tz=$TZ\"; echo \"password=$SKERRY_AUTH_PASSWORD\"; echo \"status=$SKERRY_STATUS_FILE\"; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; } > @DIR@/desk.tmp; mv @DIR@/desk.tmp @DIR@/desk; while [ ! -e @DIR@/crash ]; do sleep 0.05; done; rm -f @DIR@/crash; exit 1"]
"#;

/// Runs a shell command as the desktop user, as a terminal in the desktop would.
fn as_desktop_user(script: &str) -> std::process::Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            UID,
            "--regid",
            GID,
            "--clear-groups",
            "/bin/sh",
            "-c",
            script,
        ])
        .output()
        .expect("setpriv (util-linux) runs")
}

fn cap_line(report: &[String], name: &str) -> u64 {
    let line = report
        .iter()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} in {report:?}"));
    u64::from_str_radix(line.split_whitespace().nth(1).expect("value"), 16).expect("hex")
}

/// CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7).
const KEPT: u64 = 0b1110_0000;

fn init_caps(app: &Appliance) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{}/status", app.init_pid))
        .expect("init's status")
        .lines()
        .filter(|l| l.starts_with("Cap"))
        .map(str::to_string)
        .collect()
}

#[test]
fn root_never_writes_in_the_desktop_users_runtime_directory() {
    let app = Appliance::start(REPORTER, &[("PUID", UID), ("PGID", GID)]);
    assert!(
        wait_for(Duration::from_secs(10), || app.status().is_some()),
        "{}",
        app.log()
    );
    // A file of root's that the desktop user would like to destroy.
    let victim = app.path("victim");
    std::fs::write(&victim, "root's\n").expect("victim");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // Everything the desktop user can do in its own runtime directory: move away whatever
    // is there, and plant links under every name root could write.
    let run = app.path("run");
    let out = as_desktop_user(&format!(
        "cd {run} && {{ [ ! -e skerry ] || mv skerry skerry.old; }} && mkdir skerry && \
         for n in status.json status.json.tmp notify; do ln -s {victim} skerry/$n; done",
        run = run.display(),
        victim = victim.display()
    ));
    assert!(out.status.success(), "{out:?}");
    let first = app.status().expect("status")["uptime_s"].clone();
    // The status file is rewritten every 0.1 s; give it many chances.
    assert!(
        wait_for(Duration::from_secs(5), || app
            .status()
            .is_some_and(|s| s["uptime_s"] != first)),
        "the status file is no longer written:\n{}",
        app.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "root's\n"
    );
    let meta = std::fs::metadata(&victim).expect("victim");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    // The services are told where the status really is: root's folder, not the user's.
    assert!(wait_for(Duration::from_secs(5), || !app
        .read("desk")
        .is_empty()));
    assert!(
        app.lines("desk")
            .contains(&"status=/run/skerry/status.json".to_string()),
        "{:?}",
        app.lines("desk")
    );
    let own = std::fs::metadata(app.path("sysrun/skerry")).expect("state dir");
    assert_eq!((own.uid(), own.mode() & 0o7777), (0, 0o755));
}

#[test]
fn a_state_folder_the_desktop_user_could_change_is_refused() {
    // /run/skerry already exists and belongs to the desktop user: skerry-init starts nothing.
    let mut app = Appliance::start_prepared(REPORTER, &[("PUID", UID), ("PGID", GID)], |dir| {
        let own = dir.join("sysrun/skerry");
        std::fs::create_dir_all(&own).expect("mkdir");
        std::os::unix::fs::chown(&own, Some(12345), Some(12346)).expect("chown");
    });
    assert_eq!(
        app.wait_exit(Duration::from_secs(10)),
        Some(71),
        "{}",
        app.log()
    );
    assert!(
        app.log().contains("/run/skerry is owned by uid 12345"),
        "{}",
        app.log()
    );
    assert!(app.read("desk").is_empty());
}

#[test]
fn after_start_root_keeps_only_the_rights_to_start_and_signal_services() {
    let mut app = Appliance::start(REPORTER, &[("PUID", UID), ("PGID", GID)]);
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("desk").is_empty()),
        "{}",
        app.log()
    );
    let init = init_caps(&app);
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(cap_line(&init, set), KEPT, "{set}: {init:?}");
    }
    assert_eq!(cap_line(&init, "CapInh"), 0, "{init:?}");
    assert_eq!(cap_line(&init, "CapAmb"), 0, "{init:?}");
    // The desktop user's processes have none, and no exec can give them more than the bound.
    let desk = app.lines("desk");
    assert_eq!(desk[0], UID);
    assert_eq!(cap_line(&desk, "CapEff"), 0, "{desk:?}");
    assert_eq!(cap_line(&desk, "CapPrm"), 0, "{desk:?}");
    assert_eq!(cap_line(&desk, "CapBnd"), KEPT, "{desk:?}");
    assert!(app.log().contains("capabilities: kept"), "{}", app.log());

    // Keeping fewer rights still lets it restart a service as that user, and stop them all.
    std::fs::remove_file(app.path("desk")).expect("rm");
    std::fs::write(app.path("crash"), "").expect("crash");
    assert!(
        wait_for(Duration::from_secs(20), || !app.read("desk").is_empty()),
        "the service did not come back:\n{}",
        app.log()
    );
    assert!(wait_for(Duration::from_secs(5), || app
        .status()
        .is_some_and(|s| s["services"][0]["restarts"] == 1)));
    app.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        app.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        app.log()
    );
}

#[test]
fn a_root_desktop_keeps_roots_rights() {
    let app = Appliance::start(REPORTER, &[("PUID", "0")]);
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("desk").is_empty()),
        "{}",
        app.log()
    );
    let init = init_caps(&app);
    assert_ne!(cap_line(&init, "CapBnd"), KEPT, "{init:?}");
    assert!(app.lines("desk").contains(&format!(
        "status={}",
        app.path("run/skerry/status.json").display()
    )));
}

#[test]
fn a_settings_file_the_desktop_user_writes_cannot_change_who_runs_what() {
    let app = Appliance::start_prepared(
        REPORTER,
        &[
            ("PUID", UID),
            ("PGID", GID),
            ("SKERRY_USER_SETTINGS", "@DIR@/config/skerry.env"),
            ("TZ", "Etc/UTC"),
        ],
        |dir| {
            // The image's layout: /config is the desktop user's home, the file in it theirs.
            let config = dir.join("config");
            std::fs::create_dir_all(&config).expect("mkdir");
            std::fs::write(
                config.join("skerry.env"),
                "PUID=0\nPGID=0\nLD_PRELOAD=/config/evil.so\nSKERRY_HOME=/home/../etc\n\
                 SKERRY_AUTH_PASSWORD=taken-over\nSKERRY_CONFIG=/config/evil.toml\n\
                 SKERRY_FPS=50\nTZ=Europe/Paris\n",
            )
            .expect("settings");
            std::os::unix::fs::chown(config.join("skerry.env"), Some(12345), Some(12346))
                .expect("chown");
        },
    );
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("desk").is_empty()),
        "{}",
        app.log()
    );
    let desk = app.lines("desk");
    let home = format!("home={}", app.path("home").display());
    for want in [
        UID,
        "preload=",
        home.as_str(),
        "fps=50",
        // The environment skerry-init was given wins over the user's file.
        "tz=Etc/UTC",
        "password=",
    ] {
        assert!(desk.iter().any(|l| l == want), "{want}: {desk:?}");
    }
    let log = app.log();
    for key in [
        "PUID",
        "PGID",
        "LD_PRELOAD",
        "SKERRY_HOME",
        "SKERRY_AUTH_PASSWORD",
        "SKERRY_CONFIG",
    ] {
        assert!(log.contains(&format!(": {key} is ignored")), "{key}: {log}");
    }
    assert!(!log.contains("taken-over"), "{log}");
}

#[test]
fn a_bad_value_in_the_users_settings_file_is_dropped_not_fatal() {
    let app = Appliance::start_prepared(
        REPORTER,
        &[
            ("PUID", UID),
            ("PGID", GID),
            ("SKERRY_USER_SETTINGS", "@DIR@/config/skerry.env"),
        ],
        |dir| {
            std::fs::create_dir_all(dir.join("config")).expect("mkdir");
            std::fs::write(
                dir.join("config/skerry.env"),
                "SKERRY_FPS=fast\nTZ=Europe/Paris\n",
            )
            .expect("settings");
        },
    );
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("desk").is_empty()),
        "{}",
        app.log()
    );
    let desk = app.lines("desk");
    assert!(desk.contains(&"fps=".to_string()), "{desk:?}");
    assert!(desk.contains(&"tz=Europe/Paris".to_string()), "{desk:?}");
    assert!(
        app.log().contains("SKERRY_FPS=\"fast\"") && app.log().contains("ignored"),
        "{}",
        app.log()
    );
}

#[test]
fn the_streamers_keys_are_in_a_folder_the_desktop_user_cannot_enter_or_replace() {
    let toml = r#"
[[service]]
name = "streamer"
command = ["/bin/sh", "-c", "echo \"dir=$SKERRY_CONFIG_DIR\" > @DIR@/s.tmp; id -G >> @DIR@/s.tmp; echo signing-key > \"$SKERRY_CONFIG_DIR/key\" && echo wrote >> @DIR@/s.tmp; mv @DIR@/s.tmp @DIR@/s; while [ ! -e @DIR@/crash ]; do sleep 0.05; done; rm -f @DIR@/crash; exit 1"]
[[service]]
name = "desk"
command = ["/bin/sh", "-c", "sleep 1000"]
"#;
    let app = Appliance::start_prepared(toml, &[("PUID", UID), ("PGID", GID)], |dir| {
        // Something of the user's already where the folder goes: a link to its own folder.
        let home = dir.join("home");
        std::fs::create_dir_all(home.join("mine")).expect("mkdir");
        std::os::unix::fs::symlink(home.join("mine"), home.join(".skerry")).expect("symlink");
    });
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("s").is_empty()),
        "{}",
        app.log()
    );
    let report = app.lines("s");
    assert!(report[0].starts_with("dir=/proc/self/fd/"), "{report:?}");
    assert_eq!(
        report.get(2).map(String::as_str),
        Some("wrote"),
        "{report:?}"
    );
    let folder = app.path("home/.skerry");
    let meta = std::fs::symlink_metadata(&folder).expect("the folder");
    assert!(meta.is_dir(), "the user's link was not moved aside");
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o770));
    // The streamer has the folder's group; the desktop user has not.
    assert!(
        report[1]
            .split_whitespace()
            .any(|g| g == meta.gid().to_string()),
        "{report:?}"
    );
    assert_ne!(meta.gid(), 12346);
    assert_eq!(
        std::fs::read_to_string(folder.join("key")).expect("key"),
        "signing-key\n"
    );
    assert!(app.path("home/mine").is_dir() && !app.path("home/mine/key").exists());
    // The desktop user can neither read the key nor list the folder.
    let out = as_desktop_user(&format!("cat {f}/key; ls {f}", f = folder.display()));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("signing-key"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );
    // Moving it away and planting one of its own does not reach a restarted streamer.
    let out = as_desktop_user(&format!(
        "cd {h} && mv .skerry .skerry.gone && mkdir .skerry && echo forged > .skerry/key",
        h = app.path("home").display()
    ));
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_file(app.path("s")).expect("rm");
    std::fs::write(app.path("crash"), "").expect("crash");
    assert!(
        wait_for(Duration::from_secs(20), || !app.read("s").is_empty()),
        "the streamer did not come back:\n{}",
        app.log()
    );
    assert_eq!(
        std::fs::read_to_string(app.path("home/.skerry/key")).expect("the user's"),
        "forged\n",
        "the streamer wrote into the user's folder"
    );
    assert_eq!(
        std::fs::read_to_string(app.path("home/.skerry.gone/key")).expect("the real one"),
        "signing-key\n"
    );
}
