//! Drawing: tiny-skia for shapes and images, cosmic-text (system fonts through fontdb)
//! for shaped text. Everything is drawn directly in buffer pixels at the surface's scale,
//! so text and edges are crisp at scale 2 or 1.5 instead of being upscaled.
//!
//! The scenes (panel, menu, desktop) live in their own files and only describe what to
//! draw; this file holds the shared painter: text, rounded rectangles, icons (loaded once
//! per size and cached) and the generated letter icon.

pub mod desktop;
pub mod menu;
pub mod panel;

use std::collections::HashMap;
use std::path::PathBuf;

use cosmic_text::{Attrs, Buffer, Family, FontSystem, Metrics, Shaping, SwashCache, Weight, Wrap};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, PixmapMut, Transform};

use crate::layout::PxRect;

/// The colours of the shell.
pub mod palette {
    use tiny_skia::Color;

    pub fn text() -> Color {
        rgba(240, 242, 247, 255)
    }

    pub fn text_dim() -> Color {
        rgba(170, 178, 195, 255)
    }

    pub fn accent() -> Color {
        rgba(86, 156, 255, 255)
    }

    pub fn panel() -> Color {
        rgba(18, 20, 28, 222)
    }

    pub fn menu() -> Color {
        rgba(26, 28, 38, 245)
    }

    pub fn hover() -> Color {
        rgba(255, 255, 255, 26)
    }

    pub fn pressed() -> Color {
        rgba(255, 255, 255, 14)
    }

    pub fn active() -> Color {
        rgba(255, 255, 255, 40)
    }

    pub fn border() -> Color {
        rgba(255, 255, 255, 22)
    }

    pub fn rgba(r: u8, g: u8, b: u8, a: u8) -> Color {
        Color::from_rgba8(r, g, b, a)
    }
}

/// Text weight for [`Painter::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bold {
    No,
    Yes,
}

/// Shared drawing state: fonts, glyph cache and decoded icons.
pub struct Painter {
    fonts: FontSystem,
    glyphs: SwashCache,
    icons: HashMap<(String, u32), Option<Pixmap>>,
    data_dirs: Vec<PathBuf>,
}

impl Painter {
    pub fn new(data_dirs: Vec<PathBuf>) -> Self {
        let mut fonts = FontSystem::new();
        // fontdb's generic "sans-serif" defaults to a family that may not be installed,
        // and the fallback can then land on a serif face; name a sans family that is.
        let preferred = [
            "Inter",
            "Cantarell",
            "Noto Sans",
            "DejaVu Sans",
            "Liberation Sans",
        ];
        let db = fonts.db_mut();
        let installed = preferred.iter().find(|name| {
            db.faces()
                .any(|f| f.families.iter().any(|(fam, _)| fam.as_str() == **name))
        });
        if let Some(name) = installed {
            db.set_sans_serif_family(*name);
        }
        Self {
            fonts,
            glyphs: SwashCache::new(),
            icons: HashMap::new(),
            data_dirs,
        }
    }

    fn layout(
        &mut self,
        text: &str,
        size: f32,
        bold: Bold,
        width: Option<f32>,
        wrap: bool,
    ) -> Buffer {
        let mut buf = Buffer::new(&mut self.fonts, Metrics::new(size, (size * 1.3).ceil()));
        buf.set_wrap(
            &mut self.fonts,
            if wrap { Wrap::WordOrGlyph } else { Wrap::None },
        );
        buf.set_size(&mut self.fonts, width, None);
        let weight = match bold {
            Bold::Yes => Weight::BOLD,
            Bold::No => Weight::NORMAL,
        };
        let attrs = Attrs::new().family(Family::SansSerif).weight(weight);
        buf.set_text(&mut self.fonts, text, &attrs, Shaping::Advanced);
        buf.shape_until_scroll(&mut self.fonts, false);
        buf
    }

    /// The width of `text` on one line at `size` buffer pixels.
    pub fn measure(&mut self, text: &str, size: f32, bold: Bold) -> f32 {
        let buf = self.layout(text, size, bold, None, false);
        buf.layout_runs().map(|r| r.line_w).fold(0.0, f32::max)
    }

