//! Video encoders behind one trait, so the pipeline neither knows nor cares which codec
//! runs: it hands over a captured frame with the damage since the last encode and the
//! quality wanted, and gets back payloads for the wire.
//!
//! Encoders read the capture source's own buffer (no copy of the BGRA frame); colour
//! conversion, where a codec needs it, touches only the rows that changed.

mod convert;
mod jpeg;
mod shadow;
mod x264;

pub use convert::YuvFrame;
pub use jpeg::JpegEncoder;
pub use x264::X264Encoder;

use crate::desktop::{Frame, Rect};
use crate::proto::Codec;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("x264 could not open an encoder for {width}x{height}")]
    X264Open { width: u32, height: u32 },
    #[error("x264 failed to encode a frame ({0})")]
    X264Encode(i32),
    #[error("colour conversion failed: {0}")]
    Convert(String),
    #[error("JPEG compression failed: {0}")]
    Jpeg(#[from] turbojpeg::Error),
    #[error("frame buffer too small: {have} bytes for {width}x{height} with stride {stride}")]
    ShortBuffer {
        have: usize,
        width: u32,
        height: u32,
        stride: u32,
    },
    #[error("frame size {width}x{height} is not supported")]
    Size { width: u32, height: u32 },
}

/// What the pipeline wants from one encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeParams {
    /// Produce a frame that decodes on its own (IDR; all JPEG stripes).
    pub keyframe: bool,
    /// This is the paint-over refresh: use the refresh quality.
    pub refresh: bool,
    /// x264 rate factor for this frame.
    pub crf: u8,
    /// JPEG quality for this frame.
    pub jpeg_quality: u8,
}

/// One region of an encoded frame: the whole frame for H.264, a stripe for JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPart {
    pub region: Rect,
    pub data: Vec<u8>,
}

/// The result of one encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub codec: Codec,
    pub keyframe: bool,
    pub chroma444: bool,
    pub width: u32,
    pub height: u32,
    pub parts: Vec<EncodedPart>,
    /// H.264 P-frames: the macroblock-aligned rectangles outside of which the decoded
    /// picture did not change (`None`: the whole frame may have).
    pub damage: Option<Vec<Rect>>,
    /// JPEG tiles drawn over an H.264 picture (the 4:4:4 paint-over), not a JPEG stream.
    pub overlay: bool,
}

impl EncodedFrame {
    pub fn byte_len(&self) -> usize {
        self.parts.iter().map(|p| p.data.len()).sum()
    }
}

/// A video encoder. Runs on the pipeline's encode thread only.
pub trait Encoder: Send {
    fn name(&self) -> &'static str;
    fn codec(&self) -> Codec;
    /// Encodes `frame`; `damage` is everything that changed since the previous call (the
    /// whole frame on a keyframe is implied). `None` when there was nothing to send.
    fn encode(
        &mut self,
        frame: &Frame,
        damage: &[Rect],
        params: EncodeParams,
    ) -> Result<Option<EncodedFrame>, EncodeError>;
}

/// Checks that a frame's buffer holds what its size and stride promise.
pub(crate) fn check_frame(frame: &Frame) -> Result<&[u8], EncodeError> {
    let bytes = frame.pixels.bytes();
    let need = if frame.height == 0 {
        0
    } else {
        frame.stride as usize * (frame.height as usize - 1) + frame.width as usize * 4
    };
    if frame.width == 0
        || frame.height == 0
        || frame.width > u16::MAX.into()
        || frame.height > u16::MAX.into()
    {
        return Err(EncodeError::Size {
            width: frame.width,
            height: frame.height,
        });
    }
    if bytes.len() < need || (frame.stride as usize) < frame.width as usize * 4 {
        return Err(EncodeError::ShortBuffer {
            have: bytes.len(),
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
        });
    }
    Ok(bytes)
}

/// Clips `r` to a `width`×`height` frame.
pub fn clip(r: Rect, width: u32, height: u32) -> Rect {
    let x0 = r.x.min(width);
    let y0 = r.y.min(height);
    let x1 = r.x.saturating_add(r.width).min(width);
    let y1 = r.y.saturating_add(r.height).min(height);
    Rect::new(x0, y0, x1 - x0, y1 - y0)
}

/// Horizontal bands of rows, `align` rows high at aligned positions, that the damage
/// touches, merged into runs no taller than `max_rows`. Each band is `(y, height)`.
pub fn damaged_bands(
    damage: &[Rect],
    width: u32,
    height: u32,
    align: u32,
    max_rows: u32,
) -> Vec<(u32, u32)> {
    let align = align.max(1);
    let bands = height.div_ceil(align) as usize;
    let mut dirty = vec![false; bands];
    for r in damage {
        let r = clip(*r, width, height);
        if r.is_empty() {
            continue;
        }
        let first = (r.y / align) as usize;
        let last = ((r.y + r.height - 1) / align) as usize;
        for d in &mut dirty[first..=last] {
            *d = true;
        }
    }
    let per_run = (max_rows / align).max(1) as usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < bands {
        if !dirty[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < bands && dirty[i] && i - start < per_run {
            i += 1;
        }
        let y = start as u32 * align;
        let end = (i as u32 * align).min(height);
        out.push((y, end - y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_merge_and_split() {
        let d = [Rect::new(0, 5, 10, 2), Rect::new(3, 20, 1, 60)];
        assert_eq!(damaged_bands(&d, 100, 100, 16, 64), vec![(0, 64), (64, 16)]);
        assert_eq!(damaged_bands(&d, 100, 100, 16, 128), vec![(0, 80)]);
        assert_eq!(
            damaged_bands(&d, 100, 100, 16, 32),
            vec![(0, 32), (32, 32), (64, 16)]
        );
        let d = [Rect::new(0, 90, 10, 50)];
        assert_eq!(damaged_bands(&d, 100, 100, 16, 64), vec![(80, 20)]);
        assert!(damaged_bands(&[Rect::new(0, 200, 5, 5)], 100, 100, 16, 64).is_empty());
    }
}
