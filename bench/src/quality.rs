//! Picture quality: the viewer's rebuilt picture against the compositor's own frame (taken
//! with `grim` over wlr-screencopy), compared on luma (BT.709) as Y-PSNR. H.264 is decoded
//! by ffmpeg, an independent decoder, so an encoder bug cannot hide behind its own decoder.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use skerry_streamer::desktop::Rect;

use crate::viewer::{Draw, Picture, paint_jpeg_into};

#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("running {0}: {1}")]
    Run(&'static str, std::io::Error),
    #[error("{0} failed: {1}")]
    Failed(&'static str, String),
    #[error("unexpected image: {0}")]
    Format(String),
}

/// An RGB image, 3 bytes a pixel.
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// The compositor's current output through grim (PPM on stdout).
pub fn screenshot(runtime_dir: &Path, display: &str) -> Result<Rgb, QualityError> {
    let out = Command::new("grim")
        .args(["-t", "ppm", "-"])
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("WAYLAND_DISPLAY", display)
        .output()
        .map_err(|e| QualityError::Run("grim", e))?;
    if !out.status.success() {
        return Err(QualityError::Failed(
            "grim",
            String::from_utf8_lossy(&out.stderr).into(),
        ));
    }
    parse_ppm(&out.stdout)
}

fn parse_ppm(b: &[u8]) -> Result<Rgb, QualityError> {
    // "P6" WS width WS height WS maxval single-WS data
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 && i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&b[s..i]).into_owned());
    }
    i += 1;
    let bad = || QualityError::Format(format!("PPM header {fields:?}"));
    if fields.len() < 4 || fields[0] != "P6" || fields[3] != "255" {
        return Err(bad());
    }
    let width: u32 = fields[1].parse().map_err(|_| bad())?;
    let height: u32 = fields[2].parse().map_err(|_| bad())?;
    let len = (width * height * 3) as usize;
    let data = b.get(i..i + len).ok_or_else(bad)?.to_vec();
    Ok(Rgb {
        width,
        height,
        data,
    })
}

/// The last picture the viewer can show, as RGB.
pub fn decode(picture: &Picture, width: u32, height: u32) -> Result<Rgb, QualityError> {
    match picture {
        Picture::None => Err(QualityError::Format("no picture received".into())),
        Picture::Rgb { width, height, rgb } => Ok(Rgb {
            width: *width,
            height: *height,
            data: rgb.clone(),
        }),
        Picture::H264 { stream, draws } => composite_h264(stream, draws, width, height),
    }
}

/// Decodes `stream` with ffmpeg and draws each frame as the browser does: whole or only
/// inside its damage, then its refresh tiles; returns the canvas after the last frame.
fn composite_h264(
    stream: &[u8],
    draws: &[Draw],
    width: u32,
    height: u32,
) -> Result<Rgb, QualityError> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| QualityError::Run("ffmpeg", e))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| QualityError::Format("ffmpeg stdin".into()))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| QualityError::Format("ffmpeg stdout".into()))?;
    let data = stream.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    // The decoded picture is padded to even sides; frames follow one another.
    let (pw, ph) = (width + width % 2, height + height % 2);
    let mut frame = vec![0u8; (pw * ph * 3) as usize];
    let mut canvas = vec![0u8; (width * height * 3) as usize];
    let mut decoded = 0usize;
    while stdout.read_exact(&mut frame).is_ok() {
        let draw = draws.get(decoded).cloned().unwrap_or_default();
        let full = [Rect::new(0, 0, width, height)];
        for r in draw.rects.as_deref().unwrap_or(&full) {
            let x1 = (r.x + r.width).min(width);
            for row in r.y..(r.y + r.height).min(height) {
                let s = ((row * pw + r.x) * 3) as usize;
                let d = ((row * width + r.x) * 3) as usize;
                let n = (x1.saturating_sub(r.x) * 3) as usize;
                canvas[d..d + n].copy_from_slice(&frame[s..s + n]);
            }
        }
        for (x, y, jpeg) in &draw.tiles {
            paint_jpeg_into(&mut canvas, width, height, *x, *y, jpeg);
        }
        decoded += 1;
    }
    let _ = writer.join();
    let out = child
        .wait_with_output()
        .map_err(|e| QualityError::Run("ffmpeg", e))?;
    if !out.status.success() {
        return Err(QualityError::Failed(
            "ffmpeg",
            String::from_utf8_lossy(&out.stderr).into(),
        ));
    }
    if decoded == 0 {
        return Err(QualityError::Format("ffmpeg decoded no frame".into()));
    }
    Ok(Rgb {
        width,
        height,
        data: canvas,
    })
}

/// Y-PSNR in dB (capped at 99 for identical pictures).
pub fn y_psnr(a: &Rgb, b: &Rgb) -> Result<f64, QualityError> {
    if a.width != b.width || a.height != b.height {
        return Err(QualityError::Format(format!(
            "{}x{} against {}x{}",
            a.width, a.height, b.width, b.height
        )));
    }
    let luma =
        |p: &[u8]| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]);
    let mut se = 0.0;
    for (pa, pb) in a.data.chunks_exact(3).zip(b.data.chunks_exact(3)) {
        let d = luma(pa) - luma(pb);
        se += d * d;
    }
    let mse = se / f64::from(a.width * a.height);
    Ok(if mse <= 1e-10 {
        99.0
    } else {
        (10.0 * (255.0 * 255.0 / mse).log10()).min(99.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_of_identical_and_shifted_pictures() {
        let a = Rgb {
            width: 4,
            height: 2,
            data: vec![100; 24],
        };
        let mut b = Rgb {
            width: 4,
            height: 2,
            data: vec![100; 24],
        };
        assert_eq!(y_psnr(&a, &b).expect("same size"), 99.0);
        b.data.iter_mut().for_each(|v| *v = 110);
        let p = y_psnr(&a, &b).expect("same size");
        assert!((p - 28.13).abs() < 0.01, "{p}");
    }

    #[test]
    fn ppm_is_parsed() {
        let mut ppm = b"P6\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let img = parse_ppm(&ppm).expect("valid");
        assert_eq!((img.width, img.height, img.data.len()), (2, 1, 6));
    }
}
