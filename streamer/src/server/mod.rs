//! One port for everything: the embedded web client, the WebSocket at `/ws`, health and
//! status endpoints, over TLS or (when asked, loudly) plain HTTP. The same service serves
//! both, so there is no second copy of any route.
//!
//! [`app`] builds the per-connection service apart from `main`, so tests drive the real
//! server in-process on `127.0.0.1:0`.

pub mod access;
pub mod assets;
pub mod auth;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod limits;
mod login;
pub mod presence;
pub mod tls;
mod ws;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::pipeline::Pipeline;

/// What every connection shares.
pub struct AppState {
    pub pipeline: Arc<Pipeline>,
    /// The supervisor's status file (`SKERRY_STATUS_FILE`), merged into `/api/status`.
    pub status_file: Option<PathBuf>,
    /// Sent in the `hello` answer.
    pub server_name: String,
    /// Flips to true when the server is stopping; WebSocket sessions close on it.
    pub stopping: watch::Receiver<bool>,
    /// Upload and download directories and the uploads in progress.
    pub files: Arc<crate::files::Files>,
    /// The desktop's sound out and the browser's microphone in.
    pub audio: crate::audio::Audio,
    /// Logins, sessions, share links, the base path and who is connected.
    pub auth: auth::Auth,
}

pub type Body = Full<Bytes>;

/// What the port answers with: a body held in memory, or a file streamed from disk.
pub type ResponseBody = crate::files::FilesBody;

/// Kernel send buffer per connection (the kernel doubles it for bookkeeping).
const SEND_BUFFER: usize = 256 * 1024;

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

/// The supervisor's status JSON, if configured and readable.
fn supervisor_status(state: &AppState) -> Option<serde_json::Value> {
    let path = state.status_file.as_ref()?;
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Ready once the source delivered a frame and, when a supervisor status file is
/// configured, it says `"ready": true`.
pub fn is_ready(state: &AppState) -> bool {
    if !state.pipeline.first_frame_seen() {
        return false;
    }
    match &state.status_file {
        None => true,
        Some(_) => supervisor_status(state)
            .and_then(|v| v.get("ready").and_then(serde_json::Value::as_bool))
            .unwrap_or(false),
    }
}

/// `/api/status`: the supervisor's file with the streamer's own numbers under `streamer`.
pub fn status(state: &AppState) -> serde_json::Value {
    let streamer = serde_json::to_value(state.pipeline.snapshot()).unwrap_or_default();
    match supervisor_status(state) {
        Some(serde_json::Value::Object(mut map)) => {
            map.insert("streamer".into(), streamer);
            serde_json::Value::Object(map)
        }
        Some(other) => serde_json::json!({ "supervisor": other, "streamer": streamer }),
        None => serde_json::json!({ "streamer": streamer }),
    }
}

async fn route(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let auth = &state.auth;
    let client = auth::net::resolve(peer.ip(), auth.tls, &parts.headers, &auth.trusted_proxies);
    // Every route lives under the base path; below it, routes see their own paths.
    // Health checks also answer at the root, where orchestrators probe without a proxy.
    let raw = parts.uri.path();
    let placed = match auth.base.place(raw) {
        auth::net::Placed::Outside if raw == "/healthz" || raw == "/readyz" => {
            auth::net::Placed::Inside(raw)
        }
        other => other,
    };
    let path = match placed {
        auth::net::Placed::Inside(p) => p.to_owned(),
        auth::net::Placed::Bare => {
            let r = login::redirect_to(auth.base.as_str());
            return Ok(with_security_headers(&state, r).map(Either::Left));
        }
        auth::net::Placed::Outside => {
            let r = text(StatusCode::NOT_FOUND, "not found\n");
            return Ok(with_security_headers(&state, r).map(Either::Left));
        }
    };
    if path != parts.uri.path() {
        let rest = match parts.uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        if let Ok(uri) = rest.parse() {
            parts.uri = uri;
        }
    }
    if let Err(e) = limits::check_request(&parts) {
        tracing::info!(%peer, error = %e, "request refused");
        let r = text(e.status(), "request refused\n");
        return Ok(with_security_headers(&state, r).map(Either::Left));
    }
    let resp = match path.as_str() {
        // Open to everyone: health checks, the login page and what it loads, share links.
        "/healthz" | "/readyz" => read_only_route(&state, parts, body, None),
        "/login" => match access::check_origin(&parts, &client) {
            Ok(()) => login::login(state.clone(), parts, body, client).await,
            Err(e) => refused(&client, &e),
        },
        "/share" => login::open_share(&state, &parts, &client),
        "/style.css" | "/icon.svg" => read_only_route(&state, parts, body, None),
        _ => match access::authorize(&parts, &client, auth) {
            Err(access::AccessError::Unauthenticated) => {
                login::unauthenticated(&state, &parts, &path)
            }
            Err(e) => refused(&client, &e),
            Ok(access) => {
                if crate::files::handles(&path) {
                    let resp = crate::files::route(&state.files, parts, body, &access).await;
                    return Ok(with_security_headers(&state, resp));
                }
                match path.as_str() {
                    "/logout" => login::logout(&state, &parts, &access, &client),
                    "/api/session" => login::session(&state, &access),
                    p if p == "/api/shares" || p.starts_with("/api/shares/") => {
                        login::shares(state.clone(), parts, body, &access, &path).await
                    }
                    _ => read_only_route(&state, parts, body, Some(access)),
                }
            }
        },
    };
    Ok(with_security_headers(&state, resp).map(Either::Left))
}

fn refused(client: &auth::net::Client, e: &access::AccessError) -> Response<Body> {
    tracing::warn!(client = %client.addr, error = %e, "request refused");
    text(e.status(), "forbidden\n")
}

/// Every route that only reads: GET and HEAD.
/// `access` is `None` for the routes open to everyone.
fn read_only_route(
    state: &Arc<AppState>,
    parts: hyper::http::request::Parts,
    body: Incoming,
    access: Option<access::Access>,
) -> Response<Body> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let path = parts.uri.path().to_owned();
    match path.as_str() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if is_ready(state) {
                text(StatusCode::OK, "ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
            }
        }
        "/api/status" => json(StatusCode::OK, &status(state)),
        // A debug probe: with logins on, the owner's alone (a viewer must not reset it).
        "/api/latency" if state.auth.enabled() && !access.as_ref().is_some_and(|a| a.owner) => {
            text(StatusCode::FORBIDDEN, "the owner's only\n")
        }
        "/api/latency" => {
            let reset = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "reset"));
            let report = crate::latency::probe().report(reset);
            json(
                StatusCode::OK,
                &serde_json::to_value(report).unwrap_or_default(),
            )
        }
        "/ws" => match access {
            Some(access) => ws::upgrade(Request::from_parts(parts, body), state.clone(), access),
            None => text(StatusCode::UNAUTHORIZED, "login required\n"),
        },
        _ => match assets::lookup(&path) {
            Some((bytes, ctype)) => {
                let mut r = Response::new(Full::new(Bytes::from_static(bytes)));
                r.headers_mut()
                    .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ctype));
                r.headers_mut().insert(
                    CACHE_CONTROL,
                    hyper::header::HeaderValue::from_static("no-cache"),
                );
                r
            }
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
    }
}

