//! One viewer's WebSocket: the session start of docs/protocol.md, then two halves that never
//! wait for each other. The reader turns client messages into input, mode and settings
//! requests; the writer drains the viewer's latest-wins queue into the socket. A slow
//! socket therefore only makes the writer skip frames, never delays input.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role as WsRole, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use super::access::Access;
use super::limits::{Class, RateLimiter, Verdict};
use super::{AppState, Body};
use crate::desktop::{InputEvent, ModeRequest, PointerButton, WheelUnit};
use crate::pipeline::fanout::{Outgoing, Packet, Viewer};
use crate::proto::{self, ClientMessage, ProtoError, Role, ServerMessage};

/// How long a client may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames larger than this are refused by the WebSocket layer itself; anything over the
/// protocol's 64 KiB but under this is read and refused with 1009 by Skerry.
const WS_MAX_MESSAGE: usize = 1 << 20;
/// The clipboard message (kind 0x11) has its own, larger limit.
fn ws_max_message() -> usize {
    WS_MAX_MESSAGE.max(crate::clipboard::max_client_message() + 1)
}
/// The largest message a connection with `role` may send, decided before reading any: a
/// viewer sends only small text messages (hello, ping, keyframe), so anything over the
/// protocol's text limit is refused by the WebSocket layer before more of it is read.
fn max_message_for(role: Role) -> usize {
    match role {
        Role::Viewer => proto::MAX_TEXT_MESSAGE,
        Role::Controller => ws_max_message(),
    }
}
/// Close code when the server stops.
const GOING_AWAY: u16 = 1001;
/// A viewer whose socket takes nothing for this long is disconnected: its frames are
/// being skipped anyway, and the connection would otherwise hold its buffers forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a closing connection may take to say goodbye.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

fn bad_request(msg: &'static str) -> Response<Body> {
    super::text(StatusCode::BAD_REQUEST, msg)
}

