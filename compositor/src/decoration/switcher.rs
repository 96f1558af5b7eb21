//! The Alt+Tab overlay: a centred list of window titles with the one Alt's release would
//! pick highlighted. It is one image, redrawn only when the list, the selection or the
//! scale changes, and drawn above everything while the switcher is open.

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{
                Kind,
                memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement},
            },
            pixman::PixmanRenderer,
        },
    },
    utils::{Rectangle, Transform},
};

use super::draw::{Canvas, draw_text, font};
use crate::{backend::SkerryElement, layout::Rect};

/// Overlay width, logical pixels.
const WIDTH: i32 = 420;
/// Height of one title row, logical pixels.
const ROW: i32 = 30;
/// Space around the rows, logical pixels.
const PAD: i32 = 8;
/// Rows shown at most; the selection scrolls within them.
const MAX_ROWS: usize = 12;
/// Overlay background, selected row and text colours (0xAARRGGBB).
pub const BACKGROUND: u32 = 0xf01a212c;
pub const SELECTED: u32 = 0xff3d5a80;
const TEXT: u32 = 0xfff2f4f8;

#[derive(Debug, Default)]
pub struct SwitcherOverlay {
    key: Option<(Vec<String>, usize, u64)>,
    image: Option<MemoryRenderBuffer>,
}

impl SwitcherOverlay {
    /// The overlay's rectangle (logical) on an output of `output` for `rows` titles.
    pub fn rect(output: Rect, rows: usize) -> Rect {
        let rows = rows.clamp(1, MAX_ROWS) as i32;
        let (w, h) = (WIDTH.min(output.w), ROW * rows + 2 * PAD);
        Rect::new(
            output.x + (output.w - w) / 2,
            output.y + (output.h - h) / 2,
            w,
            h,
        )
    }

    /// The overlay element for these titles with `selected` highlighted.
    pub fn element(
        &mut self,
        renderer: &mut PixmanRenderer,
        output: Rect,
        scale: f64,
        titles: &[String],
        selected: usize,
    ) -> Option<SkerryElement> {
        let rect = Self::rect(output, titles.len());
        let key = (titles.to_vec(), selected, scale.to_bits());
        if self.key.as_ref() != Some(&key) {
            let p = |v: i32| (f64::from(v) * scale).round() as i32;
            let (w, h) = (p(rect.w), p(rect.h));
            if w <= 0 || h <= 0 {
                return None;
            }
            let mut canvas = Canvas {
                w,
                h,
                px: vec![0; (w * h * 4) as usize],
            };
            canvas.fill(0, 0, w, h, BACKGROUND);
            let first = selected.saturating_sub(MAX_ROWS - 1);
            for (row, (i, title)) in titles
                .iter()
                .enumerate()
                .skip(first)
                .take(MAX_ROWS)
                .enumerate()
            {
                let y0 = p(PAD + ROW * row as i32);
                let y1 = p(PAD + ROW * (row as i32 + 1));
                if i == selected {
                    canvas.fill(p(PAD), y0, w - 2 * p(PAD), y1 - y0, SELECTED);
                }
                if let Some(font) = font() {
                    let mut line = Canvas {
                        w,
                        h: y1 - y0,
                        px: vec![0; (w * (y1 - y0) * 4) as usize],
                    };
                    draw_text(
                        &mut line,
                        font,
                        title,
                        p(2 * PAD),
                        w - p(2 * PAD),
                        scale,
                        TEXT,
                    );
                    blend_rows(&mut canvas, &line, y0);
                }
            }
            self.image = Some(MemoryRenderBuffer::from_slice(
                &canvas.px,
                Fourcc::Argb8888,
                (w, h),
                1,
                Transform::Normal,
                None,
            ));
            self.key = Some(key);
        }
        let image = self.image.as_ref()?;
        // All of the physical-pixel image, shown at the overlay's logical size.
        let p = |v: i32| f64::from(v) * scale;
        let src = Rectangle::from_size((p(rect.w).round(), p(rect.h).round()).into());
        let loc = (
            (f64::from(rect.x) * scale).round(),
            (f64::from(rect.y) * scale).round(),
        );
        MemoryRenderBufferRenderElement::from_buffer(
            renderer,
            loc,
            image,
            None,
            Some(src),
            Some((rect.w, rect.h).into()),
            Kind::Unspecified,
        )
        .map(SkerryElement::Image)
        .map_err(|e| tracing::debug!("cannot import the switcher overlay: {e}"))
        .ok()
    }

    /// Forgets the image once the switcher closes.
    pub fn clear(&mut self) {
        self.key = None;
        self.image = None;
    }
}

/// Composites a premultiplied line image over the canvas at row `y0`.
fn blend_rows(canvas: &mut Canvas, line: &Canvas, y0: i32) {
    for y in 0..line.h {
        let cy = y0 + y;
        if cy < 0 || cy >= canvas.h {
            continue;
        }
        for x in 0..line.w.min(canvas.w) {
            let s = ((y * line.w + x) * 4) as usize;
            let d = ((cy * canvas.w + x) * 4) as usize;
            let a = f32::from(line.px[s + 3]) / 255.0;
            if a == 0.0 {
                continue;
            }
            for c in 0..4 {
                let v = f32::from(line.px[s + c]) + f32::from(canvas.px[d + c]) * (1.0 - a);
                canvas.px[d + c] = v.round().min(255.0) as u8;
            }
        }
    }
}
