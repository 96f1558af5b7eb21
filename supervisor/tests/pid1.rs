//! The real `skerry-init` as PID 1 of a PID namespace, supervising small shell services.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Appliance, wait_for};
use nix::sys::signal::Signal;

/// A service that logs its start to `@DIR@/started` and its SIGTERM to `@DIR@/order`.
fn polite(name: &str, after: &[&str]) -> String {
    let after: Vec<String> = after.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"
[[service]]
name = "{name}"
after = [{after}]
command = ["/bin/sh", "-c", "trap 'echo {name} >> @DIR@/order; exit 0' TERM; echo {name} >> @DIR@/started; while :; do sleep 0.05; done"]
"#,
        after = after.join(", ")
    )
}

#[test]
fn orphaned_grandchildren_are_reaped() {
    let toml = r#"
[[service]]
name = "parent"
command = ["/bin/sh", "-c", "for i in 1 2 3 4 5; do (sh -c 'echo $$ >> @DIR@/orphans; exec sleep 0.3' &); done; exec sleep 1000"]
"#;
    let app = Appliance::start(toml, &[("PUID", "0")]);
    assert!(
        wait_for(Duration::from_secs(10), || app.lines("orphans").len() == 5),
        "the service did not start its grandchildren:\n{}",
        app.log()
    );
    let proc_dir = app.ns_proc();
    // Their parent subshells are gone at once: the grandchildren belong to PID 1 now.
    let orphans = app.lines("orphans");
    for pid in &orphans {
        if let Ok(stat) = std::fs::read_to_string(proc_dir.join(pid).join("stat")) {
            let ppid = stat[stat.rfind(')').expect("stat") + 1..]
                .split_whitespace()
                .nth(1)
                .expect("ppid")
                .to_string();
            assert_eq!(ppid, "1", "grandchild {pid} was not re-parented to PID 1");
        }
    }
    // Once they end, nothing of them is left: not even a zombie.
    let gone = wait_for(Duration::from_secs(10), || {
        orphans.iter().all(|p| !proc_dir.join(p).exists())
    });
    assert!(
        gone,
        "orphans still in /proc (zombies: {:?}):\n{}",
        app.zombies(),
        app.log()
    );
    assert!(app.zombies().is_empty(), "zombies: {:?}", app.zombies());
    // The service itself is untouched.
    let status = app.status().expect("status file");
    assert_eq!(status["services"][0]["state"], "running");
    assert_eq!(status["services"][0]["restarts"], 0);
}

#[test]
fn sigterm_stops_everything_in_reverse_order() {
    let toml = format!(
        "grace_period = 8\nstatus_interval = 0.2\n{}{}{}",
        polite("a", &[]),
        polite("b", &["a"]),
        polite("c", &["b"])
    );
    let mut app = Appliance::start(&toml, &[("PUID", "0")]);
    // Ready, and the periodic refresh has filled in every service's memory use.
    let all_measured = |s: &serde_json::Value| {
        s["services"].as_array().is_some_and(|v| {
            v.iter()
                .all(|s| s["rss_bytes"].as_u64().is_some_and(|r| r > 0))
        })
    };
    assert!(
        wait_for(Duration::from_secs(10), || {
            app.lines("started").len() == 3
                && app
                    .status()
                    .is_some_and(|s| s["ready"] == true && all_measured(&s))
        }),
        "not ready:\n{}",
        app.log()
    );
    // Without a readiness protocol a service is ready once started, so b and c may write
    // their line in either order; the start order itself is tested with notify services.
    let mut started = app.lines("started");
    started.sort();
    assert_eq!(started, ["a", "b", "c"]);
    let status = app.status().expect("status");
    assert_eq!(status["version"], 1);
    assert_eq!(status["state"], "running");
    for s in status["services"].as_array().expect("services") {
        assert_eq!(s["state"], "running");
        assert!(s["pid"].as_i64().is_some_and(|p| p > 1), "{s}");
        assert!(s["rss_bytes"].as_u64().is_some_and(|r| r > 0), "{s}");
        assert!(s["cpu_seconds"].as_f64().is_some(), "{s}");
    }
    let begin = Instant::now();
    app.signal(Signal::SIGTERM);
    let code = app.wait_exit(Duration::from_secs(20));
    let took = begin.elapsed();
    assert_eq!(code, Some(0), "exit code; log:\n{}", app.log());
    assert_eq!(app.lines("order"), ["c", "b", "a"], "{}", app.log());
    // Nobody needed SIGKILL (exit code 0, not 5): all within the grace period.
    assert!(took < Duration::from_secs(8), "stopping took {took:?}");
    let status = app.status().expect("final status");
    assert_eq!(status["state"], "stopping");
    assert_eq!(status["ready"], false);
}

