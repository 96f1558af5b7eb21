//! The panel: start button, one button per window, status area and clock.

use tiny_skia::{
    Color, GradientStop, LinearGradient, Paint, PixmapMut, Point, SpreadMode, Transform,
};

use super::{Bold, Painter, fill_rounded, fill_rounded_paint, palette};
use crate::layout::{self, PxRect, Rect};

/// Pointer feedback for a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Feedback {
    #[default]
    None,
    Hover,
    Pressed,
}

/// One window's button.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub title: String,
    pub icon: Option<String>,
    pub active: bool,
    pub minimized: bool,
    pub feedback: Feedback,
}

/// Everything the panel shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PanelView {
    pub start: Feedback,
    pub menu_open: bool,
    pub tasks: Vec<TaskView>,
    pub time: String,
    pub date: String,
    /// Connected viewers, when the streamer reports them (a later addition).
    pub viewers: Option<u32>,
}

fn feedback_color(f: Feedback) -> Option<Color> {
    match f {
        Feedback::None => None,
        Feedback::Hover => Some(palette::hover()),
        Feedback::Pressed => Some(palette::pressed()),
    }
}

/// Draws the panel into `pm`, a buffer `width` logical pixels wide at `scale`.
pub fn draw(p: &mut Painter, pm: &mut PixmapMut, view: &PanelView, width: f32, scale: f64) {
    let s = scale as f32;
    pm.fill(Color::TRANSPARENT);
    let full = Rect::new(0.0, 0.0, width, layout::PANEL_HEIGHT as f32).to_px(scale);
    fill_rounded(pm, full, 0.0, palette::panel());
    // A hairline along the top edge separates the panel from the windows above.
    let line = PxRect {
        h: s.round().max(1.0) as i32,
        ..full
    };
    fill_rounded(pm, line, 0.0, palette::border());

    let l = layout::panel(width, view.tasks.len());
    let radius = 6.0 * s;

    // Start button: an accent gradient tile with a four-square mark.
    let sb = l.start.to_px(scale);
    if let Some(c) = feedback_color(view.start) {
        fill_rounded(pm, sb, radius, c);
    }
    if view.menu_open {
        fill_rounded(pm, sb, radius, palette::active());
    }
    let mark = l.start.inset(l.start.h * 0.22);
    let mark = Rect::new(
        l.start.x + (l.start.w - mark.h) / 2.0,
        mark.y,
        mark.h,
        mark.h,
    );
    let gap = 2.0;
    let half = (mark.w - gap) / 2.0;
    let shades = [
        (94, 170, 255),
        (120, 110, 255),
        (70, 210, 200),
        (86, 140, 255),
    ];
    for (i, (r, g, b)) in shades.iter().enumerate() {
        let cell = Rect::new(
            mark.x + (i % 2) as f32 * (half + gap),
            mark.y + (i / 2) as f32 * (half + gap),
            half,
            half,
        );
        let a = if view.start == Feedback::Pressed {
            200
        } else {
            255
        };
        fill_rounded(pm, cell.to_px(scale), 2.0 * s, palette::rgba(*r, *g, *b, a));
    }

    // Task buttons.
    for (t, r) in view.tasks.iter().zip(&l.tasks) {
        let px = r.to_px(scale);
        if t.active {
            fill_rounded(pm, px, radius, palette::active());
        } else {
            fill_rounded(pm, px, radius, palette::rgba(255, 255, 255, 8));
        }
        if let Some(c) = feedback_color(t.feedback) {
            fill_rounded(pm, px, radius, c);
        }
        let icon = Rect::new(r.x + 8.0, r.y + (r.h - 22.0) / 2.0, 22.0, 22.0).to_px(scale);
        p.icon(pm, t.icon.as_deref(), &t.title, icon);
        let fs = 13.0 * s;
        let tx = (r.x + 38.0) * s;
        let max_w = (r.w - 46.0) * s;
        if max_w > fs {
            let color = if t.minimized {
                palette::text_dim()
            } else {
                palette::text()
            };
            let ty = (r.y + (r.h - 13.0 * 1.3) / 2.0) * s;
            p.text(pm, &t.title, tx, ty, fs, color, Bold::No, max_w);
        }
        // The active window's button carries an accent bar along its bottom edge.
        if t.active {
            let bar = Rect::new(r.x + r.w * 0.3, r.y + r.h - 3.0, r.w * 0.4, 3.0).to_px(scale);
            fill_rounded(pm, bar, 1.5 * s, palette::accent());
        } else if !t.minimized {
            let bar = Rect::new(r.x + r.w / 2.0 - 4.0, r.y + r.h - 3.0, 8.0, 3.0).to_px(scale);
            fill_rounded(pm, bar, 1.5 * s, palette::text_dim());
        }
    }

    // Status area: viewers (filled in when the streamer reports them) and audio.
    let st = l.status;
    let cy = st.y + st.h / 2.0;
    let viewer = Rect::new(st.x + 10.0, cy - 8.0, 16.0, 16.0);
    draw_viewers_glyph(pm, viewer, scale, view.viewers.unwrap_or(0) > 0);
    let spk = Rect::new(st.x + 38.0, cy - 7.0, 16.0, 14.0);
    draw_speaker_glyph(pm, spk, scale);

    // Clock: time above, date below, centred.
    let c = l.clock;
    let tw = p.measure(&view.time, 14.0 * s, Bold::Yes);
    let dw = p.measure(&view.date, 11.0 * s, Bold::No);
    let cx = (c.x + c.w / 2.0) * s;
    p.text(
        pm,
        &view.time,
        cx - tw / 2.0,
        (c.y + 1.0) * s,
        14.0 * s,
        palette::text(),
        Bold::Yes,
        c.w * s,
    );
    p.text(
        pm,
        &view.date,
        cx - dw / 2.0,
        (c.y + 20.0) * s,
        11.0 * s,
        palette::text_dim(),
        Bold::No,
        c.w * s,
    );
}

