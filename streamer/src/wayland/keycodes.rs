//! The browser names physical keys by `KeyboardEvent.code` (the UI Events "code" values,
//! which follow USB HID usages), while a Wayland virtual keyboard speaks Linux evdev codes.
//! This table is the bridge. It is keyed by position, not by character: `KeyQ` is the key
//! where an English layout has Q, whatever the viewer's own layout prints on it, because the
//! layout is applied by the keymap the streamer uploads and the text path handles the rest.
//!
//! Legacy spellings that some browsers still send (`OSLeft`, `VolumeMute`…) are listed as
//! aliases of the current names.

/// Evdev code for a `KeyboardEvent.code`, or `None` for codes with no Linux key
/// (`Unidentified`, `Hyper`, vendor keys).
pub fn evdev_for_code(code: &str) -> Option<u32> {
    KEY_TABLE
        .iter()
        .find(|(name, _)| *name == code)
        .map(|&(_, key)| key)
}

/// Every known `KeyboardEvent.code` with its evdev code (see `linux/input-event-codes.h`).
pub const KEY_TABLE: &[(&str, u32)] = &[
    // Writing system keys: letters.
    ("KeyA", 30),
    ("KeyB", 48),
    ("KeyC", 46),
    ("KeyD", 32),
    ("KeyE", 18),
    ("KeyF", 33),
    ("KeyG", 34),
    ("KeyH", 35),
    ("KeyI", 23),
    ("KeyJ", 36),
    ("KeyK", 37),
    ("KeyL", 38),
    ("KeyM", 50),
    ("KeyN", 49),
    ("KeyO", 24),
    ("KeyP", 25),
    ("KeyQ", 16),
    ("KeyR", 19),
    ("KeyS", 31),
    ("KeyT", 20),
    ("KeyU", 22),
    ("KeyV", 47),
    ("KeyW", 17),
    ("KeyX", 45),
    ("KeyY", 21),
    ("KeyZ", 44),
    // Digits row.
    ("Digit1", 2),
    ("Digit2", 3),
    ("Digit3", 4),
    ("Digit4", 5),
    ("Digit5", 6),
    ("Digit6", 7),
    ("Digit7", 8),
    ("Digit8", 9),
    ("Digit9", 10),
    ("Digit0", 11),
    // Punctuation.
    ("Minus", 12),
    ("Equal", 13),
    ("BracketLeft", 26),
    ("BracketRight", 27),
    ("Backslash", 43),
    ("Semicolon", 39),
    ("Quote", 40),
    ("Backquote", 41),
    ("Comma", 51),
    ("Period", 52),
    ("Slash", 53),
    ("IntlBackslash", 86),
    ("IntlRo", 89),
    ("IntlYen", 124),
    // Functional keys in the alphanumeric section.
    ("Escape", 1),
    ("Backspace", 14),
    ("Tab", 15),
    ("Enter", 28),
    ("Space", 57),
    ("CapsLock", 58),
    ("ContextMenu", 127),
    ("ControlLeft", 29),
    ("ControlRight", 97),
    ("ShiftLeft", 42),
    ("ShiftRight", 54),
    ("AltLeft", 56),
    ("AltRight", 100),
    ("MetaLeft", 125),
    ("MetaRight", 126),
    ("OSLeft", 125),
    ("OSRight", 126),
    ("Fn", 0x1d0),
    // Japanese and Korean input keys.
    ("Convert", 92),
    ("NonConvert", 94),
    ("KanaMode", 93),
    ("Lang1", 122),
    ("Lang2", 123),
    ("Lang3", 90),
    ("Lang4", 91),
    ("Lang5", 85),
    // Function row.
    ("F1", 59),
    ("F2", 60),
    ("F3", 61),
    ("F4", 62),
    ("F5", 63),
    ("F6", 64),
    ("F7", 65),
    ("F8", 66),
    ("F9", 67),
    ("F10", 68),
    ("F11", 87),
    ("F12", 88),
    ("F13", 183),
    ("F14", 184),
    ("F15", 185),
    ("F16", 186),
    ("F17", 187),
    ("F18", 188),
    ("F19", 189),
    ("F20", 190),
    ("F21", 191),
    ("F22", 192),
    ("F23", 193),
    ("F24", 194),
    ("PrintScreen", 99),
    ("ScrollLock", 70),
    ("Pause", 119),
    // Control pad and arrows.
    ("Insert", 110),
    ("Delete", 111),
    ("Home", 102),
    ("End", 107),
    ("PageUp", 104),
    ("PageDown", 109),
    ("ArrowUp", 103),
    ("ArrowDown", 108),
    ("ArrowLeft", 105),
    ("ArrowRight", 106),
    ("Help", 138),
    // Numpad.
    ("NumLock", 69),
    ("Numpad0", 82),
    ("Numpad1", 79),
    ("Numpad2", 80),
    ("Numpad3", 81),
    ("Numpad4", 75),
    ("Numpad5", 76),
    ("Numpad6", 77),
    ("Numpad7", 71),
    ("Numpad8", 72),
    ("Numpad9", 73),
    ("NumpadAdd", 78),
    ("NumpadSubtract", 74),
    ("NumpadMultiply", 55),
    ("NumpadDivide", 98),
    ("NumpadDecimal", 83),
    ("NumpadEnter", 96),
    ("NumpadEqual", 117),
    ("NumpadComma", 121),
    ("NumpadParenLeft", 179),
    ("NumpadParenRight", 180),
    ("NumpadChangeSign", 118),
    ("NumpadStar", 0x20a),
    ("NumpadHash", 0x20b),
    // Editing keys found on some keyboards.
    ("Again", 129),
    ("Props", 130),
    ("Undo", 131),
    ("Select", 0x161),
    ("Copy", 133),
    ("Open", 134),
    ("Paste", 135),
    ("Find", 136),
    ("Cut", 137),
    // Media and system keys.
    ("AudioVolumeMute", 113),
    ("AudioVolumeDown", 114),
    ("AudioVolumeUp", 115),
    ("VolumeMute", 113),
    ("VolumeDown", 114),
    ("VolumeUp", 115),
    ("Power", 116),
    ("Sleep", 142),
    ("WakeUp", 143),
    ("Eject", 161),
    ("MediaTrackNext", 163),
    ("MediaPlayPause", 164),
    ("MediaTrackPrevious", 165),
    ("MediaStop", 166),
    ("MediaRecord", 167),
    ("MediaRewind", 168),
    ("MediaPause", 201),
    ("MediaPlay", 207),
    ("MediaFastForward", 208),
    ("MediaSelect", 171),
    ("LaunchMail", 155),
    ("LaunchApp1", 144),
    ("LaunchApp2", 140),
    ("LaunchControlPanel", 0x243),
    ("LaunchScreenSaver", 0x245),
    ("MailReply", 232),
    ("MailForward", 233),
    ("MailSend", 231),
    ("BrowserSearch", 217),
    ("BrowserHome", 172),
    ("BrowserBack", 158),
    ("BrowserForward", 159),
    ("BrowserStop", 128),
    ("BrowserRefresh", 173),
    ("BrowserFavorites", 156),
    ("BrightnessDown", 224),
    ("BrightnessUp", 225),
    ("DisplayToggleIntExt", 0x1af),
];

