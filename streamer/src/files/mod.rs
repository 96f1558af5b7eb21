//! Files between the browser and the desktop, over plain HTTP on the one port (never the
//! WebSocket, so a large transfer cannot hold up frames or input):
//!
//! - `PUT /api/upload/<id>?name=&size=&offset=` sends one chunk of a file; chunks append
//!   in order to a hidden partial file in the upload directory, which is renamed to its
//!   final, never-overwriting name only when the last byte has arrived. A client that lost
//!   a chunk asks again with the offset the server reports, so uploads resume.
//!   `DELETE /api/upload/<id>` abandons one.
//! - `GET /api/files` lists the download directory; `GET /api/files/<path>` downloads one
//!   file with ranges, opened component by component without following symlinks, so
//!   nothing outside that directory can be reached.
//!
//! Every request has already passed `server::access::authorize`; [`allowed`] decides what
//! its role may do here.

mod download;
pub mod name;
mod upload;
mod url;

use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};

use crate::proto::Role;
use crate::server::access::Access;

pub use download::FileStream;

/// A response from this module: a small message, or a file streamed from disk.
pub type FilesBody = Either<Full<Bytes>, FileStream>;

/// Default largest upload: 4 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 4 << 30;
/// Largest body of one upload request (the client sends 8 MiB chunks).
pub const MAX_CHUNK: u64 = 16 << 20;
/// Uploads that may be in progress at once, across all clients.
pub const MAX_CONCURRENT_UPLOADS: usize = 32;
/// Uploads one user (an owner, a share link, an address without logins) has going at once:
/// two pages each sending the web client's three in parallel fit.
pub const MAX_UPLOADS_PER_USER: usize = 8;

/// Where files go and come from (`SKERRY_UPLOAD_DIR`, `SKERRY_DOWNLOAD_DIR`,
/// `SKERRY_UPLOAD_MAX_SIZE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesConfig {
    pub upload_dir: PathBuf,
    pub download_dir: PathBuf,
    pub max_upload: u64,
}

impl FilesConfig {
    /// Reads the settings from `get` (the environment in the binary). Both directories
    /// default to `$HOME/Desktop`, so what is uploaded can be fetched back and what an
    /// application saves on the desktop can be downloaded. Problems are returned as
    /// messages naming the variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        // Without HOME (never the case under skerry-init) the working directory stands in.
        let desktop = get("HOME").filter(|h| !h.is_empty()).map_or_else(
            || PathBuf::from("Desktop"),
            |h| PathBuf::from(h).join("Desktop"),
        );
        let dir = |var: &str| {
            get(var)
                .filter(|v| !v.is_empty())
                .map_or_else(|| desktop.clone(), PathBuf::from)
        };
        let upload_dir = dir("SKERRY_UPLOAD_DIR");
        let download_dir = dir("SKERRY_DOWNLOAD_DIR");
        let max_upload = match get("SKERRY_UPLOAD_MAX_SIZE") {
            None => DEFAULT_MAX_UPLOAD,
            Some(v) => parse_size(&v).unwrap_or_else(|| {
                errors.push(format!(
                    "SKERRY_UPLOAD_MAX_SIZE={v:?}: expected bytes, optionally with K, M, G or T"
                ));
                0
            }),
        };
        if errors.is_empty() {
            Ok(Self {
                upload_dir,
                download_dir,
                max_upload,
            })
        } else {
            Err(errors)
        }
    }
}

/// `1048576`, `512M`, `4G`, `4GiB` (binary multiples).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// The files service's state: its configuration and the uploads in progress.
#[derive(Debug)]
pub struct Files {
    pub config: FilesConfig,
    uploads: Mutex<upload::Uploads>,
}

impl Files {
    pub fn new(config: FilesConfig) -> Self {
        upload::remove_orphans(&config.upload_dir);
        Self {
            config,
            uploads: Mutex::new(upload::Uploads::default()),
        }
    }
}

/// What a request wants to do with files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Upload,
    Download,
}

/// Only a controller may put files on the desktop or take them off it: a viewer watches.
pub fn allowed(role: Role, _op: Operation) -> bool {
    role == Role::Controller
}

