//! Who is asking, and what may they do. Every HTTP request and WebSocket passes through
//! [`authorize`], the one place identity and role are decided; the [`Access`] it returns
//! travels with the connection (the WebSocket `hello` answer carries its role; a viewer's
//! input, clipboard, microphone, settings and file transfers are refused).

use hyper::header::ORIGIN;
use hyper::http::request::Parts;

use super::auth::net::Client;
use super::auth::{Auth, cookie, unix_now};
use crate::proto::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    /// Who this is, for logs and the list of connected sessions.
    pub identity: String,
    /// Logged in with the owner's password: may manage share links.
    pub owner: bool,
    /// The session (when logins are on), so logging out can end its connections.
    pub sid: Option<String>,
    /// The share link the session came from.
    pub link: Option<String>,
    /// When the session ends (unix seconds); its connections close then. `None` without
    /// logins.
    pub expires: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("cross-origin request from {0} refused")]
    CrossOrigin(String),
    #[error("not logged in")]
    Unauthenticated,
}

impl AccessError {
    pub fn status(&self) -> hyper::StatusCode {
        match self {
            Self::CrossOrigin(_) => hyper::StatusCode::FORBIDDEN,
            Self::Unauthenticated => hyper::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Browsers send `Origin` on WebSocket upgrades and on every POST, PUT and DELETE: one
/// naming another site than the one the browser asked for (through a trusted proxy: the
/// forwarded host) is refused, so a page elsewhere can neither drive the desktop nor act
/// with the user's cookie.
pub fn check_origin(parts: &Parts, client: &Client) -> Result<(), AccessError> {
    let Some(origin) = parts.headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let host = client.host.as_deref().unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if host.is_empty() || origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(AccessError::CrossOrigin(origin.to_owned()))
    }
}

/// Decides identity and role for one request: with logins off everyone is a controller
/// (named by address); with logins on, the session cookie decides, and without a valid
/// one the request is refused.
pub fn authorize(parts: &Parts, client: &Client, auth: &Auth) -> Result<Access, AccessError> {
    check_origin(parts, client)?;
    if !auth.enabled() {
        return Ok(Access {
            role: Role::Controller,
            identity: client.addr.to_string(),
            owner: false,
            sid: None,
            link: None,
            expires: None,
        });
    }
    let session = cookie::find(&parts.headers)
        .and_then(|c| auth.session(c, unix_now()))
        .ok_or(AccessError::Unauthenticated)?;
    Ok(Access {
        role: session.role,
        identity: session.identity,
        owner: session.owner,
        sid: Some(session.sid),
        link: session.link,
        expires: Some(session.expires),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::server::auth::SecurityConfig;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = hyper::Request::builder().uri("/ws");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    fn client(host: &str) -> Client {
        Client {
            addr: "127.0.0.1".parse().expect("ip"),
            https: true,
            host: Some(host.into()),
        }
    }

    #[test]
    fn same_origin_or_no_origin_is_a_controller_without_logins() {
        let auth = Auth::default();
        let c = client("localhost:3000");
        let a = authorize(&parts(&[]), &c, &auth).expect("ok");
        assert_eq!(a.role, Role::Controller);
        let same = parts(&[("origin", "https://localhost:3000")]);
        assert!(authorize(&same, &c, &auth).is_ok());
        let other = parts(&[("origin", "https://evil.example")]);
        assert_eq!(
            authorize(&other, &c, &auth).map_err(|e| e.status()),
            Err(hyper::StatusCode::FORBIDDEN)
        );
        // Behind a proxy the browser's origin is the forwarded host.
        let proxied = client("desk.example");
        let via = parts(&[("origin", "https://desk.example")]);
        assert!(authorize(&via, &proxied, &auth).is_ok());
    }

    #[test]
    fn with_logins_only_a_valid_session_cookie_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = SecurityConfig {
            password: Some("pw".into()),
            dir: Some(dir.path().to_path_buf()),
            ..SecurityConfig::default()
        };
        let (auth, _) = Auth::start(&config, true, true).expect("auth");
        let c = client("localhost:3000");
        assert_eq!(
            authorize(&parts(&[]), &c, &auth),
            Err(AccessError::Unauthenticated)
        );
        let forged = parts(&[("cookie", "skerry_session=s.x.o.y.99999999999.00")]);
        assert_eq!(
            authorize(&forged, &c, &auth),
            Err(AccessError::Unauthenticated)
        );
        let issued = auth
            .login(c.addr, "skerry", "pw", Instant::now(), unix_now())
            .expect("login");
        let cookie = format!("skerry_session={}", issued.cookie);
        let a = authorize(&parts(&[("cookie", &cookie)]), &c, &auth).expect("session");
        assert!(a.owner);
        assert_eq!(a.role, Role::Controller);
        assert_eq!(a.identity, "skerry");
    }
}
