//! The routes of logging in and sharing: the login page and its form, share links being
//! opened, logging out, `api/session` (who am I) and `api/shares` (the owner's links).
//! Everything else is refused before it is reached when there is no valid session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER, SET_COOKIE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;

use super::access::Access;
use super::auth::net::Client;
use super::auth::{LoginError, cookie, unix_now};
use super::limits::read_body;
use super::{AppState, Body, json, text};
use crate::proto::Role;

/// The login form is small; anything larger is not a login.
const MAX_FORM: usize = 8 * 1024;

pub fn redirect_to(location: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn with_cookie(mut r: Response<Body>, set_cookie: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(set_cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The login page with `message` shown above the form.
pub fn page(status: StatusCode, message: &str) -> Response<Body> {
    let html = super::assets::lookup("/login.html").map_or_else(
        || "<!doctype html><title>Skerry</title><p><!--message--></p>".to_owned(),
        |(bytes, _)| String::from_utf8_lossy(bytes).into_owned(),
    );
    let html = html.replace("<!--message-->", &escape(message));
    let mut r = Response::new(Full::new(Bytes::from(html)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What a request without a valid session gets: pages redirect to the login page, every
/// other route answers 401.
pub fn unauthenticated(state: &AppState, parts: &Parts, path: &str) -> Response<Body> {
    let page_request = (parts.method == Method::GET || parts.method == Method::HEAD)
        && (path == "/" || path.ends_with(".html"));
    if page_request {
        redirect_to(&state.auth.base.join("login"))
    } else {
        text(StatusCode::UNAUTHORIZED, "login required\n")
    }
}

/// Decodes one `application/x-www-form-urlencoded` value.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let raw = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)?
        .1;
    let mut out = Vec::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `GET|POST login`.
pub async fn login(
    state: Arc<AppState>,
    parts: Parts,
    body: Incoming,
    client: Client,
) -> Response<Body> {
    if !state.auth.enabled() {
        return redirect_to(state.auth.base.as_str());
    }
    match parts.method {
        Method::GET | Method::HEAD => return page(StatusCode::OK, ""),
        Method::POST => {}
        _ => return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    }
    let Ok(form) = read_body(body, MAX_FORM).await else {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n");
    };
    let user = form_value(&form, "user").unwrap_or_default();
    let password = form_value(&form, "password").unwrap_or_default();
    let auth_state = state.clone();
    let addr = client.addr;
    // Argon2 takes tens of milliseconds of CPU: not on the threads that move frames.
    let result = tokio::task::spawn_blocking(move || {
        auth_state
            .auth
            .login(addr, &user, &password, Instant::now(), unix_now())
    })
    .await
    .unwrap_or(Err(LoginError::Disabled));
    match result {
        Ok(issued) => {
            tracing::info!(who = %issued.session.identity, client = %addr, "logged in");
            let base = state.auth.base.as_str();
            let c = cookie::set(&issued.cookie, base, client.https, issued.max_age);
            with_cookie(redirect_to(base), &c)
        }
        Err(LoginError::Wrong) => {
            tracing::warn!(client = %addr, "wrong user name or password");
            page(StatusCode::UNAUTHORIZED, "Wrong user name or password.")
        }
        Err(LoginError::Locked(retry)) => locked(addr, retry),
        Err(LoginError::Busy) => {
            let mut r = page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many logins at once: try again in a moment.",
            );
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from_static("1"),
            );
            r
        }
        Err(LoginError::Disabled) => text(StatusCode::INTERNAL_SERVER_ERROR, "login failed\n"),
    }
}

fn locked(addr: std::net::IpAddr, retry: Duration) -> Response<Body> {
    let secs = retry.as_secs().max(1);
    tracing::warn!(client = %addr, retry_after_s = secs, "login locked out after too many wrong passwords");
    let mut r = page(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many wrong passwords from your address. Try again in {secs} s."),
    );
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// `GET share?t=TOKEN`: a share link; a live one becomes a session with its role.
pub fn open_share(state: &AppState, parts: &Parts, client: &Client) -> Response<Body> {
    let token = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("t="))
        .unwrap_or("");
    match state.auth.open_link(token, unix_now()) {
        Some(issued) => {
            tracing::info!(who = %issued.session.identity, client = %client.addr, "share link opened");
            let base = state.auth.base.as_str();
            let c = cookie::set(&issued.cookie, base, client.https, issued.max_age);
            with_cookie(redirect_to(base), &c)
        }
        None => page(
            StatusCode::UNAUTHORIZED,
            "This share link is not valid: it expired or was revoked. Ask for a new one, or log in.",
        ),
    }
}

/// `POST logout`.
pub fn logout(state: &AppState, parts: &Parts, access: &Access, client: &Client) -> Response<Body> {
    if parts.method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    if let Some(sid) = &access.sid {
        state.auth.end(sid, access.expires.unwrap_or(u64::MAX));
        tracing::info!(who = %access.identity, "logged out");
    }
    let base = state.auth.base.as_str();
    with_cookie(
        redirect_to(&state.auth.base.join("login")),
        &cookie::clear(base, client.https),
    )
}

/// `GET api/session`: who this browser is, so the page shows what the role allows.
pub fn session(state: &AppState, access: &Access) -> Response<Body> {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "auth": state.auth.enabled(),
            "identity": access.identity,
            "role": access.role,
            "owner": access.owner,
        }),
    )
}

#[derive(Deserialize)]
struct NewLink {
    role: Role,
    lifetime_s: u64,
    #[serde(default)]
    label: String,
}

fn link_json(link: &super::auth::links::Link, token: &str) -> serde_json::Value {
    serde_json::json!({
        "id": link.id,
        "role": link.role,
        "label": link.label,
        "created": link.created,
        "expires": link.expires,
        "url": format!("share?t={token}"),
    })
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// `GET|POST api/shares`, `DELETE api/shares/<id>`: only the owner manages links.
pub async fn shares(
    state: Arc<AppState>,
    parts: Parts,
    body: Incoming,
    access: &Access,
    path: &str,
) -> Response<Body> {
    if !(state.auth.enabled() && access.owner && access.role == Role::Controller) {
        return error(
            StatusCode::FORBIDDEN,
            "only the owner, logged in with the password, may manage share links",
        );
    }
    let now = unix_now();
    match (&parts.method, path.strip_prefix("/api/shares")) {
        (&Method::GET, Some("")) => {
            let links: Vec<_> = state
                .auth
                .links(now)
                .iter()
                .map(|(l, t)| link_json(l, t))
                .collect();
            json(StatusCode::OK, &serde_json::json!({ "links": links }))
        }
        (&Method::POST, Some("")) => {
            let is_json = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if !is_json {
                return error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "expected application/json",
                );
            }
            let Ok(body) = read_body(body, MAX_FORM).await else {
                return error(StatusCode::PAYLOAD_TOO_LARGE, "request too large");
            };
            let new: NewLink = match serde_json::from_slice(&body) {
                Ok(n) => n,
                Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
            };
            match state.auth.create_link(
                new.role,
                Duration::from_secs(new.lifetime_s),
                &new.label,
                now,
            ) {
                Ok((link, token)) => {
                    tracing::info!(who = %access.identity, id = %link.id, role = ?link.role, "share link created");
                    json(StatusCode::CREATED, &link_json(&link, &token))
                }
                Err(e) => error(StatusCode::CONFLICT, &e.to_string()),
            }
        }
        (&Method::DELETE, Some(rest)) if rest.len() > 1 => match state.auth.revoke(&rest[1..]) {
            Ok(true) => {
                tracing::info!(who = %access.identity, id = &rest[1..], "share link revoked");
                json(StatusCode::OK, &serde_json::json!({ "revoked": true }))
            }
            Ok(false) => error(StatusCode::NOT_FOUND, "no such share link"),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let body = b"user=sk%C3%A9rry&password=a+b%26c%3D&x=1";
        assert_eq!(form_value(body, "user").as_deref(), Some("skérry"));
        assert_eq!(form_value(body, "password").as_deref(), Some("a b&c="));
        assert_eq!(form_value(body, "nope"), None);
        assert_eq!(form_value(b"user=%zz", "user"), None);
        assert_eq!(form_value(b"user=%4", "user"), None);
    }

    #[test]
    fn messages_are_escaped_into_the_page() {
        assert_eq!(escape("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