#[test]
fn a_service_ignoring_sigterm_is_killed_after_the_grace_period() {
    let toml = r#"
grace_period = 0.5
[[service]]
name = "stubborn"
command = ["/bin/sh", "-c", "trap '' TERM; echo up > @DIR@/up; while :; do sleep 0.05; done"]
"#;
    let mut app = Appliance::start(toml, &[("PUID", "0")]);
    assert!(wait_for(Duration::from_secs(10), || !app
        .read("up")
        .is_empty()));
    app.signal(Signal::SIGINT);
    let code = app.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(5), "exit code; log:\n{}", app.log());
    assert!(app.log().contains("sending SIGKILL"), "{}", app.log());
}

#[test]
fn a_crashing_service_restarts_with_growing_delays() {
    let toml = r#"
restart_delay = 0.2
restart_delay_max = 10
[[service]]
name = "crasher"
command = ["/bin/sh", "-c", "date +%s.%N >> @DIR@/times; exit 1"]
[[service]]
name = "steady"
command = ["/bin/sh", "-c", "echo $$ >> @DIR@/steady; exec sleep 1000"]
"#;
    let mut app = Appliance::start(toml, &[("PUID", "0")]);
    assert!(
        wait_for(Duration::from_secs(20), || app.lines("times").len() >= 5),
        "restarts:\n{}\n{}",
        app.read("times"),
        app.log()
    );
    let times: Vec<f64> = app.lines("times")[..5]
        .iter()
        .map(|t| t.parse().expect("timestamp"))
        .collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Delays of 0.2, 0.4, 0.8, 1.6 s: a busy machine can only lengthen a gap, so each gap
    // is at least its delay, and the last is clearly longer than the first.
    for (i, gap) in gaps.iter().enumerate() {
        let delay = 0.2 * f64::from(1u32 << i);
        assert!(
            *gap >= delay - 0.02,
            "gap {i} shorter than {delay} s: {gaps:?}"
        );
    }
    assert!(gaps[3] > gaps[0] * 2.0, "gaps do not grow: {gaps:?}");
    // The other service was never disturbed.
    assert_eq!(app.lines("steady").len(), 1);
    let status = app.status().expect("status");
    assert!(
        status["services"][0]["restarts"]
            .as_u64()
            .expect("restarts")
            >= 4
    );
    assert_eq!(status["services"][0]["last_exit"], "exited 1");
    app.signal(Signal::SIGTERM);
    assert_eq!(
        app.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        app.log()
    );
}

#[test]
fn a_failing_critical_service_ends_the_appliance() {
    let toml = format!(
        r#"
restart_delay = 0.05
restart_limit = 2
[[service]]
name = "compositor"
critical = true
command = ["/bin/sh", "-c", "echo run >> @DIR@/runs; sleep 0.1; exit 7"]
{}"#,
        polite("app", &["compositor"])
    );
    let mut app = Appliance::start(&toml, &[("PUID", "0")]);
    let code = app.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(3), "exit code; log:\n{}", app.log());
    // The first run and two restarts.
    assert_eq!(app.lines("runs").len(), 3, "{}", app.log());
    assert!(
        app.log().contains("critical service failed too often"),
        "{}",
        app.log()
    );
    let status = app.status().expect("status");
    assert_eq!(status["services"][0]["state"], "failed");
}

