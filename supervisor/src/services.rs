//! The list of services: the appliance's default one, or one from the file's `[[service]]`
//! tables, resolved and checked.
//!
//! The default list is the appliance itself — compositor, (desktop shell), the application,
//! streamer — with the dependencies that let the streamer restart without touching the
//! application. Two modes: the full desktop (shell, windows, the application or a
//! terminal as the first window), the default; and one application filling the screen
//! with no shell, when only `SKERRY_APP` is given. A file-given list replaces it whole; tests use that to run small shell
//! services under the real supervisor, and custom appliances to run something else.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Config, ConfigError};
use crate::machine::{RestartPolicy, ServicePlan};

/// A `[[service]]` table from the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    /// A program and its arguments, or one string split like a shell would.
    pub command: CommandLine,
    /// Services that must be ready before this one starts.
    #[serde(default)]
    pub after: Vec<String>,
    /// When it fails too often, the appliance stops.
    #[serde(default)]
    pub critical: bool,
    /// Ready only once it sends `READY=1` on `NOTIFY_SOCKET`.
    #[serde(default)]
    pub notify: bool,
    /// Ready once this path exists (`$XDG_RUNTIME_DIR`, `$WAYLAND_DISPLAY` are expanded).
    pub ready_path: Option<String>,
    /// `always` (default), `on-failure` or `never`.
    pub restart: Option<String>,
    /// Seconds to wait for readiness before counting a failure; 0 waits forever.
    pub ready_timeout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

/// A service ready to run: what to execute and how the state machine treats it.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub plan: ServicePlan,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Readiness through the notify socket.
    pub notify: bool,
    /// Readiness through a path appearing (unexpanded).
    pub ready_path: Option<String>,
}

/// Finds `name` next to `exe_dir` first, then on `path_var`; a name with `/` is taken as is.
pub fn resolve_program(name: &str, exe_dir: Option<&Path>, path_var: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    exe_dir
        .map(|d| d.join(name))
        .into_iter()
        .chain(
            path_var
                .split(':')
                .filter(|d| !d.is_empty())
                .map(|d| Path::new(d).join(name)),
        )
        .find(|p| executable(p))
}

/// The appliance's own services, in start order.
pub fn default_services(cfg: &Config) -> Vec<ServiceConfig> {
    let svc = |name: &str, argv: Vec<String>, after: &[&str]| ServiceConfig {
        name: name.into(),
        command: CommandLine::Argv(argv),
        after: after.iter().map(|s| s.to_string()).collect(),
        critical: false,
        notify: false,
        ready_path: None,
        restart: None,
        ready_timeout: None,
    };
    let mut list = vec![ServiceConfig {
        ready_path: Some(AUDIO_SOCKET.into()),
        ..svc("audio", audio_command(), &[])
    }];
    // The compositor follows the mode the supervisor decided (an application named in the
    // file is invisible to it otherwise): one application filling the screen, or windows.
    let mode = if cfg.desktop {
        "--desktop"
    } else {
        "--single-app"
    };
    list.push(ServiceConfig {
        critical: true,
        // READY=1 comes once the Wayland socket listens and Xwayland is up, together with
        // the X display it took (`DISPLAY=:N`), so apps started after it get the right one.
        notify: true,
        ..svc(
            "compositor",
            vec!["skerry-compositor".into(), mode.into()],
            &[],
        )
    });
    let mut app_after = vec!["compositor"];
    let mut app_restart = None;
    if cfg.desktop {
        list.push(ServiceConfig {
            // Ready once its panel is on screen (it reserves the panel's strip), so the
            // first window is placed above the panel rather than moved there later.
            notify: true,
            ready_timeout: Some(SHELL_READY_TIMEOUT),
            ..svc("shell", vec!["skerry-shell".into()], &["compositor"])
        });
        app_after.push("shell");
        // On a desktop the user closes windows and opens them again from the menu: the
        // default terminal is a convenience that stays closed once closed, a named
        // application comes back only when it fails.
        app_restart = Some(if cfg.app_set { "on-failure" } else { "never" }.to_string());
    }
    // Applications find the sound server when they start; the compositor and the streamer
    // do not wait for it (the streamer reconnects to it on its own), so a restarted audio
    // server never takes the desktop down.
    app_after.push("audio");
    list.push(ServiceConfig {
        restart: app_restart,
        ..svc("app", cfg.app.clone(), &app_after)
    });
    list.push(ServiceConfig {
        notify: true,
        ..svc("streamer", vec!["skerry-streamer".into()], &["compositor"])
    });
    list
}

/// Seconds the shell has to show its panel before it counts as failed (and is restarted).
pub const SHELL_READY_TIMEOUT: f64 = 20.0;

/// Where the audio server's native socket appears; `PULSE_SERVER` points every child at it.
pub const AUDIO_SOCKET: &str = "$XDG_RUNTIME_DIR/pulse/native";

/// Settings that are secrets: the owner's password (`PASSWORD` is its linuxserver.io name).
pub const SECRET_VARS: &[&str] = &["SKERRY_AUTH_PASSWORD", "PASSWORD"];

/// The one service that checks the secrets; no other service, and so no application
/// started from the desktop, ever has them in its environment.
pub const SECRET_HOLDER: &str = "streamer";

