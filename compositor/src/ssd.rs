//! The compositor side of server-side decorations: which windows have them, where their
//! content sits, and what a pointer press or motion on a decoration does. Geometry and
//! drawing live in `decoration/`.
//!
//! Presses on a decoration never reach the client: the pointer has no client focus there.
//! A press on the title bar starts the same move grab a client's xdg_toplevel.move starts,
//! a press on an edge the resize grab, and buttons act on release over the same button.

use std::time::Instant;

use smithay::{
    desktop::{Window, layer_map_for_output},
    input::pointer::{CursorIcon, CursorImageStatus, Focus, GrabStartData},
    reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode as DecorationMode,
    utils::{Logical, Point, SERIAL_COUNTER},
    wayland::shell::wlr_layer::Layer,
};

use crate::{
    backend::SkerryElement,
    decoration::{self, Button, DOUBLE_CLICK, Hit, Look},
    grabs::MoveResizeGrab,
    layout::{Mode, Rect, WindowId},
    state::Skerry,
};

/// Whether the compositor should draw this window's decorations (before mode checks).
pub(crate) fn wants_ssd(window: &Window) -> bool {
    if let Some(toplevel) = window.toplevel() {
        toplevel.with_pending_state(|s| s.decoration_mode) == Some(DecorationMode::ServerSide)
    } else if let Some(x11) = window.x11_surface() {
        // `is_decorated` is true when Motif hints ask for no (server) decorations.
        !x11.is_override_redirect() && !x11.is_decorated()
    } else {
        false
    }
}

impl Skerry {
    /// Whether a window is drawn with a title bar and border right now.
    pub fn is_decorated(&self, id: WindowId) -> bool {
        if self.layout.single_app() {
            return false;
        }
        let Some(ws) = self.layout.get(id) else {
            return false;
        };
        ws.mode != Mode::Fullscreen && self.windows.get(&id).is_some_and(|m| m.ssd)
    }

    /// Height of a window's title bar (0 when undecorated).
    pub fn title_height(&self, id: WindowId) -> i32 {
        if self.is_decorated(id) {
            decoration::TITLE_H
        } else {
            0
        }
    }

    /// Where the client's content is: the layout's frame minus any title bar.
    pub fn content_rect(&self, id: WindowId) -> Option<Rect> {
        let ws = self.layout.get(id)?;
        Some(if self.is_decorated(id) {
            decoration::content(ws.rect)
        } else {
            ws.rect
        })
    }

    /// The decoration under a point: the top-most visible window whose frame (or resize
    /// margin) holds the point decides; `None` if that is a client's content or nothing.
    pub fn decoration_at(&self, pos: Point<f64, Logical>) -> Option<(WindowId, Hit)> {
        if self.covered_above_windows(pos) {
            return None;
        }
        self.window_decoration_at(pos)
    }

    /// Like [`Skerry::decoration_at`] for a caller that has already looked above the
    /// windows (and may hold the layer map's lock).
    pub(crate) fn window_decoration_at(&self, pos: Point<f64, Logical>) -> Option<(WindowId, Hit)> {
        for ws in self.layout.visible_top_down() {
            if self.is_decorated(ws.id)
                && let Some(hit) = decoration::hit(ws.rect, pos.x, pos.y)
            {
                // A maximized frame cannot be resized from its edges.
                if ws.mode == Mode::Maximized && matches!(hit, Hit::Edge(_)) {
                    continue;
                }
                return Some((ws.id, hit));
            }
            if ws.rect.contains(pos.x, pos.y) {
                return None;
            }
        }
        None
    }

    /// Whether something drawn above all windows (top and overlay layers, X11 menus and
    /// tooltips) is at a point, hiding any decoration there.
    fn covered_above_windows(&self, pos: Point<f64, Logical>) -> bool {
        let on_layer = {
            let map = layer_map_for_output(&self.output);
            map.layer_under(Layer::Top, pos).is_some()
                || map.layer_under(Layer::Overlay, pos).is_some()
        };
        on_layer
            || self.override_redirect.iter().any(|m| {
                m.window
                    .x11_surface()
                    .is_some_and(|x| x.geometry().to_f64().contains(pos))
            })
    }

