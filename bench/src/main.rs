//! `skerry-bench`: the benchmark harness. It starts the real pipeline (Skerry's compositor at
//! 1920x1080, a workload client, the streamer) for each scripted workload, measures it through
//! a protocol-speaking viewer and procfs under each encoder setting, runs pixelflux (the
//! engine of today's Selkies) on the same workloads in the same session, and writes a
//! Markdown table, JSON and PNG plots. Figures from one run compare with each other; figures
//! from different runs on a shared machine do not, which is why both systems run together.
//!
//! Usage: `skerry-bench [--secs S] [--warmup S] [--settle S] [--workloads idle,scroll,drag,video,typing]
//!         [--settings x264,x264-tiles,jpeg] [--pixelflux auto|on|off]
//!         [--browser auto|on|off] [--browser-keys N] [--out DIR]`

mod browser;
mod pixelflux;
mod plot;
mod procfs;
mod quality;
mod report;
mod run;
mod server_latency;
mod stack;
mod viewer;
mod workload;

use std::path::PathBuf;

use anyhow::{Context, bail};
use workload::{Setting, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PfMode {
    Auto,
    On,
    Off,
}

struct Args {
    timing: run::Timing,
    workloads: Vec<Workload>,
    settings: Vec<Setting>,
    pixelflux: PfMode,
    browser: PfMode,
    browser_keys: u32,
    out: PathBuf,
}

fn mode(flag: &str, v: &str) -> anyhow::Result<PfMode> {
    Ok(match v {
        "auto" => PfMode::Auto,
        "on" => PfMode::On,
        "off" => PfMode::Off,
        other => bail!("{flag} {other:?}: expected auto, on or off"),
    })
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        timing: run::Timing {
            secs: 10.0,
            settle: 3.0,
            warmup: 1.5,
        },
        workloads: workload::ALL.to_vec(),
        settings: workload::SETTINGS.to_vec(),
        pixelflux: PfMode::Auto,
        browser: PfMode::Auto,
        browser_keys: 40,
        out: PathBuf::from("bench-results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let num = |v: String| {
            v.parse::<f64>()
                .with_context(|| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--secs" => a.timing.secs = num(value()?)?,
            "--warmup" => a.timing.warmup = num(value()?)?,
            "--settle" => a.timing.settle = num(value()?)?,
            "--out" => a.out = PathBuf::from(value()?),
            "--workloads" => {
                a.workloads = value()?
                    .split(',')
                    .map(|w| Workload::parse(w).with_context(|| format!("unknown workload {w:?}")))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--settings" => {
                a.settings = value()?
                    .split(',')
                    .map(|w| Setting::parse(w).with_context(|| format!("unknown setting {w:?}")))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--pixelflux" => a.pixelflux = mode(&flag, &value()?)?,
            "--browser" => a.browser = mode(&flag, &value()?)?,
            "--browser-keys" => {
                let v = value()?;
                a.browser_keys = v
                    .parse()
                    .with_context(|| format!("--browser-keys: {v:?} is not a count"))?;
            }
            other => {
                bail!("unknown argument {other:?} (see the module docs or docs/benchmarks.md)")
            }
        }
    }
    if a.timing.secs <= 0.0 {
        bail!("--secs must be positive");
    }
    Ok(a)
}

#[allow(clippy::disallowed_macros)]
fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let work = tempfile::Builder::new()
        .prefix("skerry-bench-work-")
        .tempdir()
        .context("temp dir")?;
    let big_txt = work.path().join("big.txt");
    workload::write_big_txt(&big_txt).context("writing the scroll text")?;

    let pf = match (args.pixelflux, pixelflux::available()) {
        (PfMode::Off, _) => None,
        (_, Ok(())) => Some(()),
        (PfMode::On, Err(e)) => return Err(e).context("--pixelflux on"),
        (PfMode::Auto, Err(e)) => {
            tracing::warn!("pixelflux skipped: {e}");
            None
        }
    };

    let mut browser_note = String::from("measured");
    let browser_keys = match (args.browser, browser::available()) {
        (PfMode::Off, _) => {
            browser_note = "off".into();
            None
        }
        (_, Ok(())) => Some(args.browser_keys),
        (PfMode::On, Err(e)) => return Err(e).context("--browser on"),
        (PfMode::Auto, Err(e)) => {
            tracing::warn!("browser latency skipped: {e}");
            browser_note = format!("skipped: {e}");
            None
        }
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut rows = Vec::new();
    for &w in &args.workloads {
        tracing::info!(workload = w.name(), "Skerry");
        let r = rt
            .block_on(run::skerry(
                w,
                &args.settings,
                args.timing,
                &big_txt,
                browser_keys,
            ))
            .with_context(|| format!("workload {}", w.name()))?;
        rows.extend(r);
        if let (Some(()), Some(pw)) = (pf, w.pixelflux()) {
            let mut cfgs: Vec<Setting> = Vec::new();
            for &s in &args.settings {
                if !cfgs.iter().any(|c| c.pixelflux() == s.pixelflux()) {
                    cfgs.push(s);
                }
            }
            for s in cfgs {
                tracing::info!(workload = w.name(), cfg = s.pixelflux(), "pixelflux");
                let pf_work = work.path().join("pixelflux");
                std::fs::create_dir_all(&pf_work).context("pixelflux work dir")?;
                let warm = args.timing.settle + args.timing.warmup;
                match pixelflux::run(
                    &pf_work,
                    &big_txt,
                    pw,
                    s.pixelflux(),
                    args.timing.secs,
                    warm,
                ) {
                    Ok(v) => rows.push(run::pixelflux_row(w, s, &v)),
                    Err(e) => tracing::warn!(workload = w.name(), "pixelflux run failed: {e}"),
                }
            }
        }
    }

    let table = report::markdown(&rows, |s| Setting::parse(s).map_or("", Setting::pixelflux));
    let meta = serde_json::json!({
        "resolution": format!("{}x{}", run::WIDTH, run::HEIGHT),
        "secs": args.timing.secs,
        "warmup": args.timing.warmup,
        "settle": args.timing.settle,
        "browser_latency": browser_note,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    });
    let json = report::json(&rows, meta);
    std::fs::write(args.out.join("results.md"), &table).context("writing results.md")?;
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )
    .context("writing results.json")?;
    if let Err(e) = plot::write_all(&rows, &args.out) {
        tracing::warn!("plots not written: {e}");
    }
    print!("{table}");
    Ok(())
}
