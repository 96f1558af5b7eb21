//! `skerry-init`: PID 1 of the appliance, or a plain process that supervises the same
//! services natively (then a child subreaper, so orphans still come back to it).
//!
//! This file is the edge: read the configuration, prepare the user, directories, GPU and
//! sockets, then hand over to the runner. Anything that fails here fails before a single
//! service started, with its own exit code (docs/configuration.md).

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{geteuid, getpid};
use tracing::{error, info, warn};

use skerry_init::config::{Config, ConfigError, ConfigErrors};
use skerry_init::gpu::{self, Roots};
use skerry_init::machine::Machine;
use skerry_init::notify::NotifySocket;
use skerry_init::privileges;
use skerry_init::runner::Runner;
use skerry_init::secrets;
use skerry_init::services;
use skerry_init::spawn::Identity;
use skerry_init::state_dir;
use skerry_init::user::{self, Account};
use skerry_init::user_settings;

/// The configuration is invalid (sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;
/// Preparing the system failed (sysexits' EX_OSERR).
const EXIT_SETUP: u8 = 71;

/// Variables of an outer service manager that must not reach the children.
const OUTER_VARS: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKERRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let mut env: HashMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let config = match validate_with_user_settings(&mut env) {
        Ok(c) => c,
        Err(errors) => {
            for line in errors.to_string().lines() {
                error!("{line}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runner = match setup(&env, config) {
        Ok(r) => r,
        Err(e) => {
            error!("{e:#}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let outcome = runner.run();
    info!(?outcome, code = outcome.exit_code(), "supervisor exiting");
    ExitCode::from(outcome.exit_code())
}

struct Validated {
    config: Config,
    specs: Vec<services::ServiceSpec>,
    /// Settings taken from the desktop user's file, passed on to the services.
    from_user: Vec<(String, String)>,
}

/// Settings from the desktop user's file (`SKERRY_USER_SETTINGS`) join the environment where
/// it does not set them; a value of theirs the checks refuse is dropped with a warning and
/// the rest is checked again, so that file cannot stop the appliance.
fn validate_with_user_settings(
    env: &mut HashMap<String, String>,
) -> Result<Validated, ConfigErrors> {
    let mut from_user = Vec::new();
    if let Some(path) = env.get("SKERRY_USER_SETTINGS").cloned() {
        match user_settings::read(Path::new(&path)) {
            Ok(s) => {
                for line in s.ignored {
                    warn!("{line}");
                }
                for (k, v) in s.values {
                    if !env.contains_key(&k) {
                        env.insert(k.clone(), v.clone());
                        from_user.push((k, v));
                    }
                }
            }
            Err(e) => warn!("{e}"),
        }
    }
    let errors = match validate(env) {
        Ok(v) => return Ok(Validated { from_user, ..v }),
        Err(errors) => errors,
    };
    // (setting, the line that says what is wrong with it)
    let theirs: Vec<(String, String)> = errors
        .0
        .iter()
        .filter_map(|e| match e {
            ConfigError::Invalid { setting, .. } if from_user.iter().any(|(k, _)| k == setting) => {
                Some((setting.clone(), e.to_string()))
            }
            _ => None,
        })
        .collect();
    if theirs.is_empty() {
        return Err(errors);
    }
    for (setting, problem) in theirs {
        warn!(
            "{problem}: ignored (it came from {})",
            env["SKERRY_USER_SETTINGS"]
        );
        env.remove(&setting);
        from_user.retain(|(k, _)| *k != setting);
    }
    validate(env).map(|v| Validated { from_user, ..v })
}

/// Settings, then the service list and the user: every problem in one report.
fn validate(env: &HashMap<String, String>) -> Result<Validated, ConfigErrors> {
    let (config, mut errors) = Config::load_all(env);
    let Some(config) = config else {
        return Err(ConfigErrors(errors));
    };
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path_var = env.get("PATH").map_or("/usr/bin:/bin", String::as_str);
    // A broken [[service]] list would be judged as the default one: say nothing about it.
    let specs = if config.services_invalid {
        Vec::new()
    } else {
        services::plan(&config, exe_dir.as_deref(), path_var, &mut errors)
    };
    if !geteuid().is_root()
        && let Some(p) = config.puid.filter(|&p| p != geteuid().as_raw())
    {
        errors.push(ConfigError::Other(format!(
            "PUID={p}: running children as another user needs root; unset it to run as the current user"
        )));
    }
    if errors.is_empty() {
        Ok(Validated {
            config,
            specs,
            from_user: Vec::new(),
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

fn setup(env: &HashMap<String, String>, v: Validated) -> anyhow::Result<Runner> {
    let Validated {
        config: cfg,
        specs,
        from_user,
    } = v;
    let pid1 = getpid().as_raw() == 1;
    if !pid1 {
        nix::sys::prctl::set_child_subreaper(true).context("becoming a child subreaper")?;
    }
    // Signals arrive through the signalfd only; spawn gives children a clean mask.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        mask.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).context("blocking signals")?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("creating the signalfd")?;

    let gpu = gpu::discover(&Roots::default(), &cfg.gpu);
    match &gpu.chosen {
        Some(p) => info!(
            node = %p.display(),
            driver = gpu.driver.as_deref().unwrap_or("unknown"),
            nvidia = gpu.nvidia_version.as_deref().unwrap_or("-"),
            "GPU"
        ),
        None => info!("no GPU in use: rendering and encoding on the CPU"),
    }

    let account = account(env, &cfg, pid1)?;
    info!(user = %account.name, uid = account.uid, gid = account.gid, home = %account.home.display(), "runtime user");
    let euid = geteuid();
    let runtime_dir = cfg
        .runtime_dir
        .clone()
        .unwrap_or_else(|| match env.get("XDG_RUNTIME_DIR") {
            Some(d) if account.uid == euid.as_raw() => PathBuf::from(d),
            _ if euid.is_root() => PathBuf::from(format!("/run/user/{}", account.uid)),
            _ => PathBuf::from(format!("/tmp/skerry-runtime-{}", account.uid)),
        });
    user::ensure_dir(&runtime_dir, account.uid, account.gid, Some(0o700), false)
        .context("preparing XDG_RUNTIME_DIR")?;
    // Skerry's own home (SKERRY_HOME, or the account Skerry manages) is handed to the user
    // whole; another existing account's home is only created if missing, never walked.
    let own_home = cfg.home.is_some() || account.name == cfg.user;
    if let Err(e) = user::ensure_dir(&account.home, account.uid, account.gid, None, own_home) {
        warn!("preparing the home directory: {e}");
    }
    // The supervisor's own directory: children may read it, not write it. Root serving
    // another user keeps it out of that user's folders.
    let separate = euid.is_root() && account.uid != euid.as_raw();
    let own = if separate {
        state_dir::prepare(&cfg.state_dir).context("preparing the supervisor's directory")?;
        cfg.state_dir.clone()
    } else {
        let own = runtime_dir.join("skerry");
        user::ensure_dir(
            &own,
            euid.as_raw(),
            nix::unistd::getegid().as_raw(),
            Some(0o755),
            false,
        )
        .context("preparing the supervisor's directory")?;
        own
    };
    let notify = NotifySocket::bind(&own.join("notify"))?;
    let status_path = own.join("status.json");

    let mut groups = gpu.groups.clone();
    groups.retain(|&g| g != account.gid);
    let identity = Identity {
        uid: account.uid,
        gid: account.gid,
        groups,
        switch: euid.is_root(),
    };
    let has_outer_manager = env.contains_key("NOTIFY_SOCKET");
    let mut env = child_env(&cfg, &account, &runtime_dir, &notify, &status_path, &gpu);
    env.extend(from_user.into_iter().map(|(k, v)| (k, v.into())));

    // The streamer's secrets out of the desktop user's reach, unless the operator chose
    // where they live.
    let chosen_dir = env.iter().any(|(k, _)| k == "SKERRY_CONFIG_DIR");
    let secrets = if separate && !chosen_dir {
        let mut taken = gpu.groups.clone();
        taken.push(account.gid);
        let gid = secrets::choose_gid(Path::new("/etc"), &taken);
        match secrets::prepare(&account.home, account.uid, gid) {
            Ok(s) => {
                info!(dir = %account.home.join(secrets::DIR_NAME).display(), gid, "the streamer's folder");
                Some(s)
            }
            Err(e) => {
                warn!(
                    "cannot make the streamer a folder of its own ({e}): its keys stay where the desktop user can read them"
                );
                None
            }
        }
    } else {
        None
    };

    // Everything root had to prepare is ready: keep only what starting and signalling the
    // services needs. A desktop that runs as root (PUID=0) keeps root's rights, as chosen.
    if separate {
        match privileges::drop_all_but_kept() {
            Ok(()) => {
                info!("capabilities: kept CAP_SETUID, CAP_SETGID and CAP_KILL, dropped the rest")
            }
            Err(e) => warn!("dropping capabilities: {e}"),
        }
    }

    let mut watchdog_usec = 0;
    let watchdog = sd_notify::watchdog_enabled(false, &mut watchdog_usec)
        .then(|| Duration::from_micros(watchdog_usec));
    let plans = specs.iter().map(|s| s.plan.clone()).collect();
    Ok(Runner {
        machine: Machine::new(plans, cfg.timing.clone()),
        specs,
        env,
        identity,
        home: account.home.clone(),
        runtime_dir,
        wayland_display: cfg.wayland_display.clone(),
        display: cfg.x_display.clone(),
        xauthority: None,
        notify,
        signals,
        gpu,
        status_path,
        status_interval: cfg.status_interval,
        watchdog,
        outer_notify: has_outer_manager,
        secrets,
    })
}

/// Who the children run as: PUID/PGID as root (1000/1000 unless set), else ourselves.
fn account(env: &HashMap<String, String>, cfg: &Config, pid1: bool) -> anyhow::Result<Account> {
    let etc = Path::new("/etc");
    let euid = geteuid();
    if !euid.is_root() {
        let uid = euid.as_raw();
        let from_passwd = user::lookup_uid(etc, uid);
        let name = env
            .get("USER")
            .cloned()
            .or_else(|| from_passwd.as_ref().map(|p| p.0.clone()))
            .unwrap_or_else(|| uid.to_string());
        let home = cfg
            .home
            .clone()
            .or_else(|| env.get("HOME").map(PathBuf::from))
            .or_else(|| from_passwd.map(|p| p.1))
            .context("no home directory: set SKERRY_HOME")?;
        return Ok(Account {
            name,
            uid,
            gid: nix::unistd::getegid().as_raw(),
            home,
        });
    }
    let uid = cfg.puid.unwrap_or(1000);
    let gid = cfg.pgid.unwrap_or(if uid == 0 { 0 } else { 1000 });
    let existing = user::lookup_uid(etc, uid);
    let home = cfg
        .home
        .clone()
        .or_else(|| pid1.then(|| PathBuf::from("/config")))
        .or_else(|| existing.as_ref().map(|e| e.1.clone()))
        .unwrap_or_else(|| PathBuf::from(format!("/home/{}", cfg.user)));
    if uid == 0 {
        if cfg.puid.is_none() {
            bail!("refusing to run the desktop as root without PUID=0 set explicitly");
        }
        return Ok(Account {
            name: existing.map_or_else(|| "root".into(), |e| e.0),
            uid,
            gid,
            home,
        });
    }
    match user::ensure_account(etc, &cfg.user, uid, gid, &home) {
        Ok(account) => Ok(account),
        Err(e) => {
            // A read-only /etc: the ids still work, only the name lookup does not.
            warn!("cannot record the runtime user in /etc ({e}); running as {uid}:{gid} anyway");
            Ok(Account {
                name: cfg.user.clone(),
                uid,
                gid,
                home,
            })
        }
    }
}

/// The environment every child starts with: ours minus the outer service manager's,
/// plus the session's.
fn child_env(
    cfg: &Config,
    account: &Account,
    runtime_dir: &Path,
    notify: &NotifySocket,
    status_path: &Path,
    gpu: &gpu::Gpu,
) -> Vec<(String, OsString)> {
    let mut out: Vec<(String, OsString)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| !OUTER_VARS.contains(&k.as_str()))
        .collect();
    let home = &account.home;
    let mut set = |k: &str, v: OsString| {
        out.retain(|(key, _)| key != k);
        out.push((k.to_string(), v));
    };
    set("HOME", home.clone().into());
    set("USER", account.name.clone().into());
    set("LOGNAME", account.name.clone().into());
    set("TZ", cfg.tz.clone().into());
    set("XDG_RUNTIME_DIR", runtime_dir.into());
    set("XDG_CONFIG_HOME", home.join(".config").into());
    set("XDG_DATA_HOME", home.join(".local/share").into());
    set("XDG_STATE_HOME", home.join(".local/state").into());
    set("XDG_CACHE_HOME", home.join(".cache").into());
    set("XDG_SESSION_TYPE", "wayland".into());
    set("WAYLAND_DISPLAY", cfg.wayland_display.clone().into());
    set("NOTIFY_SOCKET", notify.path().into());
    set(
        "PULSE_SERVER",
        skerry_init::services::audio_server_env(runtime_dir).into(),
    );
    set("SKERRY_STATUS_FILE", status_path.into());
    for (k, v) in gpu.env() {
        set(&k, v.into());
    }
    if gpu.chosen.is_none() {
        out.retain(|(k, _)| k != "SKERRY_GPU_DRIVER");
    }
    for (k, v) in &cfg.exports {
        out.push((k.clone(), v.into()));
    }
    out
}
