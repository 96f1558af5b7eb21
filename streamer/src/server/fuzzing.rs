//! Entry points for the fuzz targets in `fuzz/`: the real parse paths of the WebSocket
//! protocol and the real HTTP service of the one port, reachable from outside the crate
//! without opening a socket. Nothing here is used by the running server; it exists so the
//! code the fuzzer exercises is exactly the code that serves browsers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::AppState;
use super::ws::{Inbound, parse_inbound};
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::proto::{ClientMessage, ProtoError};

/// What a client message parsed to, for the fuzzer to check invariants on.
#[derive(Debug)]
pub enum Parsed {
    Message(ClientMessage),
    Microphone(usize),
    Nothing,
}

/// Parses `data` as one client WebSocket message (text when `text`, else binary) exactly
/// as a session does, including the rate class of what it parsed to.
pub fn client_message(text: bool, data: &[u8]) -> Result<Parsed, ProtoError> {
    let msg = if text {
        match std::str::from_utf8(data) {
            Ok(s) => Message::Text(s.into()),
            // tungstenite refuses invalid UTF-8 before Skerry sees it.
            Err(e) => return Err(ProtoError::Malformed(e.to_string())),
        }
    } else {
        Message::Binary(Bytes::copy_from_slice(data))
    };
    Ok(match parse_inbound(Ok(msg))? {
        Inbound::Message(m) => {
            let _ = super::limits::Class::of(&m);
            Parsed::Message(m)
        }
        Inbound::Microphone(b) => Parsed::Microphone(b.len()),
        Inbound::Nothing => Parsed::Nothing,
    })
}

/// The one port's HTTP service with a real state (an idle pipeline with no desktop, files
/// in a private temporary directory), fed raw bytes over an in-memory stream.
pub struct HttpHarness {
    runtime: tokio::runtime::Runtime,
    state: Arc<AppState>,
    dir: PathBuf,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl HttpHarness {
    pub fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let dir = std::env::temp_dir().join(format!("skerry-fuzz-http-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("files"))?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState {
            pipeline: Pipeline::start(PipelineConfig::default()),
            status_file: None,
            server_name: "skerry-fuzz".into(),
            stopping,
            files: Arc::new(crate::files::Files::new(crate::files::FilesConfig {
                upload_dir: dir.join("files"),
                download_dir: dir.join("files"),
                max_upload: 1 << 20,
            })),
            audio: Default::default(),
            auth: Default::default(),
        });
        Ok(Self {
            runtime,
            state,
            dir,
            _stop: stop,
        })
    }

    /// Sends `request` (anything: one or more HTTP/1.1 requests, or garbage) on a fresh
    /// connection from 127.0.0.1, half-closes, and returns what the server answered
    /// (at most 1 MiB). The connection must end on its own within a few seconds.
    pub fn request(&self, request: &[u8]) -> Vec<u8> {
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        let service = super::app(self.state.clone(), peer);
        let (client, server) = tokio::io::duplex(64 * 1024);
        let answer = self.runtime.block_on(async move {
            // The port's own connection settings; half-close so that the end of the input
            // (the client's FIN) still lets every request in it be answered.
            let serve = async move {
                let mut builder = super::limits::http1_builder();
                builder.half_close(true);
                let _ = builder
                    .serve_connection(hyper_util::rt::TokioIo::new(server), service)
                    .with_upgrades()
                    .await;
            };
            let talk = async move {
                let (mut rd, mut wr) = tokio::io::split(client);
                let write = async {
                    let _ = wr.write_all(request).await;
                    let _ = wr.shutdown().await;
                };
                let mut out = Vec::new();
                let read = async {
                    let _ = (&mut rd).take(1 << 20).read_to_end(&mut out).await;
                };
                tokio::join!(write, read);
                out
            };
            let both = async { tokio::join!(serve, talk).1 };
            tokio::time::timeout(Duration::from_secs(10), both).await
        });
        // Whatever an upload left behind goes, so a long run does not fill the disk.
        let files = self.dir.join("files");
        if std::fs::read_dir(&files).is_ok_and(|mut d| d.next().is_some()) {
            let _ = std::fs::remove_dir_all(&files);
            let _ = std::fs::create_dir_all(&files);
        }
        answer.unwrap_or_else(|_| panic!("the connection did not end within 10 s"))
    }
}

impl Drop for HttpHarness {
    fn drop(&mut self) {
        self.state.pipeline.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_as_a_session_parses_them() {
        assert!(matches!(
            client_message(true, br#"{"type":"keyframe"}"#),
            Ok(Parsed::Message(ClientMessage::Keyframe))
        ));
        assert_eq!(
            client_message(true, b"\xff")
                .map(|_| ())
                .map_err(|e| e.close_code()),
            Err(1008)
        );
        let mut mic = vec![0x10, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        mic.extend_from_slice(&[0xF8, 0xFF, 0xFE]);
        assert!(matches!(
            client_message(false, &mic),
            Ok(Parsed::Microphone(19))
        ));
        assert_eq!(
            client_message(false, &[1, 2, 3])
                .map(|_| ())
                .map_err(|e| e.close_code()),
            Err(1003)
        );
    }

    #[test]
    fn http_harness_answers_requests_and_garbage() {
        let h = HttpHarness::new().expect("harness");
        let ok = h.request(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(
            ok.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&ok)
        );
        let bad = h.request(b"\x00\x01garbage\r\n\r\n");
        assert!(
            bad.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&bad)
        );
        let big = h.request(
            b"POST /api/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999\r\n\r\n",
        );
        assert!(
            big.starts_with(b"HTTP/1.1 413"),
            "{}",
            String::from_utf8_lossy(&big)
        );
        // An upgrade that never says hello ends when the client goes away.
        let ws = h.request(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
        assert!(
            ws.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&ws)
        );
    }
}
