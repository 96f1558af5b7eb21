//! Viewers' input, replayed through a virtual keyboard and a virtual pointer.
//!
//! The keyboard tracks which keys it holds and computes modifier state with xkbcommon from
//! the same keymap it uploaded, so `modifiers` always matches the keys down and
//! [`InputEvent::ReleaseAll`] can undo everything. Text that no key produces goes through
//! the input method when the focused client has text-input enabled, else through a
//! temporary keymap (see [`super::keymap`]).

use std::collections::BTreeSet;

use wayland_client::protocol::wl_pointer;
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols_misc::zwp_input_method_v2::client::{
    zwp_input_method_manager_v2::{self, ZwpInputMethodManagerV2},
    zwp_input_method_v2::{self, ZwpInputMethodV2},
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1::{self, ZwpVirtualKeyboardManagerV1},
    zwp_virtual_keyboard_v1::{self, ZwpVirtualKeyboardV1},
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::{self, ZwlrVirtualPointerManagerV1},
    zwlr_virtual_pointer_v1::{self, ZwlrVirtualPointerV1},
};

use super::Error;
use super::keycodes::evdev_for_code;
use super::keymap::{Keymaps, Modifiers, keymap_fd, keysym_for_char};
use super::state::State;
use crate::desktop::{InputEvent, PointerButton, WheelUnit};

/// Browsers count a wheel "line" as this many pixels.
pub const LINE_PIXELS: f64 = 15.0;

#[derive(Default)]
pub struct Input {
    keyboard: Option<Keyboard>,
    pointer: Option<Pointer>,
    input_method: Option<InputMethod>,
}

struct Keyboard {
    device: ZwpVirtualKeyboardV1,
    maps: Keymaps,
    mods: Modifiers,
    held: BTreeSet<u32>,
}

struct Pointer {
    device: ZwlrVirtualPointerV1,
    held: BTreeSet<u32>,
}

#[derive(Default)]
struct InputMethod {
    object: Option<ZwpInputMethodV2>,
    active: bool,
    pending_active: bool,
    /// Number of `done` events, echoed in `commit`.
    serial: u32,
}

pub fn evdev_button(button: PointerButton) -> u32 {
    match button {
        PointerButton::Left => 0x110,
        PointerButton::Right => 0x111,
        PointerButton::Middle => 0x112,
        PointerButton::Back => 0x113,
        PointerButton::Forward => 0x114,
    }
}

/// A wheel delta as (pixels, discrete steps) for `axis` / `axis_discrete`.
pub fn wheel_amount(delta: f64, unit: WheelUnit, page_pixels: f64) -> (f64, i32) {
    let pixels = match unit {
        WheelUnit::Pixel => delta,
        WheelUnit::Line => delta * LINE_PIXELS,
        WheelUnit::Page => delta * page_pixels,
    };
    let steps = match unit {
        WheelUnit::Pixel => 0,
        _ => (pixels / LINE_PIXELS).round() as i32,
    };
    (pixels, steps)
}

impl State {
    /// Creates the virtual devices the compositor offers.
    pub fn setup_input(&mut self, qh: &QueueHandle<State>) -> Result<(), Error> {
        let Some(seat) = self.globals.seat.clone() else {
            tracing::warn!("no wl_seat: input is disabled");
            return Ok(());
        };
        if let Some(manager) = &self.globals.virtual_keyboard {
            let maps = Keymaps::new(&self.options.keymap)?;
            let device = manager.create_virtual_keyboard(&seat, qh, ());
            let (fd, size) = keymap_fd(maps.base_text())?;
            device.keymap(1, std::os::fd::AsFd::as_fd(&fd), size);
            let mods = Modifiers::new(maps.keymap());
            self.input.keyboard = Some(Keyboard {
                device,
                maps,
                mods,
                held: BTreeSet::new(),
            });
        } else {
            tracing::warn!("no zwp_virtual_keyboard_manager_v1: keyboard input is disabled");
        }
        if let Some(manager) = &self.globals.virtual_pointer {
            let output = self.target_output().map(|o| o.output.clone());
            let device = match output {
                Some(output) if manager.version() >= 2 => {
                    manager.create_virtual_pointer_with_output(Some(&seat), Some(&output), qh, ())
                }
                _ => manager.create_virtual_pointer(Some(&seat), qh, ()),
            };
            self.input.pointer = Some(Pointer {
                device,
                held: BTreeSet::new(),
            });
        } else {
            tracing::warn!("no zwlr_virtual_pointer_manager_v1: pointer input is disabled");
        }
        if let Some(manager) = self
            .globals
            .input_method
            .as_ref()
            .filter(|_| self.options.input_method)
        {
            self.input.input_method = Some(InputMethod {
                object: Some(manager.get_input_method(&seat, qh, ())),
                ..InputMethod::default()
            });
        }
        Ok(())
    }

