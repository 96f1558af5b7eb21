//! What an uploaded file may be called. A browser sends only a base name, but the server
//! cannot trust it: every name is reduced to one path component that cannot climb out of
//! the upload directory, hide itself as a dotfile (which also keeps it clear of the
//! `.skerry-upload-*` partial files), or carry bytes a terminal or file manager would
//! misrender. Existing files are never replaced: a taken name gets a ` (1)` suffix.

use std::path::Path;

/// Longest name kept, in bytes, leaving room for a ` (NNN)` suffix under the usual
/// 255-byte limit of Linux file systems.
pub const MAX_NAME_BYTES: usize = 240;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is empty")]
    Empty,
    #[error("the file name contains a control character (such as NUL or a newline)")]
    ControlCharacter,
    #[error("the file name \"{0}\" has no usable part (it is only dots or slashes)")]
    NothingLeft(String),
    #[error("the file name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
}

/// Reduces `raw` to a safe single file name: the last `/` or `\` separated component,
/// without leading dots or surrounding white space. Control characters are refused
/// rather than dropped, so the name on disk is never a surprise.
pub fn sanitise(raw: &str) -> Result<String, NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    let last = raw
        .rsplit(['/', '\\'])
        .map(str::trim)
        .find(|c| !c.is_empty() && !c.chars().all(|ch| ch == '.'))
        .unwrap_or("");
    let name = last.trim_start_matches('.').trim();
    if name.is_empty() {
        return Err(NameError::NothingLeft(raw.to_owned()));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    Ok(name.to_owned())
}

/// The `n`th candidate for `name`: `name` itself, then `stem (n).ext`.
pub fn candidate(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let (stem, ext) = match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some(ext) if name.len() > ext.len() + 1 => (&name[..name.len() - ext.len() - 1], ext),
        _ => (name, ""),
    };
    if ext.is_empty() {
        format!("{stem} ({n})")
    } else {
        format!("{stem} ({n}).{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn traversal_is_reduced_to_the_last_component() {
        assert_eq!(sanitise("../../etc/passwd").as_deref(), Ok("passwd"));
        assert_eq!(sanitise("/abs/path").as_deref(), Ok("path"));
        assert_eq!(sanitise("a/../../b").as_deref(), Ok("b"));
        assert_eq!(sanitise("..\\..\\win.ini").as_deref(), Ok("win.ini"));
        assert_eq!(sanitise("dir/..").as_deref(), Ok("dir"));
        assert_eq!(sanitise(".bashrc").as_deref(), Ok("bashrc"));
        assert_eq!(sanitise(" report 1.pdf ").as_deref(), Ok("report 1.pdf"));
        assert_eq!(
            sanitise("héllo wörld.txt").as_deref(),
            Ok("héllo wörld.txt")
        );
    }

    #[test]
    fn names_with_nothing_usable_are_refused() {
        assert_eq!(sanitise(""), Err(NameError::Empty));
        assert!(matches!(sanitise(".."), Err(NameError::NothingLeft(_))));
        assert!(matches!(sanitise("."), Err(NameError::NothingLeft(_))));
        assert!(matches!(sanitise("/"), Err(NameError::NothingLeft(_))));
        assert!(matches!(sanitise("../.."), Err(NameError::NothingLeft(_))));
        assert_eq!(sanitise("a\0b"), Err(NameError::ControlCharacter));
        assert_eq!(sanitise("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(sanitise(&"x".repeat(300)), Err(NameError::TooLong));
    }

    #[test]
    fn candidates_keep_the_extension() {
        assert_eq!(candidate("a.txt", 0), "a.txt");
        assert_eq!(candidate("a.txt", 1), "a (1).txt");
        assert_eq!(candidate("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(candidate("README", 3), "README (3)");
    }

    proptest! {
        #[test]
        fn a_sanitised_name_is_one_plain_component(raw in ".{0,300}") {
            if let Ok(name) = sanitise(&raw) {
                prop_assert!(!name.is_empty());
                prop_assert!(!name.contains('/') && !name.contains('\\'));
                prop_assert!(!name.starts_with('.'));
                prop_assert!(!name.chars().any(char::is_control));
                prop_assert!(name.len() <= MAX_NAME_BYTES);
            }
        }
    }
}
