//! Each encoder, fed by the synthetic source, produces streams the real `ffmpeg` decodes to
//! pictures close to the source: Y-PSNR ≥ 38 dB at motion quality and ≥ 45 dB after the
//! paint-over refresh, on the text-like pattern.

use std::path::Path;
use std::process::Command;

use skerry_streamer::desktop::{Frame, Rect};
use skerry_streamer::encode::{EncodeParams, EncodedFrame, Encoder, JpegEncoder, X264Encoder};
use skerry_streamer::proto::Settings;
use skerry_streamer::synthetic::{Scene, SyntheticScreen};

const MOTION: EncodeParams = EncodeParams {
    keyframe: false,
    refresh: false,
    crf: 25,
    jpeg_quality: 60,
};

const REFRESH: EncodeParams = EncodeParams {
    keyframe: false,
    refresh: true,
    crf: 18,
    jpeg_quality: 90,
};

/// BT.709 limited-range luma of B, G, R.
fn luma(b: u8, g: u8, r: u8) -> f64 {
    16.0 + 219.0 * (0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b)) / 255.0
}

fn reference_luma(frame: &Frame) -> Vec<f64> {
    let px = frame.pixels.bytes();
    let mut out = Vec::with_capacity((frame.width * frame.height) as usize);
    for y in 0..frame.height as usize {
        let row = &px[y * frame.stride as usize..];
        for x in 0..frame.width as usize {
            out.push(luma(row[x * 4], row[x * 4 + 1], row[x * 4 + 2]));
        }
    }
    out
}

