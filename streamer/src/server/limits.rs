//! What one client may cost the server, in one place: how fast a WebSocket may send input
//! and control messages, and how big an HTTP request's headers and body may be.
//!
//! A browser that misbehaves (a runaway script, a hostile page, a fuzzer) must only ever
//! hurt its own connection. Sizes are checked before anything is allocated for them;
//! rates are per connection token buckets: messages over the rate are dropped and counted,
//! and a connection that keeps sending far over it is closed with a reason that says so.
//! The bucket takes the time as an argument, so its arithmetic is tested without a clock.

use std::time::{Duration, Instant};

use hyper::header::CONTENT_LENGTH;

use crate::proto::ClientMessage;

/// Largest request body on any route other than the chunked upload (which has its own
/// per-chunk limit); also what a route that reads a small body (a form, JSON) should read.
pub const MAX_BODY: u64 = 64 * 1024;
/// The request line and all headers together (else 431).
pub const MAX_HEAD: usize = 32 * 1024;
/// Headers a request may carry (else 431).
pub const MAX_HEADERS: usize = 64;
/// Time a client has to send a complete request head once it started one.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// Time a client has to finish the TLS handshake once it connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a small request body (a form, JSON).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections open at once, in all; and from one address (an IPv6 /64 counts as one
/// address; trusted proxies count only in the total, since everyone comes through them).
pub const MAX_CONNECTIONS: usize = 1024;
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// Input events (pointer, key, wheel, text): per second, and the burst allowed above it.
pub const INPUT_RATE: f64 = 1000.0;
pub const INPUT_BURST: f64 = 1000.0;
/// Control messages (settings, resize, ping, clipboard).
pub const CONTROL_RATE: f64 = 50.0;
pub const CONTROL_BURST: f64 = 100.0;
/// Keyframe requests: each one costs every viewer a large frame.
pub const KEYFRAME_RATE: f64 = 2.0;
pub const KEYFRAME_BURST: f64 = 5.0;
/// Microphone packets (10–20 ms of sound each).
pub const AUDIO_RATE: f64 = 200.0;
pub const AUDIO_BURST: f64 = 400.0;
/// Dropped messages tolerated: a connection dropping more than this many in a burst, or
/// more than `FLOOD_RATE` a second for long, is closed ("input flood").
pub const FLOOD_BURST: f64 = 1000.0;
pub const FLOOD_RATE: f64 = 100.0;

/// A token bucket: `capacity` tokens, refilled at `rate` a second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(capacity: f64, rate: f64, now: Instant) -> Self {
        Self {
            capacity,
            rate,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Which budget a client message is paid from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Pointer, key down, wheel, text.
    Input,
    /// Releasing keys or buttons: paid like input but never dropped, so a dropped event
    /// cannot leave a key held on the desktop.
    Release,
    /// Settings, resize, ping, clipboard, a repeated hello.
    Control,
    Keyframe,
    Audio,
}

impl Class {
    pub fn of(msg: &ClientMessage) -> Self {
        match msg {
            ClientMessage::Key { down: false, .. }
            | ClientMessage::Button { down: false, .. }
            | ClientMessage::ReleaseAll => Self::Release,
            ClientMessage::Key { .. }
            | ClientMessage::Text { .. }
            | ClientMessage::Pointer { .. }
            | ClientMessage::PointerRel { .. }
            | ClientMessage::Button { .. }
            | ClientMessage::Wheel { .. } => Self::Input,
            ClientMessage::Keyframe => Self::Keyframe,
            ClientMessage::Hello { .. }
            | ClientMessage::Resize { .. }
            | ClientMessage::Settings(_)
            | ClientMessage::Ping { .. }
            | ClientMessage::Clipboard(_) => Self::Control,
        }
    }
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Over the rate: drop it (counted).
    Drop,
    /// Far over the rate for too long: close the connection.
    Flood,
}

