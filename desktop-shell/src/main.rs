//! `skerry-shell`: the desktop shell, started by skerry-init in desktop mode once the
//! compositor is ready (`WAYLAND_DISPLAY` and `XDG_RUNTIME_DIR` come from the supervisor).

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = skerry_shell::shell::Config::from_env();
    tracing::info!(?config, "starting the desktop shell");
    skerry_shell::shell::run(config).context("the desktop shell stopped")
}
