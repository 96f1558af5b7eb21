//! `skerry-streamer`: reads its configuration from the environment (checking all of it
//! before starting anything: `SKERRY_PORT`, `SKERRY_BIND`, `SKERRY_ENCODER`, `SKERRY_FPS`,
//! `SKERRY_SOURCE`, `SKERRY_X264_PRESET`, `SKERRY_TLS`, `SKERRY_TLS_CERT`/`SKERRY_TLS_KEY`,
//! `SKERRY_TLS_DIR`, `SKERRY_STATUS_FILE`, `SKERRY_UPLOAD_DIR`, `SKERRY_DOWNLOAD_DIR`,
//! `SKERRY_UPLOAD_MAX_SIZE`, `SKERRY_CLIPBOARD_MAX`, and the security settings of
//! `server::auth::SecurityConfig`), starts the capture source, the encode pipeline
//! and the one HTTPS port, tells the supervisor it is ready, and stops cleanly on
//! SIGTERM/SIGINT.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use skerry_streamer::desktop::{CaptureEvent, CaptureSink, DesktopControl};
use skerry_streamer::files::{Files, FilesConfig};
use skerry_streamer::pipeline::{Pipeline, PipelineConfig};
use skerry_streamer::proto::{EncoderKind, Settings};
use skerry_streamer::server::auth::{Auth, SecurityConfig};
use skerry_streamer::server::{self, AppState, tls};
use skerry_streamer::synthetic::{Scene, SyntheticSource};
use skerry_streamer::wayland::{self, WaylandOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Wayland,
    Synthetic,
}

#[derive(Debug)]
struct Config {
    bind: IpAddr,
    port: u16,
    encoder: EncoderKind,
    fps: u32,
    x264_preset: String,
    source: SourceKind,
    tls: bool,
    tls_cert: Option<(PathBuf, PathBuf)>,
    /// Where a generated certificate is kept (`SKERRY_TLS_DIR`, else `tls/` in the
    /// configuration directory).
    tls_dir: Option<PathBuf>,
    status_file: Option<PathBuf>,
    files: FilesConfig,
    security: SecurityConfig,
}

impl Config {
    /// Reads `SKERRY_*` variables; every problem is reported, not just the first.
    fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let parse = |name: &str, default: &str| get(name).unwrap_or_else(|| default.into());
        let bind = parse("SKERRY_BIND", "127.0.0.1");
        let port = parse("SKERRY_PORT", "3000");
        let encoder = parse("SKERRY_ENCODER", "h264");
        let fps = parse("SKERRY_FPS", "60");
        let source = parse("SKERRY_SOURCE", "wayland");
        let x264_preset = parse("SKERRY_X264_PRESET", "ultrafast");
        let tls = parse("SKERRY_TLS", "on");
        let cert = get("SKERRY_TLS_CERT");
        let key = get("SKERRY_TLS_KEY");
        let status_file = get("SKERRY_STATUS_FILE").map(PathBuf::from);
        let tls_dir = get("SKERRY_TLS_DIR")
            .map(PathBuf::from)
            .or_else(|| skerry_streamer::server::auth::config_dir(&get).map(|d| d.join("tls")));
        let security = SecurityConfig::from_env(&get)
            .map_err(|e| errors.extend(e))
            .ok();

        let files = FilesConfig::from_env(&get)
            .map_err(|e| errors.extend(e))
            .ok();
        let bind = bind
            .parse::<IpAddr>()
            .map_err(|_| errors.push(format!("SKERRY_BIND={bind:?} is not an IP address")))
            .ok();
        let port = port
            .parse::<u16>()
            .map_err(|_| errors.push(format!("SKERRY_PORT={port:?} is not a port number")))
            .ok();
        let encoder = match encoder.as_str() {
            "h264" => Some(EncoderKind::H264),
            "jpeg" => Some(EncoderKind::Jpeg),
            other => {
                errors.push(format!("SKERRY_ENCODER={other:?}: expected h264 or jpeg"));
                None
            }
        };
        let fps = match fps.parse::<u32>() {
            Ok(f) if (1..=120).contains(&f) => Some(f),
            _ => {
                errors.push(format!("SKERRY_FPS={fps:?}: expected 1 to 120"));
                None
            }
        };
        let source = match source.as_str() {
            "wayland" => Some(SourceKind::Wayland),
            "synthetic" => Some(SourceKind::Synthetic),
            other => {
                errors.push(format!(
                    "SKERRY_SOURCE={other:?}: expected wayland or synthetic"
                ));
                None
            }
        };
        if !["ultrafast", "superfast", "veryfast", "faster", "fast"].contains(&x264_preset.as_str())
        {
            errors.push(format!(
                "SKERRY_X264_PRESET={x264_preset:?}: expected ultrafast, superfast, veryfast, faster or fast"
            ));
        }
        let tls = match tls.as_str() {
            "on" | "1" | "true" => Some(true),
            "off" | "0" | "false" => Some(false),
            other => {
                errors.push(format!("SKERRY_TLS={other:?}: expected on or off"));
                None
            }
        };
        if let Err(e) =
            skerry_streamer::clipboard::parse_max(get("SKERRY_CLIPBOARD_MAX").as_deref())
        {
            errors.push(e);
        }
        let tls_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (None, None) => None,
            _ => {
                errors.push("SKERRY_TLS_CERT and SKERRY_TLS_KEY must be given together".into());
                None
            }
        };
        match (bind, port, encoder, fps, source, tls, files, security) {
            (
                Some(bind),
                Some(port),
                Some(encoder),
                Some(fps),
                Some(source),
                Some(tls),
                Some(files),
                Some(security),
            ) if errors.is_empty() => Ok(Self {
                bind,
                port,
                encoder,
                fps,
                x264_preset,
                source,
                tls,
                tls_cert,
                tls_dir,
                status_file,
                files,
                security,
            }),
            _ => Err(errors),
        }
    }
}

