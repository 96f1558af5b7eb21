//! What pointer and keyboard input does on each surface: the panel's buttons, the menu's
//! search and rows, the desktop's icons (double-click opens), and the start-menu key (Super
//! tapped alone, delivered to the panel).

use smithay_client_toolkit::seat::keyboard::{
    KeyEvent, KeyboardHandler, Keysym, Modifiers, RawModifiers,
};
use smithay_client_toolkit::seat::pointer::{PointerEvent, PointerEventKind, PointerHandler};
use wayland_client::protocol::{wl_keyboard, wl_pointer, wl_surface};
use wayland_client::{Connection, QueueHandle};

use super::surface::Role;
use super::{PanelTarget, Shell};
use crate::apps::MenuRow;
use crate::desktop_items::Action;
use crate::layout;

const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;
/// Two clicks on the same icon within this many milliseconds open it.
const DOUBLE_CLICK_MS: u32 = 400;

impl Shell {
    fn panel_target(&self, x: f64, y: f64) -> Option<PanelTarget> {
        let width = self.panel.size.0 as f32;
        let l = layout::panel(width, self.visible_toplevels().len());
        if l.start.contains(x, y) {
            return Some(PanelTarget::Start);
        }
        l.tasks
            .iter()
            .position(|r| r.contains(x, y))
            .map(PanelTarget::Task)
    }

    fn menu_row_at(&self, x: f64, y: f64) -> Option<usize> {
        let rows = self.menu.rows();
        let headers: Vec<bool> = rows
            .iter()
            .map(|r| matches!(r, MenuRow::Header(_)))
            .collect();
        layout::menu_rows(&headers, self.menu_state.scroll)
            .iter()
            .position(|r| r.is_some_and(|r| r.contains(x, y)))
            .filter(|&i| matches!(rows[i], MenuRow::App(_)))
    }

    fn desktop_item_at(&self, x: f64, y: f64) -> Option<usize> {
        let h = self.background.size.1.saturating_sub(layout::PANEL_HEIGHT) as f32;
        (0..self.items.len()).find(|&i| layout::desktop_cell(i, h).inset(3.0).contains(x, y))
    }

    /// Clicking a task: activate it; clicking the active one minimizes it; a minimized one
    /// is restored and activated. Middle (or right) button closes the window.
    fn task_clicked(&mut self, index: usize, button: u32) {
        let Some(t) = self.visible_toplevels().get(index).map(|t| (*t).clone()) else {
            return;
        };
        match button {
            BTN_MIDDLE | BTN_RIGHT => {
                tracing::info!(title = %t.title, "closing window");
                t.handle.close();
            }
            _ if t.activated && !t.minimized => t.handle.set_minimized(),
            _ => {
                if t.minimized {
                    t.handle.unset_minimized();
                }
                if let Some(seat) = &self.seat {
                    t.handle.activate(seat);
                }
            }
        }
    }

    fn launch_row(&mut self, row: usize) {
        let rows = self.menu.rows();
        let Some(MenuRow::App(i)) = rows.get(row) else {
            return;
        };
        let Some(e) = self.menu.entries.get(*i) else {
            return;
        };
        if let Err(e) = crate::launch::launch_entry(e, &[]) {
            tracing::warn!(error = %e, "launch failed");
        }
        self.close_menu();
    }

