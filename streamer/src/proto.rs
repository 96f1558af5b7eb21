//! The wire protocol between the browser client and the streamer (docs/protocol.md,
//! version 1), in one place so the document, the server and the tests cannot drift apart.
//!
//! JSON control messages are typed serde enums: a message that does not fit them is refused
//! as a whole, with the close code the document names, instead of being half-understood.
//! Binary messages are built by hand into little-endian bytes; golden tests pin them.

use serde::{Deserialize, Deserializer, Serialize};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text message accepted from a client.
pub const MAX_TEXT_MESSAGE: usize = 64 * 1024;
/// Largest `text` field of a `text` message.
pub const MAX_TEXT_FIELD: usize = 4096;
/// Size of the header in front of every video message.
pub const VIDEO_HEADER_LEN: usize = 28;
/// Largest cursor image side.
pub const MAX_CURSOR_SIDE: u32 = 256;

/// WebSocket close codes of the protocol.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const VERSION: u16 = 4001;
}

/// Why a client message was refused; carries the close code and reason to send.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("message too big")]
    TooBig,
    #[error("unsupported data")]
    Binary,
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("first message must be hello")]
    NotHello,
    #[error("protocol version {0} not supported")]
    Version(u32),
    #[error("input flood: messages far over the allowed rate")]
    Flood,
}

impl ProtoError {
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooBig => close::TOO_BIG,
            Self::Binary => close::UNSUPPORTED_DATA,
            Self::Malformed(_) | Self::Invalid(_) | Self::NotHello | Self::Flood => close::POLICY,
            Self::Version(_) => close::VERSION,
        }
    }

    /// The close reason; WebSocket limits it to 123 bytes.
    pub fn close_reason(&self) -> String {
        let mut reason = self.to_string();
        if reason.len() > 120 {
            let mut end = 120;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        reason
    }
}

/// What a browser can decode, from its `hello`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoders {
    #[serde(default)]
    pub h264: bool,
    #[serde(default)]
    pub h264_444: bool,
    #[serde(default)]
    pub jpeg: bool,
}

/// Video codec selectable in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderKind {
    H264,
    Jpeg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

/// The encoding settings as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub encoder: EncoderKind,
    pub fps: u32,
    pub motion_crf: u8,
    pub refresh_crf: u8,
    pub jpeg_quality: u8,
    pub refresh_jpeg_quality: u8,
    pub chroma444: bool,
    pub paint_over_ms: u32,
    pub manual_resolution: Option<Resolution>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            encoder: EncoderKind::H264,
            fps: 60,
            motion_crf: 25,
            refresh_crf: 18,
            jpeg_quality: 85,
            refresh_jpeg_quality: 95,
            chroma444: true,
            paint_over_ms: 250,
            manual_resolution: None,
        }
    }
}

/// A client's `settings` message: only the fields it wants changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<EncoderKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion_crf: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_crf: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpeg_quality: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_jpeg_quality: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chroma444: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paint_over_ms: Option<u32>,
    /// Absent: unchanged; `null`: back to following the browser; a size: fixed.
    #[serde(
        default,
        deserialize_with = "present_or_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub manual_resolution: Option<Option<Resolution>>,
}

fn present_or_null<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

fn check_range(name: &str, value: u32, min: u32, max: u32) -> Result<(), ProtoError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ProtoError::Invalid(format!(
            "{name} {value} outside {min}..={max}"
        )))
    }
}

impl Settings {
    /// The settings with `patch` applied, or why the patch is refused (nothing applied).
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, ProtoError> {
        let mut s = self.clone();
        if let Some(v) = patch.encoder {
            s.encoder = v;
        }
        if let Some(v) = patch.fps {
            check_range("fps", v, 1, 120)?;
            s.fps = v;
        }
        if let Some(v) = patch.motion_crf {
            check_range("motion_crf", v.into(), 0, 51)?;
            s.motion_crf = v;
        }
        if let Some(v) = patch.refresh_crf {
            check_range("refresh_crf", v.into(), 0, 51)?;
            s.refresh_crf = v;
        }
        if let Some(v) = patch.jpeg_quality {
            check_range("jpeg_quality", v.into(), 1, 100)?;
            s.jpeg_quality = v;
        }
        if let Some(v) = patch.refresh_jpeg_quality {
            check_range("refresh_jpeg_quality", v.into(), 1, 100)?;
            s.refresh_jpeg_quality = v;
        }
        if let Some(v) = patch.chroma444 {
            s.chroma444 = v;
        }
        if let Some(v) = patch.paint_over_ms {
            check_range("paint_over_ms", v, 50, 5000)?;
            s.paint_over_ms = v;
        }
        if let Some(v) = patch.manual_resolution {
            if let Some(r) = v {
                check_range("manual_resolution.width", r.width, 16, 8192)?;
                check_range("manual_resolution.height", r.height, 16, 8192)?;
            }
            s.manual_resolution = v;
        }
        Ok(s)
    }
}

