//! The real server on 127.0.0.1:0, over TLS and plain HTTP, with real WebSocket clients
//! (tokio-tungstenite) and the synthetic desktop behind it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use skerry_streamer::desktop::{InputEvent, PointerButton};
use skerry_streamer::pipeline::{Pipeline, PipelineConfig};
use skerry_streamer::proto::{self, Settings, VideoHeader};
use skerry_streamer::server::{self, AppState, assets, tls};
use skerry_streamer::synthetic::{Scene, SyntheticSource};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const DEADLINE: Duration = Duration::from_secs(30);

struct TestServer {
    addr: std::net::SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
    pipeline: Arc<Pipeline>,
    source: Arc<SyntheticSource>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    _status_dir: tempfile::TempDir,
    status_file: std::path::PathBuf,
}

impl TestServer {
    async fn start(use_tls: bool) -> Self {
        let pipeline = Pipeline::start(PipelineConfig {
            settings: Settings {
                paint_over_ms: 100,
                ..Settings::default()
            },
            x264_preset: "ultrafast".into(),
            x264_threads: 1,
        });
        let source =
            SyntheticSource::start(Scene::Scroll { rows: 2 }, 320, 240, 30, pipeline.clone());
        pipeline.attach_control(source.clone());
        let status_dir = tempfile::tempdir().expect("tempdir");
        let status_file = status_dir.path().join("status.json");
        std::fs::write(
            &status_file,
            r#"{"ready":true,"services":{"compositor":"running"}}"#,
        )
        .expect("status file");
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState {
            pipeline: pipeline.clone(),
            status_file: Some(status_file.clone()),
            server_name: "skerry-test".into(),
            stopping,
            files: Arc::new(skerry_streamer::files::Files::new(
                skerry_streamer::files::FilesConfig {
                    upload_dir: status_dir.path().join("Desktop"),
                    download_dir: status_dir.path().join("Desktop"),
                    max_upload: skerry_streamer::files::DEFAULT_MAX_UPLOAD,
                },
            )),
            audio: Default::default(),
            auth: Default::default(),
        });
        let (acceptor, connector) = if use_tls {
            let (certs, key) = tls::self_signed(&tls::default_names()).expect("cert");
            let mut roots = rustls::RootCertStore::empty();
            roots.add(certs[0].clone()).expect("trust our cert");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let client = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            (
                Some(tls::acceptor(certs, key).expect("acceptor")),
                Some(tokio_rustls::TlsConnector::from(Arc::new(client))),
            )
        } else {
            (None, None)
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut stop_rx = stop.subscribe();
        let task = tokio::spawn(server::serve(
            listener,
            acceptor,
            state,
            async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            },
            Duration::from_secs(2),
        ));
        Self {
            addr,
            tls: connector,
            pipeline,
            source,
            stop,
            task: Some(task),
            _status_dir: status_dir,
            status_file,
        }
    }

    async fn connect(&self) -> Box<dyn Io> {
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        match &self.tls {
            Some(c) => Box::new(
                c.connect(ServerName::try_from("localhost").expect("name"), tcp)
                    .await
                    .expect("TLS handshake with the generated certificate"),
            ),
            None => Box::new(tcp),
        }
    }

    async fn get(&self, path: &str) -> (u16, String, Bytes) {
        let (status, headers, body) = self.get_with_headers(path).await;
        let ctype = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, ctype, body)
    }

    async fn get_with_headers(&self, path: &str) -> (u16, hyper::HeaderMap, Bytes) {
        let io = hyper_util::rt::TokioIo::new(self.connect().await);
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("http");
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = send.send_request(req).await.expect("response");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, body)
    }

    async fn ws(&self) -> WebSocketStream<Box<dyn Io>> {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://localhost:{}/ws", self.addr.port());
        let (ws, resp) = tokio_tungstenite::client_async(url, self.connect().await)
            .await
            .expect("WebSocket handshake");
        assert_eq!(resp.status().as_u16(), 101);
        ws
    }

    async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            tokio::time::timeout(DEADLINE, t)
                .await
                .expect("server stops")
                .expect("no panic");
        }
        self.source.stop();
        self.pipeline.shutdown();
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