/// One connection's budgets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    input: TokenBucket,
    control: TokenBucket,
    keyframe: TokenBucket,
    audio: TokenBucket,
    flood: TokenBucket,
    /// Messages dropped so far on this connection.
    pub dropped: u64,
}

impl RateLimiter {
    pub fn new(now: Instant) -> Self {
        Self {
            input: TokenBucket::new(INPUT_BURST, INPUT_RATE, now),
            control: TokenBucket::new(CONTROL_BURST, CONTROL_RATE, now),
            keyframe: TokenBucket::new(KEYFRAME_BURST, KEYFRAME_RATE, now),
            audio: TokenBucket::new(AUDIO_BURST, AUDIO_RATE, now),
            flood: TokenBucket::new(FLOOD_BURST, FLOOD_RATE, now),
            dropped: 0,
        }
    }

    /// Pays for one message of `class` arriving at `now`.
    pub fn check(&mut self, class: Class, now: Instant) -> Verdict {
        let bucket = match class {
            Class::Input | Class::Release => &mut self.input,
            Class::Control => &mut self.control,
            Class::Keyframe => &mut self.keyframe,
            Class::Audio => &mut self.audio,
        };
        if bucket.take(now) {
            return Verdict::Pass;
        }
        if !self.flood.take(now) {
            return Verdict::Flood;
        }
        if class == Class::Release {
            return Verdict::Pass;
        }
        self.dropped += 1;
        Verdict::Drop
    }
}

/// Why an HTTP request is refused before it reaches a route.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("request body over {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("bad Content-Length")]
    BadLength,
    #[error("request body not sent within {BODY_TIMEOUT:?}")]
    BodyTimeout,
}

impl RequestError {
    pub fn status(&self) -> hyper::StatusCode {
        match self {
            Self::BodyTooLarge => hyper::StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadLength => hyper::StatusCode::BAD_REQUEST,
            Self::BodyTimeout => hyper::StatusCode::REQUEST_TIMEOUT,
        }
    }
}

/// Refuses a request whose declared body is over [`MAX_BODY`], except the upload route
/// (whose chunks are limited by the files module). A body without a length (chunked) is
/// never read by the routes that do not take one, and routes that read one read at most
/// [`MAX_BODY`] (see [`read_body`]).
pub fn check_request(parts: &hyper::http::request::Parts) -> Result<(), RequestError> {
    if parts.uri.path().starts_with("/api/upload/") {
        return Ok(());
    }
    let Some(value) = parts.headers.get(CONTENT_LENGTH) else {
        return Ok(());
    };
    let len: u64 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or(RequestError::BadLength)?;
    if len > MAX_BODY {
        return Err(RequestError::BodyTooLarge);
    }
    Ok(())
}

/// Reads a whole request body of at most `limit` bytes (at most [`MAX_BODY`]), for routes
/// that take a small body (a form or JSON); a longer one is [`RequestError::BodyTooLarge`]
/// whatever its `Content-Length` claimed, one still incomplete after [`BODY_TIMEOUT`]
/// [`RequestError::BodyTimeout`].
pub async fn read_body<B>(body: B, limit: usize) -> Result<bytes::Bytes, RequestError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    read_body_within(body, limit, BODY_TIMEOUT).await
}

async fn read_body_within<B>(
    body: B,
    limit: usize,
    deadline: Duration,
) -> Result<bytes::Bytes, RequestError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let collect = http_body_util::Limited::new(body, limit.min(MAX_BODY as usize)).collect();
    match tokio::time::timeout(deadline, collect).await {
        Err(_) => Err(RequestError::BodyTimeout),
        Ok(r) => r
            .map(http_body_util::Collected::to_bytes)
            .map_err(|_| RequestError::BodyTooLarge),
    }
}

