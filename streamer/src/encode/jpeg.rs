//! JPEG through libjpeg-turbo: every browser decodes it and it needs no reference frames,
//! so it is the fallback when H.264 is not decodable. Only damaged regions are sent, as
//! horizontal stripes (16-row aligned, at most 64 rows, narrowed to the damaged columns),
//! each a complete JPEG. A keyframe is every stripe of the output.
//!
//! Motion stripes use 4:2:0; the paint-over refresh uses 4:4:4 so coloured text stays sharp.

use turbojpeg::{Compressor, Image, PixelFormat as TjFormat, Subsamp};

use super::{EncodeError, EncodeParams, EncodedFrame, EncodedPart, Encoder, check_frame, clip};
use crate::desktop::{Frame, PixelFormat, Rect};
use crate::proto::Codec;

/// Rows per stripe unit; a stripe is a run of these.
pub const STRIPE_ALIGN: u32 = 16;
/// Tallest stripe.
pub const STRIPE_MAX_ROWS: u32 = 64;

pub struct JpegEncoder {
    compressor: Compressor,
}

impl JpegEncoder {
    pub fn new() -> Result<Self, EncodeError> {
        Ok(Self {
            compressor: Compressor::new()?,
        })
    }
}

/// The stripes to encode for `damage` (or the whole frame): `(x, y, width, height)`.
pub fn stripes(damage: &[Rect], width: u32, height: u32, keyframe: bool) -> Vec<Rect> {
    let full = [Rect::new(0, 0, width, height)];
    let damage = if keyframe { &full[..] } else { damage };
    super::damaged_bands(damage, width, height, STRIPE_ALIGN, STRIPE_MAX_ROWS)
        .into_iter()
        .map(|(y, h)| {
            let mut x0 = width;
            let mut x1 = 0;
            for r in damage {
                let r = clip(*r, width, height);
                if !r.is_empty() && r.y < y + h && r.y + r.height > y {
                    x0 = x0.min(r.x);
                    x1 = x1.max(r.x + r.width);
                }
            }
            let x0 = (x0 / STRIPE_ALIGN) * STRIPE_ALIGN;
            let x1 = x1.next_multiple_of(STRIPE_ALIGN).min(width);
            Rect::new(x0, y, x1.saturating_sub(x0), h)
        })
        .filter(|r| !r.is_empty())
        .collect()
}

impl Encoder for JpegEncoder {
    fn name(&self) -> &'static str {
        "jpeg"
    }

    fn codec(&self) -> Codec {
        Codec::Jpeg
    }

    fn encode(
        &mut self,
        frame: &Frame,
        damage: &[Rect],
        params: EncodeParams,
    ) -> Result<Option<EncodedFrame>, EncodeError> {
        let bytes = check_frame(frame)?;
        let regions = stripes(damage, frame.width, frame.height, params.keyframe);
        if regions.is_empty() {
            return Ok(None);
        }
        let chroma444 = params.refresh;
        self.compressor
            .set_quality(i32::from(params.jpeg_quality.clamp(1, 100)));
        self.compressor.set_subsamp(if chroma444 {
            Subsamp::None
        } else {
            Subsamp::Sub2x2
        });
        let format = match frame.format {
            PixelFormat::Bgra8888 => TjFormat::BGRA,
            PixelFormat::Bgrx8888 => TjFormat::BGRX,
        };
        let stride = frame.stride as usize;
        let mut parts = Vec::with_capacity(regions.len());
        for region in regions {
            let start = region.y as usize * stride + region.x as usize * 4;
            let image = Image {
                pixels: &bytes[start..],
                width: region.width as usize,
                pitch: stride,
                height: region.height as usize,
                format,
            };
            let data = self.compressor.compress_to_vec(image)?;
            parts.push(EncodedPart { region, data });
        }
        Ok(Some(EncodedFrame {
            codec: Codec::Jpeg,
            keyframe: params.keyframe,
            chroma444,
            width: frame.width,
            height: frame.height,
            parts,
            damage: None,
            overlay: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_cover_damage_only() {
        let s = stripes(&[Rect::new(100, 20, 10, 5)], 1280, 720, false);
        assert_eq!(s, vec![Rect::new(96, 16, 16, 16)]);
        let key = stripes(&[], 1280, 720, true);
        assert_eq!(key.len(), 12);
        assert!(
            key.iter()
                .all(|r| r.width == 1280 && r.height == 64 || r.y == 704)
        );
        let odd = stripes(&[], 101, 33, true);
        assert_eq!(odd, vec![Rect::new(0, 0, 101, 33)]);
    }
}
