//! Encode cost at 1920x1080: time and bytes per frame for scrolling text and full-screen
//! motion, with x264 and JPEG. `cargo bench -p skerry-streamer`;
//! `SKERRY_BENCH_FRAMES` sets the frames per row (default 60), `SKERRY_BENCH_PRESET` the
//! x264 preset (default superfast).

use std::time::{Duration, Instant};

use skerry_streamer::desktop::Frame;
use skerry_streamer::encode::{EncodeParams, Encoder, JpegEncoder, X264Encoder};
use skerry_streamer::synthetic::{Scene, SyntheticScreen};

const W: u32 = 1920;
const H: u32 = 1080;

struct Row {
    scene: &'static str,
    encoder: String,
    per_frame: Duration,
    bytes: usize,
    frames: usize,
}

fn run(frames: &[Frame], enc: &mut dyn Encoder) -> (Duration, usize) {
    let mut total = Duration::ZERO;
    let mut bytes = 0;
    for (i, f) in frames.iter().enumerate() {
        let params = EncodeParams {
            keyframe: i == 0,
            refresh: false,
            crf: 25,
            jpeg_quality: 60,
        };
        let t = Instant::now();
        let out = enc.encode(f, &f.damage, params);
        total += t.elapsed();
        match out {
            Ok(Some(e)) => bytes += e.byte_len(),
            Ok(None) => {}
            Err(e) => panic!("{} failed: {e}", enc.name()),
        }
    }
    (total, bytes)
}

#[allow(clippy::disallowed_macros)]
fn main() {
    let n: usize = std::env::var("SKERRY_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let preset = std::env::var("SKERRY_BENCH_PRESET").unwrap_or_else(|_| "superfast".into());
    let mut rows = Vec::new();
    for (name, scene) in [
        ("scrolling text", Scene::Scroll { rows: 3 }),
        ("full-screen motion", Scene::Motion),
    ] {
        let mut screen = SyntheticScreen::new(scene, W, H);
        let frames: Vec<Frame> = (0..n).map(|_| screen.next_frame()).collect();
        let cases: Vec<(String, Box<dyn Encoder>)> = vec![
            (
                format!("x264 {preset} 4:2:0"),
                Box::new(X264Encoder::new(&preset, 0)),
            ),
            (
                "JPEG q60".into(),
                Box::new(JpegEncoder::new().expect("turbojpeg")),
            ),
        ];
        for (label, mut enc) in cases {
            let (total, bytes) = run(&frames, enc.as_mut());
            rows.push(Row {
                scene: name,
                encoder: label,
                per_frame: total / n.max(1) as u32,
                bytes,
                frames: n,
            });
        }
    }
    println!("encode at {W}x{H}, {n} frames per row");
    println!(
        "{:<20} {:<24} {:>12} {:>14} {:>10}",
        "scene", "encoder", "ms/frame", "bytes/frame", "max fps"
    );
    for r in rows {
        let ms = r.per_frame.as_secs_f64() * 1000.0;
        println!(
            "{:<20} {:<24} {:>12.2} {:>14} {:>10.0}",
            r.scene,
            r.encoder,
            ms,
            r.bytes / r.frames.max(1),
            if ms > 0.0 { 1000.0 / ms } else { 0.0 }
        );
    }
}
