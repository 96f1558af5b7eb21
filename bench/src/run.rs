//! One workload through Skerry: start the stack, then for each encoder setting connect a
//! viewer, warm up, measure a fixed window (procfs before and after), freeze the workload,
//! let paint-over happen and compare the viewer's picture with the compositor's.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::procfs;
use crate::quality;
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
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_samples: usize,
    pub latency_missed: u64,
    pub note: String,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).copied()
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
        let (msg, h444) = setting.message();
        let mut viewer = Viewer::connect(port, h444, msg).await?;
        // The drag's button is held only while measuring; warm up without input.
        let warm_drive = match workload.drive(WIDTH) {
            Drive::Typing { period } => Drive::Typing { period },
            _ => Drive::Nothing,
        };
        viewer.run(timing.warmup, warm_drive).await?;
        let before = procfs::snapshot(&groups);
        let counts = viewer.run(timing.secs, workload.drive(WIDTH)).await?;
        let after = procfs::snapshot(&groups);

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
        let mut lat = counts.latencies_ms.clone();
        lat.sort_by(f64::total_cmp);
        row.latency_p50_ms = percentile(&lat, 0.5);
        row.latency_p99_ms = percentile(&lat, 0.99);

        // Freeze the workload so the desktop goes still, let paint-over finish, compare.
        signal_group(stack.procs[app].pid(), libc::SIGSTOP);
        viewer.run(1.5, Drive::Nothing).await?;
        match quality::screenshot(&stack.runtime_dir(), &stack.wayland_display).and_then(
            |reference| {
                let got = quality::decode(&viewer.picture, reference.width, reference.height)?;
                quality::y_psnr(&got, &reference)
            },
        ) {
            Ok(db) => row.y_psnr_refresh_db = Some(db),
            Err(e) => row.note = format!("Y-PSNR not measured: {e}"),
        }
        signal_group(stack.procs[app].pid(), libc::SIGCONT);
        viewer.close().await;
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