async fn next_msg(ws: &mut Ws) -> Message {
    tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("a message before the deadline")
        .expect("stream open")
        .expect("no protocol error")
}

async fn hello(ws: &mut Ws) -> serde_json::Value {
    let msg =
        r#"{"type":"hello","version":1,"decoders":{"h264":true,"h264_444":true,"jpeg":true}}"#;
    ws.send(Message::Text(msg.into()))
        .await
        .expect("send hello");
    let Message::Text(t) = next_msg(ws).await else {
        panic!("hello answer must be text")
    };
    serde_json::from_str(t.as_str()).expect("JSON")
}

/// Reads until a video message arrives; returns its header and codec data (after any
/// damage list).
async fn next_video(ws: &mut Ws) -> (VideoHeader, Vec<u8>) {
    loop {
        if let Message::Binary(b) = next_msg(ws).await
            && let Some((h, payload)) = VideoHeader::parse(&b)
        {
            let (_, data) = proto::split_damage(h.flags, payload).expect("a valid damage list");
            return (h, data.to_vec());
        }
    }
}

async fn expect_close(ws: &mut Ws, code: u16) {
    let end = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < end, "no close {code}");
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("deadline")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(
                    frame.code,
                    CloseCode::from(code),
                    "reason: {}",
                    frame.reason
                );
                return;
            }
            Some(Ok(Message::Close(None))) | None => panic!("closed without code {code}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error instead of close {code}: {e}"),
        }
    }
}

