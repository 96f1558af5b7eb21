//! `skerry-compositor`: reads its configuration from the environment, listens on the Wayland
//! socket, reports readiness and runs until killed.

use anyhow::Context;
use skerry_compositor::{Compositor, config};

fn main() -> anyhow::Result<()> {
    // Started as `Xwayland` through the compositor's own link: become it, with a cookie.
    if let Some(e) = skerry_compositor::xauth::run_as_xwayland() {
        anyhow::bail!("starting Xwayland with a cookie: {e}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = config::parse(|k| std::env::var(k).ok(), args.iter().map(String::as_str))?;
    let picked_name = config.socket_name.is_none();
    tracing::info!(?config, "starting");

    let mut compositor = Compositor::new(config).context("starting the compositor")?;
    let name = compositor.socket_name().to_string_lossy().into_owned();
    if picked_name {
        // The product of this line is the socket name for whoever started us.
        #[allow(clippy::disallowed_macros)]
        {
            println!("{name}");
        }
    }
    tracing::info!("listening on WAYLAND_DISPLAY={name}");
    compositor.state.write_stats_file();
    compositor.start_children();
    compositor.run().context("running the compositor")?;
    Ok(())
}
