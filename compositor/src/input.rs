//! Pointer and keyboard input, whatever its source.
//!
//! The headless compositor has no input devices of its own: input arrives through
//! virtual-pointer / virtual-keyboard clients (the streamer) or from tests. Every source goes
//! through these methods so focus-follows-click, raising and grabs behave the same for all.
//! A future libinput backend feeds smithay `InputEvent`s into the same methods.
//!
//! Pointer constraints: a lock is honoured (relative motion only, the pointer stays put); a
//! confinement keeps the pointer on its surface (and in its region, if one was given).

use smithay::{
    backend::input::{Axis, AxisSource, ButtonState},
    desktop::{WindowSurfaceType, layer_map_for_output, utils::under_from_surface_tree},
    input::{
        keyboard::{KeyboardTarget, ModifiersState, XkbConfig},
        pointer::{AxisFrame, ButtonEvent, MotionEvent, RelativeMotionEvent},
    },
    reexports::wayland_server::{Resource, protocol::wl_surface::WlSurface},
    utils::{Logical, Point, SERIAL_COUNTER},
    wayland::{
        pointer_constraints::{PointerConstraint, with_pointer_constraint},
        shell::wlr_layer::Layer,
    },
};

use crate::{protocols::virtual_keyboard::VirtualKeymap, state::Skerry};

/// One axis of a scroll: continuous amount in logical pixels and, for wheels, the discrete
/// value in 1/120 steps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AxisAmount {
    pub value: f64,
    pub v120: Option<i32>,
}

impl Skerry {
    /// The surface under a point (logical output coordinates) and its origin.
    pub fn surface_under(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>)> {
        let layers = layer_map_for_output(&self.output);
        let layer_hit = |layer: Layer| {
            layers.layers_on(layer).rev().find_map(|l| {
                let geo = layers.layer_geometry(l)?;
                under_from_surface_tree(
                    l.wl_surface(),
                    pos - geo.loc.to_f64(),
                    (0, 0),
                    WindowSurfaceType::ALL,
                )
                .map(|(s, p)| (s, (p + geo.loc).to_f64()))
            })
        };
        if let Some(hit) = layer_hit(Layer::Overlay).or_else(|| layer_hit(Layer::Top)) {
            return Some(hit);
        }
        for or in self.override_redirect.iter().rev() {
            let (Some(surface), Some(x11)) = (or.surface(), or.window.x11_surface()) else {
                continue;
            };
            let loc = x11.geometry().loc;
            if let Some((s, p)) =
                under_from_surface_tree(&surface, pos, loc, WindowSurfaceType::ALL)
            {
                return Some((s, p.to_f64()));
            }
        }
        if self.window_decoration_at(pos).is_some() {
            // Title bars, borders and resize margins belong to the compositor.
            return None;
        }
        for ws in self.layout.visible_top_down() {
            let Some(managed) = self.windows.get(&ws.id) else {
                continue;
            };
            let content = self.content_rect(ws.id).unwrap_or(ws.rect);
            let win_loc: Point<i32, Logical> = (content.x, content.y).into();
            if managed.window.toplevel().is_some() {
                let render_loc = win_loc - managed.window.geometry().loc;
                if let Some((s, p)) = managed
                    .window
                    .surface_under(pos - render_loc.to_f64(), WindowSurfaceType::ALL)
                {
                    return Some((s, (p + render_loc).to_f64()));
                }
            } else if let Some(surface) = managed.surface()
                && let Some((s, p)) =
                    under_from_surface_tree(&surface, pos, win_loc, WindowSurfaceType::ALL)
            {
                return Some((s, p.to_f64()));
            }
        }
        layer_hit(Layer::Bottom).or_else(|| layer_hit(Layer::Background))
    }

    /// Clamps a logical position to the output.
    fn clamp_to_output(&self, pos: Point<f64, Logical>) -> Point<f64, Logical> {
        let out = self.layout.output();
        (
            pos.x.clamp(0.0, f64::from(out.w) - 1.0),
            pos.y.clamp(0.0, f64::from(out.h) - 1.0),
        )
            .into()
    }

    /// Moves the pointer to a position in output pixels.
    pub fn pointer_motion_absolute(&mut self, x: f64, y: f64) {
        let scale = self.scale();
        let pos = self.clamp_to_output((x / scale, y / scale).into());
        self.pointer_moved(pos, None);
    }