#[test]
fn children_run_as_the_configured_user_with_gpu_groups() {
    let toml = r#"
[[service]]
name = "who"
command = ["/bin/sh", "-c", "{ id -u; id -g; id -G; echo $HOME; echo $USER; echo $XDG_RUNTIME_DIR; echo $WAYLAND_DISPLAY; echo $NOTIFY_SOCKET; echo $SKERRY_STATUS_FILE; echo $SKERRY_GPU; echo ${WATCHDOG_USEC:-none}; } > @DIR@/id.tmp; mv @DIR@/id.tmp @DIR@/id; exec sleep 1000"]
"#;
    // A fake render node owned by a group the user must get as a supplementary group.
    let node_dir = tempfile::tempdir().expect("tempdir");
    let node = node_dir.path().join("renderD128");
    std::fs::write(&node, "").expect("node");
    std::os::unix::fs::chown(&node, None, Some(4242)).expect("chown");
    let node_s = node.display().to_string();
    let app = Appliance::start(
        toml,
        &[
            ("PUID", "12345"),
            ("PGID", "12346"),
            ("SKERRY_GPU", &node_s),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    assert!(
        wait_for(Duration::from_secs(10), || !app.read("id").is_empty()),
        "{}",
        app.log()
    );
    let d = app.dir.path().display().to_string();
    assert_eq!(
        app.lines("id"),
        [
            "12345".to_string(),
            "12346".into(),
            "12346 4242".into(),
            format!("{d}/home"),
            "skerry".into(),
            format!("{d}/run"),
            "skerry-0".into(),
            "/run/skerry/notify".to_string(),
            "/run/skerry/status.json".to_string(),
            node_s.clone(),
            "none".into(),
        ],
        "{}",
        app.log()
    );
    // The service (now `sleep`) has no signal blocked or ignored: nothing leaked from the
    // supervisor's signalfd setup.
    let pid = app.status().expect("status")["services"][0]["pid"]
        .as_i64()
        .expect("pid");
    let proc_dir = app.ns_proc().join(pid.to_string());
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(proc_dir.join("comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let proc_status = std::fs::read_to_string(proc_dir.join("status")).expect("status");
    for field in ["SigBlk", "SigIgn"] {
        let line = proc_status
            .lines()
            .find(|l| l.starts_with(field))
            .expect("field");
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
    let run = std::fs::metadata(app.path("run")).expect("runtime dir");
    assert_eq!(
        (run.uid(), run.gid(), run.mode() & 0o7777),
        (12345, 12346, 0o700)
    );
    let home = std::fs::metadata(app.path("home")).expect("home");
    assert_eq!((home.uid(), home.gid()), (12345, 12346));
    // The account went into the namespace's /etc overlay, not the host's.
    let passwd = std::fs::read_to_string(app.path("ov/up/passwd")).expect("overlay passwd");
    assert!(passwd.contains(&format!("skerry:x:12345:12346:Skerry:{d}/home:/bin/sh")));
    let host = std::fs::read_to_string("/etc/passwd").expect("passwd");
    assert!(!host.contains(&format!("{d}/home")));
}

#[test]
fn readiness_comes_from_the_notify_socket() {
    let toml = r#"
[[service]]
name = "server"
notify = true
command = ["/usr/bin/python3", "-c", "import os, socket, time; time.sleep(0.3); open('@DIR@/log', 'a').write('server ready\\n'); s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1\\nDISPLAY=:5', os.environ['NOTIFY_SOCKET']); os.execvp('sleep', ['sleep', '1000'])"]
[[service]]
name = "client"
after = ["server"]
command = ["/bin/sh", "-c", "echo \"client started with DISPLAY=$DISPLAY\" >> @DIR@/log; exec sleep 1000"]
"#;
    let app = Appliance::start(toml, &[("PUID", "0")]);
    assert!(
        wait_for(Duration::from_secs(10), || app.lines("log").len() == 2),
        "{}\n{}",
        app.read("log"),
        app.log()
    );
    assert_eq!(
        app.lines("log"),
        ["server ready", "client started with DISPLAY=:5"]
    );
    assert!(wait_for(Duration::from_secs(10), || {
        app.status()
            .is_some_and(|s| s["ready"] == true && s["services"][0]["ready"] == true)
    }));
}

#[test]
fn an_invalid_configuration_starts_nothing_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("skerry.toml");
    std::fs::write(
        &config,
        "fps = 1000\n[[service]]\nname = \"x\"\ncommand = \"/no/such/program\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skerry-init"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SKERRY_CONFIG", &config)
        .env("SKERRY_SCALE", "huge")
        .env("PUID", "abc")
        .env("SKERRY_RUNTIME_DIR", dir.path().join("run"))
        .output()
        .expect("run skerry-init");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    // Settings and the service list, all in one report.
    for part in [
        "4 problems",
        "fps in ",
        "SKERRY_SCALE=\"huge\"",
        "PUID=\"abc\"",
        "program \"/no/such/program\" not found",
    ] {
        assert!(err.contains(part), "missing {part:?} in:\n{err}");
    }
    assert!(
        !Path::new(&dir.path().join("run")).exists(),
        "something was prepared"
    );
}

#[test]
fn tells_an_outer_service_manager_and_keeps_its_socket_from_children() {
    let outer_dir = tempfile::tempdir().expect("tempdir");
    let outer_path = outer_dir.path().join("systemd-notify");
    let outer = std::os::unix::net::UnixDatagram::bind(&outer_path).expect("bind");
    outer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let toml = r#"
[[service]]
name = "svc"
command = ["/bin/sh", "-c", "echo \"$NOTIFY_SOCKET ${WATCHDOG_USEC:-unset}\" > @DIR@/env; exec sleep 1000"]
"#;
    let outer_s = outer_path.display().to_string();
    let mut app = Appliance::start(
        toml,
        &[
            ("PUID", "0"),
            ("NOTIFY_SOCKET", &outer_s),
            // skerry-init is PID 1 in its namespace, and that is the pid it checks.
            ("WATCHDOG_PID", "1"),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !(seen.iter().any(|m: &String| m.contains("READY=1"))
        && seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        let n = outer
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("outer socket: {e}; got {seen:?}\n{}", app.log()));
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        seen.iter().any(|m| m.contains("STATUS=running")),
        "{seen:?}"
    );
    let d = app.dir.path().display().to_string();
    assert!(wait_for(Duration::from_secs(10), || !app
        .read("env")
        .is_empty()));
    assert_eq!(
        app.read("env").trim(),
        format!("{d}/run/skerry/notify unset")
    );
    app.signal(Signal::SIGTERM);
    assert_eq!(
        app.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        app.log()
    );
    let mut stopping = false;
    while let Ok(n) = outer.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1");
}

#[test]
fn sighup_is_passed_to_every_service() {
    let toml = r#"
[[service]]
name = "one"
command = ["/bin/sh", "-c", "trap 'echo one >> @DIR@/hup' HUP; echo > @DIR@/up1; while :; do sleep 0.05; done"]
[[service]]
name = "two"
command = ["/bin/sh", "-c", "trap 'echo two >> @DIR@/hup' HUP; echo > @DIR@/up2; while :; do sleep 0.05; done"]
"#;
    let app = Appliance::start(toml, &[("PUID", "0")]);
    assert!(wait_for(Duration::from_secs(10), || {
        !app.read("up1").is_empty() && !app.read("up2").is_empty()
    }));
    app.signal(Signal::SIGHUP);
    assert!(
        wait_for(Duration::from_secs(10), || app.lines("hup").len() == 2),
        "{}",
        app.log()
    );
    let mut got = app.lines("hup");
    got.sort();
    assert_eq!(got, ["one", "two"]);
    // Forwarded, not a stop: both keep running.
    let status = app.status().expect("status");
    assert!(
        status["services"]
            .as_array()
            .expect("services")
            .iter()
            .all(|s| s["state"] == "running")
    );
}

#[test]
fn a_service_is_ready_when_its_socket_appears_not_before() {
    let toml = r#"
[[service]]
name = "server"
ready_path = "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY"
command = ["/usr/bin/python3", "-c", "import os, socket, time; time.sleep(0.3); open('@DIR@/log', 'a').write('server listening\\n'); s = socket.socket(socket.AF_UNIX); s.bind(os.environ['XDG_RUNTIME_DIR'] + '/' + os.environ['WAYLAND_DISPLAY']); s.listen(); time.sleep(1000)"]
[[service]]
name = "client"
after = ["server"]
command = ["/bin/sh", "-c", "echo client started >> @DIR@/log; exec sleep 1000"]
"#;
    // A socket left over from an earlier run is in the way; it must not count.
    let app = Appliance::start_prepared(
        toml,
        &[("PUID", "0"), ("SKERRY_WAYLAND_DISPLAY", "wayland-test")],
        |dir| {
            std::fs::create_dir_all(dir.join("run")).expect("mkdir");
            drop(
                std::os::unix::net::UnixListener::bind(dir.join("run/wayland-test")).expect("bind"),
            );
        },
    );
    assert!(
        wait_for(Duration::from_secs(10), || app.lines("log").len() == 2),
        "{}\n{}",
        app.read("log"),
        app.log()
    );
    assert_eq!(app.lines("log"), ["server listening", "client started"]);
}