/// The connections open now, counted in all and per address.
#[derive(Debug)]
pub struct Connections {
    max_total: usize,
    max_per_address: usize,
    open: std::sync::Mutex<(usize, std::collections::HashMap<std::net::IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    conns: std::sync::Arc<Connections>,
    key: Option<std::net::IpAddr>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the server has {0} connections open")]
    Total(usize),
    #[error("this address has {0} connections open")]
    Address(usize),
}

/// The address a connection counts under: an IPv6 address by its /64, since one host or
/// customer usually holds a whole /64.
pub fn address_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl Connections {
    pub fn new(max_total: usize, max_per_address: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            max_total,
            max_per_address,
            open: Default::default(),
        })
    }

    /// Takes a place for a connection from `ip`; `shared` addresses (trusted proxies)
    /// count only in the total.
    pub fn admit(
        self: &std::sync::Arc<Self>,
        ip: std::net::IpAddr,
        shared: bool,
    ) -> Result<Admitted, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.max_total {
            return Err(Refused::Total(open.0));
        }
        let key = (!shared).then(|| address_key(ip));
        if let Some(k) = key {
            let n = open.1.entry(k).or_insert(0);
            if *n >= self.max_per_address {
                return Err(Refused::Address(*n));
            }
            *n += 1;
        }
        open.0 += 1;
        Ok(Admitted {
            conns: self.clone(),
            key,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.conns.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(k) = self.key
            && let Some(n) = open.1.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&k);
            }
        }
    }
}