async fn serves_page_assets_and_health(use_tls: bool) {
    let s = TestServer::start(use_tls).await;
    let (status, ctype, body) = s.get("/").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(!body.is_empty());
    let (_, headers, _) = s.get_with_headers("/").await;
    let csp = headers["content-security-policy"].to_str().expect("ASCII");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        assets::all()
            .iter()
            .all(|(path, _)| !path.starts_with("/tests/")),
        "the client's tests are not served"
    );
    for (path, bytes) in assets::all() {
        let (status, ctype, body) = s.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(ctype, assets::content_type(path), "{path}");
        assert_eq!(&body[..], *bytes, "{path}");
    }
    assert_eq!(s.get("/no-such-file.js").await.0, 404);
    assert_eq!(s.get("/healthz").await.0, 200);
    let end = Instant::now() + DEADLINE;
    while s.get("/readyz").await.0 != 200 {
        assert!(Instant::now() < end, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The supervisor says not ready: so does the streamer.
    std::fs::write(&s.status_file, r#"{"ready":false}"#).expect("write");
    assert_eq!(s.get("/readyz").await.0, 503);
    let (status, ctype, body) = s.get("/api/status").await;
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["ready"], false);
    assert!(v["streamer"]["viewers"].is_number(), "{v}");
    assert!(v["streamer"]["encoder"].is_string(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_serves_page_assets_and_health() {
    serves_page_assets_and_health(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_page_assets_and_health() {
    serves_page_assets_and_health(true).await;
}

async fn session_start_and_input(use_tls: bool) {
    let s = TestServer::start(use_tls).await;
    let mut ws = s.ws().await;
    let h = hello(&mut ws).await;
    assert_eq!(h["type"], "hello");
    assert_eq!(h["version"], 1);
    assert_eq!(h["role"], "controller");
    let Message::Text(t) = next_msg(&mut ws).await else {
        panic!("settings must be text")
    };
    let settings: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
    assert_eq!(settings["type"], "settings");
    assert_eq!(settings["encoder"], "h264");
    // Who is connected: this one session, as a controller.
    let Message::Text(t) = next_msg(&mut ws).await else {
        panic!("peers must be text")
    };
    let peers: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
    assert_eq!(peers["type"], "peers");
    assert_eq!(peers["peers"][0]["role"], "controller");
    assert_eq!(peers["peers"][0]["you"], true);
    // The cursor image comes before the first frame, which is a keyframe (IDR with SPS).
    let Message::Binary(cursor) = next_msg(&mut ws).await else {
        panic!("cursor image expected")
    };
    assert_eq!(cursor[0], proto::kind::CURSOR_IMAGE);
    let (vh, payload) = next_video(&mut ws).await;
    assert_ne!(
        vh.flags & proto::flags::KEYFRAME,
        0,
        "first frame is a keyframe"
    );
    assert_eq!((vh.frame_width, vh.frame_height), (320, 240));
    assert_eq!(&payload[..4], &[0, 0, 0, 1], "Annex-B start code");
    assert_eq!(payload[4] & 0x1f, 7, "SPS first");

    for m in [
        r#"{"type":"key","code":"KeyA","down":true}"#,
        r#"{"type":"pointer","x":10,"y":20}"#,
        r#"{"type":"button","button":2,"down":true}"#,
        r#"{"type":"resize","width":640,"height":480,"scale":2}"#,
        r#"{"type":"ping","t":42}"#,
    ] {
        ws.send(Message::Text(m.into())).await.expect("send");
    }
    loop {
        if let Message::Text(t) = next_msg(&mut ws).await {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
            if v["type"] == "pong" {
                assert_eq!(v["t"], 42.0);
                break;
            }
        }
    }
    let inputs = s.source.inputs();
    assert!(inputs.contains(&InputEvent::Key {
        code: "KeyA".into(),
        pressed: true
    }));
    assert!(inputs.contains(&InputEvent::PointerMotion { x: 10.0, y: 20.0 }));
    assert!(inputs.contains(&InputEvent::Button {
        button: PointerButton::Right,
        pressed: true
    }));
    assert!(
        s.source
            .mode_requests()
            .iter()
            .any(|m| m.width == 640 && m.height == 480)
    );
    // The new size reaches the viewer as a `mode` message.
    loop {
        if let Message::Text(t) = next_msg(&mut ws).await {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
            if v["type"] == "mode" {
                assert_eq!(
                    (v["width"].as_u64(), v["height"].as_u64()),
                    (Some(640), Some(480))
                );
                break;
            }
        }
    }
    // Settings apply live: switching to JPEG is announced, then JPEG keyframes follow.
    ws.send(Message::Text(
        r#"{"type":"settings","encoder":"jpeg","fps":20}"#.into(),
    ))
    .await
    .expect("send");
    loop {
        if let Message::Text(t) = next_msg(&mut ws).await {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
            if v["type"] == "settings" {
                assert_eq!(
                    (v["encoder"].as_str(), v["fps"].as_u64()),
                    (Some("jpeg"), Some(20))
                );
                break;
            }
        }
    }
    assert_eq!(s.source.max_fps(), 20);
    let (vh, payload) = loop {
        let (vh, payload) = next_video(&mut ws).await;
        if vh.codec == proto::Codec::Jpeg {
            break (vh, payload);
        }
    };
    assert_ne!(
        vh.flags & proto::flags::KEYFRAME,
        0,
        "the first JPEG frame is whole"
    );
    assert_eq!(&payload[..2], &[0xFF, 0xD8], "a complete JPEG");
    // An out-of-range value changes nothing and keeps the connection.
    ws.send(Message::Text(r#"{"type":"settings","fps":500}"#.into()))
        .await
        .expect("send");
    loop {
        if let Message::Text(t) = next_msg(&mut ws).await {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("JSON");
            if v["type"] == "error" {
                assert_eq!(v["code"], "settings");
                break;
            }
        }
    }
    assert_eq!(s.pipeline.settings().fps, 20);
    // Graceful stop: the viewer is told the server goes away.
    let _ = s.stop.send(true);
    expect_close(&mut ws, 1001).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_ws_session_start_and_input() {
    session_start_and_input(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ws_session_start_and_input() {
    session_start_and_input(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_clients_are_closed_while_others_keep_receiving() {
    let s = TestServer::start(false).await;
    let mut good = s.ws().await;
    hello(&mut good).await;
    let first = next_video(&mut good).await.0.frame_id;

    let oversized = format!(
        r#"{{"type":"ping","t":1,"pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: Vec<(Message, u16)> = vec![
        (Message::Text("{not json".into()), 1008),
        (Message::Text(r#"{"type":"format_disk"}"#.into()), 1008),
        (
            Message::Text(r#"{"type":"key","code":1,"down":true}"#.into()),
            1008,
        ),
        (Message::Text(oversized.into()), 1009),
        (Message::Binary(Bytes::from_static(&[1, 2, 3])), 1003),
        // A clipboard message (the one binary kind accepted) with a bad selection, and
        // with a type the protocol does not carry.
        (Message::Binary(Bytes::from_static(&[0x11, 7, 0, 0])), 1008),
        (
            Message::Binary(Bytes::from_static(b"\x11\x00\x09\x00text/html<b>")),
            1008,
        ),
        // Kinds nobody accepts stay refused; a microphone packet over its limit
        // is too big.
        (Message::Binary(Bytes::from_static(&[0x12, 0, 0])), 1003),
        (Message::Binary(Bytes::from(vec![0x10; 9 * 1024])), 1009),
    ];
    // A microphone packet (kind 0x10) is accepted: the session goes on and answers a ping.
    let mut mic = s.ws().await;
    hello(&mut mic).await;
    let mut packet = vec![0x10, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&[0xF8, 0xFF, 0xFE]);
    mic.send(Message::Binary(packet.into()))
        .await
        .expect("send");
    mic.send(Message::Text(r#"{"type":"ping","t":7}"#.into()))
        .await
        .expect("send");
    loop {
        if let Message::Text(t) = next_msg(&mut mic).await
            && t.as_str().contains(r#""type":"pong""#)
        {
            break;
        }
    }
    for (msg, code) in cases {
        let mut bad = s.ws().await;
        hello(&mut bad).await;
        bad.send(msg).await.expect("send");
        expect_close(&mut bad, code).await;
    }
    // Not starting with hello, and a version the server does not speak.
    let mut bad = s.ws().await;
    bad.send(Message::Text(r#"{"type":"ping","t":1}"#.into()))
        .await
        .expect("send");
    expect_close(&mut bad, 1008).await;
    let mut bad = s.ws().await;
    bad.send(Message::Text(r#"{"type":"hello","version":2}"#.into()))
        .await
        .expect("send");
    let Message::Text(t) = next_msg(&mut bad).await else {
        panic!("error message expected")
    };
    assert!(t.as_str().contains(r#""type":"error""#));
    expect_close(&mut bad, 4001).await;

    // The well-behaved viewer is still served, with newer frames.
    let later = loop {
        let (h, _) = next_video(&mut good).await;
        if h.frame_id > first + 3 {
            break h.frame_id;
        }
    };
    assert!(later > first);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_viewers_share_one_encode_per_frame() {
    let s = TestServer::start(false).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut ws = s.ws().await;
        hello(&mut ws).await;
        clients.push(ws);
    }
    let encodes_before = s
        .pipeline
        .stats
        .encodes
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut seen: Vec<HashMap<u32, u64>> = Vec::new();
    for ws in &mut clients {
        let mut frames = HashMap::new();
        while frames.len() < 10 {
            let (h, payload) = next_video(ws).await;
            let digest = payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |a, &b| {
                (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            frames.insert(h.frame_id, digest);
        }
        seen.push(frames);
    }
    // Frames with the same id are the same bytes for every viewer: encoded once.
    let mut by_id: HashMap<u32, u64> = HashMap::new();
    for frames in &seen {
        for (id, digest) in frames {
            assert_eq!(
                *by_id.entry(*id).or_insert(*digest),
                *digest,
                "frame {id} differs"
            );
        }
    }
    let max_id = by_id.keys().copied().max().expect("frames");
    let encodes = s
        .pipeline
        .stats
        .encodes
        .load(std::sync::atomic::Ordering::Relaxed);
    // One encode per frame id; twenty viewers did not cost twenty encodes a frame.
    assert!(encodes >= u64::from(max_id));
    let received: usize = seen.iter().map(HashMap::len).sum();
    assert!(
        (encodes - encodes_before) * 5 < received as u64,
        "{encodes} encodes (from {encodes_before}) for {received} frames delivered"
    );
    assert_eq!(s.pipeline.fanout.len(), 20);
    drop(clients);
    s.stop().await;
}

/// Checks one received video header: a frame id that does not follow the previous one must
/// start with a keyframe (stripes of one JPEG frame share their id). Returns 1 on a gap.
fn check_continuity(h: VideoHeader, ids: &mut Vec<u32>) -> u32 {
    let key = h.flags & proto::flags::KEYFRAME != 0;
    let mut gap = 0;
    if let Some(&prev) = ids.last()
        && h.frame_id != prev
        && h.frame_id != prev + 1
    {
        assert!(
            key,
            "frame {} follows {prev} without being a keyframe",
            h.frame_id
        );
        gap = 1;
    }
    ids.push(h.frame_id);
    gap
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_viewer_skips_frames_and_resumes_at_a_keyframe() {
    let s = TestServer::start(false).await;
    // A tiny receive buffer makes this client's socket fall behind quickly.
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(2048).expect("rcvbuf");
    let tcp = sock.connect(s.addr).await.expect("connect");
    let url = format!("ws://localhost:{}/ws", s.addr.port());
    let (ws, _) = tokio_tungstenite::client_async(url, Box::new(tcp) as Box<dyn Io>)
        .await
        .expect("handshake");
    let mut slow: Ws = ws;
    hello(&mut slow).await;
    let mut fast = s.ws().await;
    hello(&mut fast).await;
    // JPEG stripes are big enough to fill socket buffers within a second or two.
    fast.send(Message::Text(
        r#"{"type":"settings","encoder":"jpeg"}"#.into(),
    ))
    .await
    .expect("send");
    let mut ids: Vec<u32> = Vec::new();
    let mut gaps = 0;
    let give_up = Instant::now() + DEADLINE;
    while gaps < 2 {
        assert!(
            Instant::now() < give_up,
            "the slow viewer never skipped in {} messages",
            ids.len()
        );
        // Stop reading while the well-behaved viewer takes 60 frames, then catch up.
        for _ in 0..60 {
            next_video(&mut fast).await;
        }
        let (h, _) = next_video(&mut slow).await;
        gaps += check_continuity(h, &mut ids);
        while let Ok(Some(Ok(Message::Binary(b)))) =
            tokio::time::timeout(Duration::from_millis(1), slow.next()).await
        {
            if let Some((h, _)) = VideoHeader::parse(&b) {
                gaps += check_continuity(h, &mut ids);
            }
        }
    }
    let skipped: u64 = s
        .pipeline
        .fanout
        .viewers()
        .iter()
        .map(|v| v.skipped.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert!(skipped > 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_received_over_the_websocket_decodes_with_ffmpeg() {
    let s = TestServer::start(false).await;
    let mut ws = s.ws().await;
    // A browser without 4:4:4 support keeps the stream in 4:2:0.
    let msg =
        r#"{"type":"hello","version":1,"decoders":{"h264":true,"h264_444":false,"jpeg":true}}"#;
    ws.send(Message::Text(msg.into())).await.expect("hello");
    let mut stream = Vec::new();
    let mut frames = 0;
    let mut last_id = None;
    while frames < 20 {
        let (h, payload) = next_video(&mut ws).await;
        assert_eq!(h.codec, proto::Codec::H264);
        assert_eq!(h.flags & proto::flags::CHROMA444, 0);
        assert_ne!(h.flags & proto::flags::END_OF_FRAME, 0);
        // A reader starved by a busy machine may fall behind and skip frames; it then
        // resumes on a keyframe, so the stream it saw still decodes whole.
        if let Some(prev) = last_id
            && h.frame_id != prev + 1
        {
            assert!(h.frame_id > prev, "frames arrive in order");
            assert_ne!(
                h.flags & proto::flags::KEYFRAME,
                0,
                "frame {} after a skip from {prev} is a keyframe",
                h.frame_id
            );
        }
        last_id = Some(h.frame_id);
        stream.extend_from_slice(&payload);
        frames += 1;
    }
    s.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ws.h264");
    std::fs::write(&file, &stream).expect("write");
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-f", "h264", "-i"])
        .arg(&file)
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .output()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "decoder complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout.len(),
        20 * 320 * 240 * 3 / 2,
        "every frame decodes"
    );
}