/// Messages a client sends as JSON text.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello {
        version: u32,
        #[serde(default)]
        decoders: Decoders,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<f64>,
    },
    Key {
        code: String,
        down: bool,
    },
    Text {
        text: String,
    },
    Pointer {
        x: f64,
        y: f64,
    },
    PointerRel {
        dx: f64,
        dy: f64,
    },
    Button {
        button: u8,
        down: bool,
    },
    Wheel {
        dx: f64,
        dy: f64,
        #[serde(default)]
        mode: u8,
    },
    ReleaseAll,
    Resize {
        width: u32,
        height: u32,
        #[serde(default = "one")]
        scale: f64,
    },
    Settings(SettingsPatch),
    Keyframe,
    Ping {
        t: f64,
    },
    /// A binary clipboard message (kind 0x11), never JSON.
    #[serde(skip)]
    Clipboard(crate::clipboard::ClipboardData),
}

fn one() -> f64 {
    1.0
}

impl ClientMessage {
    /// Parses one text message, enforcing the size and value limits of the protocol.
    pub fn parse(text: &str) -> Result<Self, ProtoError> {
        if text.len() > MAX_TEXT_MESSAGE {
            return Err(ProtoError::TooBig);
        }
        let msg: ClientMessage =
            serde_json::from_str(text).map_err(|e| ProtoError::Malformed(e.to_string()))?;
        msg.validate()?;
        Ok(msg)
    }

    fn validate(&self) -> Result<(), ProtoError> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(ProtoError::Invalid(format!("{name} is not finite")))
            }
        };
        match self {
            Self::Text { text } if text.len() > MAX_TEXT_FIELD => {
                Err(ProtoError::Invalid("text longer than 4096 bytes".into()))
            }
            Self::Key { code, .. } if code.is_empty() || code.len() > 64 => {
                Err(ProtoError::Invalid("key code".into()))
            }
            Self::Button { button, .. } if *button > 4 => {
                Err(ProtoError::Invalid(format!("button {button}")))
            }
            Self::Wheel { dx, dy, mode } => {
                finite("dx", *dx)?;
                finite("dy", *dy)?;
                if *mode > 2 {
                    return Err(ProtoError::Invalid(format!("wheel mode {mode}")));
                }
                Ok(())
            }
            Self::Pointer { x, y } => {
                finite("x", *x)?;
                finite("y", *y)
            }
            Self::PointerRel { dx, dy } => {
                finite("dx", *dx)?;
                finite("dy", *dy)
            }
            Self::Resize {
                width,
                height,
                scale,
            } => {
                check_range("width", *width, 16, 8192)?;
                check_range("height", *height, 16, 8192)?;
                if !(scale.is_finite() && (0.25..=8.0).contains(scale)) {
                    return Err(ProtoError::Invalid(format!("scale {scale}")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The role a connection plays; decided once per request by the server's access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Controller,
    Viewer,
}

/// Messages the server sends as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello {
        version: u32,
        server: String,
        role: Role,
        width: u32,
        height: u32,
        scale: f64,
    },
    Settings(Settings),
    Mode {
        width: u32,
        height: u32,
        scale: f64,
    },
    Pong {
        t: f64,
    },
    Error {
        code: String,
        message: String,
    },
    /// Who is connected; sent to everyone whenever a session comes or goes.
    Peers {
        peers: Vec<PeerInfo>,
    },
}

/// One connected session in a `peers` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The owner's user name, a share link's label (`guest #3f2a`), or the client's address
    /// when logins are off.
    pub identity: String,
    pub role: Role,
    /// This entry is the receiving connection itself.
    pub you: bool,
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Binary message kinds (byte 0).
pub mod kind {
    pub const VIDEO: u8 = 0x01;
    pub const CURSOR_IMAGE: u8 = 0x02;
    pub const CURSOR_POSITION: u8 = 0x03;
    /// Server → client: a selection changed on the desktop (`crate::clipboard`).
    pub const CLIPBOARD: u8 = 0x05;
    /// Client → server: set a selection on the desktop.
    pub const CLIPBOARD_IN: u8 = 0x11;
}

/// Video codec byte of a video message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    H264 = 1,
    Jpeg = 2,
}

/// Flag bits of a video message.
pub mod flags {
    pub const KEYFRAME: u8 = 1 << 0;
    pub const REFRESH: u8 = 1 << 1;
    pub const CHROMA444: u8 = 1 << 2;
    pub const END_OF_FRAME: u8 = 1 << 3;
    /// The payload starts with a damage list ([`super::write_damage`]): an H.264 P-frame
    /// changed the picture only inside these macroblock-aligned rectangles.
    pub const DAMAGE: u8 = 1 << 4;
    /// A JPEG tile of the paint-over refresh drawn over the H.264 picture (4:4:4); the
    /// H.264 stream itself goes on unchanged.
    pub const OVERLAY: u8 = 1 << 5;
}

/// Most rectangles a damage list carries; a frame with more is drawn whole.
pub const MAX_DAMAGE_RECTS: usize = 64;

/// Writes a damage list: a u16 count, then x, y, width, height (u16 each) per rectangle.
pub fn write_damage(out: &mut Vec<u8>, rects: &[crate::desktop::Rect]) {
    let n = rects.len().min(MAX_DAMAGE_RECTS);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    for r in &rects[..n] {
        for v in [r.x, r.y, r.width, r.height] {
            out.extend_from_slice(&(v.min(u16::MAX.into()) as u16).to_le_bytes());
        }
    }
}

/// Splits a video payload whose header has [`flags::DAMAGE`] into its damage list and the
/// codec data; other payloads come back whole with no list.
pub fn split_damage(
    flags: u8,
    payload: &[u8],
) -> Result<(Option<Vec<crate::desktop::Rect>>, &[u8]), ProtoError> {
    if flags & flags::DAMAGE == 0 {
        return Ok((None, payload));
    }
    let short = || ProtoError::Malformed("video damage list is truncated".into());
    let n = payload.get(..2).ok_or_else(short)?;
    let n = usize::from(u16::from_le_bytes([n[0], n[1]]));
    if n > MAX_DAMAGE_RECTS {
        return Err(ProtoError::Malformed(format!(
            "video damage list has {n} rectangles"
        )));
    }
    let body = payload.get(2..2 + n * 8).ok_or_else(short)?;
    let rects = body
        .chunks_exact(8)
        .map(|c| {
            let v = |i: usize| u32::from(u16::from_le_bytes([c[i], c[i + 1]]));
            crate::desktop::Rect::new(v(0), v(2), v(4), v(6))
        })
        .collect();
    Ok((Some(rects), &payload[2 + n * 8..]))
}

/// The 28-byte header of a video message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoHeader {
    pub codec: Codec,
    pub flags: u8,
    pub frame_id: u32,
    pub capture_us: u64,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub frame_width: u16,
    pub frame_height: u16,
}

