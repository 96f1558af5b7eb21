//! The appliance's configuration: environment variables over an optional TOML file over
//! documented defaults.
//!
//! Every value is checked before anything starts, and every problem is collected, so a
//! user who got three settings wrong reads three lines at once instead of fixing them one
//! restart at a time. Settings that belong to other components (resolution, port, TLS…)
//! are checked here too for the same reason, then handed to the children as environment
//! variables; each component still applies its own defaults. docs/configuration.md is the
//! table of all of them.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::machine::Timing;
use crate::services::ServiceConfig;

/// Where the TOML file is read from unless `SKERRY_CONFIG` names another.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/skerry/skerry.toml";

/// skerry-init's own folder when it runs as root for another user.
pub const DEFAULT_STATE_DIR: &str = "/run/skerry";

/// The settings a file the desktop user can write may hold (`crate::user_settings`):
/// what the desktop looks like and runs, never who runs it, where, or who may log in.
pub const USER_SAFE_KEYS: &[&str] = &[
    "app",
    "desktop",
    "tz",
    "resolution",
    "scale",
    "fps",
    "encoder",
    "wallpaper",
    "desktop_apps",
];

/// The environment variable of a setting's file key (`SKERRY_<KEY>` unless noted).
pub fn env_name(key: &str) -> String {
    match key {
        "puid" => "PUID".into(),
        "pgid" => "PGID".into(),
        "tz" => "TZ".into(),
        _ => format!("SKERRY_{}", key.to_ascii_uppercase()),
    }
}

/// One thing wrong with the configuration, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}={value:?}: expected {expected}")]
    Invalid {
        setting: String,
        value: String,
        expected: &'static str,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem", self.0.len())?;
        if self.0.len() != 1 {
            write!(f, "s")?;
        }
        write!(f, "):")?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Which GPU the compositor and streamer are told to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuChoice {
    /// The first render node found, else the CPU path.
    Auto,
    /// The CPU path, even when a GPU exists.
    None,
    /// This render node.
    Path(PathBuf),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The application's command line (`SKERRY_APP`, split like a shell would); `foot`
    /// when not set.
    pub app: Vec<String>,
    /// `SKERRY_APP` was given (the application is the user's choice, not the default).
    pub app_set: bool,
    /// The full desktop (shell, window management) rather than one application filling
    /// the screen: on unless only `SKERRY_APP` is set.
    pub desktop: bool,
    /// `None`: the default (1000 as root; the current user otherwise).
    pub puid: Option<u32>,
    pub pgid: Option<u32>,
    pub user: String,
    pub home: Option<PathBuf>,
    pub tz: String,
    pub runtime_dir: Option<PathBuf>,
    /// skerry-init's own folder (status file, notify socket) when it runs as root for
    /// another desktop user (`crate::state_dir`).
    pub state_dir: PathBuf,
    pub wayland_display: String,
    pub x_display: String,
    pub gpu: GpuChoice,
    pub timing: Timing,
    pub ready_timeout: Option<Duration>,
    pub status_interval: Duration,
    /// A service list from the file's `[[service]]` tables, replacing the default one.
    pub services: Option<Vec<ServiceConfig>>,
    /// Other components' settings given in the file, passed to children as environment.
    pub exports: Vec<(String, String)>,
    /// Where the file was read from, if it was.
    pub file: Option<PathBuf>,
    /// The file's `[[service]]` tables could not be read (the problem is reported).
    pub services_invalid: bool,
}

/// Settings owned by other components: checked here, passed on as `SKERRY_<NAME>`.
const COMPONENT_SETTINGS: &[(&str, Check)] = &[
    ("resolution", Check::Resolution),
    ("scale", Check::Scale),
    ("fps", Check::Fps),
    ("port", Check::Port),
    ("bind", Check::Bind),
    ("encoder", Check::Word),
    ("tls", Check::Bool),
    ("tls_cert", Check::Path),
    ("tls_key", Check::Path),
    ("tls_dir", Check::Path),
    ("config_dir", Check::Path),
    ("auth", Check::AuthMode),
    ("auth_user", Check::UserName),
    ("auth_password", Check::Secret),
    ("auth_max_failures", Check::Count),
    ("auth_lockout", Check::Seconds),
    ("base_path", Check::BasePath),
    ("trusted_proxies", Check::Cidrs),
    ("frame_ancestors", Check::FrameAncestors),
    ("wallpaper", Check::Path),
    ("desktop_apps", Check::DesktopIds),
];

/// The supervisor's own file keys (the environment name is `SKERRY_<KEY>` unless noted).
const OWN_KEYS: &[&str] = &[
    "app",
    "desktop",
    "puid",
    "pgid",
    "user",
    "home",
    "tz",
    "runtime_dir",
    "state_dir",
    "wayland_display",
    "x_display",
    "gpu",
    "grace_period",
    "restart_delay",
    "restart_delay_max",
    "restart_reset_after",
    "restart_limit",
    "restart_window",
    "ready_timeout",
    "status_interval",
    "service",
];

#[derive(Debug, Clone, Copy)]
enum Check {
    Resolution,
    Scale,
    Fps,
    Port,
    Bind,
    Word,
    Bool,
    Path,
    /// A comma-separated list of desktop-file ids.
    DesktopIds,
    /// `auto`, `on` or `off`.
    AuthMode,
    /// A login name: 1–64 characters, no control characters or `:`.
    UserName,
    /// Any non-empty value up to 1 KiB (never echoed back in errors).
    Secret,
    /// A whole number from 1 to 1000.
    Count,
    /// Seconds from 1 to 86400.
    Seconds,
    /// A URL path prefix like `/desk/`.
    BasePath,
    /// A comma-separated list of addresses or address/prefix blocks.
    Cidrs,
    /// CSP `frame-ancestors` sources separated by spaces.
    FrameAncestors,
}

fn is_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}

