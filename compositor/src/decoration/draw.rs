//! Rasterising title bars: text with DejaVu Sans (ab_glyph), button icons drawn as
//! coverage masks at the physical size, so nothing is scaled after drawing.

use std::sync::OnceLock;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{
                Id, Kind,
                memory::{MemoryRenderBuffer, MemoryRenderBufferRenderElement},
                solid::SolidColorRenderElement,
            },
            pixman::PixmanRenderer,
            utils::CommitCounter,
        },
    },
    utils::{Physical, Rectangle, Transform},
};

use super::{BORDER, Button, TITLE_H};
use crate::{backend::SkerryElement, layout::Rect};

/// Where the title font is looked for, first found wins.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];
/// Title text size, logical pixels.
const FONT_PX: f64 = 13.0;
/// Space left of the title text, logical pixels.
const TEXT_PAD: f64 = 10.0;
/// Size of a button icon, logical pixels.
const ICON: f64 = 10.0;

/// Colours of a title bar and border, 0xAARRGGBB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub title: u32,
    pub border: u32,
    pub text: u32,
}

impl Palette {
    /// The focused window.
    pub const ACTIVE: Palette = Palette {
        title: 0xff2e3a4f,
        border: 0xff1b2433,
        text: 0xfff2f4f8,
    };
    /// Every other window.
    pub const INACTIVE: Palette = Palette {
        title: 0xff5b6068,
        border: 0xff41454b,
        text: 0xffc9ccd1,
    };
    /// Behind a hovered close button.
    const CLOSE_HOVER: u32 = 0xffc8373a;
    /// Behind other hovered buttons (white at low opacity).
    const HOVER: u32 = 0x30ffffff;

    pub fn for_focus(active: bool) -> Self {
        if active { Self::ACTIVE } else { Self::INACTIVE }
    }
}

pub(super) fn font() -> Option<&'static FontVec> {
    static FONT: OnceLock<Option<FontVec>> = OnceLock::new();
    FONT.get_or_init(|| {
        let font = FONT_PATHS.iter().find_map(|path| {
            let bytes = std::fs::read(path).ok()?;
            FontVec::try_from_vec(bytes).ok()
        });
        if font.is_none() {
            tracing::warn!("no DejaVu Sans font found: title bars are drawn without titles");
        }
        font
    })
    .as_ref()
}

/// What a title-bar image depends on; it is re-drawn only when this changes.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    title: String,
    size: (i32, i32),
    scale: u64,
    active: bool,
    hover: Option<Button>,
    maximized: bool,
}

/// One window's decoration elements, kept between frames so unchanged parts cause no damage.
#[derive(Debug)]
pub struct DecorationCache {
    key: Option<Key>,
    image: Option<MemoryRenderBuffer>,
    bar: Id,
    borders: [Id; 4],
    commit: CommitCounter,
    active: Option<bool>,
}

impl Default for DecorationCache {
    fn default() -> Self {
        Self {
            key: None,
            image: None,
            bar: Id::new(),
            borders: [Id::new(), Id::new(), Id::new(), Id::new()],
            commit: CommitCounter::default(),
            active: None,
        }
    }
}

/// What a decoration shows.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    pub title: &'a str,
    pub active: bool,
    pub hover: Option<Button>,
    pub maximized: bool,
}

fn color(argb: u32) -> [f32; 4] {
    let c = |shift: u32| ((argb >> shift) & 0xff) as f32 / 255.0;
    let a = c(24);
    [c(16) * a, c(8) * a, c(0) * a, a]
}

