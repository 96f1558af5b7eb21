//! The results as a Markdown table (with Skerry/pixelflux ratios) and as JSON.

use std::fmt::Write;

use crate::run::Row;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.digits$}"))
}

/// The pixelflux row measured with the same workload and comparable setting, if any.
pub fn partner<'a>(rows: &'a [Row], row: &Row, pf_setting: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.system == "pixelflux" && r.workload == row.workload && r.setting == pf_setting)
}

/// "p50 / p99 (n=…)", or a dash without samples.
fn latency(p50: Option<f64>, p99: Option<f64>, n: usize) -> String {
    if n == 0 {
        return "—".into();
    }
    format!("{} / {} (n={n})", opt(p50, 1), opt(p99, 1))
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// One table: every Skerry row, each followed by its pixelflux partner and the ratios.
pub fn markdown(rows: &[Row], pf_setting_of: impl Fn(&str) -> &'static str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | setting | system | fps | Mbit/s | pipeline CPU ms/frame | pipeline CPU % | CPU s compositor / streamer / app | peak RSS MiB compositor / streamer | Y-PSNR motion / after paint-over dB | viewer input→frame p50 / p99 ms | server input→sent p50 / p99 ms | browser key→pixels p50 / p99 ms |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---:|---:|---:|---:|---|---|---|---|---|---|"
    );
    for r in rows.iter().filter(|r| r.system == "skerry") {
        let cpu = |k: &str| r.cpu_s.get(k).copied().unwrap_or(0.0);
        let rss = |k: &str| r.peak_rss_mib.get(k).copied().unwrap_or(0.0);
        let _ = writeln!(
            s,
            "| {} | {} | Skerry | {:.1} | {:.2} | {} | {:.1} | {:.2} / {:.2} / {:.2} | {:.0} / {:.0} | {} / {} | {} | {} | {} |",
            r.workload,
            r.setting,
            r.fps,
            r.bytes_per_s * 8.0 / 1e6,
            opt(r.pipeline_cpu_ms_per_frame, 2),
            r.pipeline_cpu_pct,
            cpu("compositor"),
            cpu("streamer"),
            cpu("app"),
            rss("compositor"),
            rss("streamer"),
            opt(r.y_psnr_motion_db, 1),
            opt(r.y_psnr_refresh_db, 1),
            latency(r.latency_p50_ms, r.latency_p99_ms, r.latency_samples),
            latency(
                r.server_latency_p50_ms,
                r.server_latency_p99_ms,
                r.server_latency_samples
            ),
            latency(
                r.browser_latency_p50_ms,
                r.browser_latency_p99_ms,
                r.browser_latency_samples
            ),
        );
        let pf_setting = pf_setting_of(&r.setting);
        if let Some(p) = partner(rows, r, pf_setting) {
            let _ = writeln!(
                s,
                "| {} | {} | pixelflux | {:.1} | {:.2} | {} | {:.1} | {:.2} (all-in-one) / — / {:.2} | — | — | — | — | — |",
                p.workload,
                p.setting,
                p.fps,
                p.bytes_per_s * 8.0 / 1e6,
                opt(p.pipeline_cpu_ms_per_frame, 2),
                p.pipeline_cpu_pct,
                p.cpu_s.get("pixelflux").copied().unwrap_or(0.0),
                p.cpu_s.get("app").copied().unwrap_or(0.0),
            );
            let per_frame = match (r.pipeline_cpu_ms_per_frame, p.pipeline_cpu_ms_per_frame) {
                (Some(a), Some(b)) => ratio(a, b),
                _ => None,
            };
            let _ = writeln!(
                s,
                "| {} | {} | **Skerry/pixelflux** | {} | {} | {} | {} | | | | | | |",
                r.workload,
                r.setting,
                opt(ratio(r.fps, p.fps), 2),
                opt(ratio(r.bytes_per_s, p.bytes_per_s), 2),
                opt(per_frame, 2),
                opt(ratio(r.pipeline_cpu_pct, p.pipeline_cpu_pct), 2),
            );
        }
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| !r.note.is_empty() && r.system == "skerry")
        .map(|r| format!("- {} / {}: {}", r.workload, r.setting, r.note))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNotes:\n{}", notes.join("\n"));
    }
    s
}

pub fn json(rows: &[Row], meta: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "meta": meta, "rows": rows })
}
