//! Window-management policy, knowing nothing about Wayland.
//!
//! The compositor tells this module what happened (a window appeared, the user clicked, a
//! client asked to be maximized, a panel reserved an edge) and reads back where every window
//! goes, how big it must be, which one has focus and the stacking order. Keeping the policy
//! free of protocol objects means it is tested exhaustively with random operation sequences
//! ([`Layout::verify_invariants`] after every step) instead of through clients.
//!
//! Geometry is in logical output coordinates; a window's rectangle is its *window geometry*
//! (what the user sees as the window, without client-side shadows).

#[cfg(test)]
mod tests;

/// Identifies a window; chosen by the compositor, stable for the window's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(pub u64);

/// A rectangle in logical output coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Self {
        Self { x, y, w, h }
    }

    pub fn contains(&self, px: f64, py: f64) -> bool {
        px >= f64::from(self.x)
            && py >= f64::from(self.y)
            && px < f64::from(self.x) + f64::from(self.w)
            && py < f64::from(self.y) + f64::from(self.h)
    }

    /// Area shared with `other` (0 when they do not overlap).
    pub fn overlap_area(&self, other: &Rect) -> i64 {
        let w = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let h = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if w <= 0 || h <= 0 {
            0
        } else {
            i64::from(w) * i64::from(h)
        }
    }
}

/// Space reserved at the output edges by layer-shell surfaces with exclusive zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reserved {
    pub top: i32,
    pub bottom: i32,
    pub left: i32,
    pub right: i32,
}

/// How a window occupies the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Floating,
    Maximized,
    Fullscreen,
}

/// Size limits a client asked for; 0 means "no limit" as in xdg-shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub min_w: i32,
    pub min_h: i32,
    pub max_w: i32,
    pub max_h: i32,
}

impl Limits {
    fn clamp(&self, w: i32, h: i32) -> (i32, i32) {
        let clamp_one = |v: i32, min: i32, max: i32| {
            let v = if max > 0 { v.min(max) } else { v };
            v.max(min).max(1)
        };
        (
            clamp_one(w, self.min_w, self.max_w),
            clamp_one(h, self.min_h, self.max_h),
        )
    }
}

/// What the layout knows about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowState {
    pub id: WindowId,
    /// Where the window is and how big, right now.
    pub rect: Rect,
    /// The floating rectangle to return to after maximize/fullscreen.
    pub floating: Rect,
    pub mode: Mode,
    pub minimized: bool,
    pub limits: Limits,
}

/// Smallest part of a floating window kept on the usable area, so it can be grabbed back.
pub const MIN_VISIBLE: i32 = 32;
/// Offset between successive cascaded windows.
pub const CASCADE_STEP: i32 = 32;

/// A broken invariant, found by [`Layout::verify_invariants`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvariantError {
    #[error("window {0:?} appears more than once in the stacking order")]
    Duplicate(WindowId),
    #[error("focus is on {0:?}, which is missing or minimized")]
    BadFocus(WindowId),
    #[error("maximized window {0:?} has {1:?}, usable area is {2:?}")]
    Maximized(WindowId, Rect, Rect),
    #[error("fullscreen window {0:?} has {1:?}, output is {2:?}")]
    Fullscreen(WindowId, Rect, Rect),
    #[error("window {0:?} at {1:?} is (nearly) off the usable area {2:?}")]
    OffScreen(WindowId, Rect, Rect),
    #[error("window {0:?} has an empty rectangle {1:?}")]
    Empty(WindowId, Rect),
    #[error("floating window {0:?} size {1:?} breaks its limits {2:?}")]
    Limits(WindowId, Rect, Limits),
}

/// Floating stacking window management for one output.
#[derive(Debug, Clone)]
pub struct Layout {
    output: Rect,
    reserved: Reserved,
    /// Bottom to top.
    stack: Vec<WindowState>,
    focus: Option<WindowId>,
    single_app: bool,
    cascade: i32,
}