fn psnr(reference: &[f64], decoded: &[f64]) -> f64 {
    assert_eq!(reference.len(), decoded.len());
    let mse = reference
        .iter()
        .zip(decoded)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / reference.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ffprobe(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=profile,pix_fmt,width,height,color_primaries,color_transfer,color_space,color_range", "-of", "default=nw=1"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Decodes an Annex-B stream; returns the Y plane of every frame.
fn decode_h264(dir: &Path, name: &str, stream: &[u8], w: u32, h: u32) -> Vec<Vec<f64>> {
    let input = dir.join(format!("{name}.h264"));
    let output = dir.join(format!("{name}.yuv"));
    std::fs::write(&input, stream).expect("write stream");
    ffmpeg(&[
        "-f",
        "h264",
        "-i",
        input.to_str().expect("utf-8 path"),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        output.to_str().expect("utf-8 path"),
    ]);
    let raw = std::fs::read(&output).expect("decoded output");
    // Odd sizes are encoded padded to even; the visible picture is the top-left w×h.
    let (pw, ph) = (w.next_multiple_of(2), h.next_multiple_of(2));
    let y = (pw * ph) as usize;
    let frame_len = y + y / 2;
    assert_eq!(raw.len() % frame_len, 0, "whole frames of {pw}x{ph}");
    raw.chunks_exact(frame_len)
        .map(|f| {
            f[..y]
                .chunks_exact(pw as usize)
                .take(h as usize)
                .flat_map(|row| row[..w as usize].iter().map(|&v| f64::from(v)))
                .collect()
        })
        .collect()
}

fn stream_of(frames: &[EncodedFrame]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| f.parts.iter().flat_map(|p| p.data.iter().copied()))
        .collect()
}

fn check_x264(scene: Scene, w: u32, h: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut screen = SyntheticScreen::new(scene, w, h);
    let mut enc = X264Encoder::new("superfast", 2);
    let mut sent = Vec::new();
    let mut last = None;
    for i in 0..6 {
        let frame = screen.next_frame();
        let params = EncodeParams {
            keyframe: i == 0,
            ..MOTION
        };
        let out = enc
            .encode(&frame, &frame.damage.clone(), params)
            .expect("encodes")
            .expect("a frame");
        assert_eq!(out.keyframe, i == 0, "IDR only when asked");
        sent.push(out);
        last = Some(frame);
    }
    let last = last.expect("frames");
    let reference = reference_luma(&last);
    let decoded = decode_h264(dir.path(), "motion", &stream_of(&sent), w, h);
    assert_eq!(decoded.len(), 6);
    let motion_psnr = psnr(&reference, &decoded[5]);
    assert!(
        motion_psnr >= 38.0,
        "{scene:?} {w}x{h} motion Y-PSNR {motion_psnr:.2}"
    );

    // Paint-over: a P-frame at the refresh CRF, same picture, same 4:2:0 stream.
    let r = enc
        .encode(&last, &[Rect::new(0, 0, w, h)], REFRESH)
        .expect("encodes")
        .expect("a frame");
    assert!(!r.keyframe && !r.chroma444);
    sent.push(r);
    let decoded = decode_h264(dir.path(), "refresh", &stream_of(&sent), w, h);
    let refresh_psnr = psnr(&reference, &decoded[6]);
    assert!(
        refresh_psnr >= 45.0,
        "{scene:?} {w}x{h} refresh Y-PSNR {refresh_psnr:.2}"
    );

    // Motion resumes in the same stream: a P-frame, no IDR, no new SPS; the client is told
    // which macroblocks it may draw, and they cover the damage.
    let next = screen.next_frame();
    let back = enc
        .encode(&next, &next.damage.clone(), MOTION)
        .expect("encodes")
        .expect("a frame");
    assert!(!back.keyframe && !back.chroma444);
    let rects = back.damage.clone().expect("a P-frame carries its damage");
    let (a, b) = (last.pixels.bytes(), next.pixels.bytes());
    let stride = next.stride as usize;
    for y in 0..h {
        for x in 0..w {
            let at = y as usize * stride + x as usize * 4;
            if a[at..at + 4] != b[at..at + 4] {
                let inside = rects
                    .iter()
                    .any(|r| r.x <= x && x < r.x + r.width && r.y <= y && y < r.y + r.height);
                assert!(inside, "changed pixel ({x}, {y}) is inside {rects:?}");
            }
        }
    }
    for r in &rects {
        assert!(
            r.x % 16 == 0 && r.y % 16 == 0,
            "{r:?} is macroblock-aligned"
        );
    }
    sent.push(back);
    let decoded = decode_h264(dir.path(), "resumed", &stream_of(&sent), w, h);
    assert_eq!(decoded.len(), 8, "one stream decodes through the refresh");
    let probe = ffprobe(&dir.path().join("resumed.h264"));
    assert!(probe.contains("pix_fmt=yuv420p"), "{probe}");
    assert!(probe.contains("color_primaries=bt709"), "{probe}");
    assert!(probe.contains("color_range=tv"), "{probe}");
}

#[test]
fn x264_typing_text_720p() {
    check_x264(Scene::Typing, 1280, 720);
}

#[test]
fn x264_scrolling_text_1080p() {
    check_x264(Scene::Scroll { rows: 3 }, 1920, 1080);
}

#[test]
fn x264_odd_size_is_padded_to_even() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut screen = SyntheticScreen::new(Scene::Typing, 321, 241);
    let mut enc = X264Encoder::new("ultrafast", 1);
    let f = screen.next_frame();
    let out = enc
        .encode(
            &f,
            &f.damage.clone(),
            EncodeParams {
                keyframe: true,
                ..MOTION
            },
        )
        .expect("encodes")
        .expect("frame");
    let decoded = decode_h264(dir.path(), "odd", &stream_of(&[out]), 321, 241);
    assert_eq!(decoded.len(), 1);
    let p = psnr(&reference_luma(&f), &decoded[0]);
    assert!(p >= 38.0, "odd-size Y-PSNR {p:.2}");
    let probe = ffprobe(&dir.path().join("odd.h264"));
    assert!(
        probe.contains("width=322") && probe.contains("height=242"),
        "{probe}"
    );
}

/// JPEG's own luma (BT.601, full range) of B, G, R: what a JPEG's Y plane approximates.
fn jpeg_luma(b: u8, g: u8, r: u8) -> f64 {
    0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
}

fn reference_jpeg_luma(frame: &Frame) -> Vec<f64> {
    let px = frame.pixels.bytes();
    let mut out = Vec::with_capacity((frame.width * frame.height) as usize);
    for y in 0..frame.height as usize {
        let row = &px[y * frame.stride as usize..];
        for x in 0..frame.width as usize {
            out.push(jpeg_luma(row[x * 4], row[x * 4 + 1], row[x * 4 + 2]));
        }
    }
    out
}

