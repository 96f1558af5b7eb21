//! A scripted viewer speaking Skerry's wire protocol (docs/protocol.md) over a plain
//! loopback WebSocket: it counts what arrives, drives input at a fixed rate, times input →
//! first frame after it, and keeps enough of the stream to rebuild the last picture the
//! browser would show (the H.264 access units since the last keyframe with what each one
//! draws, or a canvas of decoded JPEG stripes).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("connecting to the streamer: {0}")]
    Connect(#[from] std::io::Error),
    #[error("WebSocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the streamer closed the session: {0}")]
    Closed(String),
    #[error("no hello from the streamer within 10 s")]
    NoHello,
}

use skerry_streamer::desktop::Rect;
use skerry_streamer::proto::{Codec, VideoHeader, flags, split_damage};

/// Input the viewer sends while it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    Nothing,
    /// A key press and release every `period`; the time to the next frame is a latency sample.
    Typing {
        period: Duration,
    },
    /// Hold the left button at `from` and sweep the pointer horizontally, one step a frame.
    Drag {
        from: (u32, u32),
        span: u32,
    },
}

/// What one measurement window saw.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub secs: f64,
    pub frames: u64,
    pub keyframes: u64,
    pub refreshes: u64,
    /// Every byte of every message received (video, cursor, control).
    pub bytes: u64,
    pub latencies_ms: Vec<f64>,
    /// Input events that saw no frame before the next one was sent.
    pub missed: u64,
}

/// What the browser draws of one decoded H.264 frame.
#[derive(Clone, Debug, Default)]
pub struct Draw {
    /// Only these rectangles (a P-frame's damage list); `None`: the whole frame.
    pub rects: Option<Vec<Rect>>,
    /// JPEG 4:4:4 refresh tiles drawn over it afterwards, as (x, y, JPEG).
    pub tiles: Vec<(u32, u32, Vec<u8>)>,
}

/// The latest picture, kept in the form it arrived in.
#[derive(Clone)]
pub enum Picture {
    None,
    /// Annex-B access units from the last keyframe on, and one [`Draw`] per access unit.
    H264 {
        stream: Vec<u8>,
        draws: Vec<Draw>,
    },
    /// The output, RGB, with every JPEG stripe painted in.
    Rgb {
        width: u32,
        height: u32,
        rgb: Vec<u8>,
    },
}

pub struct Viewer {
    ws: WebSocketStream<TcpStream>,
    pub picture: Picture,
    /// The picture as it stood just before the first paint-over refresh after
    /// [`Viewer::watch_for_refresh`]: the last frame at motion quality.
    pub motion: Option<Picture>,
    watching: bool,
    /// The frame being received carries a keyframe (its last message may be a tile).
    frame_key: bool,
}

