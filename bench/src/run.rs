//! One workload through Skerry: start the stack, then for each encoder setting connect a
//! viewer, warm up, measure a fixed window (procfs before and after), freeze the workload,
//! let paint-over happen and compare the viewer's picture with the compositor's.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::browser;
use crate::procfs;
use crate::quality;
use crate::server_latency;
use crate::stack::{self, Stack, StackError};
use crate::viewer::{Drive, Viewer, ViewerError};
use crate::workload::{Setting, Workload};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Viewer(#[from] ViewerError),
}

pub const WIDTH: u32 = 1920;
pub const HEIGHT: u32 = 1080;

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Seconds measured per workload and setting.
    pub secs: f64,
    /// Seconds the stack runs before the first measurement (clients start, first frames).
    pub settle: f64,
    /// Seconds a new viewer receives before its window opens.
    pub warmup: f64,
}

/// One row of results.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Row {
    pub system: String,
    pub workload: String,
    pub setting: String,
    pub secs: f64,
    pub frames: u64,
    pub fps: f64,
    pub keyframes: u64,
    pub refreshes: u64,
    pub bytes_per_s: f64,
    /// CPU seconds per process over the window.
    pub cpu_s: BTreeMap<String, f64>,
    /// Compositor + capture + encode (Skerry: compositor and streamer; pixelflux: its one
    /// process), milliseconds of CPU per delivered frame.
    pub pipeline_cpu_ms_per_frame: Option<f64>,
    /// Compositor + capture + encode, percent of one core.
    pub pipeline_cpu_pct: f64,
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// Y-PSNR of the viewer's last picture against the compositor's, after paint-over.
    pub y_psnr_refresh_db: Option<f64>,
    /// Y-PSNR of the last frame encoded at motion quality (the picture the paint-over
    /// refresh replaced) against the compositor's frame it shows.
    pub y_psnr_motion_db: Option<f64>,
    /// Protocol viewer: input sent → first complete frame received (server + loopback).
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_samples: usize,
    pub latency_missed: u64,
    /// The streamer's probe: input received → first frame captured after it written.
    pub server_latency_p50_ms: Option<f64>,
    pub server_latency_p99_ms: Option<f64>,
    pub server_latency_samples: usize,
    pub server_latency_unanswered: u64,
    /// Headless Chromium: key event → changed pixels on the client's canvas.
    pub browser_latency_p50_ms: Option<f64>,
    pub browser_latency_p99_ms: Option<f64>,
    pub browser_latency_samples: usize,
    pub browser_latency_missed: u64,
    pub note: String,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).copied()
}

/// p50 and p99 of `samples`.
fn p50_p99(samples: &[f64]) -> (Option<f64>, Option<f64>) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    (percentile(&s, 0.5), percentile(&s, 0.99))
}

fn add_note(row: &mut Row, note: String) {
    if !row.note.is_empty() {
        row.note.push_str("; ");
    }
    row.note.push_str(&note);
}

fn signal_group(pgid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on the process group of a child this harness started.
    unsafe { libc::kill(-(pgid as i32), sig) };
}

