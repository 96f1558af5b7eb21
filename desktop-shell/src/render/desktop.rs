//! The background layer: the wallpaper and the desktop icons on it.
//!
//! The default wallpaper is generated (a deep blue-to-violet gradient with two soft
//! glows), so the appliance ships no artwork. A configured image (PNG) is scaled to cover
//! the output, cropping rather than distorting.

use std::path::Path;

use tiny_skia::{
    Color, GradientStop, LinearGradient, Paint, Pixmap, PixmapMut, PixmapPaint, Point,
    RadialGradient, Rect as SkRect, SpreadMode, Transform,
};

use super::{Painter, fill_rounded, palette};
use crate::desktop_items::DesktopItem;
use crate::layout::{self, PxRect, Rect};

/// Loads the wallpaper image at `path` (PNG).
pub fn load_wallpaper(path: &Path) -> Option<Pixmap> {
    match Pixmap::load_png(path) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the wallpaper; using the default");
            None
        }
    }
}

/// Paints the wallpaper over the whole pixmap.
pub fn draw_wallpaper(pm: &mut PixmapMut, image: Option<&Pixmap>) {
    let (w, h) = (pm.width() as f32, pm.height() as f32);
    if let Some(img) = image {
        let s = (w / img.width() as f32).max(h / img.height() as f32);
        let ox = (w - img.width() as f32 * s) / 2.0;
        let oy = (h - img.height() as f32 * s) / 2.0;
        pm.fill(Color::BLACK);
        let paint = PixmapPaint {
            quality: tiny_skia::FilterQuality::Bicubic,
            ..Default::default()
        };
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
    let Some(full) = SkRect::from_xywh(0.0, 0.0, w, h) else {
        return;
    };
    let mut paint = Paint::default();
    if let Some(shader) = LinearGradient::new(
        Point::from_xy(0.0, 0.0),
        Point::from_xy(w, h),
        vec![
            GradientStop::new(0.0, palette::rgba(16, 32, 64, 255)),
            GradientStop::new(0.55, palette::rgba(34, 40, 92, 255)),
            GradientStop::new(1.0, palette::rgba(64, 36, 96, 255)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    ) {
        paint.shader = shader;
    }
    pm.fill_rect(full, &paint, Transform::identity(), None);
    let glows = [
        (0.78, 0.25, 0.55, palette::rgba(80, 150, 255, 70)),
        (0.15, 0.85, 0.5, palette::rgba(190, 90, 220, 55)),
    ];
    for (fx, fy, fr, color) in glows {
        let centre = Point::from_xy(w * fx, h * fy);
        let radius = w.max(h) * fr;
        let mut paint = Paint::default();
        if let Some(shader) = RadialGradient::new(
            centre,
            centre,
            radius,
            vec![
                GradientStop::new(0.0, color),
                GradientStop::new(1.0, Color::TRANSPARENT),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        ) {
            paint.shader = shader;
            pm.fill_rect(full, &paint, Transform::identity(), None);
        }
    }
}

/// Draws the desktop icons into a desktop `height` logical pixels tall.
pub fn draw_icons(
    p: &mut Painter,
    pm: &mut PixmapMut,
    items: &[DesktopItem],
    height: f32,
    hovered: Option<usize>,
    selected: Option<usize>,
    scale: f64,
) {
    let s = scale as f32;
    for (i, item) in items.iter().enumerate() {
        let cell = layout::desktop_cell(i, height);
        let bg = if selected == Some(i) {
            Some(palette::rgba(86, 156, 255, 80))
        } else if hovered == Some(i) {
            Some(palette::rgba(255, 255, 255, 30))
        } else {
            None
        };
        if let Some(bg) = bg {
            fill_rounded(pm, cell.inset(3.0).to_px(scale), 8.0 * s, bg);
        }
        let icon = Rect::new(cell.x + (cell.w - 48.0) / 2.0, cell.y + 8.0, 48.0, 48.0).to_px(scale);
        match (&item.icon, item.is_dir) {
            (Some(name), _) => p.icon(pm, Some(name), &item.label, icon),
            (None, true) => draw_folder(pm, icon),
            (None, false) => draw_document(pm, icon),
        }
        let cx = (cell.x + cell.w / 2.0) * s;
        let y = (cell.y + 60.0) * s;
        p.text_centered_wrapped(
            pm,
            &item.label,
            cx,
            y,
            (cell.w - 10.0) * s,
            12.0 * s,
            palette::text(),
            2,
        );
    }
}

/// The generic folder icon: a tab and a body in warm yellow.
fn draw_folder(pm: &mut PixmapMut, r: PxRect) {
    let (x, y, w, h) = (r.x, r.y, r.w, r.h);
    let tab = PxRect {
        x: x + w / 16,
        y: y + h / 6,
        w: w * 2 / 5,
        h: h / 4,
    };
    fill_rounded(pm, tab, w as f32 / 16.0, palette::rgba(214, 160, 52, 255));
    let body = PxRect {
        x: x + w / 16,
        y: y + h / 4,
        w: w * 7 / 8,
        h: h * 5 / 8,
    };
    fill_rounded(pm, body, w as f32 / 12.0, palette::rgba(244, 190, 74, 255));
}

/// The generic file icon: a white page with a folded corner and text lines.
fn draw_document(pm: &mut PixmapMut, r: PxRect) {
    let (x, y, w, h) = (r.x, r.y, r.w, r.h);
    let page = PxRect {
        x: x + w / 5,
        y: y + h / 16,
        w: w * 3 / 5,
        h: h * 7 / 8,
    };
    fill_rounded(pm, page, w as f32 / 16.0, palette::rgba(236, 240, 246, 255));
    let fold = PxRect {
        x: page.x + page.w - w / 6,
        y: page.y,
        w: w / 6,
        h: h / 8,
    };
    fill_rounded(pm, fold, 1.0, palette::rgba(190, 198, 212, 255));
    for i in 0..4 {
        let line = PxRect {
            x: page.x + w / 10,
            y: page.y + h / 4 + i * h / 8,
            w: page.w - w / 5 - if i == 3 { w / 8 } else { 0 },
            h: (h / 32).max(1),
        };
        fill_rounded(pm, line, 0.0, palette::rgba(150, 160, 180, 255));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_wallpaper_is_a_blue_violet_gradient() {
        let mut pm = Pixmap::new(320, 180).unwrap();
        draw_wallpaper(&mut pm.as_mut(), None);
        let tl = pm.pixel(0, 0).unwrap();
        let br = pm.pixel(319, 179).unwrap();
        assert_eq!(tl.alpha(), 255);
        assert!(tl.blue() > tl.red() && tl.blue() > tl.green(), "{tl:?}");
        assert!(
            br.red() > tl.red(),
            "the gradient warms towards violet: {tl:?} {br:?}"
        );
    }

    #[test]
    fn configured_wallpaper_covers_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wall.png");
        // A 2x1 image: left half red, right half green.
        let mut img = Pixmap::new(2, 1).unwrap();
        img.fill_rect(
            SkRect::from_xywh(0.0, 0.0, 1.0, 1.0).unwrap(),
            &solid(255, 0, 0),
            Transform::identity(),
            None,
        );
        img.fill_rect(
            SkRect::from_xywh(1.0, 0.0, 1.0, 1.0).unwrap(),
            &solid(0, 255, 0),
            Transform::identity(),
            None,
        );
        img.save_png(&path).unwrap();
        let wall = load_wallpaper(&path).expect("PNG wallpaper");
        assert!(load_wallpaper(&dir.path().join("missing.png")).is_none());
        // A square output crops the wide image instead of stretching it.
        let mut pm = Pixmap::new(100, 100).unwrap();
        draw_wallpaper(&mut pm.as_mut(), Some(&wall));
        let left = pm.pixel(5, 50).unwrap();
        let right = pm.pixel(95, 50).unwrap();
        assert!(left.red() > 200 && left.green() < 60, "{left:?}");
        assert!(right.green() > 200 && right.red() < 60, "{right:?}");
        assert_eq!(pm.pixel(50, 0).unwrap().alpha(), 255);
    }

    fn solid(r: u8, g: u8, b: u8) -> Paint<'static> {
        let mut p = Paint::default();
        p.set_color_rgba8(r, g, b, 255);
        p
    }
}