    /// `text` shortened with an ellipsis so it fits in `max_w`.
    pub fn fit(&mut self, text: &str, size: f32, bold: Bold, max_w: f32) -> String {
        if self.measure(text, size, bold) <= max_w {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let (mut lo, mut hi) = (0, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let candidate: String = chars[..mid].iter().collect::<String>() + "…";
            if self.measure(&candidate, size, bold) <= max_w {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        chars[..lo]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…"
    }

    /// Draws one line of text with its top-left at (x, y), shortened to `max_w`; returns
    /// the drawn width.
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &mut self,
        pm: &mut PixmapMut,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        color: Color,
        bold: Bold,
        max_w: f32,
    ) -> f32 {
        let text = self.fit(text, size, bold, max_w);
        let buf = self.layout(&text, size, bold, None, false);
        let w = buf.layout_runs().map(|r| r.line_w).fold(0.0, f32::max);
        self.draw_buffer(pm, &buf, x, y, color);
        w
    }

    /// Draws text wrapped to `width` and centred, at most `lines` lines (the last one
    /// ellipsised); used for desktop icon labels.
    #[allow(clippy::too_many_arguments)]
    pub fn text_centered_wrapped(
        &mut self,
        pm: &mut PixmapMut,
        text: &str,
        cx: f32,
        y: f32,
        width: f32,
        size: f32,
        color: Color,
        lines: usize,
    ) {
        let buf = self.layout(text, size, Bold::No, Some(width), true);
        let runs: Vec<(String, f32)> = buf
            .layout_runs()
            .map(|r| {
                let s = r.glyphs.first().map_or(0, |g| g.start);
                let e = r.glyphs.last().map_or(0, |g| g.end);
                (r.text[s..e].to_string(), r.line_w)
            })
            .collect();
        let line_h = (size * 1.3).ceil();
        for (i, (line, _)) in runs.iter().take(lines).enumerate() {
            let mut line = line.trim().to_string();
            if i + 1 == lines && runs.len() > lines {
                line = self.fit(&(line + "…"), size, Bold::No, width);
            }
            let w = self.measure(&line, size, Bold::No);
            let lx = cx - w / 2.0;
            let ly = y + i as f32 * line_h;
            // A soft shadow keeps labels readable on any wallpaper.
            let b = self.layout(&line, size, Bold::No, None, false);
            self.draw_buffer(pm, &b, lx + 1.0, ly + 1.0, palette::rgba(0, 0, 0, 150));
            self.draw_buffer(pm, &b, lx, ly, color);
        }
    }

    fn draw_buffer(&mut self, pm: &mut PixmapMut, buf: &Buffer, x: f32, y: f32, color: Color) {
        let (w, h) = (pm.width() as i32, pm.height() as i32);
        let data = pm.data_mut();
        let c = color.to_color_u8();
        let ct = cosmic_text::Color::rgba(c.red(), c.green(), c.blue(), c.alpha());
        let (ox, oy) = (x.round() as i32, y.round() as i32);
        buf.draw(
            &mut self.fonts,
            &mut self.glyphs,
            ct,
            |gx, gy, gw, gh, col| {
                for yy in gy..gy + gh as i32 {
                    for xx in gx..gx + gw as i32 {
                        let (px, py) = (xx + ox, yy + oy);
                        if px < 0 || py < 0 || px >= w || py >= h {
                            continue;
                        }
                        blend(data, (py * w + px) as usize * 4, col);
                    }
                }
            },
        );
    }

    /// The icon `name` scaled into `r`, or a letter icon for `label` when no image is
    /// found.
    pub fn icon(&mut self, pm: &mut PixmapMut, name: Option<&str>, label: &str, r: PxRect) {
        let size = r.w.min(r.h).max(1) as u32;
        if let Some(name) = name {
            let key = (name.to_string(), size);
            let data_dirs = &self.data_dirs;
            let img = self.icons.entry(key).or_insert_with(|| {
                let path = crate::icons::find_icon(name, size, data_dirs)?;
                load_icon(&path, size)
            });
            if let Some(img) = img {
                let s = size as f32 / img.width().max(img.height()) as f32;
                let paint = tiny_skia::PixmapPaint {
                    quality: tiny_skia::FilterQuality::Bicubic,
                    ..Default::default()
                };
                let ox = r.x as f32 + (r.w as f32 - img.width() as f32 * s) / 2.0;
                let oy = r.y as f32 + (r.h as f32 - img.height() as f32 * s) / 2.0;
                pm.draw_pixmap(
                    0,
                    0,
                    img.as_ref(),
                    &paint,
                    Transform::from_scale(s, s).post_translate(ox, oy),
                    None,
                );
                return;
            }
        }
        self.letter_icon(pm, label, r);
    }

    /// A rounded square in a colour derived from the label, with its first letter.
    pub fn letter_icon(&mut self, pm: &mut PixmapMut, label: &str, r: PxRect) {
        const HUES: [(u8, u8, u8); 6] = [
            (231, 111, 81),
            (42, 157, 143),
            (100, 116, 220),
            (233, 168, 64),
            (178, 102, 200),
            (70, 150, 210),
        ];
        let hash = label
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        let (cr, cg, cb) = HUES[hash as usize % HUES.len()];
        let size = r.w.min(r.h) as f32;
        let sq = PxRect {
            x: r.x + (r.w - size as i32) / 2,
            y: r.y + (r.h - size as i32) / 2,
            w: size as i32,
            h: size as i32,
        };
        fill_rounded(pm, sq, size * 0.22, palette::rgba(cr, cg, cb, 255));
        let letter: String = label
            .chars()
            .find(|c| c.is_alphanumeric())
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_else(|| "?".into());
        let fs = size * 0.55;
        let w = self.measure(&letter, fs, Bold::Yes);
        let x = sq.x as f32 + (size - w) / 2.0;
        let y = sq.y as f32 + (size - fs * 1.3) / 2.0;
        self.text(pm, &letter, x, y, fs, palette::text(), Bold::Yes, size);
    }
}

/// Source-over of a premultiplied-alpha-free glyph colour onto premultiplied RGBA.
fn blend(data: &mut [u8], i: usize, c: cosmic_text::Color) {
    let a = c.a() as u32;
    if a == 0 || i + 3 >= data.len() {
        return;
    }
    let inv = 255 - a;
    let src = [c.r() as u32, c.g() as u32, c.b() as u32];
    for k in 0..3 {
        data[i + k] = ((src[k] * a + data[i + k] as u32 * inv + 127) / 255) as u8;
    }
    data[i + 3] = (a + (data[i + 3] as u32 * inv + 127) / 255).min(255) as u8;
}

/// Fills a rectangle with rounded corners of `radius` buffer pixels.
pub fn fill_rounded(pm: &mut PixmapMut, r: PxRect, radius: f32, color: Color) {
    let mut paint = Paint::default();
    paint.set_color(color);
    paint.anti_alias = true;
    fill_rounded_paint(pm, r, radius, &paint);
}

/// Like [`fill_rounded`] with any paint (gradients).
pub fn fill_rounded_paint(pm: &mut PixmapMut, r: PxRect, radius: f32, paint: &Paint) {
    if let Some(path) = rounded_path(r, radius) {
        pm.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

/// Outlines a rounded rectangle with a one-pixel-wide (at scale 1) line.
pub fn stroke_rounded(pm: &mut PixmapMut, r: PxRect, radius: f32, width: f32, color: Color) {
    let mut paint = Paint::default();
    paint.set_color(color);
    paint.anti_alias = true;
    if let Some(path) = rounded_path(r, radius) {
        let stroke = tiny_skia::Stroke {
            width,
            ..Default::default()
        };
        pm.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
    }
}

fn rounded_path(r: PxRect, radius: f32) -> Option<tiny_skia::Path> {
    let (x, y, w, h) = (r.x as f32, r.y as f32, r.w as f32, r.h as f32);
    if w <= 0.0 || h <= 0.0 {
        return None;
    }
    let rad = radius.min(w / 2.0).min(h / 2.0).max(0.0);
    let k = 0.552_284_8 * rad;
    let mut pb = PathBuilder::new();
    pb.move_to(x + rad, y);
    pb.line_to(x + w - rad, y);
    pb.cubic_to(x + w - rad + k, y, x + w, y + rad - k, x + w, y + rad);
    pb.line_to(x + w, y + h - rad);
    pb.cubic_to(
        x + w,
        y + h - rad + k,
        x + w - rad + k,
        y + h,
        x + w - rad,
        y + h,
    );
    pb.line_to(x + rad, y + h);
    pb.cubic_to(x + rad - k, y + h, x, y + h - rad + k, x, y + h - rad);
    pb.line_to(x, y + rad);
    pb.cubic_to(x, y + rad - k, x + rad - k, y, x + rad, y);
    pb.close();
    pb.finish()
}

/// Copies a tiny-skia pixmap (premultiplied RGBA) into a `wl_shm` ARGB8888 buffer
/// (premultiplied, little-endian B,G,R,A).
pub fn to_argb8888(src: &[u8], dst: &mut [u8]) {
    for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(4)) {
        d[0] = s[2];
        d[1] = s[1];
        d[2] = s[0];
        d[3] = s[3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argb_conversion_swaps_red_and_blue() {
        let mut dst = [0u8; 8];
        to_argb8888(&[10, 20, 30, 255, 1, 2, 3, 4], &mut dst);
        assert_eq!(dst, [30, 20, 10, 255, 3, 2, 1, 4]);
    }

    #[test]
    fn text_is_shaped_with_system_fonts_and_ellipsised() {
        let mut p = Painter::new(Vec::new());
        let w = p.measure("Skerry", 20.0, Bold::No);
        assert!(
            w > 30.0 && w < 120.0,
            "implausible width {w}: are fonts installed?"
        );
        assert!(
            p.measure("Skerry", 40.0, Bold::No) > 1.8 * w,
            "text scales with size"
        );
        let long = "A very long window title that cannot possibly fit";
        let short = p.fit(long, 14.0, Bold::No, 100.0);
        assert!(short.ends_with('…'));
        assert!(p.measure(&short, 14.0, Bold::No) <= 100.0);
        let mut pm = Pixmap::new(120, 40).unwrap();
        p.text(
            &mut pm.as_mut(),
            "Hi",
            4.0,
            4.0,
            20.0,
            palette::text(),
            Bold::No,
            100.0,
        );
        assert!(
            pm.data().chunks(4).any(|px| px[3] > 200),
            "text left no ink"
        );
    }

    #[test]
    fn letter_icon_draws_the_initial() {
        let mut p = Painter::new(Vec::new());
        let mut pm = Pixmap::new(64, 64).unwrap();
        p.icon(
            &mut pm.as_mut(),
            Some("skerry-no-such-icon"),
            "zed",
            PxRect {
                x: 0,
                y: 0,
                w: 64,
                h: 64,
            },
        );
        let centre = pm.pixel(32, 32).unwrap();
        assert_eq!(centre.alpha(), 255);
        // Rounded corners leave the corner pixel transparent.
        assert_eq!(pm.pixel(0, 0).unwrap().alpha(), 0);
        // Some pixel is the white letter.
        assert!(
            pm.pixels()
                .iter()
                .any(|c| c.red() > 230 && c.green() > 230 && c.blue() > 230)
        );
    }
}

/// Reads an icon file: a PNG as it is, an SVG rasterised to `size` x `size` (aspect kept,
/// centred).
fn load_icon(path: &std::path::Path, size: u32) -> Option<Pixmap> {
    if !crate::icons::is_svg(path) {
        return Pixmap::load_png(path)
            .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "unreadable icon"))
            .ok();
    }
    let data = std::fs::read(path).ok()?;
    let tree = resvg::usvg::Tree::from_data(&data, &resvg::usvg::Options::default())
        .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "unreadable SVG icon"))
        .ok()?;
    let natural = tree.size();
    let s = size as f32 / natural.width().max(natural.height());
    let (ox, oy) = (
        (size as f32 - natural.width() * s) / 2.0,
        (size as f32 - natural.height() * s) / 2.0,
    );
    let mut pixmap = Pixmap::new(size, size)?;
    resvg::render(
        &tree,
        Transform::from_scale(s, s).post_translate(ox, oy),
        &mut pixmap.as_mut(),
    );
    Some(pixmap)
}

#[cfg(test)]
mod svg_tests {
    use super::*;

    #[test]
    fn svg_icons_are_rasterised_at_the_size_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disc.svg");
        // A red disc on a transparent 16x16 canvas.
        std::fs::write(
            &path,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16">
                <circle cx="8" cy="8" r="7" fill="#ff0000"/></svg>"##,
        )
        .unwrap();
        let img = load_icon(&path, 96).expect("rendered");
        assert_eq!((img.width(), img.height()), (96, 96));
        let px = |x: u32, y: u32| img.pixel(x, y).expect("inside");
        let centre = px(48, 48);
        assert_eq!(
            (centre.red(), centre.green(), centre.alpha()),
            (255, 0, 255)
        );
        assert_eq!(px(1, 1).alpha(), 0, "the corner stays transparent");
        std::fs::write(&path, "not svg").unwrap();
        assert!(load_icon(&path, 96).is_none());
    }
}