/// Environment first, then the file, each value remembered with where it came from.
struct Sources<'a> {
    env: &'a HashMap<String, String>,
    file: toml::Table,
    file_name: String,
    errors: Vec<ConfigError>,
}

impl Sources<'_> {
    /// The raw value and a label naming its origin.
    fn get(&mut self, key: &str) -> Option<(String, String)> {
        let name = env_name(key);
        if let Some(v) = self.env.get(&name) {
            return Some((v.clone(), name));
        }
        let label = format!("{key} in {}", self.file_name);
        match self.file.get(key)? {
            toml::Value::String(s) => Some((s.clone(), label)),
            toml::Value::Integer(i) => Some((i.to_string(), label)),
            toml::Value::Float(f) => Some((f.to_string(), label)),
            toml::Value::Boolean(b) => Some((b.to_string(), label)),
            _ => {
                self.errors.push(ConfigError::File {
                    file: self.file_name.clone(),
                    message: format!("{key}: expected a string, number or boolean"),
                });
                None
            }
        }
    }

    fn invalid(&mut self, setting: String, value: String, expected: &'static str) {
        self.errors.push(ConfigError::Invalid {
            setting,
            value,
            expected,
        });
    }

    /// Parses `key` with `parse`, falling back to `default` (also when invalid).
    fn parse<T>(
        &mut self,
        key: &str,
        default: T,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        match self.get(key) {
            None => default,
            Some((raw, label)) => match parse(raw.trim()) {
                Some(v) => v,
                None => {
                    self.invalid(label, raw, expected);
                    default
                }
            },
        }
    }

    fn opt<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        self.parse(key, None, expected, |s| parse(s).map(Some))
    }

    fn seconds(&mut self, key: &str, default: Duration) -> Duration {
        self.parse(
            key,
            default,
            "a number of seconds, like 10 or 0.5",
            parse_seconds,
        )
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

fn parse_seconds(s: &str) -> Option<Duration> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && (0.0..=86_400.0).contains(&v)).then(|| Duration::from_secs_f64(v))
}

fn parse_id(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|&v| v < u32::MAX)
}

