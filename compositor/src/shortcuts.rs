//! Keyboard shortcuts the compositor keeps for itself (they never reach clients):
//!
//! - **Alt+Tab / Alt+Shift+Tab** cycle through the windows, most recently used first
//!   (the stacking order, since focusing raises), minimized ones included. The switch is
//!   committed when Alt is released: the chosen window is raised, restored and focused.
//!   While Alt is held a centred overlay lists the titles with the selection highlighted.
//! - **Alt+F4** asks the focused window to close.
//! - **Super tapped alone** (pressed and released with no other key in between) opens the
//!   start menu. The contract with the desktop shell: the compositor gives keyboard focus to
//!   the layer-shell surface whose namespace is [`PANEL_NAMESPACE`] and delivers that
//!   surface the Super press and release; the shell opens its menu on the release (or
//!   closes it, if open). The menu is an exclusive layer surface, which takes the keyboard
//!   from the panel while it shows and hands it back to the window when it closes (see
//!   `windows.rs::keyboard_target`). A shell that opens nothing leaves the panel with the
//!   keyboard until a window is clicked or activated (or the panel goes away).
//!   Super pressed together with another key is not a tap: the focused client then gets
//!   the Super press, that key and the Super release, as if nothing had been held back.
//!
//! Keys from virtual keyboards (the streamer, `wtype`) come through here too (see
//! `protocols::virtual_keyboard`); a modifier they hold without a key, only with a
//! `modifiers` request, counts as held, and letting go of Alt that way ends a switch.

use std::collections::HashSet;

use smithay::{
    backend::input::{KeyState, Keycode},
    desktop::layer_map_for_output,
    input::keyboard::{FilterResult, Keysym, ModifiersState},
    reexports::wayland_server::{Resource, protocol::wl_surface::WlSurface},
    utils::SERIAL_COUNTER,
};

use crate::{layout::WindowId, state::Skerry};

/// Namespace of the shell's panel layer surface, which receives the start-menu key.
pub const PANEL_NAMESPACE: &str = "skerry-panel";

/// State of the shortcuts between key events.
#[derive(Debug, Default)]
pub struct Shortcuts {
    /// An Alt+Tab in progress: the windows in MRU order and the one selected.
    switcher: Option<(Vec<WindowId>, usize)>,
    /// Super is down and no other key has been pressed since.
    super_tap: Option<Keycode>,
    /// Keys whose press the compositor consumed: their release is consumed too.
    swallowed: HashSet<Keycode>,
    /// The layer surface holding keyboard focus: the panel after a Super tap, or an
    /// on-demand layer surface after a click on it.
    layer_focus: Option<WlSurface>,
    /// The Alt+Tab overlay's image.
    overlay: crate::decoration::SwitcherOverlay,
}

impl Shortcuts {
    /// The panel surface that holds keyboard focus, if any (and still alive).
    pub fn layer_focus(&self) -> Option<WlSurface> {
        self.layer_focus.clone().filter(|s| s.is_alive())
    }

    pub fn clear_layer_focus(&mut self) {
        self.layer_focus = None;
    }

    /// A layer surface holds the keyboard until a window is clicked or activated.
    pub fn give_layer_focus(&mut self, surface: WlSurface) {
        self.layer_focus = Some(surface);
    }

    /// The window an Alt+Tab in progress would switch to.
    pub fn switch_target(&self) -> Option<WindowId> {
        self.switcher
            .as_ref()
            .and_then(|(order, i)| order.get(*i).copied())
    }
}

/// What a key event turned out to be.
enum Action {
    Forward,
    Swallow,
    SwitchStep { backwards: bool },
    SwitchCommit,
    Close,
    SuperTap(Keycode),
}

fn is_super(sym: Keysym) -> bool {
    sym == Keysym::Super_L || sym == Keysym::Super_R
}

fn is_alt(sym: Keysym) -> bool {
    sym == Keysym::Alt_L || sym == Keysym::Alt_R || sym == Keysym::Meta_L
}

impl Skerry {
    /// Decides what a key is for, before smithay forwards it.
    fn classify_key(
        &mut self,
        code: Keycode,
        pressed: bool,
        mods: &ModifiersState,
        syms: &[Keysym],
    ) -> Action {
        let has = |k: Keysym| syms.contains(&k);
        let sc = &mut self.shortcuts;
        if !pressed {
            if sc.super_tap == Some(code) {
                sc.super_tap = None;
                sc.swallowed.remove(&code);
                return Action::SuperTap(code);
            }
            if sc.switcher.is_some() && syms.iter().any(|s| is_alt(*s)) {
                return Action::SwitchCommit;
            }
            if sc.swallowed.remove(&code) {
                return Action::Swallow;
            }
            return Action::Forward;
        }
        // Any other key pressed while Super is down: not a tap (the caller replays the
        // Super press to the client first).
        sc.super_tap = None;
        if syms.iter().any(|s| is_super(*s)) && !mods.alt && !mods.ctrl && !mods.shift {
            sc.super_tap = Some(code);
            sc.swallowed.insert(code);
            return Action::Swallow;
        }
        if mods.alt && (has(Keysym::Tab) || has(Keysym::ISO_Left_Tab)) {
            sc.swallowed.insert(code);
            return Action::SwitchStep {
                backwards: mods.shift,
            };
        }
        if mods.alt && has(Keysym::F4) {
            sc.swallowed.insert(code);
            return Action::Close;
        }
        Action::Forward
    }