    /// Moves the pointer by a delta in output pixels (relative pointer events are sent
    /// unaccelerated, as given).
    pub fn pointer_motion_relative(&mut self, dx: f64, dy: f64) {
        let scale = self.scale();
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let delta: Point<f64, Logical> = (dx / scale, dy / scale).into();
        if self.pointer_locked() {
            // Pointer lock (zwp_locked_pointer_v1): the pointer stays, only the relative
            // motion reaches the client, as a browser under pointer lock expects.
            let under = self.surface_under(pointer.current_location());
            let utime = self.start_time.elapsed().as_micros() as u64;
            pointer.relative_motion(
                self,
                under,
                &RelativeMotionEvent {
                    delta,
                    delta_unaccel: delta,
                    utime,
                },
            );
            return;
        }
        let pos = self.clamp_to_output(pointer.current_location() + delta);
        self.pointer_moved(pos, Some(delta));
    }

    /// Whether the focused surface holds an active pointer lock.
    pub fn pointer_locked(&self) -> bool {
        let Some(pointer) = self.seat.get_pointer() else {
            return false;
        };
        pointer.current_focus().is_some_and(|surface| {
            with_pointer_constraint(&surface, &pointer, |c| {
                c.is_some_and(|c| c.is_active() && matches!(&*c, PointerConstraint::Locked(_)))
            })
        })
    }

    /// Whether an active confinement (zwp_confined_pointer_v1) forbids moving to `under`:
    /// the pointer may not leave the confining surface, nor its region if it gave one.
    fn confinement_blocks(
        &self,
        pos: Point<f64, Logical>,
        under: &Option<(WlSurface, Point<f64, Logical>)>,
    ) -> bool {
        let Some(pointer) = self.seat.get_pointer() else {
            return false;
        };
        let Some(focus) = pointer.current_focus() else {
            return false;
        };
        with_pointer_constraint(&focus, &pointer, |c| {
            let Some(c) = c else { return false };
            let PointerConstraint::Confined(confined) = &*c else {
                return false;
            };
            if !c.is_active() {
                return false;
            }
            match under {
                Some((surface, origin)) if *surface == focus => {
                    let local = pos - *origin;
                    confined
                        .region()
                        .is_some_and(|region| !region.contains(local.to_i32_round()))
                }
                _ => true,
            }
        })
    }

