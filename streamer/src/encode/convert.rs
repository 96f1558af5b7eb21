//! BGRA → planar YUV (BT.709, limited range) for x264, kept across frames so only the rows
//! that changed are converted again. SIMD comes from the `yuv` crate.

use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
    bgra_to_yuv420,
};

use super::{EncodeError, damaged_bands};
use crate::desktop::Rect;

/// I420 planes (chroma at half width and height) at the encoded size: the output size
/// padded to even (4:2:0 needs it).
pub struct YuvFrame {
    /// The source's size.
    pub width: u32,
    pub height: u32,
    /// The padded (encoded) size.
    pub padded_width: u32,
    pub padded_height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    pub y_stride: u32,
    pub c_stride: u32,
}

impl YuvFrame {
    pub fn new(width: u32, height: u32) -> Self {
        let pw = width.next_multiple_of(2);
        let ph = height.next_multiple_of(2);
        let (c_stride, c_rows) = (pw / 2, ph / 2);
        // Black in limited range: Y 16, chroma 128, so padding never bleeds colour.
        Self {
            width,
            height,
            padded_width: pw,
            padded_height: ph,
            y: vec![16; (pw * ph) as usize],
            u: vec![128; (c_stride * c_rows) as usize],
            v: vec![128; (c_stride * c_rows) as usize],
            y_stride: pw,
            c_stride,
        }
    }

    /// Converts the rows of `bgra` that `damage` touches.
    pub fn update(&mut self, bgra: &[u8], stride: u32, damage: &[Rect]) -> Result<(), EncodeError> {
        for (y0, rows) in damaged_bands(damage, self.width, self.height, 2, u32::MAX) {
            self.convert_rows(bgra, stride, y0, rows)?;
        }
        Ok(())
    }

    fn convert_rows(
        &mut self,
        bgra: &[u8],
        stride: u32,
        y0: u32,
        rows: u32,
    ) -> Result<(), EncodeError> {
        let (cy0, crows) = (y0 / 2, rows.div_ceil(2));
        let ys = self.y_stride as usize;
        let cs = self.c_stride as usize;
        let y_plane = &mut self.y[y0 as usize * ys..(y0 + rows) as usize * ys];
        let u_plane = &mut self.u[cy0 as usize * cs..(cy0 + crows) as usize * cs];
        let v_plane = &mut self.v[cy0 as usize * cs..(cy0 + crows) as usize * cs];
        let src_start = y0 as usize * stride as usize;
        let src_end = (src_start + rows as usize * stride as usize).min(bgra.len());
        let src = &bgra[src_start..src_end];
        let mut image = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y_plane),
            y_stride: self.y_stride,
            u_plane: BufferStoreMut::Borrowed(u_plane),
            u_stride: self.c_stride,
            v_plane: BufferStoreMut::Borrowed(v_plane),
            v_stride: self.c_stride,
            width: self.width,
            height: rows,
        };
        bgra_to_yuv420(
            &mut image,
            src,
            stride,
            YuvRange::Limited,
            YuvStandardMatrix::Bt709,
            YuvConversionMode::Balanced,
        )
        .map_err(|e| EncodeError::Convert(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.709 limited-range luma of one BGRA pixel, the reference the encoder tests use too.
    fn luma(b: u8, g: u8, r: u8) -> f64 {
        16.0 + 219.0 * (0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b))
            / 255.0
    }

    #[test]
    fn converts_only_damaged_rows_and_pads_odd_sizes() {
        let (w, h) = (5u32, 3u32);
        let stride = w * 4;
        let mut bgra = vec![255u8; (stride * h) as usize];
        let mut f = YuvFrame::new(w, h);
        assert_eq!((f.padded_width, f.padded_height), (6, 4));
        f.update(&bgra, stride, &[Rect::new(0, 0, w, h)])
            .expect("converts");
        assert!((f64::from(f.y[0]) - 235.0).abs() <= 1.0);
        // Change rows 0..2 to black, but report only row 2 as damaged: rows 0..1 keep white.
        bgra.fill(0);
        f.update(&bgra, stride, &[Rect::new(0, 2, 1, 1)])
            .expect("converts");
        assert!((f64::from(f.y[0]) - 235.0).abs() <= 1.0, "row 0 untouched");
        assert!((f64::from(f.y[(2 * f.y_stride) as usize]) - 16.0).abs() <= 1.0);
        let red = luma(0, 0, 255);
        let one = [0u8, 0, 255, 255].repeat(16);
        let mut g = YuvFrame::new(4, 4);
        g.update(&one, 16, &[Rect::new(0, 0, 4, 4)])
            .expect("converts");
        assert!(
            (f64::from(g.y[0]) - red).abs() <= 1.5,
            "{} vs {red}",
            g.y[0]
        );
        assert!(g.v[0] > 200, "red has high Cr");
    }
}