impl DecorationCache {
    /// The decoration's elements for a frame, top-most first.
    pub fn elements(
        &mut self,
        renderer: &mut PixmanRenderer,
        frame: Rect,
        scale: f64,
        look: Look<'_>,
    ) -> Vec<SkerryElement> {
        let p = |v: i32| (f64::from(v) * scale).round() as i32;
        let (x0, x1) = (p(frame.x), p(frame.x + frame.w));
        let (y0, yt, y1) = (p(frame.y), p(frame.y + TITLE_H), p(frame.y + frame.h));
        let b = p(BORDER).max(1);
        let palette = Palette::for_focus(look.active);
        if self.active != Some(look.active) {
            self.active = Some(look.active);
            self.commit.increment();
        }

        let mut out: Vec<SkerryElement> = Vec::with_capacity(6);
        let size = (
            (f64::from(frame.w) * scale).round() as i32,
            (f64::from(TITLE_H) * scale).round() as i32,
        );
        let key = Key {
            title: look.title.to_owned(),
            size,
            scale: scale.to_bits(),
            active: look.active,
            hover: look.hover,
            maximized: look.maximized,
        };
        if self.key.as_ref() != Some(&key) && size.0 > 0 && size.1 > 0 {
            let pixels = title_image(size.0, size.1, scale, look, palette);
            self.image = Some(MemoryRenderBuffer::from_slice(
                &pixels,
                Fourcc::Argb8888,
                size,
                1,
                Transform::Normal,
                None,
            ));
            self.key = Some(key);
        }
        if let Some(image) = &self.image {
            // The image holds physical pixels (buffer scale 1): the source is all of it,
            // shown at the bar's logical size. Leaving the source out would make smithay
            // take the logical size as the source too, which at scale 2 samples only the
            // top-left quarter of the image, magnified.
            let src = Rectangle::from_size((f64::from(size.0), f64::from(size.1)).into());
            match MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                (f64::from(x0), f64::from(y0)),
                image,
                None,
                Some(src),
                Some((frame.w, TITLE_H).into()),
                Kind::Unspecified,
            ) {
                Ok(element) => out.push(SkerryElement::Image(element)),
                Err(e) => tracing::debug!("cannot import a title bar: {e}"),
            }
        }
        let solid = |id: &Id, rect: Rectangle<i32, Physical>, argb: u32| {
            SkerryElement::Solid(SolidColorRenderElement::new(
                id.clone(),
                rect,
                self.commit,
                color(argb),
                Kind::Unspecified,
            ))
        };
        let r = |x: i32, y: i32, w: i32, h: i32| Rectangle::new((x, y).into(), (w, h).into());
        out.push(solid(&self.bar, r(x0, y0, x1 - x0, yt - y0), palette.title));
        let sides = [
            r(x0 - b, y0 - b, x1 - x0 + 2 * b, b),
            r(x0 - b, y1, x1 - x0 + 2 * b, b),
            r(x0 - b, y0, b, y1 - y0),
            r(x1, y0, b, y1 - y0),
        ];
        for (id, rect) in self.borders.iter().zip(sides) {
            out.push(solid(id, rect, palette.border));
        }
        out
    }
}

/// A premultiplied B,G,R,A image being drawn on.
pub(super) struct Canvas {
    pub(super) w: i32,
    pub(super) h: i32,
    pub(super) px: Vec<u8>,
}

impl Canvas {
    /// Blends `argb` at `coverage` (0..=1) over the pixel at (x, y).
    fn blend(&mut self, x: i32, y: i32, argb: u32, coverage: f32) {
        if x < 0 || y < 0 || x >= self.w || y >= self.h || coverage <= 0.0 {
            return;
        }
        let a = ((argb >> 24) & 0xff) as f32 / 255.0 * coverage.min(1.0);
        let i = ((y * self.w + x) * 4) as usize;
        let src = [argb & 0xff, (argb >> 8) & 0xff, (argb >> 16) & 0xff];
        for (c, s) in src.into_iter().enumerate() {
            let d = f32::from(self.px[i + c]);
            self.px[i + c] = (s as f32 * a + d * (1.0 - a)).round() as u8;
        }
        let d = f32::from(self.px[i + 3]);
        self.px[i + 3] = (255.0 * a + d * (1.0 - a)).round() as u8;
    }

    pub(super) fn fill(&mut self, x: i32, y: i32, w: i32, h: i32, argb: u32) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.blend(xx, yy, argb, 1.0);
            }
        }
    }
}

