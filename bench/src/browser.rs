//! Key event → changed pixels in headless Chromium running Skerry's real web client: the
//! latency a user feels, decoder and canvas included. The driver is a short Playwright
//! script (embedded here, written next to the run's files) run with the browser tests'
//! venv, which drives Debian's /usr/bin/chromium; no browser is ever downloaded.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("no browser driver: {0} (create it with web/tests/run.sh); {1}")]
    NotInstalled(PathBuf, &'static str),
    #[error("running the browser driver: {0}")]
    Run(std::io::Error),
    #[error("browser driver failed: {0}")]
    Failed(String),
    #[error("browser driver output: {0}")]
    Output(String),
}

const SCRIPT: &str = include_str!("../browser_latency.py");
const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser measured.
#[derive(Debug, Clone, Default)]
pub struct BrowserLatency {
    pub samples_ms: Vec<f64>,
    pub missed: u64,
}

/// The Python of the browser tests' venv (`SKERRY_VENV`, as web/tests/run.sh uses it).
fn python() -> PathBuf {
    std::env::var_os("SKERRY_VENV")
        .map_or_else(
            || {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                Path::new(&home).join(".cache/skerry-venv")
            },
            PathBuf::from,
        )
        .join("bin/python")
}

/// Whether the driver can run here (the venv with Playwright, and Chromium).
pub fn available() -> Result<(), BrowserError> {
    let py = python();
    if !py.exists() {
        return Err(BrowserError::NotInstalled(py, "the venv is missing"));
    }
    if !Path::new(CHROMIUM).exists() {
        return Err(BrowserError::NotInstalled(
            CHROMIUM.into(),
            "Debian's chromium is missing",
        ));
    }
    let ok = Command::new(&py)
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err(BrowserError::NotInstalled(
            py,
            "Playwright is not installed in it",
        ));
    }
    Ok(())
}

/// Opens the client at `port` and times `keys` key presses into the focused terminal.
pub fn measure(work: &Path, port: u16, keys: u32) -> Result<BrowserLatency, BrowserError> {
    let script = work.join("browser_latency.py");
    std::fs::write(&script, SCRIPT).map_err(BrowserError::Run)?;
    let out = Command::new(python())
        .arg(&script)
        .args(["--url", &format!("http://127.0.0.1:{port}/")])
        .args(["--keys", &keys.to_string()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(BrowserError::Run)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(BrowserError::Failed(tail));
    }
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| BrowserError::Output(format!("{e}: {line}")))?;
    let samples_ms = v["samples_ms"]
        .as_array()
        .ok_or_else(|| BrowserError::Output(line.to_owned()))?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    Ok(BrowserLatency {
        samples_ms,
        missed: v["missed"].as_u64().unwrap_or(0),
    })
}
