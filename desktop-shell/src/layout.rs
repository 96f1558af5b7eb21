//! Where things go: the panel's start button, task buttons, status area and clock, the
//! start menu's rows and the desktop's icon grid.
//!
//! Geometry is decided in logical (surface-local) units and converted to buffer pixels
//! once, edge by edge, so neighbouring items at a fractional scale share an edge instead of
//! leaving a one-pixel seam or overlapping. Pure functions, so hit-testing and drawing
//! agree by construction and the numbers are tested without a compositor.

/// The panel's height in logical pixels.
pub const PANEL_HEIGHT: u32 = 44;
/// Task buttons never grow wider than this (logical pixels) …
pub const TASK_MAX_WIDTH: f32 = 220.0;
/// … nor shrink below an icon-only button.
pub const TASK_MIN_WIDTH: f32 = 44.0;
const PAD: f32 = 4.0;
const CLOCK_WIDTH: f32 = 92.0;
const STATUS_WIDTH: f32 = 64.0;

/// The start menu's size in logical pixels.
pub const MENU_WIDTH: u32 = 380;
pub const MENU_HEIGHT: u32 = 520;
pub const MENU_SEARCH_HEIGHT: f32 = 52.0;
pub const MENU_APP_ROW: f32 = 40.0;
pub const MENU_HEADER_ROW: f32 = 28.0;

/// Desktop icon cells, logical pixels.
pub const DESKTOP_CELL_W: f32 = 104.0;
pub const DESKTOP_CELL_H: f32 = 100.0;
pub const DESKTOP_MARGIN: f32 = 12.0;

/// A rectangle in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// A rectangle in buffer pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PxRect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w, h }
    }

    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (x, y) = (x as f32, y as f32);
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }

    /// The buffer pixels this rectangle covers at `scale`: each edge is rounded on its
    /// own, so adjacent rectangles stay adjacent.
    pub fn to_px(self, scale: f64) -> PxRect {
        let s = scale as f32;
        let x0 = (self.x * s).round() as i32;
        let y0 = (self.y * s).round() as i32;
        let x1 = ((self.x + self.w) * s).round() as i32;
        let y1 = ((self.y + self.h) * s).round() as i32;
        PxRect {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        }
    }

    pub fn inset(self, d: f32) -> Self {
        Self::new(
            self.x + d,
            self.y + d,
            (self.w - 2.0 * d).max(0.0),
            (self.h - 2.0 * d).max(0.0),
        )
    }
}

/// The buffer size for a logical size at `scale` (what a `wp_viewport` then maps back).
pub fn buffer_size(logical: (u32, u32), scale: f64) -> (u32, u32) {
    (
        ((logical.0 as f64) * scale).round().max(1.0) as u32,
        ((logical.1 as f64) * scale).round().max(1.0) as u32,
    )
}

/// The panel's parts for a panel `width` logical pixels wide holding `tasks` windows.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelLayout {
    pub start: Rect,
    pub tasks: Vec<Rect>,
    pub status: Rect,
    pub clock: Rect,
}

pub fn panel(width: f32, tasks: usize) -> PanelLayout {
    let h = PANEL_HEIGHT as f32;
    let start = Rect::new(PAD, PAD, h - 2.0 * PAD + 8.0, h - 2.0 * PAD);
    let clock = Rect::new(width - CLOCK_WIDTH - PAD, PAD, CLOCK_WIDTH, h - 2.0 * PAD);
    let status = Rect::new(
        clock.x - STATUS_WIDTH - PAD,
        PAD,
        STATUS_WIDTH,
        h - 2.0 * PAD,
    );
    let first = start.x + start.w + 2.0 * PAD;
    let room = (status.x - 2.0 * PAD - first).max(0.0);
    let mut out = Vec::with_capacity(tasks);
    if tasks > 0 {
        let each = ((room + PAD) / tasks as f32 - PAD).clamp(TASK_MIN_WIDTH, TASK_MAX_WIDTH);
        for i in 0..tasks {
            let x = first + i as f32 * (each + PAD);
            // Buttons that do not fit are not shown rather than drawn over the clock.
            if x + each > first + room + 0.5 {
                break;
            }
            out.push(Rect::new(x, PAD, each, h - 2.0 * PAD));
        }
    }
    PanelLayout {
        start,
        tasks: out,
        status,
        clock,
    }
}

/// The start menu's search box.
pub fn menu_search() -> Rect {
    Rect::new(
        12.0,
        12.0,
        MENU_WIDTH as f32 - 24.0,
        MENU_SEARCH_HEIGHT - 16.0,
    )
}

/// Row rectangles of the start menu, given whether each row is a header, scrolled by
/// `scroll` logical pixels; rows outside the list area are left out (`None`).
pub fn menu_rows(headers: &[bool], scroll: f32) -> Vec<Option<Rect>> {
    let top = MENU_SEARCH_HEIGHT + 4.0;
    let bottom = MENU_HEIGHT as f32 - 8.0;
    let mut y = top - scroll;
    headers
        .iter()
        .map(|&header| {
            let h = if header {
                MENU_HEADER_ROW
            } else {
                MENU_APP_ROW
            };
            let r = Rect::new(8.0, y, MENU_WIDTH as f32 - 16.0, h);
            y += h;
            (r.y >= top - 0.5 && r.y + r.h <= bottom + 0.5).then_some(r)
        })
        .collect()
}

/// The total height of the menu's rows (for clamping the scroll offset).
pub fn menu_content_height(headers: &[bool]) -> f32 {
    headers
        .iter()
        .map(|&h| if h { MENU_HEADER_ROW } else { MENU_APP_ROW })
        .sum()
}

