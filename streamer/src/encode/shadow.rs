//! What every macroblock looked like when it was last encoded, so damage that did not
//! change any pixel is dropped before x264 sees it.
//!
//! Clients report damage generously: foot damages a whole line for one typed glyph, a
//! toolkit a whole button for a one-pixel focus ring. Left as it is, every macroblock of
//! that line is re-encoded at motion quality and the browser redraws it, undoing the 4:4:4
//! refresh tiles on pixels that never changed. The shadow keeps a BGRA copy of each
//! macroblock's source as last encoded; a damaged macroblock whose pixels equal it is
//! marked unchanged again.
//!
//! The invariant: a macroblock marked valid holds exactly the source pixels the encoder was
//! last given for it. Keyframes and refreshes copy what they encode; motion frames compare
//! and copy when the damage is small, and when it is large (scrolling, video, where nearly
//! everything really changed) they only mark the damaged macroblocks invalid, which costs
//! nothing and makes the next small frame treat them as changed.

use crate::desktop::Rect;

/// Motion frames whose damage covers more than this fraction of the macroblocks are not
/// compared (1 / LARGE_DAMAGE_DIVISOR).
const LARGE_DAMAGE_DIVISOR: usize = 4;

/// How one frame's map is brought in line with the shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// An IDR: everything is encoded; the whole frame is copied.
    Keyframe,
    /// The paint-over refresh: the damaged macroblocks are re-encoded whatever their
    /// pixels (their quality is what changes) and copied.
    Refresh,
    /// A motion frame: damaged macroblocks with unchanged pixels become unchanged.
    Motion,
}

pub struct Shadow {
    width: u32,
    height: u32,
    /// BGRA, `width * 4` bytes a row.
    pixels: Vec<u8>,
    /// One flag per macroblock, row by row.
    valid: Vec<bool>,
    across: usize,
}

impl Shadow {
    pub fn new(width: u32, height: u32) -> Self {
        let across = width.div_ceil(16) as usize;
        Self {
            width,
            height,
            pixels: vec![0; (width * 4 * height) as usize],
            valid: vec![false; across * height.div_ceil(16) as usize],
            across,
        }
    }

    /// Applies `pass` to `changed` (one flag per macroblock, true where x264 must look),
    /// given the frame's BGRA pixels `src` with `stride` bytes a row.
    pub fn refine(&mut self, changed: &mut [bool], src: &[u8], stride: usize, pass: Pass) {
        let mbs = self.valid.len().min(changed.len());
        match pass {
            Pass::Keyframe => {
                for i in 0..mbs {
                    self.copy(i, src, stride);
                }
            }
            Pass::Refresh => {
                for i in (0..mbs).filter(|&i| changed[i]) {
                    self.copy(i, src, stride);
                }
            }
            Pass::Motion => {
                let damaged = changed[..mbs].iter().filter(|c| **c).count();
                if damaged * LARGE_DAMAGE_DIVISOR > mbs {
                    for i in (0..mbs).filter(|&i| changed[i]) {
                        self.valid[i] = false;
                    }
                    return;
                }
                for (i, c) in changed[..mbs].iter_mut().enumerate().filter(|(_, c)| **c) {
                    if self.valid[i] && self.same(i, src, stride) {
                        *c = false;
                    } else {
                        self.copy(i, src, stride);
                    }
                }
            }
        }
    }

    /// The pixel rectangle of macroblock `i`, clipped to the frame.
    fn rect(&self, i: usize) -> Rect {
        let (x, y) = ((i % self.across) as u32 * 16, (i / self.across) as u32 * 16);
        Rect::new(x, y, 16.min(self.width - x), 16.min(self.height - y))
    }

    /// The byte ranges of macroblock `i`'s rows in the source and in the shadow.
    fn rows(&self, i: usize, stride: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        let r = self.rect(i);
        let own = self.width as usize * 4;
        let len = r.width as usize * 4;
        (r.y..r.y + r.height).map(move |row| {
            let row = row as usize;
            (
                row * stride + r.x as usize * 4,
                row * own + r.x as usize * 4,
                len,
            )
        })
    }

    fn same(&self, i: usize, src: &[u8], stride: usize) -> bool {
        self.rows(i, stride)
            .all(|(s, d, n)| src.get(s..s + n) == self.pixels.get(d..d + n))
    }

    fn copy(&mut self, i: usize, src: &[u8], stride: usize) {
        let rows: Vec<_> = self.rows(i, stride).collect();
        for (s, d, n) in rows {
            if let (Some(from), Some(to)) = (src.get(s..s + n), self.pixels.get_mut(d..d + n)) {
                to.copy_from_slice(from);
            }
        }
        self.valid[i] = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64x32 frame (4x2 macroblocks), every pixel `v`, stride padded to 300 bytes.
    fn frame(v: u8) -> Vec<u8> {
        vec![v; 300 * 32]
    }

    #[test]
    fn damage_without_changed_pixels_is_dropped_after_a_keyframe() {
        // 128x64: 8x4 macroblocks, stride padded to 600 bytes.
        let mut s = Shadow::new(128, 64);
        let mut f = vec![7u8; 600 * 64];
        let mut all = vec![true; 32];
        s.refine(&mut all, &f, 600, Pass::Keyframe);
        assert!(all.iter().all(|c| *c), "a keyframe encodes everything");
        // A whole row of macroblocks is damaged (a line of text); one pixel changed, in
        // macroblock 2 of the second row.
        f[20 * 600 + 40 * 4] = 9;
        let mut row = vec![false; 32];
        row[8..16].fill(true);
        s.refine(&mut row, &f, 600, Pass::Motion);
        let left: Vec<usize> = (0..32).filter(|&i| row[i]).collect();
        assert_eq!(left, [10]);
        // The change was recorded: the same pixels again are no change.
        let mut again = vec![false; 32];
        again[10] = true;
        s.refine(&mut again, &f, 600, Pass::Motion);
        assert!(again.iter().all(|c| !*c));
    }

    #[test]
    fn a_refresh_is_never_dropped_and_large_motion_is_not_compared() {
        let mut s = Shadow::new(64, 32);
        let f = frame(1);
        s.refine(&mut [true; 8], &f, 300, Pass::Keyframe);
        let mut refresh = vec![true, false, true, false, false, false, false, false];
        s.refine(&mut refresh, &f, 300, Pass::Refresh);
        assert_eq!(
            refresh,
            [true, false, true, false, false, false, false, false]
        );
        // Large damage (3 of 8 > a quarter): kept as it is, and those macroblocks are
        // treated as changed the next time even though the pixels are the same.
        let mut large = vec![true, true, true, false, false, false, false, false];
        s.refine(&mut large, &f, 300, Pass::Motion);
        assert_eq!(large, [true, true, true, false, false, false, false, false]);
        let mut small = vec![true, false, false, false, false, false, false, true];
        s.refine(&mut small, &f, 300, Pass::Motion);
        assert_eq!(
            small,
            [true, false, false, false, false, false, false, false]
        );
    }

    #[test]
    fn edge_macroblocks_compare_only_the_pixels_inside_the_frame() {
        // 40x20: the last column and row of macroblocks are partial.
        let mut s = Shadow::new(40, 20);
        let mut f = vec![0u8; 160 * 20];
        let mut all = vec![true; 6];
        s.refine(&mut all, &f, 160, Pass::Keyframe);
        f[19 * 160 + 39 * 4] = 5; // bottom-right pixel, macroblock 5
        let mut one = vec![false; 6];
        one[5] = true;
        s.refine(&mut one, &f, 160, Pass::Motion);
        assert!(one[5]);
    }
}