    /// The decoration elements of a window, top-most first (empty when undecorated).
    pub(crate) fn decoration_elements(&mut self, id: WindowId) -> Vec<SkerryElement> {
        if !self.is_decorated(id) {
            return Vec::new();
        }
        let (Some(ws), Some(managed)) = (self.layout.get(id), self.windows.get(&id)) else {
            return Vec::new();
        };
        let frame = ws.rect;
        let maximized = ws.mode == Mode::Maximized;
        // Drawn as focused only while it has the keyboard: not while the panel or a menu
        // (an exclusive layer surface) holds it.
        let active = self.layout.focus() == Some(id)
            && self.shortcuts.layer_focus().is_none()
            && self.exclusive_layer().is_none();
        let hover = self
            .decoration_input
            .hover
            .filter(|(w, _)| *w == id)
            .map(|(_, b)| b);
        let title = managed.title.clone();
        let scale = self.scale();
        let cache = self.decoration_caches.entry(id).or_default();
        let renderer = self.backend.renderer();
        cache.elements(
            renderer,
            frame,
            scale,
            Look {
                title: &title,
                active,
                hover,
                maximized,
            },
        )
    }

    /// Pointer motion: keeps the hovered button and the cursor shape up to date. Returns
    /// whether the pointer is over a decoration.
    pub(crate) fn decoration_motion(&mut self, pos: Point<f64, Logical>) -> bool {
        let hit = self.decoration_at(pos);
        let hover = match hit {
            Some((id, Hit::Button(b))) => Some((id, b)),
            _ => None,
        };
        if hover != self.decoration_input.hover {
            self.decoration_input.hover = hover;
            self.schedule_render();
        }
        match hit {
            Some((_, hit)) => {
                let icon = match hit {
                    Hit::Edge(edges) => decoration::edge_cursor(edges),
                    _ => CursorIcon::Default,
                };
                let wanted = CursorImageStatus::Named(icon);
                if self.cursor_status != wanted {
                    self.cursor_image_changed(wanted);
                }
                self.decoration_input.owns_cursor = true;
                true
            }
            None => {
                if std::mem::take(&mut self.decoration_input.owns_cursor)
                    && self.cursor_status != CursorImageStatus::default_named()
                {
                    // A client under the pointer sets its own cursor on enter.
                    self.cursor_image_changed(CursorImageStatus::default_named());
                }
                false
            }
        }
    }

    /// A button press at `pos`: handles it if it is on a decoration (after focusing the
    /// window). Returns whether it was.
    pub(crate) fn decoration_press(&mut self, button: u32, pos: Point<f64, Logical>) -> bool {
        let Some((id, hit)) = self.decoration_at(pos) else {
            return false;
        };
        self.shortcuts.clear_layer_focus();
        self.layout.focus_window(id);
        self.apply_layout();
        const BTN_LEFT: u32 = 0x110;
        if button != BTN_LEFT {
            return true;
        }
        match hit {
            Hit::Button(b) => self.decoration_input.pressed = Some((id, b)),
            Hit::Title => {
                let now = Instant::now();
                let double = self
                    .decoration_input
                    .last_title_click
                    .is_some_and(|(w, t)| w == id && now.duration_since(t) <= DOUBLE_CLICK);
                if double {
                    self.decoration_input.last_title_click = None;
                    self.toggle_maximized(id);
                } else {
                    self.decoration_input.last_title_click = Some((id, now));
                    self.start_decoration_grab(id, button, pos, None);
                }
            }
            Hit::Edge(edges) => self.start_decoration_grab(id, button, pos, Some(edges)),
        }
        true
    }

    /// A button release: a title-bar button acts if released over itself.
    pub(crate) fn decoration_release(&mut self, pos: Point<f64, Logical>) -> bool {
        let Some((id, button)) = self.decoration_input.pressed.take() else {
            return false;
        };
        if self.decoration_at(pos) == Some((id, Hit::Button(button))) {
            match button {
                Button::Close => self.close_window(id),
                Button::Minimize => self.set_window_minimized(id, true),
                Button::Maximize => self.toggle_maximized(id),
            }
            self.decoration_input.hover = None;
            self.schedule_render();
        }
        true
    }

    fn toggle_maximized(&mut self, id: WindowId) {
        let maximized = self
            .layout
            .get(id)
            .is_some_and(|w| w.mode == Mode::Maximized);
        self.set_window_maximized(id, !maximized);
    }

    fn start_decoration_grab(
        &mut self,
        id: WindowId,
        button: u32,
        pos: Point<f64, Logical>,
        edges: Option<crate::grabs::Edges>,
    ) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let Some(ws) = self.layout.get(id) else {
            return;
        };
        if ws.mode != Mode::Floating {
            return;
        }
        let grab = MoveResizeGrab {
            start_data: GrabStartData {
                focus: None,
                button,
                location: pos,
            },
            window: id,
            initial: ws.rect,
            edges,
        };
        pointer.set_grab(self, grab, SERIAL_COUNTER.next_serial(), Focus::Clear);
    }
}
