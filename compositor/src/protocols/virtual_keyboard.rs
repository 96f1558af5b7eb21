//! `zwp_virtual_keyboard_v1`: how the streamer (and tools such as `wtype`) type.
//!
//! smithay ships this protocol, but its keys go straight to the focused client, past the
//! compositor's shortcuts (Alt+Tab, Alt+F4, the Super tap) and past keyboard grabs. Here a
//! virtual keyboard's requests become [`VirtualKeyboardEvent`]s the compositor feeds into its
//! own keyboard path, exactly like keys of a physical keyboard. Each keyboard's uploaded
//! keymap travels with its events ([`VirtualKeymap`]): the compositor makes it the seat's
//! keymap while that keyboard types, so shortcuts read the same keysyms the client will.
//!
//! A `modifiers` request is not only an echo of keys already pressed: `wtype -M alt` sets
//! Alt with no key at all. Its mask is decoded here into named modifiers with the indices of
//! the uploaded keymap, so the compositor can apply it to the seat's state.

use std::collections::HashSet;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use smithay::input::keyboard::{ModifiersState, xkb};
use smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::{
    zwp_virtual_keyboard_manager_v1::{self, ZwpVirtualKeyboardManagerV1},
    zwp_virtual_keyboard_v1::{self, ZwpVirtualKeyboardV1},
};
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::wl_keyboard::KeymapFormat;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource};

const VERSION: u32 = 1;
/// Largest keymap accepted; real ones are 50–100 KiB.
const MAX_KEYMAP: u32 = 4 * 1024 * 1024;

/// A keymap a virtual keyboard uploaded, with what decoding its modifier masks needs.
#[derive(Debug)]
pub struct VirtualKeymap {
    /// Unique per upload: the compositor switches the seat's keymap when this changes.
    pub id: u64,
    /// XKB text (`XKB_KEYMAP_FORMAT_TEXT_V1`).
    pub text: String,
    /// Bit of each named modifier in this keymap's masks (0 when it has none).
    bits: ModifierBits,
}

#[derive(Debug, Default, Clone, Copy)]
struct ModifierBits {
    shift: u32,
    caps: u32,
    ctrl: u32,
    alt: u32,
    num: u32,
    logo: u32,
    level3: u32,
    level5: u32,
}

impl VirtualKeymap {
    /// Compiles `text` (to check it and read its modifier indices).
    pub fn new(text: String) -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_string(
            &context,
            text.clone(),
            xkb::KEYMAP_FORMAT_TEXT_V1,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )?;
        let bit = |name: &str| match keymap.mod_get_index(name) {
            xkb::MOD_INVALID => 0,
            i if i < 32 => 1u32 << i,
            _ => 0,
        };
        let bits = ModifierBits {
            shift: bit(xkb::MOD_NAME_SHIFT),
            caps: bit(xkb::MOD_NAME_CAPS),
            ctrl: bit(xkb::MOD_NAME_CTRL),
            alt: bit(xkb::MOD_NAME_ALT),
            num: bit(xkb::MOD_NAME_NUM),
            logo: bit(xkb::MOD_NAME_LOGO),
            level3: bit(xkb::MOD_NAME_ISO_LEVEL3_SHIFT),
            level5: bit(xkb::MOD_NAME_MOD3),
        };
        Some(Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            text,
            bits,
        })
    }

    /// The named modifiers a `modifiers` request's masks hold, in this keymap.
    pub fn modifiers(&self, depressed: u32, latched: u32, locked: u32) -> ModifiersState {
        let b = &self.bits;
        let effective = depressed | latched | locked;
        let on = |bit: u32| bit != 0 && effective & bit != 0;
        ModifiersState {
            ctrl: on(b.ctrl),
            alt: on(b.alt),
            shift: on(b.shift),
            caps_lock: on(b.caps),
            logo: on(b.logo),
            num_lock: on(b.num),
            iso_level3_shift: on(b.level3),
            iso_level5_shift: on(b.level5),
            serialized: Default::default(),
        }
    }
}