impl Layout {
    /// A layout for an output of `w` x `h` logical pixels.
    pub fn new(w: i32, h: i32, single_app: bool) -> Self {
        Self {
            output: Rect::new(0, 0, w.max(1), h.max(1)),
            reserved: Reserved::default(),
            stack: Vec::new(),
            focus: None,
            single_app,
            cascade: 0,
        }
    }

    pub fn output(&self) -> Rect {
        self.output
    }

    pub fn single_app(&self) -> bool {
        self.single_app
    }

    /// The output minus the exclusive zones (never empty).
    pub fn usable(&self) -> Rect {
        let r = self.reserved;
        let o = self.output;
        let left = r.left.clamp(0, o.w - 1);
        let top = r.top.clamp(0, o.h - 1);
        let w = (o.w - left - r.right.max(0)).max(1);
        let h = (o.h - top - r.bottom.max(0)).max(1);
        Rect::new(o.x + left, o.y + top, w, h)
    }

    pub fn focus(&self) -> Option<WindowId> {
        self.focus
    }

    /// Windows from bottom to top, minimized ones included.
    pub fn windows(&self) -> &[WindowState] {
        &self.stack
    }

    pub fn get(&self, id: WindowId) -> Option<&WindowState> {
        self.stack.iter().find(|w| w.id == id)
    }

    fn index(&self, id: WindowId) -> Option<usize> {
        self.stack.iter().position(|w| w.id == id)
    }

    /// Visible windows from top to bottom.
    pub fn visible_top_down(&self) -> impl Iterator<Item = &WindowState> {
        self.stack.iter().rev().filter(|w| !w.minimized)
    }

    /// The topmost visible window.
    pub fn top_visible(&self) -> Option<WindowId> {
        self.stack.iter().rev().find(|w| !w.minimized).map(|w| w.id)
    }

    /// The topmost visible window under a point.
    pub fn window_at(&self, x: f64, y: f64) -> Option<WindowId> {
        self.visible_top_down()
            .find(|w| w.rect.contains(x, y))
            .map(|w| w.id)
    }

    /// A new window whose client wants `w` x `h` (0 = let the compositor choose). Returns
    /// its rectangle; the window is raised and focused.
    pub fn add_window(&mut self, id: WindowId, w: i32, h: i32) -> Rect {
        if self.index(id).is_some() {
            self.focus_window(id);
            return self.get(id).map(|s| s.rect).unwrap_or_default();
        }
        let usable = self.usable();
        let (w, h) = if w <= 0 || h <= 0 {
            (usable.w * 2 / 3, usable.h * 2 / 3)
        } else {
            (w.min(usable.w), h.min(usable.h))
        };
        let (w, h) = (w.max(1), h.max(1));
        // Centered, then cascaded from there for each window already open.
        let cx = usable.x + (usable.w - w) / 2;
        let cy = usable.y + (usable.h - h) / 2;
        let mut x = cx + self.cascade;
        let mut y = cy + self.cascade;
        if x + w > usable.x + usable.w || y + h > usable.y + usable.h {
            self.cascade = 0;
            x = cx;
            y = cy;
        }
        self.cascade += CASCADE_STEP;
        let rect = Rect::new(x, y, w, h);
        self.stack.push(WindowState {
            id,
            rect,
            floating: rect,
            mode: Mode::Floating,
            minimized: false,
            limits: Limits::default(),
        });
        if self.single_app {
            self.apply_mode(self.stack.len() - 1);
        }
        self.focus = Some(id);
        self.get(id).map(|s| s.rect).unwrap_or(rect)
    }

    pub fn remove_window(&mut self, id: WindowId) {
        if let Some(i) = self.index(id) {
            self.stack.remove(i);
        }
        if self.focus == Some(id) {
            self.focus = self.top_visible();
        }
        if self.stack.is_empty() {
            self.cascade = 0;
        }
    }