    /// Activates a constraint waiting on the surface the pointer just entered.
    fn activate_constraint(&self) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        if let Some(surface) = pointer.current_focus() {
            with_pointer_constraint(&surface, &pointer, |c| {
                if let Some(c) = c
                    && !c.is_active()
                {
                    c.activate();
                }
            });
        }
    }

    fn pointer_moved(&mut self, pos: Point<f64, Logical>, delta: Option<Point<f64, Logical>>) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let under = self.surface_under(pos);
        if self.confinement_blocks(pos, &under) {
            return;
        }
        if !pointer.is_grabbed() {
            self.decoration_motion(pos);
        }
        let time = self.now_msec();
        pointer.motion(
            self,
            under.clone(),
            &MotionEvent {
                location: pos,
                serial: SERIAL_COUNTER.next_serial(),
                time,
            },
        );
        if let Some(delta) = delta {
            let utime = self.start_time.elapsed().as_micros() as u64;
            pointer.relative_motion(
                self,
                under,
                &RelativeMotionEvent {
                    delta,
                    delta_unaccel: delta,
                    utime,
                },
            );
        }
        self.activate_constraint();
        self.cursor_moved();
    }

    /// A button (Linux input code, e.g. `BTN_LEFT` = 0x110) pressed or released. A press
    /// focuses and raises the window under the pointer.
    pub fn pointer_button(&mut self, button: u32, pressed: bool) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        let state = if pressed {
            ButtonState::Pressed
        } else {
            ButtonState::Released
        };
        let pos = pointer.current_location();
        if pressed && !pointer.is_grabbed() {
            self.dismiss_exclusive_layer(pos);
            let on_layer = {
                let map = layer_map_for_output(&self.output);
                map.layer_under(Layer::Top, pos).is_some()
                    || map.layer_under(Layer::Overlay, pos).is_some()
            };
            if !on_layer && !self.decoration_press(button, pos) {
                self.shortcuts.clear_layer_focus();
                self.layout.click(pos.x, pos.y);
                self.apply_layout();
            }
            if let Some((surface, _)) = self.surface_under(pos) {
                self.layer_clicked(&surface);
            }
        } else if !pressed {
            // A title-bar button acts on release; the pointer has no client focus there.
            self.decoration_release(pos);
        }
        let time = self.now_msec();
        pointer.button(
            self,
            &ButtonEvent {
                button,
                state,
                serial,
                time,
            },
        );
    }

    /// A press outside every surface of the client holding an exclusive layer surface (a
    /// start menu, a launcher) closes that surface, as clicking away from a menu does: it
    /// would otherwise keep the keyboard from the window the user clicked.
    fn dismiss_exclusive_layer(&mut self, pos: Point<f64, Logical>) {
        let Some(exclusive) = self.exclusive_layer() else {
            return;
        };
        let under = self.surface_under(pos).map(|(s, _)| s);
        if under.is_some_and(|s| s.client() == exclusive.client()) {
            return;
        }
        let layer = layer_map_for_output(&self.output)
            .layer_for_surface(&exclusive, WindowSurfaceType::TOPLEVEL)
            .cloned();
        if let Some(layer) = layer {
            tracing::debug!(namespace = layer.namespace(), "click outside: closing");
            layer.layer_surface().send_close();
        }
    }

    /// A scroll on one or both axes.
    pub fn pointer_axis(
        &mut self,
        source: AxisSource,
        horizontal: AxisAmount,
        vertical: AxisAmount,
    ) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        let mut frame = AxisFrame::new(self.now_msec()).source(source);
        for (axis, amount) in [(Axis::Horizontal, horizontal), (Axis::Vertical, vertical)] {
            if amount.value != 0.0 {
                frame = frame.value(axis, amount.value);
            }
            if let Some(v120) = amount.v120.filter(|v| *v != 0) {
                frame = frame.v120(axis, v120);
            }
            if source == AxisSource::Finger && amount.value == 0.0 && amount.v120.is_none() {
                frame = frame.stop(axis);
            }
        }
        pointer.axis(self, frame);
    }

    /// Ends a group of pointer events (wl_pointer.frame).
    pub fn pointer_frame(&mut self) {
        if let Some(pointer) = self.seat.get_pointer() {
            pointer.frame(self);
        }
    }

    /// A key (evdev code, without the +8 xkb offset) pressed or released on the seat's
    /// keyboard with the compositor's keymap.
    pub fn keyboard_key(&mut self, evdev_code: u32, pressed: bool) {
        if self.keymap_source.is_some()
            && let Some(keyboard) = self.seat.get_keyboard()
        {
            // A virtual keyboard typed last, with its own keymap: back to the seat's.
            match keyboard.set_xkb_config(self, XkbConfig::default()) {
                Ok(()) => self.keymap_source = None,
                Err(e) => tracing::warn!("cannot restore the seat keymap: {e:?}"),
            }
        }
        // Compositor shortcuts (Alt+Tab, Alt+F4, Super) are taken out first.
        self.handle_key(evdev_code, pressed);
    }

    /// Makes a virtual keyboard's keymap the seat's, so its key codes mean what its client
    /// meant, for the shortcuts and for the focused client alike.
    pub(crate) fn use_virtual_keymap(&mut self, keymap: &VirtualKeymap) {
        if self.keymap_source == Some(keymap.id) {
            return;
        }
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        match keyboard.set_keymap_from_string(self, keymap.text.clone()) {
            Ok(()) => self.keymap_source = Some(keymap.id),
            Err(e) => tracing::warn!("cannot use a virtual keyboard's keymap: {e:?}"),
        }
    }

    /// Sets the modifiers as a client that holds them without keys (a virtual keyboard's
    /// `modifiers` request) sees them, and tells the focused client.
    pub(crate) fn set_modifiers(&mut self, mods: ModifiersState) {
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        if keyboard.set_modifier_state(mods) == 0 {
            return;
        }
        let mods = keyboard.modifier_state();
        if let Some(focus) = keyboard.current_focus() {
            let seat = self.seat.clone();
            KeyboardTarget::modifiers(&focus, &seat, self, mods, SERIAL_COUNTER.next_serial());
        }
        self.modifiers_changed(&mods);
    }
}