/// Answers the upgrade request and runs the session on the upgraded connection.
pub fn upgrade(mut req: Request<Incoming>, state: Arc<AppState>, access: Access) -> Response<Body> {
    let headers = req.headers();
    let is_upgrade = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return bad_request("WebSocket upgrade expected\n");
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return bad_request("WebSocket version 13 expected\n");
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY) else {
        return bad_request("Sec-WebSocket-Key missing\n");
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    // The connection's place among the open ones stays taken while the session lasts.
    let slot = req
        .extensions()
        .get::<Arc<super::limits::Admitted>>()
        .cloned();
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let _slot = slot;
        match on_upgrade.await {
            Ok(upgraded) => {
                let max = max_message_for(access.role);
                let config = WebSocketConfig::default()
                    .max_message_size(Some(max))
                    .max_frame_size(Some(max));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    WsRole::Server,
                    Some(config),
                )
                .await;
                session(ws, state, access).await;
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
    });
    let mut resp = Response::new(Body::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

/// One client message as the session acts on it.
#[derive(Debug)]
pub(crate) enum Inbound {
    Message(ClientMessage),
    /// A microphone packet (kind 0x10), passed on as it is.
    Microphone(Bytes),
    /// Pings, pongs and other WebSocket frames with nothing for Skerry.
    Nothing,
}

/// Turns one WebSocket message from a client into what it means, mapping every misuse to
/// the error (and close code) of docs/protocol.md. Every client → server parse path goes
/// through here, so the fuzz target covers them all.
pub(crate) fn parse_inbound(
    msg: Result<Message, tungstenite::Error>,
) -> Result<Inbound, ProtoError> {
    match msg {
        Ok(Message::Text(t)) => ClientMessage::parse(t.as_str()).map(Inbound::Message),
        Ok(Message::Binary(b)) if b.first() == Some(&crate::audio::wire::KIND_MIC) => {
            if b.len() > crate::audio::wire::MAX_MIC_MESSAGE {
                Err(ProtoError::TooBig)
            } else {
                Ok(Inbound::Microphone(b))
            }
        }
        Ok(Message::Binary(b)) => {
            crate::clipboard::parse_client(&b, crate::clipboard::max_client_message())
                .map(|c| Inbound::Message(ClientMessage::Clipboard(c)))
        }
        Ok(_) => Ok(Inbound::Nothing),
        Err(tungstenite::Error::Capacity(_)) => Err(ProtoError::TooBig),
        Err(e) => Err(ProtoError::Malformed(e.to_string())),
    }
}

async fn session<S>(ws: WebSocketStream<S>, state: Arc<AppState>, access: Access)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Ok(Some(msg)) => parse_inbound(msg),
        Ok(None) => return,
        Err(_) => Err(ProtoError::NotHello),
    };
    let decoders = match hello {
        Ok(Inbound::Message(ClientMessage::Hello {
            version,
            decoders,
            width,
            height,
            scale,
        })) => {
            if version != proto::PROTOCOL_VERSION {
                let err = ProtoError::Version(version);
                let msg = ServerMessage::Error {
                    code: "version".into(),
                    message: err.to_string(),
                };
                let _ = sink.send(Message::Text(msg.to_json().into())).await;
                let _ = sink
                    .send(close_message(err.close_code(), &err.close_reason()))
                    .await;
                return;
            }
            if access.role == Role::Controller
                && let (Some(w), Some(h)) = (width, height)
                && (16..=8192).contains(&w)
                && (16..=8192).contains(&h)
            {
                state.pipeline.request_mode(ModeRequest {
                    width: w,
                    height: h,
                    scale: scale.filter(|s| (0.25..=8.0).contains(s)).unwrap_or(1.0),
                });
            }
            decoders
        }
        Ok(_) => {
            let err = ProtoError::NotHello;
            let _ = sink
                .send(close_message(err.close_code(), &err.close_reason()))
                .await;
            return;
        }
        Err(err) => {
            let _ = sink
                .send(close_message(err.close_code(), &err.close_reason()))
                .await;
            return;
        }
    };

    let pipeline = state.pipeline.clone();
    let mode = pipeline.mode();
    let greeting = [
        ServerMessage::Hello {
            version: proto::PROTOCOL_VERSION,
            server: state.server_name.clone(),
            role: access.role,
            width: mode.width,
            height: mode.height,
            scale: mode.scale,
        },
        ServerMessage::Settings(pipeline.settings()),
    ];
    for m in greeting {
        if sink.send(Message::Text(m.to_json().into())).await.is_err() {
            return;
        }
    }
    let viewer = pipeline.add_viewer(decoders);
    if access.role == Role::Controller {
        pipeline.clipboard.add_controller(&viewer);
    }
    tracing::info!(viewer = viewer.id, who = %access.identity, "viewer joined");
    let info = super::presence::MemberInfo {
        sid: access.sid.clone(),
        link: access.link.clone(),
    };
    let mut member = state
        .auth
        .presence
        .join(&viewer, &access.identity, access.role, info);

    let (close_tx, close_rx) = watch::channel(None::<(u16, String)>);
    let audio = state.audio.hub.subscribe();
    let mut writer = tokio::spawn(write_loop(
        sink,
        viewer.clone(),
        audio,
        state.clone(),
        close_rx,
        state.stopping.clone(),
    ));

    let mut stopping = state.stopping.clone();
    let mut farewell = (proto::close::NORMAL, String::new());
    let mut limiter = RateLimiter::new(Instant::now());
    let mut writer_done = false;
    // The grant ends with the session: an owner's cookie or a share link running out closes
    // the socket then, as a revocation does.
    let ends = access.expires.map(|at| {
        let left = Duration::from_secs(at.saturating_sub(super::auth::unix_now()));
        tokio::time::Instant::now() + left
    });
    let expired = async move {
        match ends {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let mut expired = std::pin::pin!(expired);
    loop {
        let next = tokio::select! {
            m = stream.next() => m,
            () = &mut expired => {
                tracing::info!(viewer = viewer.id, who = %access.identity, "session ended: closing");
                farewell = (proto::close::POLICY, "session expired".into());
                break;
            }
            () = super::stopped(&mut stopping) => {
                farewell = (GOING_AWAY, "server stopping".into());
                break;
            }
            () = member.revoked() => {
                tracing::info!(viewer = viewer.id, who = %access.identity, "access revoked: closing");
                farewell = (proto::close::POLICY, "access revoked".into());
                break;
            }
            // The writer gave up (the socket failed or did not drain): the session is over.
            _ = &mut writer => {
                writer_done = true;
                break;
            }
        };
        let Some(msg) = next else { break };
        if matches!(msg, Ok(Message::Close(_))) {
            let _ = close_tx.send(Some((proto::close::NORMAL, String::new())));
            break;
        }
        let parsed = parse_inbound(msg).and_then(|inbound| {
            let class = match &inbound {
                Inbound::Message(m) => Class::of(m),
                Inbound::Microphone(_) => Class::Audio,
                Inbound::Nothing => return Ok(inbound),
            };
            match limiter.check(class, Instant::now()) {
                Verdict::Pass => Ok(inbound),
                Verdict::Drop => {
                    pipeline.stats.input_dropped.fetch_add(1, Ordering::Relaxed);
                    Ok(Inbound::Nothing)
                }
                Verdict::Flood => Err(ProtoError::Flood),
            }
        });
        match parsed {
            Ok(Inbound::Message(m)) => handle(m, &state, &viewer, &access),
            // Only a controller's microphone reaches the desktop.
            Ok(Inbound::Microphone(b)) => {
                if access.role == Role::Controller {
                    state.audio.microphone(b);
                }
            }
            Ok(Inbound::Nothing) => {}
            Err(err) => {
                tracing::info!(
                    viewer = viewer.id,
                    error = %err,
                    dropped = limiter.dropped,
                    "closing a misbehaving viewer"
                );
                if err == ProtoError::Flood {
                    pipeline.stats.flood_closes.fetch_add(1, Ordering::Relaxed);
                }
                let _ = close_tx.send(Some((err.close_code(), err.close_reason())));
                // Read on until the client answers the close or the grace time runs out.
                let drain = async {
                    while let Some(Ok(m)) = stream.next().await {
                        if matches!(m, Message::Close(_)) {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
                break;
            }
        }
    }
    if close_tx.borrow().is_none() {
        let _ = close_tx.send(Some(farewell));
    }
    if !writer_done
        && tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
    {
        // The close could not be written: do not leave the task behind with the socket.
        writer.abort();
    }
    pipeline.remove_viewer(viewer.id);
    drop(member);
    tracing::info!(viewer = viewer.id, dropped = limiter.dropped, "viewer left");
}

/// Sends one message, giving up when the socket has not taken it in [`SEND_TIMEOUT`].
async fn send_within<K>(sink: &mut K, msg: Message) -> Result<(), SendError>
where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)).await {
        Ok(r) => r.map_err(SendError::Socket),
        Err(_) => Err(SendError::Stalled),
    }
}

/// Why the writer stopped sending.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("socket: {0}")]
    Socket(tungstenite::Error),
    #[error("the socket took nothing for {SEND_TIMEOUT:?}")]
    Stalled,
}