    /// Raises and focuses a window, restoring it if minimized.
    pub fn focus_window(&mut self, id: WindowId) {
        let Some(i) = self.index(id) else { return };
        let mut state = self.stack.remove(i);
        state.minimized = false;
        self.stack.push(state);
        self.focus = Some(id);
    }

    /// A button press at a point: focus follows the click; a click on nothing clears focus.
    pub fn click(&mut self, x: f64, y: f64) -> Option<WindowId> {
        match self.window_at(x, y) {
            Some(id) => {
                self.focus_window(id);
                Some(id)
            }
            None => {
                self.focus = None;
                None
            }
        }
    }

    /// Moves a floating window; it is kept partly on the usable area.
    pub fn move_window(&mut self, id: WindowId, x: i32, y: i32) {
        let usable = self.usable();
        let Some(i) = self.index(id) else { return };
        let s = &mut self.stack[i];
        if s.mode != Mode::Floating || self.single_app {
            return;
        }
        s.rect.x = x;
        s.rect.y = y;
        s.rect = keep_visible(s.rect, usable);
        s.floating = s.rect;
    }

    /// Resizes a floating window (by user or client), within its limits.
    pub fn resize_window(&mut self, id: WindowId, w: i32, h: i32) {
        let usable = self.usable();
        let Some(i) = self.index(id) else { return };
        let s = &mut self.stack[i];
        if s.mode != Mode::Floating || self.single_app {
            return;
        }
        let (w, h) = s.limits.clamp(w, h);
        s.rect.w = w;
        s.rect.h = h;
        s.rect = keep_visible(s.rect, usable);
        s.floating = s.rect;
    }

    /// The client's minimum/maximum size (0 = none).
    pub fn set_limits(&mut self, id: WindowId, limits: Limits) {
        let Some(i) = self.index(id) else { return };
        let limits = Limits {
            min_w: limits.min_w.max(0),
            min_h: limits.min_h.max(0),
            max_w: if limits.max_w > 0 {
                limits.max_w.max(limits.min_w)
            } else {
                0
            },
            max_h: if limits.max_h > 0 {
                limits.max_h.max(limits.min_h)
            } else {
                0
            },
        };
        self.stack[i].limits = limits;
        let rect = self.stack[i].rect;
        if self.stack[i].mode == Mode::Floating && !self.single_app {
            self.resize_window(id, rect.w, rect.h);
        }
    }

    pub fn set_maximized(&mut self, id: WindowId, on: bool) {
        self.set_mode(id, Mode::Maximized, on);
    }

    pub fn set_fullscreen(&mut self, id: WindowId, on: bool) {
        self.set_mode(id, Mode::Fullscreen, on);
    }

    fn set_mode(&mut self, id: WindowId, mode: Mode, on: bool) {
        let Some(i) = self.index(id) else { return };
        let s = &mut self.stack[i];
        if on {
            s.mode = mode;
        } else if s.mode == mode {
            s.mode = Mode::Floating;
        }
        self.apply_mode(i);
    }

    pub fn set_minimized(&mut self, id: WindowId, on: bool) {
        if self.single_app && on {
            return;
        }
        let Some(i) = self.index(id) else { return };
        if on {
            self.stack[i].minimized = true;
            if self.focus == Some(id) {
                self.focus = self.top_visible();
            }
        } else {
            self.focus_window(id);
        }
    }

    /// The output changed size (mode or scale change).
    pub fn set_output_size(&mut self, w: i32, h: i32) {
        self.output = Rect::new(0, 0, w.max(1), h.max(1));
        self.relayout();
    }

    /// Layer-shell exclusive zones changed.
    pub fn set_reserved(&mut self, reserved: Reserved) {
        self.reserved = reserved;
        self.relayout();
    }