/// How far the menu list can scroll.
pub fn menu_max_scroll(headers: &[bool]) -> f32 {
    let visible = MENU_HEIGHT as f32 - 8.0 - (MENU_SEARCH_HEIGHT + 4.0);
    (menu_content_height(headers) - visible).max(0.0)
}

/// The `index`-th desktop icon cell on a desktop `height` logical pixels tall (above the
/// panel): icons fill columns top to bottom, then the next column to the right.
pub fn desktop_cell(index: usize, height: f32) -> Rect {
    let rows = (((height - 2.0 * DESKTOP_MARGIN) / DESKTOP_CELL_H).floor() as usize).max(1);
    let col = index / rows;
    let row = index % rows;
    Rect::new(
        DESKTOP_MARGIN + col as f32 * DESKTOP_CELL_W,
        DESKTOP_MARGIN + row as f32 * DESKTOP_CELL_H,
        DESKTOP_CELL_W,
        DESKTOP_CELL_H,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_parts_do_not_overlap_and_tasks_share_space() {
        let p = panel(1280.0, 3);
        assert_eq!(p.tasks.len(), 3);
        assert_eq!(p.tasks[0].w, TASK_MAX_WIDTH);
        assert!(p.start.x + p.start.w < p.tasks[0].x);
        for pair in p.tasks.windows(2) {
            assert!(pair[0].x + pair[0].w < pair[1].x);
        }
        let last = p.tasks[2];
        assert!(last.x + last.w < p.status.x);
        assert!(p.status.x + p.status.w < p.clock.x);
        assert_eq!(p.clock.x + p.clock.w, 1280.0 - PAD);

        // Many windows shrink the buttons, then the ones that cannot fit are dropped.
        let p = panel(1280.0, 12);
        assert_eq!(p.tasks.len(), 12);
        assert!(p.tasks[0].w < TASK_MAX_WIDTH && p.tasks[0].w >= TASK_MIN_WIDTH);
        let p = panel(640.0, 40);
        assert!(p.tasks.len() < 40);
        let last = p.tasks.last().unwrap();
        assert!(last.x + last.w <= p.status.x);
    }

    #[test]
    fn panel_geometry_at_scales_1_2_and_1_5() {
        let p = panel(1000.0, 2);
        let t0 = p.tasks[0];
        assert_eq!(
            t0.to_px(1.0),
            PxRect {
                x: 56,
                y: 4,
                w: 220,
                h: 36
            }
        );
        assert_eq!(
            t0.to_px(2.0),
            PxRect {
                x: 112,
                y: 8,
                w: 440,
                h: 72
            }
        );
        assert_eq!(
            t0.to_px(1.5),
            PxRect {
                x: 84,
                y: 6,
                w: 330,
                h: 54
            }
        );
        assert_eq!(
            p.start.to_px(1.5),
            PxRect {
                x: 6,
                y: 6,
                w: 66,
                h: 54
            }
        );
        // At 1.5 the panel's 44 logical pixels are exactly 66 buffer pixels.
        assert_eq!(buffer_size((1000, PANEL_HEIGHT), 1.5), (1500, 66));
        assert_eq!(buffer_size((1000, PANEL_HEIGHT), 2.0), (2000, 88));
        // Odd positions at 1.5: edges round independently, adjacent rects share edges.
        let a = Rect::new(0.5, 0.0, 3.0, 1.0).to_px(1.5);
        let b = Rect::new(3.5, 0.0, 3.0, 1.0).to_px(1.5);
        assert_eq!(a.x + a.w, b.x);
    }

    #[test]
    fn hit_testing_matches_the_rectangles() {
        let p = panel(800.0, 1);
        let s = p.start;
        assert!(s.contains((s.x + 1.0) as f64, (s.y + 1.0) as f64));
        assert!(!s.contains((s.x + s.w) as f64, s.y as f64));
    }

    #[test]
    fn desktop_grid_fills_columns_first() {
        let h = 600.0;
        let rows = ((h - 2.0 * DESKTOP_MARGIN) / DESKTOP_CELL_H).floor() as usize;
        assert_eq!(rows, 5);
        assert_eq!(
            desktop_cell(0, h),
            Rect::new(12.0, 12.0, DESKTOP_CELL_W, DESKTOP_CELL_H)
        );
        assert_eq!(desktop_cell(1, h).y, 12.0 + DESKTOP_CELL_H);
        assert_eq!(desktop_cell(5, h).x, 12.0 + DESKTOP_CELL_W);
        assert_eq!(desktop_cell(5, h).y, 12.0);
        // A tiny desktop still has one row.
        assert_eq!(desktop_cell(3, 10.0).x, 12.0 + 3.0 * DESKTOP_CELL_W);
        assert_eq!(
            desktop_cell(3, 10.0).to_px(2.0).x,
            2 * 12 + 6 * DESKTOP_CELL_W as i32
        );
    }

    #[test]
    fn menu_rows_scroll_and_clip() {
        let headers = [true, false, false, true, false];
        let rows = menu_rows(&headers, 0.0);
        let r0 = rows[0].unwrap();
        assert_eq!(r0.y, MENU_SEARCH_HEIGHT + 4.0);
        assert_eq!(rows[1].unwrap().y, r0.y + MENU_HEADER_ROW);
        let scrolled = menu_rows(&headers, MENU_HEADER_ROW);
        assert!(scrolled[0].is_none(), "scrolled-away rows are not drawn");
        assert_eq!(scrolled[1].unwrap().y, r0.y);
        assert_eq!(menu_max_scroll(&headers), 0.0);
        let many = vec![false; 40];
        assert!(menu_max_scroll(&many) > 0.0);
    }
}