    pub fn inject(&mut self, event: InputEvent) {
        let time = self.now_ms();
        match event {
            InputEvent::Key { code, pressed } => {
                let Some(key) = evdev_for_code(&code) else {
                    tracing::debug!(code, "key code with no evdev equivalent");
                    return;
                };
                if let Some(kb) = &mut self.input.keyboard {
                    kb.key(time, key, pressed);
                }
            }
            InputEvent::Text(text) => self.type_text(time, &text),
            InputEvent::PointerMotion { x, y } => {
                let Some((w, h)) = self.output_size() else {
                    return;
                };
                if let Some(p) = &self.input.pointer {
                    let x = x.clamp(0.0, f64::from(w.saturating_sub(1))) as u32;
                    let y = y.clamp(0.0, f64::from(h.saturating_sub(1))) as u32;
                    p.device.motion_absolute(time, x, y, w, h);
                    p.device.frame();
                }
            }
            InputEvent::PointerRelative { dx, dy } => {
                if let Some(p) = &self.input.pointer {
                    p.device.motion(time, dx, dy);
                    p.device.frame();
                }
            }
            InputEvent::Button { button, pressed } => {
                if let Some(p) = &mut self.input.pointer {
                    p.button(time, evdev_button(button), pressed);
                    p.device.frame();
                }
            }
            InputEvent::Wheel { dx, dy, unit } => {
                let page = self.output_size().map_or(600.0, |(_, h)| f64::from(h));
                if let Some(p) = &self.input.pointer {
                    p.device.axis_source(wl_pointer::AxisSource::Wheel);
                    for (axis, delta) in [
                        (wl_pointer::Axis::VerticalScroll, dy),
                        (wl_pointer::Axis::HorizontalScroll, dx),
                    ] {
                        if delta == 0.0 {
                            continue;
                        }
                        let (pixels, steps) = wheel_amount(delta, unit, page);
                        if steps != 0 {
                            p.device.axis_discrete(time, axis, pixels, steps);
                        } else {
                            p.device.axis(time, axis, pixels);
                        }
                    }
                    p.device.frame();
                }
            }
            InputEvent::ReleaseAll => {
                if let Some(kb) = &mut self.input.keyboard {
                    kb.release_all(time);
                }
                if let Some(p) = &mut self.input.pointer {
                    let held: Vec<u32> = p.held.iter().copied().collect();
                    for button in held {
                        p.button(time, button, false);
                    }
                    p.device.frame();
                }
            }
        }
    }

    fn type_text(&mut self, time: u32, text: &str) {
        if let Some(im) = &self.input.input_method
            && let (true, Some(object)) = (im.active, &im.object)
        {
            object.commit_string(text.to_owned());
            object.commit(im.serial);
            return;
        }
        let Some(kb) = &mut self.input.keyboard else {
            return;
        };
        if let Err(err) = kb.type_with_keymap(time, text) {
            tracing::warn!(%err, "typing text through the keymap failed");
        }
    }
}

impl Keyboard {
    fn key(&mut self, time: u32, key: u32, pressed: bool) {
        // Browsers repeat keydown while a key is held; the compositor repeats by itself.
        let changed = if pressed {
            self.held.insert(key)
        } else {
            self.held.remove(&key)
        };
        if !changed {
            return;
        }
        self.device.key(time, key, u32::from(pressed));
        if let Some([depressed, latched, locked, group]) = self.mods.update(key, pressed) {
            self.device.modifiers(depressed, latched, locked, group);
        }
    }