fn draw_viewers_glyph(pm: &mut PixmapMut, r: Rect, scale: f64, lit: bool) {
    let color = if lit {
        palette::accent()
    } else {
        palette::text_dim()
    };
    let head = Rect::new(r.x + r.w * 0.3, r.y, r.w * 0.4, r.h * 0.4);
    fill_rounded(pm, head.to_px(scale), head.w * scale as f32, color);
    let body = Rect::new(r.x + r.w * 0.1, r.y + r.h * 0.5, r.w * 0.8, r.h * 0.5);
    fill_rounded(pm, body.to_px(scale), body.h * 0.6 * scale as f32, color);
}

fn draw_speaker_glyph(pm: &mut PixmapMut, r: Rect, scale: f64) {
    let s = scale as f32;
    let mut pb = tiny_skia::PathBuilder::new();
    let (x, y, w, h) = (r.x * s, r.y * s, r.w * s, r.h * s);
    pb.move_to(x, y + h * 0.32);
    pb.line_to(x + w * 0.25, y + h * 0.32);
    pb.line_to(x + w * 0.55, y);
    pb.line_to(x + w * 0.55, y + h);
    pb.line_to(x + w * 0.25, y + h * 0.68);
    pb.line_to(x, y + h * 0.68);
    pb.close();
    let mut paint = Paint::default();
    paint.set_color(palette::text_dim());
    paint.anti_alias = true;
    if let Some(path) = pb.finish() {
        pm.fill_path(
            &path,
            &paint,
            tiny_skia::FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    let wave = Rect::new(r.x + r.w * 0.7, r.y + r.h * 0.25, r.w * 0.12, r.h * 0.5);
    fill_rounded(pm, wave.to_px(scale), wave.w * s, palette::text_dim());
}

/// An accent gradient paint across `r` (used by the menu's selection).
pub fn accent_paint(r: PxRect) -> Paint<'static> {
    let mut paint = Paint {
        anti_alias: true,
        ..Default::default()
    };
    if let Some(shader) = LinearGradient::new(
        Point::from_xy(r.x as f32, r.y as f32),
        Point::from_xy((r.x + r.w) as f32, (r.y + r.h) as f32),
        vec![
            GradientStop::new(0.0, palette::rgba(70, 130, 240, 150)),
            GradientStop::new(1.0, palette::rgba(120, 100, 240, 150)),
        ],
        SpreadMode::Pad,
        Transform::identity(),
    ) {
        paint.shader = shader;
    }
    paint
}

/// Fills `r` with the accent gradient.
pub fn fill_accent(pm: &mut PixmapMut, r: PxRect, radius: f32) {
    fill_rounded_paint(pm, r, radius, &accent_paint(r));
}