/// Applies JPEG stripes onto a luma canvas: ffmpeg decodes each to its native planar
/// format, whose first plane is the JPEG's Y.
fn apply_jpeg(dir: &Path, canvas: &mut [f64], width: u32, frame: &EncodedFrame) {
    for (i, part) in frame.parts.iter().enumerate() {
        let input = dir.join(format!("part{i}.jpg"));
        let output = dir.join(format!("part{i}.yuv"));
        std::fs::write(&input, &part.data).expect("write jpeg");
        ffmpeg(&[
            "-i",
            input.to_str().expect("utf-8"),
            "-f",
            "rawvideo",
            output.to_str().expect("utf-8"),
        ]);
        let yuv = std::fs::read(&output).expect("decoded");
        let Rect {
            x,
            y,
            width: w,
            height: h,
        } = part.region;
        assert!(
            yuv.len() >= (w * h) as usize,
            "stripe decodes at its region's size"
        );
        for row in 0..h {
            for col in 0..w {
                canvas[((y + row) * width + x + col) as usize] =
                    f64::from(yuv[(row * w + col) as usize]);
            }
        }
    }
}

fn check_jpeg(scene: Scene, w: u32, h: u32, quality: (u8, u8), min_psnr: (f64, f64)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut screen = SyntheticScreen::new(scene, w, h);
    let mut enc = JpegEncoder::new().expect("turbojpeg");
    let mut canvas = vec![0.0; (w * h) as usize];
    let mut last = None;
    let mut since_refresh: Vec<Rect> = Vec::new();
    for i in 0..3 {
        let frame = screen.next_frame();
        let params = EncodeParams {
            keyframe: i == 0,
            jpeg_quality: quality.0,
            ..MOTION
        };
        let out = enc
            .encode(&frame, &frame.damage.clone(), params)
            .expect("encodes")
            .expect("stripes");
        if i > 0 {
            let total: u32 = out
                .parts
                .iter()
                .map(|p| p.region.width * p.region.height)
                .sum();
            let damaged: u32 = frame.damage.iter().map(|r| r.width * r.height).sum();
            assert!(
                total < w * h || damaged == w * h,
                "only damaged stripes are sent"
            );
        }
        since_refresh.extend(frame.damage.iter().copied());
        apply_jpeg(dir.path(), &mut canvas, w, &out);
        last = Some(frame);
    }
    let last = last.expect("frames");
    let reference = reference_jpeg_luma(&last);
    let motion = psnr(&reference, &canvas);
    assert!(
        motion >= min_psnr.0,
        "{scene:?} JPEG q{} Y-PSNR {motion:.2}",
        quality.0
    );
    let params = EncodeParams {
        jpeg_quality: quality.1,
        ..REFRESH
    };
    let out = enc
        .encode(&last, &since_refresh, params)
        .expect("encodes")
        .expect("stripes");
    assert!(out.chroma444);
    apply_jpeg(dir.path(), &mut canvas, w, &out);
    let refreshed = psnr(&reference, &canvas);
    assert!(
        refreshed >= min_psnr.1,
        "{scene:?} JPEG refresh q{} Y-PSNR {refreshed:.2}",
        quality.1
    );
}

// JPEG at the protocol's default qualities (85 motion, 90+ refresh with 4:4:4 sampling).
// Lower qualities (60/90) measure about 31.5 and 43.2 dB on 1-px glyph strokes, which is why
// the defaults sit where they do.
#[test]
fn jpeg_typing_text_720p_default_qualities() {
    let s = Settings::default();
    check_jpeg(
        Scene::Typing,
        1280,
        720,
        (s.jpeg_quality, s.refresh_jpeg_quality),
        (38.0, 45.0),
    );
}

#[test]
fn jpeg_scrolling_text_1080p_default_qualities() {
    let s = Settings::default();
    check_jpeg(
        Scene::Scroll { rows: 3 },
        1920,
        1080,
        (s.jpeg_quality, s.refresh_jpeg_quality),
        (38.0, 45.0),
    );
}