    fn release_all(&mut self, time: u32) {
        let held: Vec<u32> = self.held.iter().rev().copied().collect();
        for key in held {
            self.key(time, key, false);
        }
        // Locks (Caps Lock) stay as the user set them; nothing is left depressed.
        let [_, latched, locked, group] = self.mods.current();
        self.device.modifiers(0, latched, locked, group);
    }

    /// Types `text` by binding its characters to spare keys, a few at a time.
    fn type_with_keymap(&mut self, time: u32, text: &str) -> Result<(), Error> {
        let spare: Vec<u32> = self.maps.spare_keys().collect();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(spare.len()) {
            let syms: Vec<_> = chunk.iter().map(|&c| keysym_for_char(c)).collect();
            let (fd, size) = keymap_fd(&self.maps.with_keysyms(&syms))?;
            self.device.keymap(1, std::os::fd::AsFd::as_fd(&fd), size);
            let [_, latched, locked, group] = self.mods.current();
            // Typed characters must not pick up held modifiers (Shift would pick level 2).
            self.device.modifiers(0, latched, locked, group);
            for &key in spare.iter().take(chunk.len()) {
                self.device.key(time, key, 1);
                self.device.key(time, key, 0);
            }
        }
        let (fd, size) = keymap_fd(self.maps.base_text())?;
        self.device.keymap(1, std::os::fd::AsFd::as_fd(&fd), size);
        let [depressed, latched, locked, group] = self.mods.current();
        self.device.modifiers(depressed, latched, locked, group);
        Ok(())
    }
}

impl Pointer {
    fn button(&mut self, time: u32, button: u32, pressed: bool) {
        let changed = if pressed {
            self.held.insert(button)
        } else {
            self.held.remove(&button)
        };
        if changed {
            let state = if pressed {
                wl_pointer::ButtonState::Pressed
            } else {
                wl_pointer::ButtonState::Released
            };
            self.device.button(time, button, state);
        }
    }
}

impl Dispatch<ZwpInputMethodV2, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpInputMethodV2,
        event: zwp_input_method_v2::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(im) = &mut state.input.input_method else {
            return;
        };
        match event {
            zwp_input_method_v2::Event::Activate => im.pending_active = true,
            zwp_input_method_v2::Event::Deactivate => im.pending_active = false,
            zwp_input_method_v2::Event::Done => {
                im.serial = im.serial.wrapping_add(1);
                im.active = im.pending_active;
            }
            zwp_input_method_v2::Event::Unavailable => {
                tracing::info!("another input method holds the seat; text goes through keymaps");
                if let Some(object) = im.object.take() {
                    object.destroy();
                }
                im.active = false;
            }
            _ => {}
        }
    }
}

macro_rules! ignore_events {
    ($($ty:ty => $event:ty),* $(,)?) => {$(
        impl Dispatch<$ty, ()> for State {
            fn event(
                _: &mut Self,
                _: &$ty,
                _: $event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
            }
        }
    )*};
}

ignore_events!(
    ZwpInputMethodManagerV2 => zwp_input_method_manager_v2::Event,
    ZwpVirtualKeyboardManagerV1 => zwp_virtual_keyboard_manager_v1::Event,
    ZwpVirtualKeyboardV1 => zwp_virtual_keyboard_v1::Event,
    ZwlrVirtualPointerManagerV1 => zwlr_virtual_pointer_manager_v1::Event,
    ZwlrVirtualPointerV1 => zwlr_virtual_pointer_v1::Event,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_lines_are_discrete_steps_of_fifteen_pixels() {
        assert_eq!(wheel_amount(3.0, WheelUnit::Line, 600.0), (45.0, 3));
        assert_eq!(wheel_amount(-1.0, WheelUnit::Line, 600.0), (-15.0, -1));
        assert_eq!(wheel_amount(53.0, WheelUnit::Pixel, 600.0), (53.0, 0));
        assert_eq!(wheel_amount(1.0, WheelUnit::Page, 600.0), (600.0, 40));
    }

    #[test]
    fn buttons_use_linux_codes() {
        assert_eq!(evdev_button(PointerButton::Left), 0x110);
        assert_eq!(evdev_button(PointerButton::Right), 0x111);
        assert_eq!(evdev_button(PointerButton::Middle), 0x112);
        assert_eq!(evdev_button(PointerButton::Back), 0x113);
        assert_eq!(evdev_button(PointerButton::Forward), 0x114);
    }
}
