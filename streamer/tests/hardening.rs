//! What one misbehaving or slow client may cost: the real server (in-process on
//! 127.0.0.1:0, and the real binary for memory figures) against real WebSocket and raw TCP
//! clients. A flood closes only its own connection, keyframe requests are rate limited,
//! oversized HTTP requests are refused, and a viewer reading at 100 kB/s neither grows the
//! server's memory nor slows a normal viewer beside it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use skerry_streamer::pipeline::{Pipeline, PipelineConfig};
use skerry_streamer::proto::{self, VideoHeader};
use skerry_streamer::server::{self, AppState, limits};
use skerry_streamer::synthetic::{Scene, SyntheticSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

const DEADLINE: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<TcpStream>;

/// The server in-process, plain HTTP, with the synthetic desktop behind it.
struct TestServer {
    addr: std::net::SocketAddr,
    pipeline: Arc<Pipeline>,
    source: Arc<SyntheticSource>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> Self {
        Self::start_with(Default::default()).await
    }

    /// With logins as `auth` decides.
    async fn start_with(auth: server::auth::Auth) -> Self {
        Self::start_full(auth, None).await
    }

    /// With logins as `auth` decides, and HTTPS with `tls`.
    async fn start_full(auth: server::auth::Auth, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let pipeline = Pipeline::start(PipelineConfig {
            x264_preset: "ultrafast".into(),
            x264_threads: 1,
            ..PipelineConfig::default()
        });
        let source =
            SyntheticSource::start(Scene::Scroll { rows: 2 }, 320, 240, 30, pipeline.clone());
        pipeline.attach_control(source.clone());
        let dir = tempfile::tempdir().expect("tempdir");
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState {
            pipeline: pipeline.clone(),
            status_file: None,
            server_name: "skerry-test".into(),
            stopping,
            files: Arc::new(skerry_streamer::files::Files::new(
                skerry_streamer::files::FilesConfig {
                    upload_dir: dir.path().to_owned(),
                    download_dir: dir.path().to_owned(),
                    max_upload: 1 << 20,
                },
            )),
            audio: Default::default(),
            auth,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut stop_rx = stop.subscribe();
        let task = tokio::spawn(server::serve(
            listener,
            tls,
            state,
            async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            },
            Duration::from_secs(2),
        ));
        Self {
            addr,
            pipeline,
            source,
            stop,
            task: Some(task),
            _dir: dir,
        }
    }

    async fn ws(&self) -> Ws {
        self.ws_as(None).await
    }

    /// A WebSocket with the session `cookie`, if any.
    async fn ws_as(&self, cookie: Option<&str>) -> Ws {
        let mut ws = self.try_ws_as(cookie).await.expect("WebSocket handshake");
        let hello = r#"{"type":"hello","version":1,"decoders":{"h264":true,"jpeg":true}}"#;
        ws.send(Message::Text(hello.into())).await.expect("hello");
        ws
    }

    /// The WebSocket handshake alone, with the session `cookie`, if any.
    async fn try_ws_as(
        &self,
        cookie: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let url = format!("ws://localhost:{}/ws", self.addr.port());
        let mut request = url.into_client_request().expect("request");
        if let Some(c) = cookie {
            request.headers_mut().insert(
                "cookie",
                format!("skerry_session={c}").parse().expect("header"),
            );
        }
        tokio_tungstenite::client_async(request, tcp)
            .await
            .map(|(ws, _)| ws)
    }

    /// Sends raw bytes as one HTTP connection and returns the status line's code.
    async fn raw_status(&self, request: &[u8]) -> u16 {
        let mut tcp = TcpStream::connect(self.addr).await.expect("connect");
        // The server may answer (and close) before taking everything.
        let _ = tcp.write_all(request).await;
        let mut buf = vec![0u8; 64];
        let n = tokio::time::timeout(DEADLINE, tcp.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        let line = String::from_utf8_lossy(&buf[..n]).to_string();
        line.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {line:?}"))
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

/// Reads until a video message arrives.
async fn next_video(ws: &mut Ws) -> VideoHeader {
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message before the deadline")
            .expect("open")
            .expect("no error");
        if let Message::Binary(b) = msg
            && let Some((h, _)) = VideoHeader::parse(&b)
        {
            return h;
        }
    }
}

/// Reads until the server closes; returns the close code and reason.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    let end = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < end, "no close");
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("deadline")
        {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error instead of a close: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_flood_closes_only_that_connection_and_is_counted() {
    let s = TestServer::start().await;
    let mut good = s.ws().await;
    let first = next_video(&mut good).await.frame_id;

    let mut flood = s.ws().await;
    next_video(&mut flood).await;
    let started = Instant::now();
    let n = (limits::INPUT_BURST + limits::FLOOD_BURST) as usize * 3;
    for i in 0..n {
        let m = format!(r#"{{"type":"pointer","x":{},"y":1}}"#, i % 300);
        // The server closes mid-way; later sends may fail.
        if flood.feed(Message::Text(m.into())).await.is_err() {
            break;
        }
    }
    let _ = flood.flush().await;
    let (code, reason) = close_of(&mut flood).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("flood"), "{reason}");
    let elapsed = started.elapsed().as_secs_f64();

    // What passed is what the budget allows, not what was sent.
    let moves = s
        .source
        .inputs()
        .iter()
        .filter(|e| {
            matches!(
                e,
                skerry_streamer::desktop::InputEvent::PointerMotion { .. }
            )
        })
        .count() as f64;
    let allowed = limits::INPUT_BURST + limits::INPUT_RATE * elapsed + 1.0;
    assert!(
        moves <= allowed,
        "{moves} moves reached the desktop, {allowed:.0} allowed"
    );
    assert!(
        moves >= limits::INPUT_BURST,
        "{moves} moves: the burst passes"
    );
    let snap = s.pipeline.snapshot();
    assert!(snap.input_dropped >= limits::FLOOD_BURST as u64, "{snap:?}");
    assert_eq!(snap.flood_closes, 1, "{snap:?}");

    // The other viewer goes on receiving new frames.
    loop {
        if next_video(&mut good).await.frame_id > first + 5 {
            break;
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_are_rate_limited() {
    let s = TestServer::start().await;
    let mut ws = s.ws().await;
    next_video(&mut ws).await;
    let (mut sink, mut stream) = ws.split();
    // Keep reading so this viewer never falls behind (which would owe it a keyframe).
    let frames = Arc::new(AtomicU64::new(0));
    let keys = Arc::new(AtomicU64::new(0));
    let reader = {
        let (frames, keys) = (frames.clone(), keys.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Binary(b) = m
                    && let Some((h, _)) = VideoHeader::parse(&b)
                {
                    frames.fetch_add(1, Ordering::Relaxed);
                    if h.flags & proto::flags::KEYFRAME != 0 {
                        keys.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let keys_before = keys.load(Ordering::Relaxed);
    let frames_before = frames.load(Ordering::Relaxed);
    // 100 keyframe requests a second for two seconds.
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..200 {
        tick.tick().await;
        sink.send(Message::Text(r#"{"type":"keyframe"}"#.into()))
            .await
            .expect("send");
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Wait for at least 30 more frames so the last requests had their effect.
    let target = frames.load(Ordering::Relaxed) + 30;
    let end = Instant::now() + DEADLINE;
    while frames.load(Ordering::Relaxed) < target {
        assert!(Instant::now() < end, "frames stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = keys.load(Ordering::Relaxed) - keys_before;
    let seen = frames.load(Ordering::Relaxed) - frames_before;
    let allowed = limits::KEYFRAME_BURST + limits::KEYFRAME_RATE * (elapsed + 1.5) + 2.0;
    assert!(
        (got as f64) <= allowed,
        "{got} keyframes in {seen} frames for 200 requests in {elapsed:.1} s; {allowed:.0} allowed"
    );
    assert!(got >= 1, "the requests within the budget were honoured");
    assert!(s.pipeline.snapshot().input_dropped > 0);
    reader.abort();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_http_requests_are_refused() {
    let s = TestServer::start().await;
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(limits::MAX_HEAD + 1024)
    );
    assert_eq!(s.raw_status(huge_header.as_bytes()).await, 431);
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..=limits::MAX_HEADERS {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(s.raw_status(many.as_bytes()).await, 431);
    let big_body = format!(
        "POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        limits::MAX_BODY + 1
    );
    assert_eq!(s.raw_status(big_body.as_bytes()).await, 413);
    let bad_length = "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: lots\r\n\r\n";
    assert_eq!(s.raw_status(bad_length.as_bytes()).await, 400);
    // The server is fine after all of it.
    assert_eq!(healthz(&s).await, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_refused_and_others_go_on() {
    let s = TestServer::start().await;
    // Idle connections that never send a byte hold every place this address has.
    let mut idle = Vec::new();
    for _ in 0..limits::MAX_CONNECTIONS_PER_ADDRESS {
        idle.push(TcpStream::connect(s.addr).await.expect("connect"));
    }
    // Let the server accept them all before the next one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(healthz(&s).await, 503);
    // A place freed is a place taken again.
    idle.pop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(healthz(&s).await, 200);
    // A WebSocket keeps its place after the upgrade.
    idle.pop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = s.ws().await;
    next_video(&mut ws).await;
    idle.push(TcpStream::connect(s.addr).await.expect("connect"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(healthz(&s).await, 503);
    drop((idle, ws));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_comes_is_given_up() {
    let (certs, key) =
        server::tls::self_signed(&server::tls::default_names()).expect("certificate");
    let acceptor = server::tls::acceptor(certs, key).expect("acceptor");
    let s = TestServer::start_full(Default::default(), Some(acceptor)).await;
    // Connected, and silent: the server closes it once the handshake time is up.
    let mut silent = TcpStream::connect(s.addr).await.expect("connect");
    let opened = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        limits::HANDSHAKE_TIMEOUT + Duration::from_secs(10),
        silent.read(&mut buf),
    )
    .await
    .expect("the server closed the silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = opened.elapsed();
    assert!(
        waited >= limits::HANDSHAKE_TIMEOUT - Duration::from_millis(500),
        "closed after {waited:?}"
    );
    s.stop().await;
}

/// `GET /healthz` on a connection of its own; the status code.
async fn healthz(s: &TestServer) -> u16 {
    s.raw_status(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
}

/// Logins on, with the owner's password `pw`, keeping their files in `dir`.
fn logins_on(dir: &std::path::Path) -> server::auth::Auth {
    let config = server::auth::SecurityConfig {
        password: Some("pw".into()),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    server::auth::Auth::start(&config, true, false)
        .expect("auth")
        .0
}

/// A GET with the session `cookie`; the status code.
async fn get_as(s: &TestServer, path: &str, cookie: &str) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: skerry_session={cookie}\r\n\r\n"
    );
    s.raw_status(request.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_can_neither_send_large_messages_nor_use_the_owners_probe() {
    use server::auth::unix_now;
    use skerry_streamer::clipboard::{ClipboardData, Selection};
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = logins_on(dir.path());
    let link = |role| {
        let (_, token) = auth
            .create_link(role, Duration::from_secs(3600), "guest", unix_now())
            .expect("link");
        auth.open_link(&token, unix_now()).expect("opens").cookie
    };
    let viewer = link(proto::Role::Viewer);
    let controller = link(proto::Role::Controller);
    let owner = auth
        .login(
            "127.0.0.1".parse().expect("ip"),
            "skerry",
            "pw",
            Instant::now(),
            unix_now(),
        )
        .expect("owner logs in")
        .cookie;
    let s = TestServer::start_with(auth).await;

    // 200 KiB of clipboard text: a controller's is taken (the connection stays), a viewer's
    // is refused by size before it is read.
    let paste = skerry_streamer::clipboard::client_message(&ClipboardData {
        selection: Selection::Clipboard,
        mime: "text/plain;charset=utf-8".into(),
        data: vec![b'x'; 200 * 1024].into(),
    });
    let mut c = s.ws_as(Some(&controller)).await;
    c.send(Message::Binary(paste.clone().into()))
        .await
        .expect("send");
    next_video(&mut c).await;
    next_video(&mut c).await;
    let mut v = s.ws_as(Some(&viewer)).await;
    next_video(&mut v).await;
    let _ = v.send(Message::Binary(paste.into())).await;
    assert_eq!(close_of(&mut v).await.0, 1009);
    // A viewer's small messages still pass.
    let mut v = s.ws_as(Some(&viewer)).await;
    next_video(&mut v).await;
    v.send(Message::Text(r#"{"type":"keyframe"}"#.into()))
        .await
        .expect("keyframe");
    next_video(&mut v).await;

    // The latency probe (and its reset) is the owner's.
    assert_eq!(get_as(&s, "/api/latency?reset", &viewer).await, 403);
    assert_eq!(get_as(&s, "/api/latency", &controller).await, 403);
    assert_eq!(get_as(&s, "/api/latency", &owner).await, 200);
    drop((c, v));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_links_socket_closes_when_the_link_runs_out() {
    use server::auth::unix_now;
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = logins_on(dir.path());
    // A link made a minute (its shortest life) minus two seconds ago: two seconds left.
    let (_, token) = auth
        .create_link(
            proto::Role::Controller,
            Duration::from_secs(60),
            "brief",
            unix_now() - 58,
        )
        .expect("link");
    let cookie = auth.open_link(&token, unix_now()).expect("opens").cookie;
    let s = TestServer::start_with(auth).await;
    let mut ws = s.ws_as(Some(&cookie)).await;
    next_video(&mut ws).await;
    let opened = Instant::now();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "session expired"));
    assert!(opened.elapsed() < Duration::from_secs(5));
    // And the cookie no longer opens one.
    assert!(s.try_ws_as(Some(&cookie)).await.is_err());
    s.stop().await;
}

/// Kills the streamer if the test fails before it is done with it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Counts whole video frames a viewer receives during `window`.
async fn frames_during(ws: &mut Ws, window: Duration) -> u64 {
    let end = tokio::time::Instant::now() + window;
    let mut frames = 0;
    loop {
        match tokio::time::timeout_at(end, ws.next()).await {
            Err(_) => return frames,
            Ok(Some(Ok(Message::Binary(b)))) => {
                if let Some((h, _)) = VideoHeader::parse(&b)
                    && h.flags & proto::flags::END_OF_FRAME != 0
                {
                    frames += 1;
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the normal viewer's connection ended: {other:?}"),
        }
    }
}

/// A WebSocket client that reads its socket at `bytes_per_sec` and no faster: handshake and
/// hello by hand over a blocking socket with a small receive buffer, then paced reads.
fn slow_viewer(port: u16, bytes_per_sec: usize, stop: Arc<AtomicBool>, got: Arc<AtomicU64>) {
    let sock = small_buffer_connect(port);
    let mut tcp = sock;
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).expect("upgrade request");
    let hello = br#"{"type":"hello","version":1,"decoders":{"jpeg":true}}"#;
    let mask = [7u8, 1, 9, 3];
    let mut frame = vec![0x81, 0x80 | hello.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(hello.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).expect("hello");
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // Ten reads a second of a tenth of the rate each.
    let chunk = bytes_per_sec / 10;
    let mut buf = vec![0u8; chunk];
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut taken = 0;
        while taken < chunk {
            match tcp.read(&mut buf[taken..]) {
                Ok(0) => return,
                Ok(n) => taken += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(_) => return,
            }
        }
        got.fetch_add(taken as u64, Ordering::Relaxed);
        next += Duration::from_millis(100);
        // Pacing the reader is the behaviour under test, not synchronisation.
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// A blocking TCP connection whose receive buffer is small, so the server's socket fills.
fn small_buffer_connect(port: u16) -> std::net::TcpStream {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).expect("socket");
    sockopt::set_socket_recv_buffer_size(&fd, 4096).expect("rcvbuf");
    let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    rustix::net::connect(&fd, &addr).expect("connect");
    std::net::TcpStream::from(fd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reading_at_100_kb_s_costs_no_memory_and_no_frames_to_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_skerry-streamer"))
        .env("SKERRY_SOURCE", "synthetic")
        .env("SKERRY_PORT", "0")
        .env("SKERRY_TLS", "off")
        // A cap the encoder reaches with room to spare on a busy machine, so both
        // measurements see the server's pacing rather than the machine's load.
        .env("SKERRY_FPS", "12")
        // JPEG: every scrolled frame is some 100 KB, far more than the slow viewer reads.
        .env("SKERRY_ENCODER", "jpeg")
        .env("SKERRY_AUDIO", "off")
        .env("SKERRY_UPLOAD_DIR", dir.path())
        .env("SKERRY_DOWNLOAD_DIR", dir.path())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the streamer starts");
    let mut running = Running(child);
    let pid = running.0.id();
    let stdout = running.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port: u16 = loop {
        let line = lines
            .next()
            .expect("the streamer logs where it serves")
            .expect("utf-8 log");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest
                .split('/')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
        }
    };
    // Keep draining the log so the streamer never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut normal, _) = tokio_tungstenite::client_async(format!("ws://localhost:{port}/ws"), tcp)
        .await
        .expect("handshake");
    let hello = r#"{"type":"hello","version":1,"decoders":{"jpeg":true}}"#;
    normal
        .send(Message::Text(hello.into()))
        .await
        .expect("hello");
    // Warm up: the encoder and buffers reach their working size.
    frames_during(&mut normal, Duration::from_secs(2)).await;
    let window = Duration::from_secs(5);
    let alone_before = frames_during(&mut normal, window).await;
    let rss_before = rss_kib(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let slow = {
        let (stop, got) = (stop.clone(), got.clone());
        std::thread::spawn(move || slow_viewer(port, 100_000, stop, got))
    };
    // Let the slow viewer's socket fill, then measure beside it, watching memory.
    frames_during(&mut normal, Duration::from_secs(2)).await;
    let mut beside = 0;
    let mut rss_max = rss_before;
    let parts = 10;
    for _ in 0..parts {
        beside += frames_during(&mut normal, window / parts).await;
        rss_max = rss_max.max(rss_kib(pid));
    }
    // Asked while the slow viewer is still connected: its skipped frames are counted.
    let status: serde_json::Value = {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.write_all(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).expect("answer");
        let body = answer.split("\r\n\r\n").nth(1).expect("body");
        serde_json::from_str(body).expect("JSON")
    };
    stop.store(true, Ordering::Relaxed);
    let _ = slow.join();
    // Alone again: the lone rate is the mean of before and after, so a change in the
    // machine's load during the test does not count against the slow viewer.
    let alone_after = frames_during(&mut normal, window).await;
    let alone = (alone_before + alone_after) / 2;

    let skipped = status["streamer"]["frames_skipped"].as_u64().unwrap_or(0);
    let slow_bytes = got.load(Ordering::Relaxed);
    let secs = window.as_secs_f64();
    let growth_mib = (rss_max.saturating_sub(rss_before)) as f64 / 1024.0;
    #[allow(clippy::disallowed_macros)]
    {
        println!(
            "normal viewer alone: {:.1} fps before, {:.1} fps after; beside a 100 kB/s viewer: {:.1} fps",
            alone_before as f64 / secs,
            alone_after as f64 / secs,
            beside as f64 / secs
        );
        println!(
            "server RSS {} KiB before, at most {} KiB beside (+{growth_mib:.1} MiB); \
             slow viewer read {slow_bytes} bytes, {skipped} frames skipped for it",
            rss_before, rss_max
        );
    }
    assert!(
        alone >= 10,
        "the lone viewer got {alone} frames in {secs} s"
    );
    assert!(
        beside as f64 >= 0.8 * alone as f64,
        "{beside} frames beside the slow viewer, {alone} alone"
    );
    assert!(growth_mib < 40.0, "server memory grew {growth_mib:.1} MiB");
    assert!(
        skipped > 0,
        "the slow viewer never fell behind, so this test proved nothing"
    );
    assert!(slow_bytes > 0, "the slow viewer received nothing");
}
