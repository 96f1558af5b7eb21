//! The latest-frame-wins slot between the capture thread and the encode thread. The capture
//! side never waits for the encoder: a newer frame replaces an unencoded one, and the damage
//! of the replaced frame is merged in, because the pixels it changed are in the newer frame
//! too and must still be encoded.

use crate::desktop::{Frame, Rect};

/// Above this many rectangles the merged damage collapses into its bounding box.
const MAX_RECTS: usize = 32;

#[derive(Default)]
pub struct LatestSlot {
    frame: Option<Frame>,
    damage: Vec<Rect>,
    /// Frames replaced before the encoder took them.
    pub replaced: u64,
}

impl LatestSlot {
    /// Puts `frame` in the slot; returns true when it replaced an unencoded frame.
    pub fn put(&mut self, mut frame: Frame) -> bool {
        let mut replaced = false;
        if let Some(old) = self.frame.take() {
            replaced = true;
            self.replaced += 1;
            if old.width != frame.width || old.height != frame.height {
                // A size change makes the old damage meaningless: the new frame is whole.
                self.damage.clear();
                frame.damage = vec![Rect::new(0, 0, frame.width, frame.height)];
            }
        }
        merge_damage(&mut self.damage, &frame.damage, frame.width, frame.height);
        self.frame = Some(frame);
        replaced
    }

    pub fn has_frame(&self) -> bool {
        self.frame.is_some()
    }

    /// Takes the frame and all damage merged since the last take.
    pub fn take(&mut self) -> Option<(Frame, Vec<Rect>)> {
        let frame = self.frame.take()?;
        Some((frame, std::mem::take(&mut self.damage)))
    }
}

/// Adds `more` to `into`, clipped to the frame, keeping the list short.
pub fn merge_damage(into: &mut Vec<Rect>, more: &[Rect], width: u32, height: u32) {
    for r in more {
        let r = crate::encode::clip(*r, width, height);
        if r.is_empty() || into.iter().any(|o| contains(o, &r)) {
            continue;
        }
        into.retain(|o| !contains(&r, o));
        into.push(r);
    }
    if into.len() > MAX_RECTS
        && let Some(b) = bounding_box(into)
    {
        into.clear();
        into.push(b);
    }
}

fn contains(outer: &Rect, inner: &Rect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.x + inner.width <= outer.x + outer.width
        && inner.y + inner.height <= outer.y + outer.height
}

pub fn bounding_box(rects: &[Rect]) -> Option<Rect> {
    let x0 = rects.iter().map(|r| r.x).min()?;
    let y0 = rects.iter().map(|r| r.y).min()?;
    let x1 = rects.iter().map(|r| r.x + r.width).max()?;
    let y1 = rects.iter().map(|r| r.y + r.height).max()?;
    Some(Rect::new(x0, y0, x1 - x0, y1 - y0))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::desktop::PixelFormat;

    fn frame(w: u32, h: u32, damage: Vec<Rect>, tag: u8) -> Frame {
        Frame {
            width: w,
            height: h,
            stride: w * 4,
            format: PixelFormat::Bgra8888,
            pixels: Box::new(vec![tag; (w * h * 4) as usize]),
            damage,
            captured_at: Instant::now(),
        }
    }

    #[test]
    fn newer_frame_wins_and_damage_of_replaced_frames_is_kept() {
        let mut slot = LatestSlot::default();
        assert!(!slot.put(frame(100, 100, vec![Rect::new(0, 0, 10, 10)], 1)));
        assert!(slot.put(frame(100, 100, vec![Rect::new(50, 50, 10, 10)], 2)));
        assert!(slot.put(frame(100, 100, vec![Rect::new(2, 2, 5, 5)], 3)));
        let (f, damage) = slot.take().expect("a frame");
        assert_eq!(f.pixels.bytes()[0], 3, "the newest frame");
        assert_eq!(
            damage,
            vec![Rect::new(0, 0, 10, 10), Rect::new(50, 50, 10, 10)],
            "contained rect folded in"
        );
        assert_eq!(slot.replaced, 2);
        assert!(slot.take().is_none());
        // After a take the damage starts afresh.
        slot.put(frame(100, 100, vec![Rect::new(90, 90, 50, 50)], 4));
        assert_eq!(
            slot.take().expect("frame").1,
            vec![Rect::new(90, 90, 10, 10)]
        );
    }

    #[test]
    fn size_change_makes_damage_whole() {
        let mut slot = LatestSlot::default();
        slot.put(frame(100, 100, vec![Rect::new(0, 0, 1, 1)], 1));
        slot.put(frame(64, 32, vec![Rect::new(3, 3, 1, 1)], 2));
        assert_eq!(slot.take().expect("frame").1, vec![Rect::new(0, 0, 64, 32)]);
    }

    fn covered(rects: &[Rect], x: u32, y: u32) -> bool {
        rects
            .iter()
            .any(|r| x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height)
    }

    proptest::proptest! {
        /// Whatever the frames' damage, every damaged pixel is in the merged damage, the
        /// merged damage stays inside the frame, and the list stays short.
        #[test]
        fn merged_damage_covers_every_damaged_pixel(
            frames in proptest::collection::vec(
                proptest::collection::vec((0u32..80, 0u32..60, 1u32..30, 1u32..30), 0..6),
                1..12,
            )
        ) {
            let mut slot = LatestSlot::default();
            for (i, rects) in frames.iter().enumerate() {
                let damage = rects.iter().map(|&(x, y, w, h)| Rect::new(x, y, w, h)).collect();
                slot.put(frame(64, 48, damage, i as u8));
            }
            let (_, merged) = slot.take().expect("a frame");
            proptest::prop_assert!(merged.len() <= MAX_RECTS);
            for r in &merged {
                proptest::prop_assert!(r.x + r.width <= 64 && r.y + r.height <= 48);
            }
            for rects in &frames {
                for &(x, y, w, h) in rects {
                    for py in y..(y + h).min(48) {
                        for px in x..(x + w).min(64) {
                            proptest::prop_assert!(covered(&merged, px, py), "({px},{py}) lost");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn many_rects_collapse_to_bounding_box() {
        let mut d = Vec::new();
        let rects: Vec<Rect> = (0..40).map(|i| Rect::new(i * 2, i, 1, 1)).collect();
        merge_damage(&mut d, &rects, 1000, 1000);
        assert!(d.len() <= MAX_RECTS);
        let b = bounding_box(&d).expect("some");
        assert_eq!(b, Rect::new(0, 0, 79, 40));
    }
}