/// What a virtual keyboard did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualKeyboardEvent {
    /// `key` is an evdev code (without the +8 of XKB keycodes).
    Key { key: u32, pressed: bool },
    Modifiers {
        depressed: u32,
        latched: u32,
        locked: u32,
    },
}

/// The compositor side of virtual keyboards.
pub trait VirtualKeyboardHandler:
    GlobalDispatch<ZwpVirtualKeyboardManagerV1, VirtualKeyboardGlobalData>
    + Dispatch<ZwpVirtualKeyboardManagerV1, ()>
    + Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardData>
    + 'static
{
    /// Feed `event`, typed with `keymap`, into the seat's keyboard.
    fn virtual_keyboard_event(&mut self, keymap: &Arc<VirtualKeymap>, event: VirtualKeyboardEvent);
}

/// Global data: which clients may see the global.
pub struct VirtualKeyboardGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync>,
}

impl std::fmt::Debug for VirtualKeyboardGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKeyboardGlobalData")
            .finish_non_exhaustive()
    }
}

/// Per-keyboard data: its keymap, the keys it holds down and its depressed modifiers, so
/// a keyboard that goes away (a crashed client) leaves nothing stuck.
#[derive(Debug, Default)]
pub struct VirtualKeyboardData {
    inner: Mutex<KeyboardInner>,
}

#[derive(Debug, Default)]
struct KeyboardInner {
    keymap: Option<Arc<VirtualKeymap>>,
    held: HashSet<u32>,
    locked: u32,
    depressed: bool,
}

#[derive(Debug)]
pub struct VirtualKeyboardManagerState {
    global: GlobalId,
}

impl VirtualKeyboardManagerState {
    pub fn new<D: VirtualKeyboardHandler>(
        display: &DisplayHandle,
        filter: impl Fn(&Client) -> bool + Send + Sync + 'static,
    ) -> Self {
        let global = display.create_global::<D, ZwpVirtualKeyboardManagerV1, _>(
            VERSION,
            VirtualKeyboardGlobalData {
                filter: Box::new(filter),
            },
        );
        Self { global }
    }

    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }
}

impl<D: VirtualKeyboardHandler>
    GlobalDispatch<ZwpVirtualKeyboardManagerV1, VirtualKeyboardGlobalData, D>
    for VirtualKeyboardManagerState
{
    fn bind(
        _state: &mut D,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwpVirtualKeyboardManagerV1>,
        _global_data: &VirtualKeyboardGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &VirtualKeyboardGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D: VirtualKeyboardHandler> Dispatch<ZwpVirtualKeyboardManagerV1, (), D>
    for VirtualKeyboardManagerState
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _manager: &ZwpVirtualKeyboardManagerV1,
        request: zwp_virtual_keyboard_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        if let zwp_virtual_keyboard_manager_v1::Request::CreateVirtualKeyboard { id, .. } = request
        {
            data_init.init(id, VirtualKeyboardData::default());
        }
    }
}

/// Reads a keymap the client shared: `size` bytes from the start of the file, whatever the
/// client's own file offset.
fn read_keymap(fd: std::os::fd::OwnedFd, size: u32) -> Option<String> {
    if size == 0 || size > MAX_KEYMAP {
        return None;
    }
    let file = std::fs::File::from(fd);
    let mut buf = vec![0u8; size as usize];
    file.read_exact_at(&mut buf, 0).ok()?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf.truncate(end);
    String::from_utf8(buf).ok()
}

