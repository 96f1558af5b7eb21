//! Clipboard and primary selection between the desktop and the browsers.
//!
//! The Wayland side (`wayland/clipboard.rs`) only moves bytes with a MIME type; this module
//! holds what the rest of the streamer shares about them: the size limit, the binary wire
//! messages (kind 0x05 server → client, 0x11 client → server, docs/protocol.md) and the hub
//! that hands a new server selection to every *controller* (viewers never see or set the
//! clipboard: it may hold secrets, and setting it is input).
//!
//! Both selections travel as their own messages: the browser has no primary selection, so
//! it keeps the server's primary apart and sends its own copied text as both, which makes
//! a middle-click paste on the desktop paste what was last copied in the browser.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;

use crate::pipeline::fanout::Viewer;
use crate::proto::{ProtoError, ServerMessage, kind};

/// Default for `SKERRY_CLIPBOARD_MAX`: the largest selection moved either way.
pub const DEFAULT_MAX: usize = 16 << 20;
/// Longest MIME type name in a clipboard message.
pub const MAX_MIME: usize = 255;
/// Bytes in front of the MIME type: kind, selection, MIME length (u16).
pub const HEADER_LEN: usize = 4;

/// The MIME types offered for text, best first; the first is what the browser sends.
pub const TEXT_MIMES: [&str; 5] = [
    "text/plain;charset=utf-8",
    "UTF8_STRING",
    "text/plain",
    "TEXT",
    "STRING",
];
pub const PNG_MIME: &str = "image/png";

/// Which selection: the clipboard (copy / paste) or the primary selection (select /
/// middle-click).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selection {
    Clipboard,
    Primary,
}

impl Selection {
    pub fn wire(self) -> u8 {
        match self {
            Self::Clipboard => 0,
            Self::Primary => 1,
        }
    }

    pub fn from_wire(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Clipboard),
            1 => Some(Self::Primary),
            _ => None,
        }
    }
}

/// One selection's content in one MIME type.
#[derive(Clone, PartialEq, Eq)]
pub struct ClipboardData {
    pub selection: Selection,
    pub mime: String,
    pub data: Arc<[u8]>,
}

impl std::fmt::Debug for ClipboardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipboardData")
            .field("selection", &self.selection)
            .field("mime", &self.mime)
            .field("len", &self.data.len())
            .finish()
    }
}

impl ClipboardData {
    pub fn is_text(&self) -> bool {
        TEXT_MIMES.contains(&self.mime.as_str())
    }
}

/// What the desktop's selection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardEvent {
    /// An application set the selection; its content in the best type offered.
    Changed(ClipboardData),
    /// An application set a selection larger than the limit; nothing was sent.
    TooBig {
        selection: Selection,
        mime: String,
        limit: usize,
    },
}

/// Reads `SKERRY_CLIPBOARD_MAX` (bytes; `0` turns clipboard sync off).
pub fn parse_max(value: Option<&str>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_MAX),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            format!("SKERRY_CLIPBOARD_MAX={v:?}: expected a size in bytes (0 turns it off)")
        }),
    }
}

/// The process's limit, read from the environment once.
pub fn max() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        parse_max(std::env::var("SKERRY_CLIPBOARD_MAX").ok().as_deref()).unwrap_or(DEFAULT_MAX)
    })
}

/// The largest client clipboard message the WebSocket lets through: content up to the
/// default limit is read even when the configured one is lower, so the sender gets a
/// message instead of a closed connection.
pub fn max_client_message() -> usize {
    max().max(DEFAULT_MAX) + HEADER_LEN + MAX_MIME
}

fn write(kind: u8, data: &ClipboardData) -> Vec<u8> {
    let mime = &data.mime.as_bytes()[..data.mime.len().min(MAX_MIME)];
    let mut out = Vec::with_capacity(HEADER_LEN + mime.len() + data.data.len());
    out.push(kind);
    out.push(data.selection.wire());
    out.extend_from_slice(&(mime.len() as u16).to_le_bytes());
    out.extend_from_slice(mime);
    out.extend_from_slice(&data.data);
    out
}

/// The server → client message (kind 0x05).
pub fn server_message(data: &ClipboardData) -> Vec<u8> {
    write(kind::CLIPBOARD, data)
}

/// A client → server message (kind 0x11); used by tests and tools.
pub fn client_message(data: &ClipboardData) -> Vec<u8> {
    write(kind::CLIPBOARD_IN, data)
}