fn with_security_headers<B>(state: &AppState, mut resp: Response<B>) -> Response<B> {
    use hyper::header::{
        CONTENT_SECURITY_POLICY as CSP, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&state.auth.csp) {
        h.insert(CSP, v);
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the
    // login form's POST, and the Origin check could not tell it from a foreign page.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

type RouteFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

/// The service of one connection: every route of the one port.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
    peer: SocketAddr,
    /// The connection's place among the open ones; a WebSocket keeps it after the upgrade.
    slot: Option<Arc<limits::Admitted>>,
}

impl hyper::service::Service<Request<Incoming>> for App {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        if let Some(slot) = &self.slot {
            req.extensions_mut().insert(slot.clone());
        }
        Box::pin(route(self.state.clone(), self.peer, req))
    }
}

/// The service for one connection from `peer`.
pub fn app(state: Arc<AppState>, peer: SocketAddr) -> App {
    App {
        state,
        peer,
        slot: None,
    }
}

/// Answers a connection over the caps and closes it: a plain-HTTP client reads a 503; a
/// TLS one is closed before any handshake work is done for it.
fn refuse(mut stream: tokio::net::TcpStream, tls: bool, peer: SocketAddr, why: limits::Refused) {
    tracing::debug!(%peer, "connection refused: {why}");
    if tls {
        return;
    }
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let body = "too many connections\n";
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ =
            tokio::time::timeout(Duration::from_secs(2), stream.write_all(answer.as_bytes())).await;
        let _ = stream.shutdown().await;
    });
}

/// Resolves once `rx` reads true (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Serves one accepted connection until it ends or, once `stop` flips, until its current
/// request is answered.
async fn connection<I>(io: I, service: App, mut stop: watch::Receiver<bool>, peer: SocketAddr)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = limits::http1_builder()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Serves connections from `listener` until `shutdown` resolves, then lets open requests
/// finish (at most `drain`).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, every connection is closed.
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let connections =
        limits::Connections::new(limits::MAX_CONNECTIONS, limits::MAX_CONNECTIONS_PER_ADDRESS);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Bytes queued in the kernel are frames that can no longer be skipped: keep that
        // queue short so a slow viewer drops frames here instead of seeing old ones late.
        if let Err(e) = rustix::net::sockopt::set_socket_send_buffer_size(&stream, SEND_BUFFER) {
            tracing::debug!(error = %e, "cannot set the send buffer size");
        }
        // Everyone behind a trusted proxy arrives from its address: it counts in the total only.
        let shared = auth::net::is_trusted(&state.auth.trusted_proxies, peer.ip());
        let slot = match connections.admit(peer.ip(), shared) {
            Ok(slot) => Arc::new(slot),
            Err(why) => {
                refuse(stream, tls.is_some(), peer, why);
                continue;
            }
        };
        let service = App {
            slot: Some(slot),
            ..app(state.clone(), peer)
        };
        let tls = tls.clone();
        let stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => connection(s, service, stop, peer).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake not done in time"),
                    }
                }
                None => connection(stream, service, stop, peer).await,
            }
            drop(alive);
        });
    }
    let _ = stop_tx.send(true);
    drop(alive_tx);
    tokio::select! {
        _ = alive_rx.recv() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(drain) => tracing::warn!("connections still open after the drain time"),
    }
}