impl VideoHeader {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(kind::VIDEO);
        out.push(self.codec as u8);
        out.push(self.flags);
        out.push(0);
        out.extend_from_slice(&self.frame_id.to_le_bytes());
        out.extend_from_slice(&self.capture_us.to_le_bytes());
        for v in [
            self.x,
            self.y,
            self.width,
            self.height,
            self.frame_width,
            self.frame_height,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The whole message: header then payload.
    pub fn message(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(VIDEO_HEADER_LEN + payload.len());
        self.write(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// Reads a header back (used by tests and tools that record streams).
    pub fn parse(msg: &[u8]) -> Option<(Self, &[u8])> {
        if msg.len() < VIDEO_HEADER_LEN || msg[0] != kind::VIDEO {
            return None;
        }
        let codec = match msg[1] {
            1 => Codec::H264,
            2 => Codec::Jpeg,
            _ => return None,
        };
        let u16_at = |o: usize| u16::from_le_bytes([msg[o], msg[o + 1]]);
        let mut id = [0u8; 4];
        id.copy_from_slice(&msg[4..8]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&msg[8..16]);
        Some((
            Self {
                codec,
                flags: msg[2],
                frame_id: u32::from_le_bytes(id),
                capture_us: u64::from_le_bytes(t),
                x: u16_at(16),
                y: u16_at(18),
                width: u16_at(20),
                height: u16_at(22),
                frame_width: u16_at(24),
                frame_height: u16_at(26),
            },
            &msg[VIDEO_HEADER_LEN..],
        ))
    }
}

/// A cursor image message; `None` image means hidden.
pub fn cursor_image_message(image: Option<&crate::desktop::CursorImage>) -> Vec<u8> {
    match image {
        Some(img)
            if img.width <= MAX_CURSOR_SIDE
                && img.height <= MAX_CURSOR_SIDE
                && img.rgba.len() == (img.width * img.height * 4) as usize =>
        {
            let mut out = Vec::with_capacity(16 + img.rgba.len());
            out.extend_from_slice(&[kind::CURSOR_IMAGE, 0, 0, 0]);
            out.extend_from_slice(&img.serial.to_le_bytes());
            for v in [img.hotspot_x, img.hotspot_y, img.width, img.height] {
                out.extend_from_slice(&(v.min(u16::MAX.into()) as u16).to_le_bytes());
            }
            out.extend_from_slice(&img.rgba);
            out
        }
        // Hidden, or an image the protocol cannot carry: the browser shows no cursor.
        other => {
            let serial = other.map_or(0, |i| i.serial);
            let mut out = vec![kind::CURSOR_IMAGE, 1, 0, 0];
            out.extend_from_slice(&serial.to_le_bytes());
            out.extend_from_slice(&[0; 8]);
            out
        }
    }
}

/// A cursor position message.
pub fn cursor_position_message(x: i32, y: i32) -> Vec<u8> {
    let mut out = vec![kind::CURSOR_POSITION, 0, 0, 0];
    out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(&y.to_le_bytes());
    out
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