    fn open_item(&mut self, index: usize) {
        let Some(item) = self.items.get(index) else {
            return;
        };
        let result = match &item.action {
            Action::Launch(e) => crate::launch::launch_entry(e, &[]),
            Action::Open(path) => {
                let argv = crate::launch::open_file_command(path, &self.config.path_var);
                crate::launch::spawn_detached(&argv, None)
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot open desktop item");
        }
    }

    fn panel_pointer(&mut self, qh: &QueueHandle<Self>, ev: &PointerEvent) {
        let (x, y) = ev.position;
        match ev.kind {
            PointerEventKind::Enter { .. } | PointerEventKind::Motion { .. } => {
                let t = self.panel_target(x, y);
                if t != self.panel_hover {
                    self.panel_hover = t;
                    self.mark_panel();
                }
            }
            PointerEventKind::Leave { .. } => {
                if self.panel_hover.is_some() || self.panel_pressed.is_some() {
                    self.panel_hover = None;
                    self.panel_pressed = None;
                    self.mark_panel();
                }
            }
            PointerEventKind::Press { .. } => {
                self.panel_pressed = self.panel_target(x, y);
                self.mark_panel();
            }
            PointerEventKind::Release { button, .. } => {
                let pressed = self.panel_pressed.take();
                let target = self.panel_target(x, y);
                tracing::debug!(?pressed, ?target, button, x, y, "panel click");
                self.mark_panel();
                if pressed != target {
                    return;
                }
                match target {
                    Some(PanelTarget::Start) if button == BTN_LEFT => {
                        if self.menu_surface.is_some() {
                            self.close_menu();
                        } else {
                            self.open_menu(qh);
                        }
                    }
                    Some(PanelTarget::Task(i)) => {
                        self.close_menu();
                        self.task_clicked(i, button);
                    }
                    _ => self.close_menu(),
                }
            }
            PointerEventKind::Axis { .. } => {}
        }
    }

    fn menu_pointer(&mut self, ev: &PointerEvent) {
        let (x, y) = ev.position;
        match ev.kind {
            PointerEventKind::Enter { .. } | PointerEventKind::Motion { .. } => {
                let row = self.menu_row_at(x, y);
                if row != self.menu_state.hovered {
                    self.menu_state.hovered = row;
                    self.mark_menu();
                }
            }
            PointerEventKind::Leave { .. } => {
                self.menu_state.hovered = None;
                self.mark_menu();
            }
            PointerEventKind::Press {
                button: BTN_LEFT, ..
            } => {
                if let Some(row) = self.menu_row_at(x, y) {
                    self.launch_row(row);
                }
            }
            PointerEventKind::Axis { vertical, .. } => {
                let rows = self.menu.rows();
                let headers: Vec<bool> = rows
                    .iter()
                    .map(|r| matches!(r, MenuRow::Header(_)))
                    .collect();
                let delta = if vertical.discrete != 0 {
                    vertical.discrete as f32 * layout::MENU_APP_ROW
                } else {
                    vertical.absolute as f32
                };
                let max = layout::menu_max_scroll(&headers);
                let scroll = (self.menu_state.scroll + delta).clamp(0.0, max);
                if scroll != self.menu_state.scroll {
                    self.menu_state.scroll = scroll;
                    self.menu_state.hovered = self.menu_row_at(x, y);
                    self.mark_menu();
                }
            }
            _ => {}
        }
    }

    fn desktop_pointer(&mut self, ev: &PointerEvent) {
        let (x, y) = ev.position;
        match ev.kind {
            PointerEventKind::Enter { .. } | PointerEventKind::Motion { .. } => {
                let hit = self.desktop_item_at(x, y);
                if hit != self.desktop_hover {
                    self.desktop_hover = hit;
                    self.background.dirty = true;
                }
            }
            PointerEventKind::Leave { .. } if self.desktop_hover.take().is_some() => {
                self.background.dirty = true;
            }
            PointerEventKind::Press {
                button: BTN_LEFT,
                time,
                ..
            } => {
                self.close_menu();
                let hit = self.desktop_item_at(x, y);
                if hit != self.desktop_selected {
                    self.desktop_selected = hit;
                    self.background.dirty = true;
                }
                match (hit, self.last_click) {
                    (Some(i), Some((j, t0)))
                        if i == j && time.wrapping_sub(t0) <= DOUBLE_CLICK_MS =>
                    {
                        self.last_click = None;
                        self.open_item(i);
                    }
                    (Some(i), _) => self.last_click = Some((i, time)),
                    (None, _) => self.last_click = None,
                }
            }
            PointerEventKind::Press { .. } => self.close_menu(),
            _ => {}
        }
    }

    fn menu_key(&mut self, event: &KeyEvent) {
        let rows = self.menu.rows();
        let apps: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, MenuRow::App(_)))
            .map(|(i, _)| i)
            .collect();
        match event.keysym {
            Keysym::Escape => self.close_menu(),
            Keysym::Return | Keysym::KP_Enter => {
                if let Some(row) = self.menu_state.selected.or(apps.first().copied()) {
                    self.launch_row(row);
                }
            }
            Keysym::Down | Keysym::Up => {
                let pos = self
                    .menu_state
                    .selected
                    .and_then(|s| apps.iter().position(|&a| a == s));
                let next = match (event.keysym == Keysym::Down, pos) {
                    (true, Some(p)) => apps.get(p + 1).or(apps.last()),
                    (false, Some(p)) => apps.get(p.saturating_sub(1)),
                    (_, None) => apps.first(),
                };
                self.menu_state.selected = next.copied();
                self.scroll_to_selected();
                self.mark_menu();
            }
            Keysym::BackSpace => {
                if self.menu.query.pop().is_some() {
                    self.select_first();
                    self.mark_menu();
                }
            }
            _ => {
                let text: String = event
                    .utf8
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect();
                if !text.is_empty() {
                    self.menu.query.push_str(&text);
                    self.select_first();
                    self.mark_menu();
                }
            }
        }
    }

    /// Scrolls the menu so the selected row is visible.
    fn scroll_to_selected(&mut self) {
        let Some(sel) = self.menu_state.selected else {
            return;
        };
        let rows = self.menu.rows();
        let headers: Vec<bool> = rows
            .iter()
            .map(|r| matches!(r, MenuRow::Header(_)))
            .collect();
        let top: f32 = layout::menu_content_height(&headers[..sel.min(headers.len())]);
        let h = if headers.get(sel) == Some(&true) {
            layout::MENU_HEADER_ROW
        } else {
            layout::MENU_APP_ROW
        };
        let visible = layout::MENU_HEIGHT as f32 - 8.0 - (layout::MENU_SEARCH_HEIGHT + 4.0);
        let s = &mut self.menu_state.scroll;
        if top < *s {
            *s = top;
        } else if top + h > *s + visible {
            *s = top + h - visible;
        }
        *s = s.clamp(0.0, layout::menu_max_scroll(&headers));
    }
}

