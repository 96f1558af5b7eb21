//! Bar charts of bandwidth and CPU per workload, Skerry beside pixelflux. They are written as
//! SVG (text and bars, no plotting dependency) and rasterised to PNG by ffmpeg's SVG decoder
//! (librsvg), which the test machines already have for decoding video.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use crate::report::partner;
use crate::run::Row;
use crate::workload::Setting;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("writing {0}: {1}")]
    Io(String, std::io::Error),
    #[error("ffmpeg could not rasterise {0}: {1}")]
    Raster(String, String),
}

struct Bar {
    label: String,
    skerry: f64,
    pixelflux: Option<f64>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn svg(title: &str, unit: &str, legend: [&str; 2], bars: &[Bar]) -> String {
    let (w, h, left, top, bottom) = (1000.0, 520.0, 70.0, 50.0, 110.0);
    let plot_h = h - top - bottom;
    let max = bars
        .iter()
        .flat_map(|b| [Some(b.skerry), b.pixelflux])
        .flatten()
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let group = (w - left - 20.0) / bars.len().max(1) as f64;
    let bw = group * 0.35;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="DejaVu Sans" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="28" font-size="18" text-anchor="middle">{}</text>"##,
        w / 2.0,
        escape(title)
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.1}</text>"##,
            w - 20.0,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">{}</text>"##,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(unit)
    );
    for (i, b) in bars.iter().enumerate() {
        let x0 = left + group * i as f64 + group * 0.12;
        for (j, (v, colour)) in [(Some(b.skerry), "#1f77b4"), (b.pixelflux, "#ff7f0e")]
            .into_iter()
            .enumerate()
        {
            let Some(v) = v else { continue };
            let bh = plot_h * v / max;
            let x = x0 + bw * j as f64;
            let y = top + plot_h - bh;
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{bw}" height="{bh}" fill="{colour}"/><text x="{}" y="{}" text-anchor="middle" font-size="10">{v:.1}</text>"##,
                x + bw / 2.0,
                y - 3.0
            );
        }
        let lx = x0 + bw;
        let ly = top + plot_h + 14.0;
        let _ = write!(
            s,
            r##"<text x="{lx}" y="{ly}" text-anchor="end" transform="rotate(-35 {lx} {ly})">{}</text>"##,
            escape(&b.label)
        );
    }
    let ly = h - 16.0;
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{}" width="14" height="14" fill="#1f77b4"/><text x="{}" y="{ly}">{}</text><rect x="{}" y="{}" width="14" height="14" fill="#ff7f0e"/><text x="{}" y="{ly}">{}</text></svg>"##,
        ly - 11.0,
        left + 20.0,
        escape(legend[0]),
        left + 160.0,
        ly - 11.0,
        left + 180.0,
        escape(legend[1]),
    );
    s
}

fn write_chart(
    out: &Path,
    name: &str,
    title: &str,
    unit: &str,
    legend: [&str; 2],
    bars: &[Bar],
) -> Result<(), PlotError> {
    let svg_path = out.join(format!("{name}.svg"));
    let png_path = out.join(format!("{name}.png"));
    std::fs::write(&svg_path, svg(title, unit, legend, bars))
        .map_err(|e| PlotError::Io(svg_path.display().to_string(), e))?;
    let r = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&svg_path)
        .args(["-frames:v", "1"])
        .arg(&png_path)
        .output()
        .map_err(|e| PlotError::Io("ffmpeg".into(), e))?;
    if !r.status.success() {
        return Err(PlotError::Raster(
            svg_path.display().to_string(),
            String::from_utf8_lossy(&r.stderr).into(),
        ));
    }
    Ok(())
}

/// `bandwidth.png` (Mbit/s), `cpu.png` (pipeline CPU, % of a core) and, where latency was
/// measured, `latency.png` (p50 and p99 at the viewer, the server and the browser), plus
/// their SVGs.
pub fn write_all(rows: &[Row], out: &Path) -> Result<(), PlotError> {
    let mut bw = Vec::new();
    let mut cpu = Vec::new();
    let mut lat = Vec::new();
    for r in rows.iter().filter(|r| r.system == "skerry") {
        for (what, n, p50, p99) in [
            (
                "viewer",
                r.latency_samples,
                r.latency_p50_ms,
                r.latency_p99_ms,
            ),
            (
                "server",
                r.server_latency_samples,
                r.server_latency_p50_ms,
                r.server_latency_p99_ms,
            ),
            (
                "browser",
                r.browser_latency_samples,
                r.browser_latency_p50_ms,
                r.browser_latency_p99_ms,
            ),
        ] {
            if let (true, Some(p50)) = (n > 0, p50) {
                lat.push(Bar {
                    label: format!("{} {} {what}", r.workload, r.setting),
                    skerry: p50,
                    pixelflux: p99,
                });
            }
        }
        let pf = partner(
            rows,
            r,
            Setting::parse(&r.setting).map_or("", Setting::pixelflux),
        );
        let label = format!("{} {}", r.workload, r.setting);
        bw.push(Bar {
            label: label.clone(),
            skerry: r.bytes_per_s * 8.0 / 1e6,
            pixelflux: pf.map(|p| p.bytes_per_s * 8.0 / 1e6),
        });
        cpu.push(Bar {
            label,
            skerry: r.pipeline_cpu_pct,
            pixelflux: pf.map(|p| p.pipeline_cpu_pct),
        });
    }
    write_chart(
        out,
        "bandwidth",
        "Bytes on the wire per workload (1920x1080)",
        "Mbit/s",
        ["Skerry", "pixelflux (same run)"],
        &bw,
    )?;
    write_chart(
        out,
        "cpu",
        "Compositor + capture + encode CPU per workload",
        "% of one core",
        ["Skerry", "pixelflux (same run)"],
        &cpu,
    )?;
    if !lat.is_empty() {
        write_chart(
            out,
            "latency",
            "Skerry input to frame: protocol viewer, streamer probe, Chromium",
            "ms",
            ["p50", "p99"],
            &lat,
        )?;
    }
    Ok(())
}