    /// The usable area changed (the browser window shrank, a panel appeared): every
    /// floating window is brought wholly back inside it, shrunk only if it cannot fit, so
    /// nothing ends up behind the panel or past an edge the user can no longer reach.
    fn relayout(&mut self) {
        let usable = self.usable();
        for i in 0..self.stack.len() {
            let s = &mut self.stack[i];
            s.floating = contain(fit(s.floating, usable), usable);
            self.apply_mode(i);
        }
    }

    fn apply_mode(&mut self, i: usize) {
        let usable = self.usable();
        let output = self.output;
        let single_app = self.single_app;
        let s = &mut self.stack[i];
        s.rect = if single_app {
            output
        } else {
            match s.mode {
                Mode::Floating => {
                    let (w, h) = s.limits.clamp(s.floating.w, s.floating.h);
                    keep_visible(Rect { w, h, ..s.floating }, usable)
                }
                Mode::Maximized => usable,
                Mode::Fullscreen => output,
            }
        };
        if s.mode == Mode::Floating && !single_app {
            s.floating = s.rect;
        }
    }

    /// Checks what must hold after any sequence of operations.
    pub fn verify_invariants(&self) -> Result<(), InvariantError> {
        let usable = self.usable();
        for (i, s) in self.stack.iter().enumerate() {
            if self.stack[..i].iter().any(|o| o.id == s.id) {
                return Err(InvariantError::Duplicate(s.id));
            }
            if s.rect.w <= 0 || s.rect.h <= 0 {
                return Err(InvariantError::Empty(s.id, s.rect));
            }
            if self.single_app {
                if s.rect != self.output {
                    return Err(InvariantError::Fullscreen(s.id, s.rect, self.output));
                }
                continue;
            }
            match s.mode {
                Mode::Maximized if s.rect != usable => {
                    return Err(InvariantError::Maximized(s.id, s.rect, usable));
                }
                Mode::Fullscreen if s.rect != self.output => {
                    return Err(InvariantError::Fullscreen(s.id, s.rect, self.output));
                }
                Mode::Floating => {
                    let (w, h) = s.limits.clamp(s.rect.w, s.rect.h);
                    if (w, h) != (s.rect.w, s.rect.h) {
                        return Err(InvariantError::Limits(s.id, s.rect, s.limits));
                    }
                    let need = i64::from(MIN_VISIBLE.min(s.rect.w).min(usable.w))
                        * i64::from(MIN_VISIBLE.min(s.rect.h).min(usable.h));
                    if s.rect.overlap_area(&usable) < need {
                        return Err(InvariantError::OffScreen(s.id, s.rect, usable));
                    }
                }
                _ => {}
            }
        }
        if let Some(f) = self.focus
            && self.get(f).is_none_or(|s| s.minimized)
        {
            return Err(InvariantError::BadFocus(f));
        }
        Ok(())
    }
}

/// Shrinks a rectangle to fit in `area` (keeping its position where possible).
fn fit(r: Rect, area: Rect) -> Rect {
    Rect {
        w: r.w.min(area.w).max(1),
        h: r.h.min(area.h).max(1),
        ..r
    }
}

/// Moves a rectangle (no larger than `area`) to lie wholly inside `area`, as little as
/// possible.
fn contain(r: Rect, area: Rect) -> Rect {
    let x = r.x.min(area.x + area.w - r.w).max(area.x);
    let y = r.y.min(area.y + area.h - r.h).max(area.y);
    Rect { x, y, ..r }
}

/// Moves a rectangle so at least a `MIN_VISIBLE` square of it lies on `area`, and its top
/// edge (where a title bar is) stays reachable.
fn keep_visible(r: Rect, area: Rect) -> Rect {
    let vis_w = MIN_VISIBLE.min(r.w).min(area.w);
    let vis_h = MIN_VISIBLE.min(r.h).min(area.h);
    let x = r.x.clamp(area.x - r.w + vis_w, area.x + area.w - vis_w);
    let y = r.y.clamp(area.y, area.y + area.h - vis_h);
    Rect { x, y, ..r }
}
