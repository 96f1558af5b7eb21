//! Server-side window decorations: a title bar with the title and minimize / maximize /
//! close buttons, and a thin border, drawn by the compositor for windows that do not draw
//! their own.
//!
//! Who gets decorations:
//! - xdg toplevels that bind xdg-decoration and ask for server-side, or bind it and state
//!   no preference (Skerry then chooses server-side, so terminals such as foot look the
//!   same as every other window). A client that asks for client-side gets client-side, and
//!   a client that never binds xdg-decoration draws its own (the protocol's default).
//! - X11 windows, unless override-redirect (menus, tooltips) or their Motif hints ask for
//!   no decorations.
//! - Nobody while fullscreen or in single-application mode.
//!
//! Geometry: the layout's rectangle for a decorated window is its *frame* (title bar plus
//! content), so maximize fills the usable area with the frame and the size sent in a
//! configure is the frame minus [`TITLE_H`]. The border and the resize handles lie just
//! outside the frame. Everything is computed in logical coordinates and drawn at the
//! output's physical size, so the bar stays crisp at fractional scales.
//!
//! Drawing: the bar's background and the border are solid-colour elements (exact physical
//! rectangles, damaged only when they move or change colour); the title text and the button
//! icons are one small image per window, re-rasterised only when the title, width, scale,
//! focus or hovered button changes (see `draw.rs`).

mod draw;
pub mod switcher;

use std::time::{Duration, Instant};

use crate::{grabs::Edges, layout::Rect};

pub use draw::{DecorationCache, Look, Palette};
pub use switcher::SwitcherOverlay;

/// Height of the title bar, logical pixels.
pub const TITLE_H: i32 = 28;
/// Width of each title-bar button, logical pixels.
pub const BUTTON_W: i32 = 34;
/// Border thickness drawn just outside the frame, logical pixels.
pub const BORDER: i32 = 1;
/// How far outside the frame the pointer can grab an edge to resize.
pub const RESIZE_MARGIN: i32 = 6;
/// Along an edge, how close to a corner counts as the corner.
pub const CORNER: i32 = 16;
/// Two clicks on the title bar within this time maximize or restore the window.
pub const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// Title-bar buttons, right to left: close is at the right edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Button {
    Minimize,
    Maximize,
    Close,
}

impl Button {
    /// Position from the right edge (0 = rightmost).
    fn slot(self) -> i32 {
        match self {
            Self::Close => 0,
            Self::Maximize => 1,
            Self::Minimize => 2,
        }
    }

    pub const ALL: [Button; 3] = [Button::Minimize, Button::Maximize, Button::Close];

    /// The button's rectangle, relative to the frame's top-left corner.
    pub fn rect(self, frame_w: i32) -> Rect {
        Rect::new(frame_w - BUTTON_W * (self.slot() + 1), 0, BUTTON_W, TITLE_H)
    }
}

/// What part of a decoration is at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// The title bar outside the buttons: drag to move, double-click to maximize.
    Title,
    Button(Button),
    /// An edge or corner: drag to resize.
    Edge(Edges),
}

/// The decoration part of `frame` at a point, or `None` on the content or outside.
pub fn hit(frame: Rect, px: f64, py: f64) -> Option<Hit> {
    let m = RESIZE_MARGIN;
    let outer = Rect::new(frame.x - m, frame.y - m, frame.w + 2 * m, frame.h + 2 * m);
    if !outer.contains(px, py) {
        return None;
    }
    if !frame.contains(px, py) {
        let (left, right) = (px < f64::from(frame.x), px >= f64::from(frame.x + frame.w));
        let (top, bottom) = (py < f64::from(frame.y), py >= f64::from(frame.y + frame.h));
        let c = f64::from(CORNER);
        let near_left = px < f64::from(frame.x) + c;
        let near_right = px >= f64::from(frame.x + frame.w) - c;
        let near_top = py < f64::from(frame.y) + c;
        let near_bottom = py >= f64::from(frame.y + frame.h) - c;
        return Some(Hit::Edge(Edges {
            top: top || ((left || right) && near_top),
            bottom: bottom || ((left || right) && near_bottom),
            left: left || ((top || bottom) && near_left),
            right: right || ((top || bottom) && near_right),
        }));
    }
    if py >= f64::from(frame.y + TITLE_H) {
        return None;
    }
    let (lx, ly) = (px - f64::from(frame.x), py - f64::from(frame.y));
    let button = Button::ALL
        .into_iter()
        .find(|b| b.rect(frame.w).contains(lx, ly));
    Some(button.map_or(Hit::Title, Hit::Button))
}

/// The content (client surface) rectangle of a decorated frame.
pub fn content(frame: Rect) -> Rect {
    Rect::new(
        frame.x,
        frame.y + TITLE_H,
        frame.w,
        (frame.h - TITLE_H).max(1),
    )
}

/// The cursor shape for an edge being grabbed.
pub fn edge_cursor(edges: Edges) -> smithay::input::pointer::CursorIcon {
    use smithay::input::pointer::CursorIcon as C;
    match (edges.top, edges.bottom, edges.left, edges.right) {
        (true, _, true, _) => C::NwResize,
        (true, _, _, true) => C::NeResize,
        (_, true, true, _) => C::SwResize,
        (_, true, _, true) => C::SeResize,
        (true, _, _, _) => C::NResize,
        (_, true, _, _) => C::SResize,
        (_, _, true, _) => C::WResize,
        _ => C::EResize,
    }
}

/// Pointer state of the decorations: hover, a pressed button, the last title click.
#[derive(Debug, Default)]
pub struct DecorationInput {
    /// The button under the pointer, drawn highlighted.
    pub hover: Option<(crate::layout::WindowId, Button)>,
    /// A button pressed and not yet released; it acts on release over the same button.
    pub pressed: Option<(crate::layout::WindowId, Button)>,
    /// The last press on a title bar, for double-click.
    pub last_title_click: Option<(crate::layout::WindowId, Instant)>,
    /// Whether the pointer is over a decoration (the compositor owns the cursor shape).
    pub owns_cursor: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits() {
        let f = Rect::new(100, 100, 400, 300);
        assert_eq!(hit(f, 110.0, 110.0), Some(Hit::Title));
        assert_eq!(hit(f, 495.0, 110.0), Some(Hit::Button(Button::Close)));
        assert_eq!(
            hit(f, 500.0 - 34.0 - 2.0, 110.0),
            Some(Hit::Button(Button::Maximize))
        );
        assert_eq!(
            hit(f, 500.0 - 68.0 - 2.0, 110.0),
            Some(Hit::Button(Button::Minimize))
        );
        assert_eq!(hit(f, 200.0, 200.0), None);
        assert_eq!(hit(f, 90.0, 200.0), None);
        let right = Edges {
            right: true,
            ..Edges::default()
        };
        assert_eq!(hit(f, 502.0, 250.0), Some(Hit::Edge(right)));
        let top_left = Edges {
            top: true,
            left: true,
            ..Edges::default()
        };
        assert_eq!(hit(f, 97.0, 105.0), Some(Hit::Edge(top_left)));
        assert_eq!(content(f), Rect::new(100, 128, 400, 272));
    }
}
