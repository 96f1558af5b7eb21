//! The keymap the streamer uploads to its virtual keyboard, and the keymaps it briefly
//! swaps in to type characters no key produces.
//!
//! The base keymap is compiled by xkbcommon from RMLVO names (evdev rules, pc105, "us" by
//! default), so physical key codes from the browser land exactly where a local keyboard's
//! would. For text, a key that exists in the keymap but carries no symbol ("spare") is given
//! the wanted keysym in a copy of the base keymap: upload, press, release, restore. The copy
//! is made by adding lines to the text keymap's `xkb_symbols` section, and is recompiled by
//! xkbcommon in the tests so a malformed edit cannot slip through.

use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags, fcntl_add_seals, ftruncate, memfd_create};
use xkbcommon::xkb;

use super::Error;

/// RMLVO names of the base keymap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapNames {
    pub rules: String,
    pub model: String,
    pub layout: String,
    pub variant: String,
    pub options: Option<String>,
}

impl Default for KeymapNames {
    fn default() -> Self {
        Self {
            rules: "evdev".into(),
            model: "pc105".into(),
            layout: "us".into(),
            variant: String::new(),
            options: None,
        }
    }
}

/// The compiled base keymap, its text and the keys free for temporary symbols.
pub struct Keymaps {
    text: String,
    keymap: xkb::Keymap,
    /// (evdev code, xkb key name) of keys without symbols.
    spare: Vec<(u32, String)>,
}

impl Keymaps {
    pub fn new(names: &KeymapNames) -> Result<Self, Error> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            &names.rules,
            &names.model,
            &names.layout,
            &names.variant,
            names.options.clone(),
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .ok_or_else(|| Error::Keymap(format!("{names:?} does not compile")))?;
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let mut spare = Vec::new();
        // Only codes below 256: X11 clients behind Xwayland cannot see higher ones.
        let max = keymap.max_keycode().raw().min(255);
        for raw in keymap.min_keycode().raw().max(9)..=max {
            let code = xkb::Keycode::new(raw);
            let Some(name) = keymap.key_get_name(code) else {
                continue;
            };
            if keymap.num_layouts_for_key(code) == 0
                && keymap.key_get_syms_by_level(code, 0, 0).is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                spare.push((raw - 8, name.to_owned()));
            }
        }
        if spare.is_empty() {
            return Err(Error::Keymap("no key free for typing text".into()));
        }
        Ok(Self {
            text,
            keymap,
            spare,
        })
    }

    /// The base keymap in text form, as uploaded.
    pub fn base_text(&self) -> &str {
        &self.text
    }

    pub fn keymap(&self) -> &xkb::Keymap {
        &self.keymap
    }

    /// Evdev codes of the spare keys, in the order [`Self::with_keysyms`] binds them.
    pub fn spare_keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.spare.iter().map(|(code, _)| *code)
    }

    pub fn spare_count(&self) -> usize {
        self.spare.len()
    }

    /// The base keymap with `keysyms[i]` bound to the i-th spare key (extra keysyms beyond
    /// the spare keys are ignored).
    pub fn with_keysyms(&self, keysyms: &[xkb::Keysym]) -> String {
        let mut lines = String::new();
        for ((_, name), sym) in self.spare.iter().zip(keysyms) {
            lines.push_str(&format!(
                "\tkey <{name}> {{ [ {} ] }};\n",
                xkb::keysym_get_name(*sym)
            ));
        }
        let Some(section) = self.text.find("xkb_symbols") else {
            return self.text.clone();
        };
        let Some(end) = self.text[section..].find("\n};") else {
            return self.text.clone();
        };
        let at = section + end + 1;
        let mut out = String::with_capacity(self.text.len() + lines.len());
        out.push_str(&self.text[..at]);
        out.push_str(&lines);
        out.push_str(&self.text[at..]);
        out
    }
}

/// The keysym that types `c`.
pub fn keysym_for_char(c: char) -> xkb::Keysym {
    match c {
        '\n' => xkb::Keysym::Return,
        '\t' => xkb::Keysym::Tab,
        '\u{8}' => xkb::Keysym::BackSpace,
        _ => xkb::utf32_to_keysym(c as u32),
    }
}