/// Parses a binary client message. Version 1 accepts only the clipboard kind; everything
/// else is refused as unsupported data (close 1003), as before.
pub fn parse_client(msg: &[u8], limit: usize) -> Result<ClipboardData, ProtoError> {
    if msg.first() != Some(&kind::CLIPBOARD_IN) {
        return Err(ProtoError::Binary);
    }
    if msg.len() < HEADER_LEN {
        return Err(ProtoError::Malformed("clipboard header too short".into()));
    }
    let selection = Selection::from_wire(msg[1])
        .ok_or_else(|| ProtoError::Invalid(format!("clipboard selection {}", msg[1])))?;
    let mime_len = usize::from(u16::from_le_bytes([msg[2], msg[3]]));
    if mime_len > MAX_MIME || msg.len() < HEADER_LEN + mime_len {
        return Err(ProtoError::Malformed("clipboard MIME type length".into()));
    }
    let mime = std::str::from_utf8(&msg[HEADER_LEN..HEADER_LEN + mime_len])
        .map_err(|_| ProtoError::Malformed("clipboard MIME type is not UTF-8".into()))?;
    let data = &msg[HEADER_LEN + mime_len..];
    if data.len() > limit {
        return Err(ProtoError::TooBig);
    }
    let is_text = TEXT_MIMES.contains(&mime);
    if !is_text && mime != PNG_MIME {
        return Err(ProtoError::Invalid(format!("clipboard type {mime:?}")));
    }
    if is_text && std::str::from_utf8(data).is_err() {
        return Err(ProtoError::Invalid("clipboard text is not UTF-8".into()));
    }
    Ok(ClipboardData {
        selection,
        // Apps are offered every text type; one canonical name is enough to carry.
        mime: if is_text { TEXT_MIMES[0] } else { PNG_MIME }.to_owned(),
        data: Arc::from(data),
    })
}

/// Hands the desktop's selection changes to the connected controllers.
#[derive(Default)]
pub struct ClipboardHub {
    controllers: Mutex<Vec<Weak<Viewer>>>,
}

impl ClipboardHub {
    /// A controller joined; it gets every selection change from now on.
    pub fn add_controller(&self, viewer: &Arc<Viewer>) {
        if let Ok(mut list) = self.controllers.lock() {
            list.retain(|v| v.strong_count() > 0);
            list.push(Arc::downgrade(viewer));
        }
    }

    fn controllers(&self) -> Vec<Arc<Viewer>> {
        self.controllers
            .lock()
            .map(|l| l.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    pub fn deliver(&self, event: ClipboardEvent) {
        match event {
            ClipboardEvent::Changed(data) => {
                let msg = Bytes::from(server_message(&data));
                for v in self.controllers() {
                    v.send_clipboard(data.selection, msg.clone());
                }
            }
            ClipboardEvent::TooBig {
                selection,
                mime,
                limit,
            } => {
                let which = match selection {
                    Selection::Clipboard => "clipboard",
                    Selection::Primary => "primary selection",
                };
                let text = ServerMessage::Error {
                    code: "clipboard".into(),
                    message: format!(
                        "the remote {which} ({mime}) is larger than the {} limit and was not sent",
                        human(limit)
                    ),
                }
                .to_json();
                for v in self.controllers() {
                    v.send_text(text.clone());
                }
            }
        }
    }
}

fn human(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sel: Selection, s: &str) -> ClipboardData {
        ClipboardData {
            selection: sel,
            mime: TEXT_MIMES[0].into(),
            data: Arc::from(s.as_bytes()),
        }
    }

    #[test]
    fn server_message_layout() {
        let msg = server_message(&text(Selection::Primary, "hé"));
        let mut want = vec![0x05, 1, 24, 0];
        want.extend_from_slice(b"text/plain;charset=utf-8");
        want.extend_from_slice("hé".as_bytes());
        assert_eq!(msg, want);
    }

    #[test]
    fn client_message_round_trip_and_canonical_text_type() {
        let mut d = text(Selection::Clipboard, "x");
        d.mime = "UTF8_STRING".into();
        let parsed = parse_client(&client_message(&d), 16).expect("valid");
        assert_eq!(parsed.mime, TEXT_MIMES[0]);
        assert_eq!(&*parsed.data, b"x");
        let png = ClipboardData {
            selection: Selection::Primary,
            mime: PNG_MIME.into(),
            data: Arc::from(&[0x89, b'P', b'N', b'G', 0xff][..]),
        };
        assert_eq!(parse_client(&client_message(&png), 16), Ok(png));
    }

    #[test]
    fn client_message_refusals() {
        let ok = client_message(&text(Selection::Clipboard, "12345"));
        assert_eq!(parse_client(&ok, 4), Err(ProtoError::TooBig));
        assert_eq!(parse_client(&[0x10, 0, 0, 0], 4), Err(ProtoError::Binary));
        assert_eq!(parse_client(&[], 4), Err(ProtoError::Binary));
        assert!(matches!(
            parse_client(&[0x11, 0, 0], 4),
            Err(ProtoError::Malformed(_))
        ));
        assert!(matches!(
            parse_client(&[0x11, 2, 0, 0], 4),
            Err(ProtoError::Invalid(_))
        ));
        assert!(matches!(
            parse_client(&[0x11, 0, 9, 0, b'x'], 4),
            Err(ProtoError::Malformed(_))
        ));
        let mut html = text(Selection::Clipboard, "<b>");
        html.mime = "text/html".into();
        assert!(matches!(
            parse_client(&client_message(&html), 16),
            Err(ProtoError::Invalid(_))
        ));
        let mut bad = client_message(&text(Selection::Clipboard, ""));
        bad.push(0xff);
        assert!(matches!(
            parse_client(&bad, 16),
            Err(ProtoError::Invalid(_))
        ));
    }

    #[test]
    fn limit_from_env_value() {
        assert_eq!(parse_max(None), Ok(DEFAULT_MAX));
        assert_eq!(parse_max(Some("1024")), Ok(1024));
        assert!(parse_max(Some("lots")).is_err());
        assert_eq!(human(16 << 20), "16 MiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
