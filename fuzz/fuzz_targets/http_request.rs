//! The one port's HTTP service (router, access check, files routes, WebSocket upgrade) fed
//! arbitrary bytes as a connection from 127.0.0.1. It must answer or close, never panic or
//! hang, and anything it answers must start as an HTTP/1.x response.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skerry_streamer::server::fuzzing::HttpHarness;

fn harness() -> &'static HttpHarness {
    static H: OnceLock<HttpHarness> = OnceLock::new();
    H.get_or_init(|| HttpHarness::new().expect("a temporary directory and a runtime"))
}

fuzz_target!(|data: &[u8]| {
    let answer = harness().request(data);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 ") || answer.starts_with(b"HTTP/1.0 "),
        "not an HTTP answer: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(64)])
    );
});