/// A sealed memfd holding `text` and its terminating NUL, as `wl_keyboard` keymaps are sent.
pub fn keymap_fd(text: &str) -> Result<(OwnedFd, u32), Error> {
    let fd = memfd_create(
        "skerry-keymap",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(Error::Os)?;
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    ftruncate(&fd, bytes.len() as u64).map_err(Error::Os)?;
    let mut written = 0;
    while written < bytes.len() {
        written += rustix::io::pwrite(&fd, &bytes[written..], written as u64).map_err(Error::Os)?;
    }
    fcntl_add_seals(
        &fd,
        SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
    )
    .map_err(Error::Os)?;
    let size = u32::try_from(bytes.len()).map_err(|_| Error::Keymap("keymap too big".into()))?;
    Ok((fd, size))
}

/// Modifier state of the virtual keyboard, computed by xkbcommon from the keys we press.
pub struct Modifiers {
    state: xkb::State,
    last: [u32; 4],
}

impl Modifiers {
    pub fn new(keymap: &xkb::Keymap) -> Self {
        Self {
            state: xkb::State::new(keymap),
            last: [0; 4],
        }
    }

    /// Feeds a key (evdev code); returns the new `(depressed, latched, locked, group)` when
    /// it differs from what was last sent.
    pub fn update(&mut self, evdev: u32, pressed: bool) -> Option<[u32; 4]> {
        let direction = if pressed {
            xkb::KeyDirection::Down
        } else {
            xkb::KeyDirection::Up
        };
        self.state
            .update_key(xkb::Keycode::new(evdev + 8), direction);
        let now = self.current();
        (now != self.last).then(|| {
            self.last = now;
            now
        })
    }

    pub fn current(&self) -> [u32; 4] {
        [
            self.state.serialize_mods(xkb::STATE_MODS_DEPRESSED),
            self.state.serialize_mods(xkb::STATE_MODS_LATCHED),
            self.state.serialize_mods(xkb::STATE_MODS_LOCKED),
            self.state.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: String) -> xkb::Keymap {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        xkb::Keymap::new_from_string(
            &context,
            text,
            xkb::KEYMAP_FORMAT_TEXT_V1,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .expect("keymap compiles")
    }

    #[test]
    fn base_keymap_puts_letters_where_evdev_says() {
        let maps = Keymaps::new(&KeymapNames::default()).expect("us keymap");
        let keymap = compile(maps.base_text().to_owned());
        // evdev 30 (KeyA) + 8 is 'a' on a US layout.
        let syms = keymap.key_get_syms_by_level(xkb::Keycode::new(30 + 8), 0, 0);
        assert_eq!(syms, &[xkb::Keysym::a]);
        assert!(
            maps.spare_count() >= 8,
            "only {} spare keys",
            maps.spare_count()
        );
    }

    #[test]
    fn temporary_keymap_binds_spare_keys() {
        let maps = Keymaps::new(&KeymapNames::default()).expect("us keymap");
        let wanted: Vec<_> = ['é', '✓', '😀', 'ß']
            .into_iter()
            .map(keysym_for_char)
            .collect();
        let keymap = compile(maps.with_keysyms(&wanted));
        for (code, sym) in maps.spare_keys().zip(&wanted) {
            let syms = keymap.key_get_syms_by_level(xkb::Keycode::new(code + 8), 0, 0);
            assert_eq!(syms, &[*sym], "spare key {code}");
        }
        // The rest of the layout is intact.
        let syms = keymap.key_get_syms_by_level(xkb::Keycode::new(16 + 8), 0, 0);
        assert_eq!(syms, &[xkb::Keysym::q]);
    }

    #[test]
    fn modifiers_follow_pressed_keys() {
        let maps = Keymaps::new(&KeymapNames::default()).expect("us keymap");
        let mut mods = Modifiers::new(maps.keymap());
        let shift = 1 << maps.keymap().mod_get_index(xkb::MOD_NAME_SHIFT);
        let caps = 1 << maps.keymap().mod_get_index(xkb::MOD_NAME_CAPS);
        assert_eq!(mods.update(42, true), Some([shift, 0, 0, 0]));
        assert_eq!(mods.update(30, true), None, "a letter changes no modifier");
        assert_eq!(mods.update(42, false), Some([0, 0, 0, 0]));
        mods.update(58, true);
        mods.update(58, false);
        assert_eq!(mods.current()[2], caps, "caps lock locks");
    }

    #[test]
    fn keymap_fd_holds_text_and_nul() {
        let (fd, size) = keymap_fd("xkb_keymap {};").expect("memfd");
        assert_eq!(size as usize, "xkb_keymap {};".len() + 1);
        let mut buf = vec![0u8; size as usize];
        rustix::io::pread(&fd, &mut buf, 0).expect("read back");
        assert_eq!(buf.last(), Some(&0));
    }
}