/// The HTTP/1.1 connection settings of the one port: small request heads, a deadline for
/// sending them.
pub fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.max_header_size(MAX_HEAD)
        .max_buf_size(2 * MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_in_all_and_per_address_and_freed_on_drop() {
        let c = Connections::new(5, 2);
        let a: std::net::IpAddr = "192.0.2.1".parse().expect("ip");
        let a1 = c.admit(a, false).expect("first");
        let _a2 = c.admit(a, false).expect("second");
        assert_eq!(c.admit(a, false).err(), Some(Refused::Address(2)));
        // The same address as IPv4-mapped IPv6 is the same address.
        let mapped: std::net::IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(c.admit(mapped, false).err(), Some(Refused::Address(2)));
        // Another address in the same IPv6 /64 is the same address; another /64 is not.
        let v6a: std::net::IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let v6b: std::net::IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let v6c: std::net::IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _b1 = c.admit(v6a, false).expect("v6a");
        let _b2 = c.admit(v6b, false).expect("v6b");
        assert_eq!(c.admit(v6a, false).err(), Some(Refused::Address(2)));
        let _c1 = c.admit(v6c, false).expect("another /64");
        // The total holds for shared (proxy) addresses too.
        assert_eq!(c.admit(a, true).err(), Some(Refused::Total(5)));
        drop(a1);
        assert_eq!(c.open(), 4);
        let _again = c.admit(a, false).expect("a place was freed");
        assert_eq!(c.admit(v6c, true).err(), Some(Refused::Total(5)));
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_refused() {
        // A body that never ends.
        let body = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<hyper::body::Frame<bytes::Bytes>, std::convert::Infallible>,
        >());
        let started = Instant::now();
        assert_eq!(
            read_body_within(body, 100, Duration::from_millis(50)).await,
            Err(RequestError::BodyTimeout)
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 100.0, t0);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 10);
        // 100 a second: ten more after 100 ms, never more than the capacity.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!((0..20).filter(|_| b.take(t1)).count(), 10);
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(t2)).count(), 10);
        // Time going backwards gives nothing.
        assert!(!b.take(t0));
    }

    #[test]
    fn input_over_the_rate_is_dropped_and_a_flood_closes() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(t0);
        let mut verdicts = Vec::new();
        for _ in 0..(INPUT_BURST as usize + FLOOD_BURST as usize + 1) {
            verdicts.push(r.check(Class::Input, t0));
        }
        let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count();
        assert_eq!(count(Verdict::Pass), INPUT_BURST as usize);
        assert_eq!(count(Verdict::Drop), FLOOD_BURST as usize);
        assert_eq!(verdicts.last(), Some(&Verdict::Flood));
        assert_eq!(r.dropped, FLOOD_BURST as u64);
    }

    #[test]
    fn a_steady_rate_just_over_the_limit_drops_but_is_not_a_flood() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(t0);
        // 1050 input events a second for a minute: 50 a second dropped, under FLOOD_RATE.
        let step = Duration::from_secs(1).div_f64(INPUT_RATE + 50.0);
        let mut now = t0;
        for _ in 0..(60 * (INPUT_RATE as usize + 50)) {
            now += step;
            assert_ne!(r.check(Class::Input, now), Verdict::Flood);
        }
        assert!(r.dropped > 0);
    }

    #[test]
    fn releases_are_never_dropped_and_budgets_are_separate() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(t0);
        for _ in 0..INPUT_BURST as usize {
            assert_eq!(r.check(Class::Input, t0), Verdict::Pass);
        }
        assert_eq!(r.check(Class::Input, t0), Verdict::Drop);
        assert_eq!(r.check(Class::Release, t0), Verdict::Pass);
        assert_eq!(r.check(Class::Control, t0), Verdict::Pass);
        let keyframes = (0..10)
            .filter(|_| r.check(Class::Keyframe, t0) == Verdict::Pass)
            .count();
        assert_eq!(keyframes, KEYFRAME_BURST as usize);
        assert_eq!(r.check(Class::Audio, t0), Verdict::Pass);
    }

    #[test]
    fn message_classes() {
        let parse = |s: &str| Class::of(&ClientMessage::parse(s).expect("valid"));
        assert_eq!(
            parse(r#"{"type":"key","code":"KeyA","down":true}"#),
            Class::Input
        );
        assert_eq!(
            parse(r#"{"type":"key","code":"KeyA","down":false}"#),
            Class::Release
        );
        assert_eq!(
            parse(r#"{"type":"button","button":0,"down":false}"#),
            Class::Release
        );
        assert_eq!(parse(r#"{"type":"release_all"}"#), Class::Release);
        assert_eq!(parse(r#"{"type":"pointer","x":1,"y":2}"#), Class::Input);
        assert_eq!(parse(r#"{"type":"keyframe"}"#), Class::Keyframe);
        assert_eq!(parse(r#"{"type":"ping","t":1}"#), Class::Control);
        assert_eq!(parse(r#"{"type":"settings","fps":30}"#), Class::Control);
    }

    fn parts(path: &str, headers: &[(&str, &str)]) -> hyper::http::request::Parts {
        let mut b = hyper::Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn request_bodies_are_limited_except_upload_chunks() {
        assert_eq!(check_request(&parts("/api/status", &[])), Ok(()));
        assert_eq!(
            check_request(&parts("/api/status", &[("content-length", "65536")])),
            Ok(())
        );
        assert_eq!(
            check_request(&parts("/login", &[("content-length", "65537")])),
            Err(RequestError::BodyTooLarge)
        );
        assert_eq!(
            check_request(&parts("/", &[("content-length", "-1")])),
            Err(RequestError::BadLength)
        );
        assert_eq!(
            check_request(&parts(
                "/api/upload/abcdefgh",
                &[("content-length", "9000000")]
            )),
            Ok(())
        );
    }

    #[tokio::test]
    async fn read_body_stops_at_the_limit() {
        let body = |n: usize| http_body_util::Full::new(bytes::Bytes::from(vec![b'a'; n]));
        let max = MAX_BODY as usize;
        assert_eq!(read_body(body(100), max).await.map(|b| b.len()), Ok(100));
        assert_eq!(read_body(body(100), 100).await.map(|b| b.len()), Ok(100));
        assert_eq!(
            read_body(body(101), 100).await,
            Err(RequestError::BodyTooLarge)
        );
        assert_eq!(
            read_body(body(max + 1), max).await,
            Err(RequestError::BodyTooLarge)
        );
        // A route's limit never exceeds the server's.
        assert_eq!(
            read_body(body(max + 1), usize::MAX).await,
            Err(RequestError::BodyTooLarge)
        );
    }
}