impl PointerHandler for Shell {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        for ev in events {
            tracing::trace!(kind = ?ev.kind, pos = ?ev.position, "pointer");
            match self.role_of(&ev.surface) {
                Some(Role::Panel) => self.panel_pointer(qh, ev),
                Some(Role::Menu) => self.menu_pointer(ev),
                Some(Role::Background) => self.desktop_pointer(ev),
                None => {}
            }
        }
    }
}

fn is_super(sym: Keysym) -> bool {
    sym == Keysym::Super_L || sym == Keysym::Super_R
}

impl KeyboardHandler for Shell {
    fn enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        surface: &wl_surface::WlSurface,
        _: u32,
        _: &[u32],
        _: &[Keysym],
    ) {
        self.keyboard_focus = self.role_of(surface);
        self.super_down = false;
    }

    fn leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
    ) {
        self.keyboard_focus = None;
        self.super_down = false;
    }

    fn press_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        if is_super(event.keysym) {
            self.super_down = true;
            return;
        }
        self.super_down = false;
        if self.menu_surface.is_some() {
            self.menu_key(&event);
        }
    }

    fn repeat_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        if self.menu_surface.is_some() {
            self.menu_key(&event);
        }
    }

    fn release_key(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        // The start-menu key: a compositor that keeps Super tapped alone for the shell
        // (Skerry's does) focuses the panel and delivers the tap there. Tapped again, or
        // in the open menu, it closes the menu.
        if is_super(event.keysym) && std::mem::take(&mut self.super_down) {
            match self.keyboard_focus {
                Some(Role::Panel) | Some(Role::Menu) if self.menu_surface.is_some() => {
                    self.close_menu()
                }
                Some(Role::Panel) => self.open_menu(qh),
                _ => {}
            }
        }
    }

    fn update_modifiers(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        _: Modifiers,
        _: RawModifiers,
        _: u32,
    ) {
    }
}