/// Legacy names that deliberately share an evdev code with a current name.
#[cfg(test)]
const ALIASES: &[&str] = &["OSLeft", "OSRight", "VolumeMute", "VolumeDown", "VolumeUp"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn spot_checks_match_linux_input_codes() {
        let cases = [
            ("KeyA", 30),
            ("KeyZ", 44),
            ("Digit0", 11),
            ("Enter", 28),
            ("ShiftLeft", 42),
            ("AltRight", 100),
            ("MetaLeft", 125),
            ("F12", 88),
            ("F13", 183),
            ("F24", 194),
            ("ArrowLeft", 105),
            ("Numpad5", 76),
            ("NumpadEnter", 96),
            ("IntlBackslash", 86),
            ("IntlRo", 89),
            ("IntlYen", 124),
            ("Lang1", 122),
            ("Lang2", 123),
            ("AudioVolumeMute", 113),
            ("MediaPlayPause", 164),
            ("ContextMenu", 127),
        ];
        for (code, key) in cases {
            assert_eq!(evdev_for_code(code), Some(key), "{code}");
        }
        assert_eq!(evdev_for_code("Unidentified"), None);
        assert_eq!(evdev_for_code("keya"), None, "codes are case-sensitive");
    }

    #[test]
    fn no_two_codes_share_a_key_except_aliases() {
        let mut seen: HashMap<u32, &str> = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for &(name, key) in KEY_TABLE {
            assert!(names.insert(name), "{name} listed twice");
            if ALIASES.contains(&name) {
                continue;
            }
            if let Some(other) = seen.insert(key, name) {
                panic!("{name} and {other} both map to evdev {key}");
            }
        }
        for alias in ALIASES {
            assert!(evdev_for_code(alias).is_some(), "{alias}");
        }
    }

    #[test]
    fn whole_ranges_are_covered() {
        for c in 'A'..='Z' {
            assert!(evdev_for_code(&format!("Key{c}")).is_some(), "Key{c}");
        }
        for d in 0..=9 {
            assert!(evdev_for_code(&format!("Digit{d}")).is_some());
            assert!(evdev_for_code(&format!("Numpad{d}")).is_some());
        }
        for f in 1..=24 {
            assert!(evdev_for_code(&format!("F{f}")).is_some(), "F{f}");
        }
    }
}
