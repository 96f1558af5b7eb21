//! Who is asking, and what may they do. Every HTTP request and WebSocket passes through
//! [`authorize`], the one place authentication will plug in; the [`Access`] it returns
//! travels with the connection (the WebSocket `hello` answer carries its role, and input
//! from a viewer-role connection is dropped).

use std::net::SocketAddr;

use hyper::header::{HOST, ORIGIN};
use hyper::http::request::Parts;

use crate::proto::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    /// Who this is, for logs.
    pub identity: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("cross-origin WebSocket from {0} refused")]
    CrossOrigin(String),
}

impl AccessError {
    pub fn status(&self) -> hyper::StatusCode {
        match self {
            Self::CrossOrigin(_) => hyper::StatusCode::FORBIDDEN,
        }
    }
}

/// Decides identity and role for one request. Today there are no accounts: everyone is a
/// controller (the default bind is loopback). Browsers always send `Origin` on WebSocket
/// upgrades; one naming another site is refused so a page elsewhere cannot drive the desktop.
pub fn authorize(parts: &Parts, peer: SocketAddr) -> Result<Access, AccessError> {
    if let Some(origin) = parts.headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if !host.is_empty() && origin_host != host {
            return Err(AccessError::CrossOrigin(origin.to_owned()));
        }
    }
    Ok(Access {
        role: Role::Controller,
        identity: peer.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = hyper::Request::builder().uri("/ws");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn same_origin_or_no_origin_is_a_controller() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let a = authorize(&parts(&[("host", "localhost:3000")]), peer).expect("ok");
        assert_eq!(a.role, Role::Controller);
        let same = parts(&[
            ("host", "localhost:3000"),
            ("origin", "https://localhost:3000"),
        ]);
        assert!(authorize(&same, peer).is_ok());
        let other = parts(&[
            ("host", "localhost:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(
            authorize(&other, peer).map_err(|e| e.status()),
            Err(hyper::StatusCode::FORBIDDEN)
        );
    }
}
