//! The start menu: a search box over the application list, grouped by section.

use tiny_skia::{Color, PixmapMut};

use super::panel::fill_accent;
use super::{Bold, Painter, fill_rounded, palette, stroke_rounded};
use crate::apps::{Menu, MenuRow};
use crate::layout::{self, Rect};

/// The menu's interactive state besides the query (which lives in [`Menu`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MenuState {
    /// Keyboard selection, an index into `rows()`.
    pub selected: Option<usize>,
    /// Row under the pointer.
    pub hovered: Option<usize>,
    pub scroll: f32,
}

/// Draws the menu for `menu` and `state` at `scale`.
pub fn draw(p: &mut Painter, pm: &mut PixmapMut, menu: &Menu, state: &MenuState, scale: f64) {
    let s = scale as f32;
    pm.fill(Color::TRANSPARENT);
    let full = Rect::new(
        0.0,
        0.0,
        layout::MENU_WIDTH as f32,
        layout::MENU_HEIGHT as f32,
    );
    fill_rounded(pm, full.to_px(scale), 12.0 * s, palette::menu());
    stroke_rounded(
        pm,
        full.inset(0.5).to_px(scale),
        12.0 * s,
        s,
        palette::border(),
    );

    // Search box.
    let sr = layout::menu_search();
    fill_rounded(
        pm,
        sr.to_px(scale),
        8.0 * s,
        palette::rgba(255, 255, 255, 18),
    );
    stroke_rounded(
        pm,
        sr.to_px(scale),
        8.0 * s,
        s,
        palette::rgba(86, 156, 255, 120),
    );
    let fs = 14.0 * s;
    let ty = (sr.y + (sr.h - 14.0 * 1.3) / 2.0) * s;
    let tx = (sr.x + 12.0) * s;
    let max_w = (sr.w - 24.0) * s;
    let typed = if menu.query.is_empty() {
        p.text(
            pm,
            "Type to search applications…",
            tx,
            ty,
            fs,
            palette::text_dim(),
            Bold::No,
            max_w,
        );
        0.0
    } else {
        p.text(
            pm,
            &menu.query,
            tx,
            ty,
            fs,
            palette::text(),
            Bold::No,
            max_w,
        )
    };
    // The caret shows where typing goes.
    let caret = Rect::new(sr.x + 12.0 + typed / s + 1.0, sr.y + 9.0, 1.5, sr.h - 18.0);
    fill_rounded(pm, caret.to_px(scale), 0.0, palette::accent());

    let rows = menu.rows();
    let headers: Vec<bool> = rows
        .iter()
        .map(|r| matches!(r, MenuRow::Header(_)))
        .collect();
    let rects = layout::menu_rows(&headers, state.scroll);
    if rows.is_empty() {
        let y = (layout::MENU_SEARCH_HEIGHT + 24.0) * s;
        p.text(
            pm,
            "No matching applications",
            24.0 * s,
            y,
            13.0 * s,
            palette::text_dim(),
            Bold::No,
            300.0 * s,
        );
    }
    for (i, (row, rect)) in rows.iter().zip(&rects).enumerate() {
        let Some(r) = rect else { continue };
        match row {
            MenuRow::Header(label) => {
                let y = (r.y + 10.0) * s;
                p.text(
                    pm,
                    &label.to_uppercase(),
                    (r.x + 8.0) * s,
                    y,
                    11.0 * s,
                    palette::accent(),
                    Bold::Yes,
                    r.w * s,
                );
            }
            MenuRow::App(idx) => {
                let Some(e) = menu.entries.get(*idx) else {
                    continue;
                };
                if state.selected == Some(i) {
                    fill_accent(pm, r.to_px(scale), 6.0 * s);
                }
                if state.hovered == Some(i) {
                    fill_rounded(pm, r.to_px(scale), 6.0 * s, palette::hover());
                }
                let icon = Rect::new(r.x + 8.0, r.y + (r.h - 28.0) / 2.0, 28.0, 28.0);
                p.icon(pm, e.icon.as_deref(), &e.name, icon.to_px(scale));
                let name_y = match &e.generic_name {
                    Some(_) => r.y + 3.0,
                    None => r.y + (r.h - 14.0 * 1.3) / 2.0,
                };
                let x = (r.x + 46.0) * s;
                let w = (r.w - 54.0) * s;
                p.text(
                    pm,
                    &e.name,
                    x,
                    name_y * s,
                    14.0 * s,
                    palette::text(),
                    Bold::No,
                    w,
                );
                if let Some(g) = &e.generic_name {
                    p.text(
                        pm,
                        g,
                        x,
                        (r.y + 21.0) * s,
                        11.0 * s,
                        palette::text_dim(),
                        Bold::No,
                        w,
                    );
                }
            }
        }
    }
}