/// Runs `workload` under every setting in `settings`; one row each.
pub async fn skerry(
    workload: Workload,
    settings: &[Setting],
    timing: Timing,
    big_txt: &std::path::Path,
    browser_keys: Option<u32>,
) -> Result<Vec<Row>, RunError> {
    let mut stack = Stack::new()?;
    let comp = stack.start_compositor(&format!("{WIDTH}x{HEIGHT}"))?;
    let app = stack.start_client(workload.name(), &workload.command(big_txt))?;
    let port = stack::free_port()?;
    let streamer = stack.start_streamer(port, "h264")?;
    let pids = [
        ("compositor", stack.procs[comp].pid()),
        ("streamer", stack.procs[streamer].pid()),
        ("app", stack.procs[app].pid()),
    ];
    let groups: Vec<u32> = pids.iter().map(|(_, p)| *p).collect();
    let settle = Duration::from_secs_f64(timing.settle);
    stack.wait_for(
        app,
        "the workload to settle",
        settle + Duration::from_secs(1),
        {
            let start = std::time::Instant::now();
            move || start.elapsed() >= settle
        },
    )?;

    let mut rows = Vec::new();
    for &setting in settings {
        let mut msg = setting.message();
        // The output stays 1920x1080 whatever size a browser viewer asks for.
        msg["manual_resolution"] = serde_json::json!({"width": WIDTH, "height": HEIGHT});
        let mut viewer = Viewer::connect(port, msg).await?;
        // The drag's button is held only while measuring; warm up without input.
        let warm_drive = match workload.drive(WIDTH) {
            Drive::Typing { period } => Drive::Typing { period },
            _ => Drive::Nothing,
        };
        viewer.run(timing.warmup, warm_drive).await?;
        let probe = server_latency::reset(port);
        let before = procfs::snapshot(&groups);
        let counts = viewer.run(timing.secs, workload.drive(WIDTH)).await?;
        let after = procfs::snapshot(&groups);
        let server = probe.and_then(|()| server_latency::read(port));

        let mut row = Row {
            system: "skerry".into(),
            workload: workload.name().into(),
            setting: setting.name().into(),
            secs: counts.secs,
            frames: counts.frames,
            fps: counts.frames as f64 / counts.secs,
            keyframes: counts.keyframes,
            refreshes: counts.refreshes,
            bytes_per_s: counts.bytes as f64 / counts.secs,
            latency_samples: counts.latencies_ms.len(),
            latency_missed: counts.missed,
            ..Row::default()
        };
        let mut pipeline_cpu = 0.0;
        for (name, pid) in pids {
            let cpu = procfs::cpu_between(&before, &after, pid);
            if name != "app" {
                pipeline_cpu += cpu;
            }
            row.cpu_s.insert(name.into(), cpu);
            let rss = after.get(&pid).map_or(0, |u| u.peak_rss_kib);
            row.peak_rss_mib.insert(name.into(), rss as f64 / 1024.0);
        }
        row.pipeline_cpu_pct = pipeline_cpu / counts.secs * 100.0;
        row.pipeline_cpu_ms_per_frame =
            (counts.frames > 0).then(|| pipeline_cpu * 1000.0 / counts.frames as f64);
        (row.latency_p50_ms, row.latency_p99_ms) = p50_p99(&counts.latencies_ms);
        match server {
            Ok(s) => {
                (row.server_latency_p50_ms, row.server_latency_p99_ms) = p50_p99(&s.samples_ms);
                row.server_latency_samples = s.samples_ms.len();
                row.server_latency_unanswered = s.unanswered;
            }
            Err(e) => add_note(&mut row, format!("server latency not read: {e}")),
        }

        // Freeze the workload so the desktop goes still, let paint-over finish, compare the
        // last motion-quality picture and the refreshed one with the compositor's frame.
        signal_group(stack.procs[app].pid(), libc::SIGSTOP);
        viewer.watch_for_refresh();
        viewer.run(1.5, Drive::Nothing).await?;
        match quality::screenshot(&stack.runtime_dir(), &stack.wayland_display) {
            Ok(reference) => {
                let psnr = |p: &crate::viewer::Picture| {
                    quality::decode(p, reference.width, reference.height)
                        .and_then(|got| quality::y_psnr(&got, &reference))
                };
                match psnr(&viewer.picture) {
                    Ok(db) => row.y_psnr_refresh_db = Some(db),
                    Err(e) => add_note(&mut row, format!("Y-PSNR not measured: {e}")),
                }
                if let Some(m) = &viewer.motion {
                    match psnr(m) {
                        Ok(db) => row.y_psnr_motion_db = Some(db),
                        Err(e) => add_note(&mut row, format!("motion Y-PSNR not measured: {e}")),
                    }
                }
            }
            Err(e) => add_note(&mut row, format!("Y-PSNR not measured: {e}")),
        }
        signal_group(stack.procs[app].pid(), libc::SIGCONT);
        viewer.close().await;

        // The user's view of typing: a real browser on the same session and setting.
        if workload == Workload::Typing
            && let Some(keys) = browser_keys
        {
            match browser::measure(stack.dir.path(), port, keys) {
                Ok(b) => {
                    (row.browser_latency_p50_ms, row.browser_latency_p99_ms) =
                        p50_p99(&b.samples_ms);
                    row.browser_latency_samples = b.samples_ms.len();
                    row.browser_latency_missed = b.missed;
                }
                Err(e) => add_note(&mut row, format!("browser latency not measured: {e}")),
            }
        }
        tracing::info!(
            workload = workload.name(),
            setting = setting.name(),
            fps = row.fps,
            "measured"
        );
        rows.push(row);
    }
    Ok(rows)
}

/// A pixelflux row from the driver's JSON line.
pub fn pixelflux_row(workload: Workload, setting: Setting, v: &serde_json::Value) -> Row {
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let secs = f("secs").max(1e-9);
    let frames = f("distinct_frame_ids") as u64;
    let cpu = f("cpu_capture_proc_s");
    let mut row = Row {
        system: "pixelflux".into(),
        workload: workload.name().into(),
        setting: setting.pixelflux().into(),
        secs,
        frames,
        fps: frames as f64 / secs,
        bytes_per_s: f("cb_bytes") / secs,
        pipeline_cpu_pct: cpu / secs * 100.0,
        pipeline_cpu_ms_per_frame: (frames > 0).then(|| cpu * 1000.0 / frames as f64),
        note: "compositor, capture and encode share one process".into(),
        ..Row::default()
    };
    row.cpu_s.insert("pixelflux".into(), cpu);
    row.cpu_s.insert("app".into(), f("cpu_app_s"));
    row
}