fn check(kind: Check, s: &str) -> Result<(), &'static str> {
    let ok = match kind {
        Check::Resolution => s.split_once('x').is_some_and(|(w, h)| {
            [w, h]
                .iter()
                .all(|v| v.parse::<u32>().is_ok_and(|n| (16..=8192).contains(&n)))
        }),
        Check::Scale => s
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && (0.5..=4.0).contains(&v)),
        Check::Fps => s.parse::<u32>().is_ok_and(|v| (1..=240).contains(&v)),
        Check::Port => s.parse::<u16>().is_ok_and(|v| v != 0),
        Check::Bind => s.parse::<IpAddr>().is_ok(),
        Check::Word => {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        Check::Bool => parse_bool(s).is_some(),
        Check::Path => s.starts_with('/'),
        Check::DesktopIds => s.split(',').map(str::trim).all(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }),
        Check::AuthMode => matches!(s, "auto" | "on" | "off"),
        Check::UserName => {
            !s.is_empty() && s.len() <= 64 && !s.chars().any(|c| c.is_control() || c == ':')
        }
        Check::Secret => !s.is_empty() && s.len() <= 1024,
        Check::Count => s.parse::<u32>().is_ok_and(|v| (1..=1000).contains(&v)),
        Check::Seconds => s
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && (1.0..=86_400.0).contains(&v)),
        Check::BasePath => {
            let t = s.trim_matches('/');
            s.starts_with('/')
                && (t.is_empty()
                    || t.split('/').all(|seg| {
                        !seg.is_empty()
                            && seg != "."
                            && seg != ".."
                            && seg
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
                    }))
        }
        Check::Cidrs => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .all(is_cidr),
        Check::FrameAncestors => {
            let words: Vec<&str> = s.split_whitespace().collect();
            !words.is_empty()
                && words.iter().all(|w| {
                    *w == "'self'"
                        || *w == "'none'"
                        || w.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-._:/*".contains(&b))
                })
        }
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        Check::Resolution => "WIDTHxHEIGHT, like 1920x1080 (each 16 to 8192)",
        Check::Scale => "a scale factor from 0.5 to 4, like 1 or 1.5",
        Check::Fps => "a whole number of frames per second from 1 to 240",
        Check::Port => "a TCP port from 1 to 65535",
        Check::Bind => "an IP address, like 127.0.0.1 or 0.0.0.0",
        Check::Word => "a name made of letters, digits, - and _",
        Check::Bool => "on or off (also true/false, yes/no, 1/0)",
        Check::Path => "an absolute path",
        Check::DesktopIds => "desktop-file ids separated by commas, like foot,chromium.desktop",
        Check::AuthMode => "auto, on or off",
        Check::UserName => "1 to 64 characters, no control characters or ':'",
        Check::Secret => "1 to 1024 bytes",
        Check::Count => "a whole number from 1 to 1000",
        Check::Seconds => "a number of seconds from 1 to 86400",
        Check::BasePath => "a path like /desk/ (letters, digits, - . _ ~ between slashes)",
        Check::Cidrs => "addresses or blocks separated by commas, like 10.0.0.0/8,::1",
        Check::FrameAncestors => {
            "'self', 'none' or origins like https://portal.example, separated by spaces"
        }
    })
}

#[derive(Deserialize)]
struct ServiceTables {
    #[serde(default)]
    service: Vec<ServiceConfig>,
}

impl Config {
    /// Reads `SKERRY_CONFIG` (or the default path) if it exists, then validates everything.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        match Self::load_all(env) {
            (Some(c), errors) if errors.is_empty() => Ok(c),
            (_, errors) => Err(ConfigErrors(errors)),
        }
    }

    /// Like [`Config::from_env`], but returns the configuration with defaults in place of
    /// invalid values next to the problems, so later checks can add theirs to the same
    /// report. `None` when the file could not be read at all.
    pub fn load_all(env: &HashMap<String, String>) -> (Option<Self>, Vec<ConfigError>) {
        let (path, required) = match env.get("SKERRY_CONFIG") {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        let (c, errors) = match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse_all(env, Some((&path, &text))),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Self::parse_all(env, None)
            }
            Err(e) => {
                return (
                    None,
                    vec![ConfigError::File {
                        file: path.display().to_string(),
                        message: format!("cannot read: {e}"),
                    }],
                );
            }
        };
        (Some(c), errors)
    }

    /// Validates the environment and the file's text (with the path it came from).
    pub fn parse(
        env: &HashMap<String, String>,
        file: Option<(&std::path::Path, &str)>,
    ) -> Result<Self, ConfigErrors> {
        let (c, errors) = Self::parse_all(env, file);
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// [`Config::parse`] that always yields a configuration (defaults where values were
    /// invalid) and the list of problems.
    pub fn parse_all(
        env: &HashMap<String, String>,
        file: Option<(&std::path::Path, &str)>,
    ) -> (Self, Vec<ConfigError>) {
        let file_name = file.map_or_else(
            || DEFAULT_CONFIG_PATH.to_string(),
            |(p, _)| p.display().to_string(),
        );
        let mut errors = Vec::new();
        let mut table = toml::Table::new();
        let mut services = None;
        let mut services_invalid = false;
        if let Some((_, text)) = file {
            match text.parse::<toml::Table>() {
                Ok(t) => table = t,
                Err(e) => errors.push(ConfigError::File {
                    file: file_name.clone(),
                    message: e.message().to_string(),
                }),
            }
            for key in table.keys() {
                let known = OWN_KEYS.contains(&key.as_str())
                    || COMPONENT_SETTINGS.iter().any(|(k, _)| k == key);
                if !known {
                    errors.push(ConfigError::File {
                        file: file_name.clone(),
                        message: format!("unknown setting {key:?}"),
                    });
                }
            }
            if table.contains_key("service") {
                match toml::Value::Table(table.clone()).try_into::<ServiceTables>() {
                    Ok(t) => services = Some(t.service),
                    Err(e) => {
                        services_invalid = true;
                        errors.push(ConfigError::File {
                            file: file_name.clone(),
                            message: format!("[[service]]: {}", e.message()),
                        });
                    }
                }
            }
        }
        let mut src = Sources {
            env,
            file: table,
            file_name,
            errors,
        };

        let app_set = src.get("app").is_some();
        let app = match src.get("app") {
            None => vec!["foot".to_string()],
            Some((raw, label)) => match shlex::split(&raw) {
                Some(words) if !words.is_empty() => words,
                _ => {
                    src.invalid(
                        label,
                        raw,
                        "a command line, like foot or \"chromium --kiosk\"",
                    );
                    Vec::new()
                }
            },
        };
        // The full desktop by default; naming only an application makes a kiosk of it.
        let desktop = src
            .opt("desktop", "on or off", parse_bool)
            .unwrap_or(!app_set);
        let puid = src.opt("puid", "a numeric user id", parse_id);
        let pgid = src.opt("pgid", "a numeric group id", parse_id);
        let user = src.parse(
            "user",
            "skerry".to_string(),
            "a user name of lowercase letters, digits, - and _",
            |s| {
                let ok = s.len() <= 32
                    && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
                ok.then(|| s.to_string())
            },
        );
        let home = src.opt(
            "home",
            "an absolute path outside the system's folders (/etc, /usr, /var/lib…)",
            own_folder,
        );
        let tz = src.parse(
            "tz",
            "Etc/UTC".to_string(),
            "a time zone name, like Europe/Paris",
            |s| {
                let ok = !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains("..");
                ok.then(|| s.to_string())
            },
        );
        let runtime_dir = src.opt(
            "runtime_dir",
            "an absolute path outside the system's folders",
            own_folder,
        );
        let state_dir = src.parse(
            "state_dir",
            PathBuf::from(DEFAULT_STATE_DIR),
            "an absolute path",
            absolute,
        );
        let wayland_display = src.parse(
            "wayland_display",
            "skerry-0".to_string(),
            "a socket name without /, like skerry-0",
            |s| (!s.is_empty() && !s.contains('/')).then(|| s.to_string()),
        );
        let x_display = src.parse("x_display", ":0".to_string(), "an X display like :0", |s| {
            let n = s.strip_prefix(':')?;
            n.parse::<u16>().ok().map(|_| s.to_string())
        });
        let gpu = src.parse(
            "gpu",
            GpuChoice::Auto,
            "auto, none, or the path of a render node like /dev/dri/renderD128",
            |s| match s {
                "auto" => Some(GpuChoice::Auto),
                "none" => Some(GpuChoice::None),
                p if p.starts_with('/') => Some(GpuChoice::Path(p.into())),
                _ => None,
            },
        );
        let defaults = Timing::default();
        let timing = Timing {
            grace: src.seconds("grace_period", defaults.grace),
            backoff_initial: src.seconds("restart_delay", defaults.backoff_initial),
            backoff_max: src.seconds("restart_delay_max", defaults.backoff_max),
            backoff_reset_after: src.seconds("restart_reset_after", defaults.backoff_reset_after),
            restart_limit: src.parse(
                "restart_limit",
                defaults.restart_limit,
                "a whole number of restarts, like 10",
                |s| s.parse().ok(),
            ),
            restart_window: src.seconds("restart_window", defaults.restart_window),
        };
        let ready_timeout = src.seconds("ready_timeout", Duration::ZERO);
        let ready_timeout = (!ready_timeout.is_zero()).then_some(ready_timeout);
        let status_interval = src.parse(
            "status_interval",
            Duration::from_secs(5),
            "a number of seconds from 0.1, like 5",
            |s| parse_seconds(s).filter(|d| *d >= Duration::from_millis(100)),
        );

        let mut exports = Vec::new();
        for &(key, kind) in COMPONENT_SETTINGS {
            if let Some((raw, label)) = src.get(key) {
                match check(kind, raw.trim()) {
                    Ok(()) => exports.push((env_name(key), raw)),
                    Err(expected) => {
                        // A password is not repeated into logs, even a refused one.
                        let shown = if matches!(kind, Check::Secret) {
                            "(hidden)".to_string()
                        } else {
                            raw
                        };
                        src.invalid(label, shown, expected);
                    }
                }
            }
        }
        let tls_cert = exports.iter().any(|(k, _)| k == "SKERRY_TLS_CERT");
        let tls_key = exports.iter().any(|(k, _)| k == "SKERRY_TLS_KEY");
        if tls_cert != tls_key {
            src.errors.push(ConfigError::Other(
                "SKERRY_TLS_CERT and SKERRY_TLS_KEY must be given together".into(),
            ));
        }
        if timing.backoff_max < timing.backoff_initial {
            src.errors.push(ConfigError::Other(format!(
                "SKERRY_RESTART_DELAY_MAX ({:?}) is shorter than SKERRY_RESTART_DELAY ({:?})",
                timing.backoff_max, timing.backoff_initial
            )));
        }
        // Values that came from the environment reach children anyway; pass only the file's.
        exports.retain(|(k, _)| !env.contains_key(k));

        let config = Config {
            app,
            app_set,
            desktop,
            puid,
            pgid,
            user,
            home,
            tz,
            runtime_dir,
            state_dir,
            wayland_display,
            x_display,
            gpu,
            timing,
            ready_timeout,
            status_interval,
            services,
            exports,
            file: file.map(|(p, _)| p.to_path_buf()),
            services_invalid,
        };
        (config, src.errors)
    }
}

/// An absolute path with `.` and `..` resolved by their names (`/home/../etc` is `/etc`),
/// so it can be compared with system folders.
fn absolute(s: &str) -> Option<PathBuf> {
    use std::path::Component;
    if !s.starts_with('/') {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in std::path::Path::new(s).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// [`absolute`], refusing the operating system's own folders.
fn own_folder(s: &str) -> Option<PathBuf> {
    absolute(s).filter(|p| !crate::user::is_system_dir(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_settings_are_checked() {
        let ok = [
            (Check::AuthMode, "auto"),
            (Check::AuthMode, "off"),
            (Check::UserName, "admin"),
            (Check::Secret, "p@ss word"),
            (Check::Count, "5"),
            (Check::Seconds, "0.5e1"),
            (Check::BasePath, "/desk/"),
            (Check::BasePath, "/"),
            (Check::Cidrs, "10.0.0.0/8, 192.168.1.1,::1,fd00::/8"),
            (Check::FrameAncestors, "'self' https://portal.example"),
        ];
        for (kind, v) in ok {
            assert!(check(kind, v).is_ok(), "{kind:?} {v}");
        }
        let bad = [
            (Check::AuthMode, "maybe"),
            (Check::UserName, "a:b"),
            (Check::Secret, ""),
            (Check::Count, "0"),
            (Check::Seconds, "forever"),
            (Check::BasePath, "desk"),
            (Check::BasePath, "/a//b/"),
            (Check::BasePath, "/../"),
            (Check::Cidrs, "10.0.0.0/33"),
            (Check::FrameAncestors, "'self'; script-src *"),
        ];
        for (kind, v) in bad {
            assert!(check(kind, v).is_err(), "{kind:?} {v}");
        }
    }

    #[test]
    fn a_refused_password_is_not_repeated() {
        let env: HashMap<String, String> = [("SKERRY_AUTH_LOCKOUT", "soon")]
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let file = "auth_password = \"\"\nauth = \"on\"\n";
        let errors = Config::parse(&env, Some((std::path::Path::new("/x.toml"), file)))
            .expect_err("invalid")
            .0;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.to_string().contains("(hidden)")));
        assert!(
            errors
                .iter()
                .any(|e| e.to_string().contains("SKERRY_AUTH_LOCKOUT"))
        );
    }
}
