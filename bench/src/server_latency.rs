//! The streamer's own latency probe (`GET /api/latency`, streamer/src/latency.rs): input
//! received → first frame captured after it written to the viewer. Read over a one-shot
//! plain HTTP/1.0 request, so the harness needs no HTTP client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("asking the streamer for /api/latency: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected /api/latency answer: {0}")]
    Answer(String),
}

/// Samples in milliseconds and the inputs no frame answered.
#[derive(Debug, Clone, Default)]
pub struct ServerLatency {
    pub samples_ms: Vec<f64>,
    pub unanswered: u64,
}

fn get(port: u16, path: &str) -> Result<serde_json::Value, ProbeError> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ProbeError::Answer(text.chars().take(200).collect()))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(ProbeError::Answer(head.lines().next().unwrap_or("").into()));
    }
    serde_json::from_str(body).map_err(|e| ProbeError::Answer(e.to_string()))
}

/// Arms the probe (if it was not) and starts a new series.
pub fn reset(port: u16) -> Result<(), ProbeError> {
    get(port, "/api/latency?reset").map(|_| ())
}

/// The series since the last reset.
pub fn read(port: u16) -> Result<ServerLatency, ProbeError> {
    let v = get(port, "/api/latency")?;
    let samples_ms = v["samples_us"]
        .as_array()
        .ok_or_else(|| ProbeError::Answer(v.to_string()))?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .map(|us| us / 1000.0)
        .collect();
    Ok(ServerLatency {
        samples_ms,
        unanswered: v["unanswered"].as_u64().unwrap_or(0),
    })
}