/// Draws the title text and button icons (on a transparent background: the bar colour is a
/// separate solid element).
fn title_image(w: i32, h: i32, scale: f64, look: Look<'_>, palette: Palette) -> Vec<u8> {
    let mut canvas = Canvas {
        w,
        h,
        px: vec![0; (w * h * 4) as usize],
    };
    let p = |v: f64| (v * scale).round() as i32;
    let buttons_left = w - p(f64::from(super::BUTTON_W * 3));
    for button in Button::ALL {
        let logical = button.rect(0);
        let bx = w + p(f64::from(logical.x));
        let bw = p(f64::from(super::BUTTON_W));
        if look.hover == Some(button) {
            let c = if button == Button::Close {
                Palette::CLOSE_HOVER
            } else {
                Palette::HOVER
            };
            canvas.fill(bx, 0, bw, h, c);
        }
        draw_icon(
            &mut canvas,
            button,
            bx,
            bw,
            scale,
            look.maximized,
            palette.text,
        );
    }
    if let Some(font) = font() {
        draw_text(
            &mut canvas,
            font,
            look.title,
            p(TEXT_PAD),
            buttons_left - p(8.0),
            scale,
            palette.text,
        );
    }
    canvas.px
}

fn draw_icon(
    canvas: &mut Canvas,
    button: Button,
    bx: i32,
    bw: i32,
    scale: f64,
    maximized: bool,
    argb: u32,
) {
    let size = (ICON * scale).round() as i32;
    let t = (scale.round() as i32).max(1);
    let x = bx + (bw - size) / 2;
    let y = (canvas.h - size) / 2;
    match button {
        Button::Minimize => canvas.fill(x, y + size - t, size, t, argb),
        Button::Maximize => {
            let square = |c: &mut Canvas, x: i32, y: i32, s: i32| {
                c.fill(x, y, s, t, argb);
                c.fill(x, y + s - t, s, t, argb);
                c.fill(x, y, t, s, argb);
                c.fill(x + s - t, y, t, s, argb);
            };
            if maximized {
                // Restore: two overlapping squares.
                let s = size * 4 / 5;
                square(canvas, x + size - s, y, s);
                square(canvas, x, y + size - s, s);
            } else {
                square(canvas, x, y, size);
            }
        }
        Button::Close => {
            // Two anti-aliased diagonals.
            let half = f64::from(t) / 2.0 + 0.3;
            let s = f64::from(size);
            for yy in 0..size {
                for xx in 0..size {
                    let (fx, fy) = (f64::from(xx) + 0.5, f64::from(yy) + 0.5);
                    let d1 = (fx - fy).abs() / std::f64::consts::SQRT_2;
                    let d2 = (fx + fy - s).abs() / std::f64::consts::SQRT_2;
                    let cov = (half + 0.5 - d1.min(d2)).clamp(0.0, 1.0) as f32;
                    canvas.blend(x + xx, y + yy, argb, cov);
                }
            }
        }
    }
}

/// Lays out `text` on one line from `x` and clips it with an ellipsis before `max_x`.
pub(super) fn draw_text(
    canvas: &mut Canvas,
    font: &FontVec,
    text: &str,
    x: i32,
    max_x: i32,
    scale: f64,
    argb: u32,
) {
    let px = PxScale::from((FONT_PX * scale) as f32);
    let scaled = font.as_scaled(px);
    let baseline = ((canvas.h as f32 + scaled.ascent() + scaled.descent()) / 2.0).round();
    let advance = |s: &str| {
        let mut w = 0.0;
        let mut prev = None;
        for c in s.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                w += scaled.kern(p, id);
            }
            w += scaled.h_advance(id);
            prev = Some(id);
        }
        w
    };
    let room = (max_x - x) as f32;
    let shown: String = if advance(text) <= room {
        text.to_owned()
    } else {
        let mut s: String = text.to_owned();
        while !s.is_empty() && advance(&format!("{s}…")) > room {
            s.pop();
        }
        if s.is_empty() {
            return;
        }
        format!("{s}…")
    };
    let mut pen = x as f32;
    let mut prev = None;
    for c in shown.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, baseline));
        pen += scaled.h_advance(id);
        prev = Some(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                canvas.blend(
                    bounds.min.x as i32 + gx as i32,
                    bounds.min.y as i32 + gy as i32,
                    argb,
                    cov,
                );
            });
        }
    }
}