/// Starts the configured capture source delivering into `sink`.
fn start_source(
    kind: SourceKind,
    fps: u32,
    display: Option<String>,
    sink: Arc<dyn CaptureSink>,
) -> anyhow::Result<Arc<dyn DesktopControl>> {
    match kind {
        SourceKind::Wayland => {
            let options = WaylandOptions {
                display,
                max_fps: fps,
                ..WaylandOptions::default()
            };
            let control = wayland::start(options, sink)
                .context("connecting to the Wayland compositor (is WAYLAND_DISPLAY right?)")?;
            Ok(control)
        }
        SourceKind::Synthetic => {
            let src: Arc<dyn DesktopControl> =
                SyntheticSource::start(Scene::Scroll { rows: 2 }, 1280, 720, fps, sink);
            Ok(src)
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => tracing::info!("SIGINT: stopping"),
            }
        }
        _ => {
            tracing::warn!("cannot listen for signals; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // The desktop's programs run as the same user: without this any of them could read this
    // process's environment (the owner's password) and memory through /proc or ptrace.
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        tracing::warn!("cannot keep the desktop's programs out of the streamer's memory: {e}");
    }
    let config = match Config::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                tracing::error!("{e}");
            }
            bail!("invalid configuration ({} problems)", errors.len());
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let tls = if config.tls {
        let (certs, key) = match &config.tls_cert {
            Some((c, k)) => tls::load_pem(c, k).context("loading the TLS certificate")?,
            None => match &config.tls_dir {
                Some(dir) => match tls::load_or_create(dir) {
                    Ok(pair) => {
                        tracing::info!(dir = %shown(dir), "using the self-signed certificate kept in");
                        pair
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot keep a certificate; using a fresh one");
                        tls::self_signed(&tls::default_names())
                            .context("generating a certificate")?
                    }
                },
                None => {
                    tracing::info!(
                        "no SKERRY_TLS_CERT/SKERRY_TLS_KEY: using a fresh self-signed certificate"
                    );
                    tls::self_signed(&tls::default_names()).context("generating a certificate")?
                }
            },
        };
        Some(tls::acceptor(certs, key).context("configuring TLS")?)
    } else {
        tracing::warn!(
            "SKERRY_TLS=off: serving PLAIN HTTP. Browsers allow WebCodecs only on localhost \
             without TLS, and everything on the wire is readable."
        );
        None
    };

    let pipeline = Pipeline::start(PipelineConfig {
        settings: Settings {
            encoder: config.encoder,
            fps: config.fps,
            ..Settings::default()
        },
        x264_preset: config.x264_preset.clone(),
        ..PipelineConfig::default()
    });
    let (closed_tx, mut closed_rx) = tokio::sync::watch::channel(None);
    let sink = Arc::new(NoticeClose {
        pipeline: pipeline.clone(),
        closed: closed_tx,
    });
    let control = start_source(config.source, config.fps, None, sink)?;
    pipeline.attach_control(control);

    let addr = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let auth = start_auth(&config, tls.is_some())?;
    let state = Arc::new(AppState {
        pipeline: pipeline.clone(),
        status_file: config.status_file.clone(),
        server_name: format!("skerry-streamer {}", env!("CARGO_PKG_VERSION")),
        stopping: stop_rx,
        files: Arc::new(Files::new(config.files.clone())),
        audio: start_audio()?,
        auth,
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = listener.local_addr().unwrap_or(addr);
    let base = state.auth.base.as_str();
    tracing::info!("serving on {scheme}://{bound}{base}");
    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
        tracing::debug!(error = %e, "sd_notify READY=1 failed");
    }
    let lost = Arc::new(std::sync::Mutex::new(None::<String>));
    let lost_in_shutdown = lost.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown_signal() => {}
            reason = closed_rx.wait_for(Option::is_some) => {
                let reason = reason.ok().and_then(|r| r.clone()).unwrap_or_default();
                tracing::error!(%reason, "lost the compositor: stopping so the supervisor restarts us");
                if let Ok(mut l) = lost_in_shutdown.lock() {
                    *l = Some(reason);
                }
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        let _ = stop_tx.send(true);
    };
    server::serve(listener, tls, state, shutdown, Duration::from_secs(5)).await;
    pipeline.shutdown();
    let lost = lost.lock().ok().and_then(|mut l| l.take());
    match lost {
        Some(reason) => bail!("the capture source closed: {reason}"),
        None => Ok(()),
    }
}

/// The login state; on the first start with logins on, the generated password is logged
/// once (it is stored only hashed).
fn start_auth(config: &Config, tls: bool) -> anyhow::Result<Auth> {
    let enabled = config.security.auth_enabled(config.bind);
    let (auth, started) =
        Auth::start(&config.security, enabled, tls).context("setting up logins")?;
    match (
        auth.user(),
        started.generated_password,
        started.password_file,
    ) {
        (None, _, _) => tracing::info!(
            "logins are off (SKERRY_AUTH=auto on a loopback address, or off): everyone who reaches the port controls the desktop"
        ),
        (Some(user), Some(password), file) => {
            let file = file.map(|f| shown(&f)).unwrap_or_default();
            tracing::warn!(
                "logins are on. Generated credentials (shown only now; stored hashed in {file}, and in initial-password beside it, readable by the streamer alone): user {user:?} password {password:?}"
            );
        }
        (Some(user), None, Some(file)) => tracing::info!(
            "logins are on for user {user:?}; the password generated on the first start is stored hashed in {} and in clear in initial-password beside it (delete both to get a new one shown, or set SKERRY_AUTH_PASSWORD)",
            shown(&file)
        ),
        (Some(user), None, None) => {
            tracing::info!(
                "logins are on for user {user:?} with the password from the environment"
            );
        }
    }
    Ok(auth)
}

/// Starts the desktop sound and microphone paths unless `SKERRY_AUDIO=off`; a missing
/// audio server only means retries in the background.
fn start_audio() -> anyhow::Result<skerry_streamer::audio::Audio> {
    use skerry_streamer::audio::{Audio, AudioOptions};
    let opts = AudioOptions::from_env().context("audio settings")?;
    Ok(match opts {
        Some(o) => Audio::start(
            o,
            std::time::Instant::now(),
            Arc::new(std::sync::atomic::AtomicBool::new(false)),
        ),
        None => Audio::default(),
    })
}

/// Passes capture events to the pipeline and tells `run` when the source is gone, so the
/// streamer exits (and its supervisor restarts it) instead of serving a frozen picture.
struct NoticeClose {
    pipeline: Arc<Pipeline>,
    closed: tokio::sync::watch::Sender<Option<String>>,
}

impl CaptureSink for NoticeClose {
    fn deliver(&self, event: CaptureEvent) {
        if let CaptureEvent::Closed { reason } = &event {
            let _ = self.closed.send(Some(reason.clone()));
        }
        self.pipeline.deliver(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_env(env(&[])).expect("valid");
        assert_eq!(c.port, 3000);
        assert_eq!(c.bind.to_string(), "127.0.0.1");
        assert_eq!(c.source, SourceKind::Wayland);
        assert!(c.tls);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors = Config::from_env(env(&[
            ("SKERRY_PORT", "99999"),
            ("SKERRY_BIND", "nowhere"),
            ("SKERRY_ENCODER", "vp9"),
            ("SKERRY_FPS", "500"),
            ("SKERRY_SOURCE", "x11"),
            ("SKERRY_TLS_CERT", "/c.pem"),
            ("SKERRY_X264_PRESET", "placebo"),
            ("SKERRY_AUTH", "maybe"),
            ("SKERRY_BASE_PATH", "/a b/"),
        ]))
        .expect_err("invalid");
        assert_eq!(errors.len(), 9, "{errors:?}");
    }

    #[test]
    fn a_missing_compositor_is_a_clear_error() {
        let p = Pipeline::start(PipelineConfig::default());
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("no-such-wayland-socket");
        let err = start_source(
            SourceKind::Wayland,
            60,
            Some(socket.display().to_string()),
            p.clone(),
        )
        .err()
        .expect("fails");
        assert!(format!("{err:#}").contains("Wayland compositor"), "{err:#}");
        p.shutdown();
    }
}

/// A path as people know it: the folder skerry-init hands over as a descriptor
/// (`/proc/self/fd/N/…`) by the name it had when it was opened.
fn shown(path: &std::path::Path) -> String {
    let mut parts = path.components();
    let fd_dir: std::path::PathBuf = parts.by_ref().take(5).collect();
    if fd_dir.parent() == Some(std::path::Path::new("/proc/self/fd"))
        && let Ok(real) = std::fs::read_link(&fd_dir)
    {
        return real.join(parts.as_path()).display().to_string();
    }
    path.display().to_string()
}

#[cfg(test)]
mod shown_tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn a_folder_handed_over_as_a_descriptor_is_shown_by_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fd = std::fs::File::open(dir.path()).expect("open");
        let via = format!("/proc/self/fd/{}/auth/password", fd.as_raw_fd());
        assert_eq!(
            super::shown(std::path::Path::new(&via)),
            dir.path().join("auth/password").display().to_string()
        );
        assert_eq!(super::shown(std::path::Path::new("/etc/x")), "/etc/x");
    }
}
