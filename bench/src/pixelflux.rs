//! pixelflux, the capture-and-encode engine of today's Selkies, run in the same harness
//! session on the same workloads, so Skerry/pixelflux ratios hold on a noisy machine.
//! pixelflux is a Python package: it runs from its own venv (never part of this
//! repository) through the driver script kept with the reference notes.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PixelfluxError {
    #[error("pixelflux is not installed ({0} missing); see docs/benchmarks.md")]
    NotInstalled(PathBuf),
    #[error("running pixelflux: {0}")]
    Run(std::io::Error),
    #[error("pixelflux run failed: {0}")]
    Failed(String),
}

/// The Python of the venv holding pixelflux and psutil.
pub fn python() -> PathBuf {
    std::env::var_os("SKERRY_BENCH_PF_PYTHON").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            Path::new(&home).join(".cache/skerry-bench-pf/venv/bin/python")
        },
        PathBuf::from,
    )
}

/// The driver script (`bench_pf.py` of the reference notes): by default
/// `../shared/anchors/pixelflux/bench_pf.py` from the repository root.
pub fn script() -> PathBuf {
    std::env::var_os("SKERRY_BENCH_PF_SCRIPT").map_or_else(
        || {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap_or(std::path::Path::new(".."));
            root.join("../shared/anchors/pixelflux/bench_pf.py")
        },
        PathBuf::from,
    )
}

pub fn available() -> Result<(), PixelfluxError> {
    for p in [python(), script()] {
        if !p.exists() {
            return Err(PixelfluxError::NotInstalled(p));
        }
    }
    Ok(())
}

/// One run of pixelflux's built-in compositor + encoder on `workload` ("idle", "scroll",
/// "video") with `cfg` ("h264crf" or "jpeg"); the driver's JSON line. The driver and the
/// text file it scrolls are placed in `work`, which also holds its runtime dir.
pub fn run(
    work: &Path,
    big_txt: &Path,
    workload: &str,
    cfg: &str,
    secs: f64,
    warmup: f64,
) -> Result<serde_json::Value, PixelfluxError> {
    let driver = work.join("bench_pf.py");
    if !driver.exists() {
        std::fs::copy(script(), &driver).map_err(PixelfluxError::Run)?;
        std::fs::copy(big_txt, work.join("big.txt")).map_err(PixelfluxError::Run)?;
    }
    let out = Command::new(python())
        .arg(&driver)
        .args(["--backend", "wayland", "--workload", workload, "--cfg", cfg])
        .args(["--secs", &secs.to_string(), "--warmup", &warmup.to_string()])
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .current_dir(work)
        .process_group(0)
        .output()
        .map_err(PixelfluxError::Run)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .ok_or_else(|| {
            PixelfluxError::Failed(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ))
        })
}

use std::os::unix::process::CommandExt;