/// Who an upload counts for: the owner, one share link (all its sessions together), or
/// the address when logins are off.
fn uploader(access: &Access) -> String {
    match (&access.link, access.owner) {
        (Some(link), _) => format!("link {link}"),
        (None, true) => "owner".into(),
        (None, false) => access.identity.clone(),
    }
}

/// Whether `path` belongs to this module.
pub fn handles(path: &str) -> bool {
    path == "/api/files"
        || path.starts_with("/api/files/")
        || path == "/api/upload"
        || path.starts_with("/api/upload/")
}

/// Why a files request was refused; the message is shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{0}")]
    BadName(#[from] name::NameError),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    Method,
    #[error("{0}")]
    Conflict(String),
    #[error("the file is {size} bytes; uploads are limited to {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error(
        "too many uploads at once (at most {MAX_CONCURRENT_UPLOADS}); try again when some finish"
    )]
    Busy,
    #[error("you have {MAX_UPLOADS_PER_USER} uploads going already; try again when one finishes")]
    BusyUser,
    #[error("the desktop's disk is full: {needed} bytes needed, {free} free")]
    NoSpace { needed: u64, free: u64 },
    #[error("the server could not store or read the file: {0}")]
    Io(#[from] std::io::Error),
}

impl FilesError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadName(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy | Self::BusyUser => StatusCode::TOO_MANY_REQUESTS,
            Self::NoSpace { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<FilesBody> {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(value.to_string()))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error_response(e: &FilesError) -> Response<FilesBody> {
    let mut value = serde_json::json!({ "error": e.to_string() });
    if let FilesError::Conflict(_) = e {
        value["conflict"] = true.into();
    }
    json_response(e.status(), &value)
}

/// Answers one request under `/api/files` or `/api/upload`.
pub async fn route(
    files: &Files,
    parts: Parts,
    body: Incoming,
    access: &Access,
) -> Response<FilesBody> {
    let path = parts.uri.path();
    let result = if path == "/api/upload" || path.starts_with("/api/upload/") {
        if !allowed(access.role, Operation::Upload) {
            Err(FilesError::Forbidden("only a controller may upload files"))
        } else {
            let id = path.strip_prefix("/api/upload/").unwrap_or("");
            match parts.method {
                Method::PUT => {
                    upload::put(files, id, parts.uri.query(), body, &uploader(access)).await
                }
                Method::DELETE => upload::cancel(files, id),
                _ => Err(FilesError::Method),
            }
        }
    } else if !allowed(access.role, Operation::Download) {
        Err(FilesError::Forbidden(
            "only a controller may download files",
        ))
    } else if parts.method == Method::GET || parts.method == Method::HEAD {
        let rel = path.strip_prefix("/api/files").unwrap_or("");
        download::get(files, rel, &parts).await
    } else {
        Err(FilesError::Method)
    };
    result.unwrap_or_else(|e| {
        match e.status() {
            s if s.is_server_error() => {
                tracing::warn!(who = %access.identity, error = %e, "files request failed")
            }
            _ => tracing::info!(who = %access.identity, error = %e, "files request refused"),
        }
        error_response(&e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_to_the_desktop() {
        let c =
            FilesConfig::from_env(|k| (k == "HOME").then(|| "/home/u".to_owned())).expect("valid");
        assert_eq!(c.upload_dir, PathBuf::from("/home/u/Desktop"));
        assert_eq!(c.download_dir, PathBuf::from("/home/u/Desktop"));
        assert_eq!(c.max_upload, DEFAULT_MAX_UPLOAD);
    }

    #[test]
    fn config_errors_name_the_variable() {
        let errors = FilesConfig::from_env(|k| match k {
            "SKERRY_UPLOAD_MAX_SIZE" => Some("lots".into()),
            _ => None,
        })
        .expect_err("invalid");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("SKERRY_UPLOAD_MAX_SIZE")));
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn viewers_may_not_move_files() {
        assert!(allowed(Role::Controller, Operation::Upload));
        assert!(!allowed(Role::Viewer, Operation::Upload));
        assert!(!allowed(Role::Viewer, Operation::Download));
    }
}