impl Viewer {
    /// Connects, says hello (without a size, so the output stays as configured), applies
    /// `settings`, and waits for the server's hello.
    pub async fn connect(port: u16, settings: serde_json::Value) -> Result<Self, ViewerError> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        let url = format!("ws://127.0.0.1:{port}/ws");
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await?;
        let mut v = Self {
            ws,
            picture: Picture::None,
            motion: None,
            watching: false,
            frame_key: false,
        };
        v.send(serde_json::json!({
            "type": "hello", "version": 1,
            "decoders": {"h264": true, "h264_444": false, "jpeg": true}
        }))
        .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, v.ws.next()).await {
                Err(_) | Ok(None) => return Err(ViewerError::NoHello),
                Ok(Some(msg)) => {
                    if let Message::Text(t) = msg?
                        && t.contains("\"hello\"")
                    {
                        break;
                    }
                }
            }
        }
        let mut s = settings;
        s["type"] = "settings".into();
        v.send(s).await?;
        v.send(serde_json::json!({"type": "keyframe"})).await?;
        Ok(v)
    }

    pub async fn send(&mut self, value: serde_json::Value) -> Result<(), ViewerError> {
        self.ws.send(Message::text(value.to_string())).await?;
        Ok(())
    }

    /// Takes one message into account; returns whether it completed a frame.
    fn absorb(&mut self, msg: Message, c: &mut Counts) -> Result<bool, ViewerError> {
        match msg {
            Message::Binary(b) => {
                c.bytes += b.len() as u64;
                let Some((h, payload)) = VideoHeader::parse(&b) else {
                    return Ok(false);
                };
                if self.watching && h.flags & flags::REFRESH != 0 {
                    self.motion = Some(self.picture.clone());
                    self.watching = false;
                }
                let Ok((rects, data)) = split_damage(h.flags, payload) else {
                    tracing::warn!("a video message with a bad damage list");
                    return Ok(false);
                };
                self.frame_key |= h.flags & flags::KEYFRAME != 0;
                match (h.codec, h.flags & flags::OVERLAY != 0) {
                    (Codec::H264, _) => {
                        if h.flags & flags::KEYFRAME != 0 {
                            self.picture = Picture::H264 {
                                stream: Vec::new(),
                                draws: Vec::new(),
                            };
                        }
                        // P-frames before the first keyframe cannot be decoded: not kept.
                        if let Picture::H264 { stream, draws } = &mut self.picture {
                            stream.extend_from_slice(data);
                            draws.push(Draw {
                                rects,
                                tiles: Vec::new(),
                            });
                        }
                    }
                    (Codec::Jpeg, true) => {
                        if let Picture::H264 { draws, .. } = &mut self.picture
                            && let Some(last) = draws.last_mut()
                        {
                            last.tiles.push((h.x.into(), h.y.into(), data.to_vec()));
                        }
                    }
                    (Codec::Jpeg, false) => paint_jpeg(
                        &mut self.picture,
                        h.frame_width.into(),
                        h.frame_height.into(),
                        h.x.into(),
                        h.y.into(),
                        data,
                    ),
                }
                let end = h.flags & flags::END_OF_FRAME != 0;
                if end {
                    count(c, h.flags, std::mem::take(&mut self.frame_key));
                }
                Ok(end)
            }
            Message::Text(t) => {
                c.bytes += t.len() as u64;
                Ok(false)
            }
            Message::Close(f) => Err(ViewerError::Closed(
                f.map(|f| f.reason.to_string()).unwrap_or_default(),
            )),
            _ => Ok(false),
        }
    }

    /// Receives for `secs` while driving input; returns what arrived.
    pub async fn run(&mut self, secs: f64, drive: Drive) -> Result<Counts, ViewerError> {
        let mut c = Counts::default();
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(secs);
        let step = match drive {
            Drive::Nothing => Duration::from_secs(3600),
            Drive::Typing { period } => period,
            Drive::Drag { .. } => Duration::from_millis(16),
        };
        let mut next_input = start + step;
        let mut pending: Option<Instant> = None;
        let mut n: u64 = 0;
        if let Drive::Drag { from, .. } = drive {
            self.send(serde_json::json!({"type": "pointer", "x": from.0, "y": from.1}))
                .await?;
            self.send(serde_json::json!({"type": "button", "button": 0, "down": true}))
                .await?;
        }
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            if now >= next_input {
                n += 1;
                next_input += step;
                match drive {
                    Drive::Nothing => {}
                    Drive::Typing { .. } => {
                        if pending.take().is_some() {
                            c.missed += 1;
                        }
                        // A letter, then Backspace every other time, so the line never grows.
                        let code = if n % 2 == 1 { "KeyA" } else { "Backspace" };
                        pending = Some(Instant::now());
                        self.send(serde_json::json!({"type": "key", "code": code, "down": true}))
                            .await?;
                        self.send(serde_json::json!({"type": "key", "code": code, "down": false}))
                            .await?;
                    }
                    Drive::Drag { from, span } => {
                        // A triangle wave: right for `span` pixels, then back, 8 px a step.
                        let steps = u64::from(span / 8).max(1);
                        let phase = n % (2 * steps);
                        let off = if phase < steps {
                            phase
                        } else {
                            2 * steps - phase
                        } * 8;
                        let x = from.0 + off as u32;
                        self.send(serde_json::json!({"type": "pointer", "x": x, "y": from.1}))
                            .await?;
                    }
                }
                continue;
            }
            let wait = next_input.min(end).saturating_duration_since(now);
            let Ok(msg) = tokio::time::timeout(wait, self.ws.next()).await else {
                continue;
            };
            let Some(msg) = msg else {
                return Err(ViewerError::Closed("end of stream".into()));
            };
            if self.absorb(msg?, &mut c)?
                && let Some(t) = pending.take()
            {
                c.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if let Drive::Drag { from, .. } = drive {
            // Back to where the press began before letting go, so the window is where the
            // next measurement expects its title bar.
            self.send(serde_json::json!({"type": "pointer", "x": from.0, "y": from.1}))
                .await?;
            self.send(serde_json::json!({"type": "button", "button": 0, "down": false}))
                .await?;
        }
        c.secs = start.elapsed().as_secs_f64();
        Ok(c)
    }

    /// Keeps the picture the next paint-over refresh replaces (see [`Viewer::motion`]).
    pub fn watch_for_refresh(&mut self) {
        self.motion = None;
        self.watching = true;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

fn count(c: &mut Counts, frame_flags: u8, keyframe: bool) {
    c.frames += 1;
    if keyframe {
        c.keyframes += 1;
    }
    if frame_flags & flags::REFRESH != 0 {
        c.refreshes += 1;
    }
}

/// Decodes one JPEG region and paints it into the RGB canvas of the frame's size.
fn paint_jpeg(picture: &mut Picture, fw: u32, fh: u32, x: u32, y: u32, jpeg: &[u8]) {
    let fresh =
        !matches!(picture, Picture::Rgb { width, height, .. } if *width == fw && *height == fh);
    if fresh {
        *picture = Picture::Rgb {
            width: fw,
            height: fh,
            rgb: vec![0; (fw * fh * 3) as usize],
        };
    }
    let Picture::Rgb { rgb, .. } = picture else {
        return;
    };
    paint_jpeg_into(rgb, fw, fh, x, y, jpeg);
}

/// Decodes one JPEG region into an RGB canvas `fw` x `fh`, at (x, y).
pub fn paint_jpeg_into(rgb: &mut [u8], fw: u32, fh: u32, x: u32, y: u32, jpeg: &[u8]) {
    let Ok(img) = turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB) else {
        tracing::warn!("a JPEG region did not decode");
        return;
    };
    for row in 0..img.height as u32 {
        let dy = y + row;
        if dy >= fh {
            break;
        }
        let w = (img.width as u32).min(fw.saturating_sub(x)) as usize;
        let src = row as usize * img.pitch;
        let dst = ((dy * fw + x) * 3) as usize;
        rgb[dst..dst + w * 3].copy_from_slice(&img.pixels[src..src + w * 3]);
    }
}