/// The environment of service `name`: `env` without [`SECRET_VARS`] unless it is the
/// [`SECRET_HOLDER`].
pub fn service_env(name: &str, env: &[(String, OsString)]) -> Vec<(String, OsString)> {
    env.iter()
        .filter(|(k, _)| name == SECRET_HOLDER || !SECRET_VARS.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// The `PULSE_SERVER` every child gets, so applications (and the streamer) reach the audio
/// server even when they look for it somewhere other than the runtime directory.
pub fn audio_server_env(runtime_dir: &Path) -> String {
    format!("unix:{}/pulse/native", runtime_dir.display())
}

/// PulseAudio with no configuration file: a null sink as the default output (the streamer
/// records its monitor) and a second null sink whose monitor, remapped into a real source,
/// is the default microphone (the streamer plays the browser's microphone into that sink).
/// Everything is on the command line so no file has to be installed for it.
pub fn audio_command() -> Vec<String> {
    [
        "pulseaudio",
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--disallow-exit",
        "--use-pid-file=no",
        "--realtime=no",
        "--high-priority=no",
        "--log-target=stderr",
        "-n",
        "-L",
        "module-native-protocol-unix auth-anonymous=1",
        "-L",
        "module-null-sink sink_name=skerry_out rate=48000 channels=2 \
         sink_properties=device.description=Skerry-output",
        "-L",
        "module-null-sink sink_name=skerry_mic_in rate=48000 channels=2 \
         sink_properties=device.description=Skerry-microphone-feed",
        "-L",
        "module-remap-source master=skerry_mic_in.monitor source_name=skerry_mic \
         source_properties=device.description=Skerry-microphone",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// Resolves and checks the service list; problems go to `errors`.
pub fn plan(
    cfg: &Config,
    exe_dir: Option<&Path>,
    path_var: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<ServiceSpec> {
    let list = cfg
        .services
        .clone()
        .unwrap_or_else(|| default_services(cfg));
    if list.is_empty() {
        errors.push(ConfigError::Other("the service list is empty".into()));
    }
    let mut specs = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let valid_name = !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            errors.push(ConfigError::Other(format!(
                "service {:?}: a name is letters, digits, - and _",
                s.name
            )));
        }
        if list[..i].iter().any(|o| o.name == s.name) {
            errors.push(ConfigError::Other(format!(
                "service {:?} is listed twice",
                s.name
            )));
        }
        let argv = match &s.command {
            CommandLine::Argv(v) => Some(v.clone()),
            CommandLine::Shell(line) => shlex::split(line),
        }
        .unwrap_or_default();
        let program = match argv.first() {
            None => {
                errors.push(ConfigError::Other(format!(
                    "service {:?}: the command is empty or badly quoted",
                    s.name
                )));
                PathBuf::new()
            }
            Some(name) => match resolve_program(name, exe_dir, path_var) {
                Some(p) => p,
                None => {
                    let place = exe_dir.map_or_else(String::new, |d| {
                        format!("next to skerry-init ({}) or ", d.display())
                    });
                    errors.push(ConfigError::Other(format!(
                        "service {:?}: program {name:?} not found {place}in PATH",
                        s.name
                    )));
                    PathBuf::new()
                }
            },
        };
        let mut after = Vec::new();
        for dep in &s.after {
            match list.iter().position(|o| &o.name == dep) {
                Some(d) if d != i => after.push(d),
                _ => errors.push(ConfigError::Other(format!(
                    "service {:?}: after {dep:?}, which is not another service",
                    s.name
                ))),
            }
        }
        let restart = match s.restart.as_deref() {
            None | Some("always") => RestartPolicy::Always,
            Some("on-failure") => RestartPolicy::OnFailure,
            Some("never") => RestartPolicy::Never,
            Some(other) => {
                errors.push(ConfigError::Other(format!(
                    "service {:?}: restart {other:?}: expected always, on-failure or never",
                    s.name
                )));
                RestartPolicy::Always
            }
        };
        let ready_timeout = match s.ready_timeout {
            None => cfg.ready_timeout,
            Some(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => {
                Some(Duration::from_secs_f64(t))
            }
            Some(0.0) => None,
            Some(t) => {
                errors.push(ConfigError::Other(format!(
                    "service {:?}: ready_timeout {t}: expected seconds from 0 to 86400",
                    s.name
                )));
                None
            }
        };
        specs.push(ServiceSpec {
            plan: ServicePlan {
                name: s.name.clone(),
                after,
                critical: s.critical,
                ready_on_start: !s.notify && s.ready_path.is_none(),
                restart,
                ready_timeout,
            },
            program,
            args: argv.into_iter().skip(1).collect(),
            notify: s.notify,
            ready_path: s.ready_path.clone(),
        });
    }
    if let Some(cycle) = find_cycle(&specs) {
        errors.push(ConfigError::Other(format!(
            "services depend on each other in a circle: {}",
            cycle.join(" -> ")
        )));
    }
    specs
}

/// A dependency cycle, named from its first service back to it, if any.
fn find_cycle(specs: &[ServiceSpec]) -> Option<Vec<String>> {
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit(i: usize, specs: &[ServiceSpec], mark: &mut [u8], path: &mut Vec<usize>) -> bool {
        mark[i] = 1;
        path.push(i);
        for &d in &specs[i].plan.after {
            if mark[d] == 1 {
                path.push(d);
                return true;
            }
            if mark[d] == 0 && visit(d, specs, mark, path) {
                return true;
            }
        }
        path.pop();
        mark[i] = 2;
        false
    }
    let mut mark = vec![0u8; specs.len()];
    for i in 0..specs.len() {
        let mut path = Vec::new();
        if mark[i] == 0 && visit(i, specs, &mut mark, &mut path) {
            let last = *path.last()?;
            let start = path.iter().position(|&p| p == last)?;
            return Some(
                path[start..]
                    .iter()
                    .map(|&p| specs[p].plan.name.clone())
                    .collect(),
            );
        }
    }
    None
}
