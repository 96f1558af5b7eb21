//! The compositor's configuration, read from the environment and the command line.
//!
//! The supervisor starts the compositor with environment variables only, so a bad value must
//! stop the process before it creates a socket, with every problem listed at once (fixing
//! them one restart at a time is slow). Parsing is a pure function of the variables and
//! arguments so it is tested without touching the process environment.

use std::path::PathBuf;

/// The highest refresh cap accepted from `SKERRY_FPS`.
pub const MAX_FPS: u32 = 120;
/// Largest output side accepted, in pixels (keeps the offscreen buffer within reason).
pub const MAX_SIDE: u32 = 8192;

/// Validated configuration of one compositor process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `XDG_RUNTIME_DIR`: where the Wayland socket lives.
    pub runtime_dir: PathBuf,
    /// `WAYLAND_DISPLAY`: the socket name to create, or `None` to pick a free `wayland-N`.
    pub socket_name: Option<String>,
    /// Output size in physical pixels.
    pub width: u32,
    pub height: u32,
    /// Output scale (fractional allowed).
    pub scale: f64,
    /// Refresh cap in frames per second.
    pub fps: u32,
    /// One application fills the output (no moving, resizing or minimizing).
    pub single_app: bool,
    /// Command run once the socket listens (`--command`).
    pub command: Option<String>,
    /// Start Xwayland for X11 applications.
    pub xwayland: bool,
    /// The `skerry-compositor` binary Xwayland is started through (crate::xauth): this
    /// program unless the compositor is embedded in another one.
    pub xwayland_launcher: Option<PathBuf>,
    /// Where to write a JSON snapshot of the counters and windows (`SKERRY_STATS_FILE`).
    pub stats_file: Option<PathBuf>,
}

impl Config {
    /// A configuration for tests and embedding: 1920x1080, scale 1, 60 fps, no Xwayland.
    pub fn new(runtime_dir: PathBuf) -> Self {
        Self {
            runtime_dir,
            socket_name: None,
            width: 1920,
            height: 1080,
            scale: 1.0,
            fps: 60,
            single_app: false,
            command: None,
            xwayland: false,
            xwayland_launcher: None,
            stats_file: None,
        }
    }
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigIssue {
    #[error("XDG_RUNTIME_DIR is not set")]
    MissingRuntimeDir,
    #[error("XDG_RUNTIME_DIR must be an absolute path, got {0:?}")]
    RelativeRuntimeDir(String),
    #[error("WAYLAND_DISPLAY must be a plain socket name without '/', got {0:?}")]
    BadSocketName(String),
    #[error("SKERRY_RESOLUTION must be WIDTHxHEIGHT with sides 1..={MAX_SIDE}, got {0:?}")]
    BadResolution(String),
    #[error("SKERRY_SCALE must be a number between 0.25 and 8, got {0:?}")]
    BadScale(String),
    #[error("SKERRY_FPS must be a whole number between 1 and {MAX_FPS}, got {0:?}")]
    BadFps(String),
    #[error("{name} must be true/false/1/0/yes/no, got {value:?}")]
    BadBool { name: &'static str, value: String },
    #[error(
        "unknown argument {0:?} (usage: skerry-compositor [--command CMD] [--single-app | --desktop] [--no-xwayland])"
    )]
    UnknownArgument(String),
    #[error("--command needs a value")]
    MissingCommand,
}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError(pub Vec<ConfigIssue>);

fn parse_bool(name: &'static str, value: &str, issues: &mut Vec<ConfigIssue>) -> bool {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => true,
        "" | "0" | "false" | "no" | "off" => false,
        _ => {
            issues.push(ConfigIssue::BadBool {
                name,
                value: value.to_owned(),
            });
            false
        }
    }
}

fn parse_resolution(value: &str) -> Option<(u32, u32)> {
    let (w, h) = value.trim().split_once(['x', 'X'])?;
    let w: u32 = w.trim().parse().ok()?;
    let h: u32 = h.trim().parse().ok()?;
    ((1..=MAX_SIDE).contains(&w) && (1..=MAX_SIDE).contains(&h)).then_some((w, h))
}