/// Sends every message of one video frame, then flushes, within [`SEND_TIMEOUT`].
async fn send_packet<K>(sink: &mut K, packet: &Packet) -> Result<(), SendError>
where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let all = async {
        for m in &packet.messages {
            sink.feed(Message::Binary(m.clone())).await?;
        }
        sink.flush().await
    };
    match tokio::time::timeout(SEND_TIMEOUT, all).await {
        Ok(r) => r.map_err(SendError::Socket),
        Err(_) => Err(SendError::Stalled),
    }
}

async fn write_loop<K>(
    mut sink: K,
    viewer: Arc<Viewer>,
    audio: crate::audio::Subscription,
    state: Arc<AppState>,
    mut close: watch::Receiver<Option<(u16, String)>>,
    mut stopping: watch::Receiver<bool>,
) where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    loop {
        let out = tokio::select! {
            biased;
            req = close_requested(&mut close) => {
                if let Some((code, reason)) = req {
                    let _ = send_within(&mut sink, close_message(code, &reason)).await;
                }
                return;
            }
            () = super::stopped(&mut stopping) => {
                let _ = send_within(&mut sink, close_message(GOING_AWAY, "server stopping")).await;
                return;
            }
            out = viewer.next() => out,
            a = audio.next() => Outgoing::Binary(a),
        };
        let sent = match out {
            Outgoing::Text(t) => send_within(&mut sink, Message::Text(t.into())).await,
            Outgoing::Binary(b) => send_within(&mut sink, Message::Binary(b)).await,
            Outgoing::Video(packet) => send_packet(&mut sink, &packet).await.inspect(|()| {
                if let Some(last) = packet.messages.last() {
                    crate::latency::probe().sent(viewer.id, last, state.pipeline.epoch());
                }
            }),
            Outgoing::NeedKeyframe => {
                state.pipeline.request_keyframe();
                Ok(())
            }
            Outgoing::Stuck => {
                let _ = send_within(
                    &mut sink,
                    close_message(proto::close::POLICY, "viewer too slow"),
                )
                .await;
                return;
            }
        };
        if let Err(e) = sent {
            tracing::info!(viewer = viewer.id, error = %e, "viewer connection dropped");
            return;
        }
    }
}