impl<D: VirtualKeyboardHandler> Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardData, D>
    for VirtualKeyboardManagerState
{
    fn request(
        state: &mut D,
        _client: &Client,
        keyboard: &ZwpVirtualKeyboardV1,
        request: zwp_virtual_keyboard_v1::Request,
        data: &VirtualKeyboardData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        use zwp_virtual_keyboard_v1::Request;
        let Ok(mut inner) = data.inner.lock() else {
            return;
        };
        let event = match request {
            Request::Keymap { format, fd, size } => {
                if format != KeymapFormat::XkbV1 as u32 {
                    tracing::debug!(format, "virtual keyboard keymap in an unknown format");
                    return;
                }
                let Some(text) = read_keymap(fd, size) else {
                    tracing::warn!(size, "unreadable virtual keyboard keymap");
                    return;
                };
                if inner.keymap.as_ref().is_some_and(|k| k.text == text) {
                    // The same keymap again (the streamer restores its own after typing
                    // through a temporary one): nothing to switch.
                    return;
                }
                match VirtualKeymap::new(text) {
                    Some(keymap) => inner.keymap = Some(Arc::new(keymap)),
                    // Keys keep using the previous keymap, as if this one had not come.
                    None => tracing::warn!(size, "unusable virtual keyboard keymap"),
                }
                return;
            }
            Request::Key { key, state: s, .. } => {
                let pressed = s == 1;
                let changed = if pressed {
                    inner.held.insert(key)
                } else {
                    inner.held.remove(&key)
                };
                if !changed {
                    // A repeated press (or a release of a key not down) changes nothing.
                    return;
                }
                VirtualKeyboardEvent::Key { key, pressed }
            }
            Request::Modifiers {
                mods_depressed,
                mods_latched,
                mods_locked,
                ..
            } => {
                inner.locked = mods_locked;
                inner.depressed = mods_depressed != 0 || mods_latched != 0;
                VirtualKeyboardEvent::Modifiers {
                    depressed: mods_depressed,
                    latched: mods_latched,
                    locked: mods_locked,
                }
            }
            Request::Destroy => return,
            _ => return,
        };
        let Some(keymap) = inner.keymap.clone() else {
            keyboard.post_error(
                zwp_virtual_keyboard_v1::Error::NoKeymap,
                "key or modifiers sent before a keymap",
            );
            return;
        };
        drop(inner);
        state.virtual_keyboard_event(&keymap, event);
    }

    fn destroyed(
        state: &mut D,
        _client: ClientId,
        _keyboard: &ZwpVirtualKeyboardV1,
        data: &VirtualKeyboardData,
    ) {
        let Ok(mut inner) = data.inner.lock() else {
            return;
        };
        let Some(keymap) = inner.keymap.clone() else {
            return;
        };
        let held: Vec<u32> = inner.held.drain().collect();
        let (depressed, locked) = (inner.depressed, inner.locked);
        drop(inner);
        for key in held {
            state.virtual_keyboard_event(
                &keymap,
                VirtualKeyboardEvent::Key {
                    key,
                    pressed: false,
                },
            );
        }
        if depressed {
            state.virtual_keyboard_event(
                &keymap,
                VirtualKeyboardEvent::Modifiers {
                    depressed: 0,
                    latched: 0,
                    locked,
                },
            );
        }
    }
}

/// Delegates virtual keyboards to [`VirtualKeyboardManagerState`]; implement
/// [`VirtualKeyboardHandler`].
#[macro_export]
macro_rules! delegate_virtual_keyboard {
    ($ty:ty) => {
        ::wayland_server::delegate_global_dispatch!($ty: [
            ::smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1:
                $crate::protocols::virtual_keyboard::VirtualKeyboardGlobalData
        ] => $crate::protocols::virtual_keyboard::VirtualKeyboardManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1: ()
        ] => $crate::protocols::virtual_keyboard::VirtualKeyboardManagerState);
        ::wayland_server::delegate_dispatch!($ty: [
            ::smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1:
                $crate::protocols::virtual_keyboard::VirtualKeyboardData
        ] => $crate::protocols::virtual_keyboard::VirtualKeyboardManagerState);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_decode_with_the_uploaded_keymaps_indices() {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(&context, "", "", "us", "", None, 0)
            .expect("the us keymap compiles");
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let vk = VirtualKeymap::new(text).expect("its text compiles again");
        let alt = 1 << keymap.mod_get_index(xkb::MOD_NAME_ALT);
        let caps = 1 << keymap.mod_get_index(xkb::MOD_NAME_CAPS);
        let m = vk.modifiers(alt, 0, caps);
        assert!(m.alt && m.caps_lock && !m.ctrl && !m.shift && !m.logo);
        assert_eq!(vk.modifiers(0, 0, 0), ModifiersState::default());
        assert!(VirtualKeymap::new("not a keymap".into()).is_none());
    }
}