/// Builds the configuration from a variable lookup and the command-line arguments (without
/// the program name). `env` returns `None` for unset variables.
pub fn parse<'a>(
    env: impl Fn(&str) -> Option<String>,
    args: impl IntoIterator<Item = &'a str>,
) -> Result<Config, ConfigError> {
    let mut issues = Vec::new();

    let runtime_dir = match env("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        None => {
            issues.push(ConfigIssue::MissingRuntimeDir);
            PathBuf::new()
        }
        Some(dir) if !dir.starts_with('/') => {
            issues.push(ConfigIssue::RelativeRuntimeDir(dir));
            PathBuf::new()
        }
        Some(dir) => PathBuf::from(dir),
    };
    let mut config = Config::new(runtime_dir);
    config.xwayland = true;

    match env("WAYLAND_DISPLAY").filter(|v| !v.is_empty()) {
        Some(name) if name.contains('/') => issues.push(ConfigIssue::BadSocketName(name)),
        name => config.socket_name = name,
    }
    if let Some(value) = env("SKERRY_RESOLUTION").filter(|v| !v.is_empty()) {
        match parse_resolution(&value) {
            Some((w, h)) => (config.width, config.height) = (w, h),
            None => issues.push(ConfigIssue::BadResolution(value)),
        }
    }
    if let Some(value) = env("SKERRY_SCALE").filter(|v| !v.is_empty()) {
        match value.trim().parse::<f64>() {
            Ok(scale) if (0.25..=8.0).contains(&scale) => config.scale = scale,
            _ => issues.push(ConfigIssue::BadScale(value)),
        }
    }
    if let Some(value) = env("SKERRY_FPS").filter(|v| !v.is_empty()) {
        match value.trim().parse::<u32>() {
            Ok(fps) if (1..=MAX_FPS).contains(&fps) => config.fps = fps,
            _ => issues.push(ConfigIssue::BadFps(value)),
        }
    }
    let app_set = env("SKERRY_APP").is_some_and(|v| !v.trim().is_empty());
    let desktop = env("SKERRY_DESKTOP")
        .map(|v| parse_bool("SKERRY_DESKTOP", &v, &mut issues))
        .unwrap_or(false);
    config.single_app = app_set && !desktop;
    config.stats_file = env("SKERRY_STATS_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg {
            // The supervisor names the mode it decided; these win over the environment.
            "--single-app" => config.single_app = true,
            "--desktop" => config.single_app = false,
            "--no-xwayland" => config.xwayland = false,
            "--command" | "-c" => match args.next() {
                Some(cmd) => config.command = Some(cmd.to_owned()),
                None => issues.push(ConfigIssue::MissingCommand),
            },
            other => match other.strip_prefix("--command=") {
                Some(cmd) => config.command = Some(cmd.to_owned()),
                None => issues.push(ConfigIssue::UnknownArgument(other.to_owned())),
            },
        }
    }

    if issues.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError(issues))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(vars: &[(&str, &str)], args: &[&str]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(|k| map.get(k).cloned(), args.iter().copied())
    }

    #[test]
    fn defaults_need_only_the_runtime_dir() {
        let config = parse_with(&[("XDG_RUNTIME_DIR", "/run/user/1000")], &[]).unwrap();
        assert_eq!(config.runtime_dir, PathBuf::from("/run/user/1000"));
        assert_eq!((config.width, config.height, config.fps), (1920, 1080, 60));
        assert_eq!(config.scale, 1.0);
        assert_eq!(config.socket_name, None);
        assert!(!config.single_app);
        assert!(config.xwayland);
    }

    #[test]
    fn reads_every_variable() {
        let config = parse_with(
            &[
                ("XDG_RUNTIME_DIR", "/tmp/x"),
                ("WAYLAND_DISPLAY", "skerry-0"),
                ("SKERRY_RESOLUTION", "1280X720"),
                ("SKERRY_SCALE", "1.5"),
                ("SKERRY_FPS", "120"),
                ("SKERRY_APP", "foot"),
            ],
            &["--command", "foot -e top", "--no-xwayland"],
        )
        .unwrap();
        assert_eq!(config.socket_name.as_deref(), Some("skerry-0"));
        assert_eq!((config.width, config.height), (1280, 720));
        assert_eq!(config.scale, 1.5);
        assert_eq!(config.fps, 120);
        assert!(config.single_app);
        assert!(!config.xwayland);
        assert_eq!(config.command.as_deref(), Some("foot -e top"));
    }

    #[test]
    fn desktop_flag_overrides_app() {
        let vars = [
            ("XDG_RUNTIME_DIR", "/tmp/x"),
            ("SKERRY_APP", "foot"),
            ("SKERRY_DESKTOP", "true"),
        ];
        assert!(!parse_with(&vars, &[]).unwrap().single_app);
        let cli = parse_with(&[("XDG_RUNTIME_DIR", "/tmp/x")], &["--single-app"]).unwrap();
        assert!(cli.single_app);
        let cli = parse_with(&vars[..2], &["--desktop"]).unwrap();
        assert!(!cli.single_app, "--desktop wins over SKERRY_APP alone");
    }

    #[test]
    fn reports_every_error_together() {
        let err = parse_with(
            &[
                ("WAYLAND_DISPLAY", "a/b"),
                ("SKERRY_RESOLUTION", "1920by1080"),
                ("SKERRY_SCALE", "0"),
                ("SKERRY_FPS", "240"),
                ("SKERRY_DESKTOP", "maybe"),
            ],
            &["--bogus", "--command"],
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            vec![
                ConfigIssue::MissingRuntimeDir,
                ConfigIssue::BadSocketName("a/b".into()),
                ConfigIssue::BadResolution("1920by1080".into()),
                ConfigIssue::BadScale("0".into()),
                ConfigIssue::BadFps("240".into()),
                ConfigIssue::BadBool {
                    name: "SKERRY_DESKTOP",
                    value: "maybe".into()
                },
                ConfigIssue::UnknownArgument("--bogus".into()),
                ConfigIssue::MissingCommand,
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("XDG_RUNTIME_DIR") && text.contains("SKERRY_FPS"),
            "{text}"
        );
    }

    #[test]
    fn rejects_zero_and_oversized_resolutions() {
        for bad in ["0x1080", "1920x0", "9000x100", "x", "1920"] {
            let err = parse_with(
                &[("XDG_RUNTIME_DIR", "/tmp"), ("SKERRY_RESOLUTION", bad)],
                &[],
            );
            assert!(err.is_err(), "{bad} accepted");
        }
    }
}