async fn close_requested(rx: &mut watch::Receiver<Option<(u16, String)>>) -> Option<(u16, String)> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|v| v.clone())
}

/// Acts on one client message after the hello.
fn handle(msg: ClientMessage, state: &AppState, viewer: &Viewer, access: &Access) {
    let pipeline = &state.pipeline;
    let controller = access.role == Role::Controller;
    let input = |e: InputEvent| {
        if controller && let Some(c) = pipeline.control() {
            crate::latency::probe().input(viewer.id);
            c.inject(e);
        }
    };
    match msg {
        ClientMessage::Hello { .. } => {}
        ClientMessage::Key { code, down } => input(InputEvent::Key {
            code,
            pressed: down,
        }),
        ClientMessage::Text { text } => input(InputEvent::Text(text)),
        ClientMessage::Pointer { x, y } => input(InputEvent::PointerMotion { x, y }),
        ClientMessage::PointerRel { dx, dy } => input(InputEvent::PointerRelative { dx, dy }),
        ClientMessage::Button { button, down } => {
            let button = match button {
                0 => PointerButton::Left,
                1 => PointerButton::Middle,
                2 => PointerButton::Right,
                3 => PointerButton::Back,
                _ => PointerButton::Forward,
            };
            input(InputEvent::Button {
                button,
                pressed: down,
            });
        }
        ClientMessage::Wheel { dx, dy, mode } => {
            let unit = match mode {
                0 => WheelUnit::Pixel,
                1 => WheelUnit::Line,
                _ => WheelUnit::Page,
            };
            input(InputEvent::Wheel { dx, dy, unit });
        }
        ClientMessage::ReleaseAll => input(InputEvent::ReleaseAll),
        ClientMessage::Resize {
            width,
            height,
            scale,
        } => {
            if controller {
                pipeline.request_mode(ModeRequest {
                    width,
                    height,
                    scale,
                });
            }
        }
        ClientMessage::Settings(patch) => {
            if !controller {
                return;
            }
            if let Err(e) = pipeline.apply_settings(&patch) {
                viewer.send_text(
                    ServerMessage::Error {
                        code: "settings".into(),
                        message: e.to_string(),
                    }
                    .to_json(),
                );
                viewer.send_text(ServerMessage::Settings(pipeline.settings()).to_json());
            }
        }
        ClientMessage::Keyframe => pipeline.request_keyframe(),
        ClientMessage::Clipboard(data) => {
            if !controller {
                return;
            }
            if data.data.len() > crate::clipboard::max() {
                let message = format!(
                    "the clipboard content ({} bytes) is over the server's {} byte limit and was not set",
                    data.data.len(),
                    crate::clipboard::max()
                );
                let code = "clipboard".into();
                viewer.send_text(ServerMessage::Error { code, message }.to_json());
            } else if let Some(c) = pipeline.control() {
                c.set_clipboard(data);
            }
        }
        ClientMessage::Ping { t } => viewer.send_text(ServerMessage::Pong { t }.to_json()),
    }
}