    /// A key from any source: shortcuts first, everything else to the focused client.
    pub(crate) fn handle_key(&mut self, evdev_code: u32, pressed: bool) {
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        let code = Keycode::new(evdev_code + 8);
        let time = self.now_msec();
        let serial = SERIAL_COUNTER.next_serial();
        let kb = keyboard.clone();
        let action = keyboard.input(self, code, state, serial, time, |state, mods, handle| {
            let mut syms: Vec<Keysym> = handle.raw_syms().to_vec();
            syms.push(handle.modified_sym());
            if pressed && let Some(held) = state.shortcuts.super_tap.take() {
                // Super is part of a combination: the focused client gets its press now
                // (with the modifiers), then this key, and later the Super release.
                state.shortcuts.swallowed.remove(&held);
                let serial = SERIAL_COUNTER.next_serial();
                kb.input_forward(state, held, KeyState::Pressed, serial, time, true);
            }
            match state.classify_key(code, pressed, mods, &syms) {
                Action::Forward => FilterResult::Forward,
                other => FilterResult::Intercept(other),
            }
        });
        match action {
            None | Some(Action::Forward) | Some(Action::Swallow) => {}
            Some(Action::SwitchStep { backwards }) => self.switch_step(backwards),
            Some(Action::SwitchCommit) => {
                // The Alt release itself still goes to the client that saw the press.
                keyboard.input_forward(self, code, state, serial, time, true);
                self.switch_commit();
            }
            Some(Action::Close) => {
                if let Some(id) = self.layout.focus() {
                    self.close_window(id);
                }
            }
            Some(Action::SuperTap(code)) => self.super_tap(code),
        }
    }

    /// Modifiers changed without a key (a virtual keyboard's `modifiers` request, as
    /// `wtype -M alt -k Tab -m alt` sends): Alt let go ends a switch like its key would.
    pub(crate) fn modifiers_changed(&mut self, mods: &ModifiersState) {
        if !mods.alt && self.shortcuts.switcher.is_some() {
            self.switch_commit();
        }
    }

    /// Alt released during a switch: the chosen window comes to the front with the focus.
    fn switch_commit(&mut self) {
        if let Some(target) = self.shortcuts.switch_target() {
            self.activate_window(target);
        }
        self.shortcuts.switcher = None;
        self.shortcuts.overlay.clear();
        self.schedule_render();
    }

    fn switch_step(&mut self, backwards: bool) {
        let (order, index) = self.shortcuts.switcher.get_or_insert_with(|| {
            let order: Vec<WindowId> = self.layout.windows().iter().rev().map(|w| w.id).collect();
            (order, 0)
        });
        if order.is_empty() {
            self.shortcuts.switcher = None;
            return;
        }
        let n = order.len();
        *index = if backwards {
            (*index + n - 1) % n
        } else {
            (*index + 1) % n
        };
        tracing::debug!(target = ?order.get(*index), "window switcher step");
        self.schedule_render();
    }

    /// The Alt+Tab overlay while the switcher is open.
    pub(crate) fn switcher_element(&mut self) -> Option<crate::backend::SkerryElement> {
        let (order, index) = self.shortcuts.switcher.as_ref()?;
        let titles: Vec<String> = order
            .iter()
            .map(|id| {
                self.windows
                    .get(id)
                    .map(|m| {
                        if m.title.is_empty() {
                            m.app_id.clone()
                        } else {
                            m.title.clone()
                        }
                    })
                    .unwrap_or_default()
            })
            .collect();
        let index = *index;
        let output = self.layout.output();
        let scale = self.scale();
        let renderer = self.backend.renderer();
        self.shortcuts
            .overlay
            .element(renderer, output, scale, &titles, index)
    }

    /// Super tapped alone: keyboard focus to the shell's panel, which gets the key.
    fn super_tap(&mut self, code: Keycode) {
        let panel = layer_map_for_output(&self.output)
            .layers()
            .find(|l| l.namespace() == PANEL_NAMESPACE)
            .map(|l| l.wl_surface().clone());
        let Some(panel) = panel else {
            tracing::debug!("Super tapped with no {PANEL_NAMESPACE} layer surface");
            return;
        };
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        // With an exclusive surface up (the shell's menu), the tap is for closing it: the
        // panel gets the key but not the keyboard, which returns to the window after.
        self.shortcuts.layer_focus = self.exclusive_layer().is_none().then(|| panel.clone());
        if keyboard.current_focus().as_ref() != Some(&panel) {
            keyboard.set_focus(self, Some(panel), SERIAL_COUNTER.next_serial());
        }
        // The key state was already updated when the keys arrived; deliver the tap only.
        let time = self.now_msec();
        for state in [KeyState::Pressed, KeyState::Released] {
            keyboard.input_forward(self, code, state, SERIAL_COUNTER.next_serial(), time, false);
        }
        self.schedule_render();
    }
}
