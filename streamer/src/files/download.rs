//! Downloads from one directory. A request path is split into components, each decoded
//! and checked (no `..`, no empty or `.` parts), then opened one at a time relative to the
//! directory with `O_NOFOLLOW`, so neither `..` nor a symlink anywhere on the way can
//! lead outside it. The file streams from disk in pieces; single byte ranges are honoured
//! so an interrupted download of a large file resumes where it stopped.

use std::io::{Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Frame, SizeHint};
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    HeaderValue, RANGE,
};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use rustix::fs::{Mode, OFlags, openat};
use tokio::io::{AsyncRead, ReadBuf};

use super::url::{percent_decode, percent_encode};
use super::{Files, FilesBody, FilesError, json_response};

/// Bytes read from disk per body frame.
const PIECE: usize = 256 * 1024;
/// The listing stops after this many files, and this many directory levels.
const LIST_MAX_FILES: usize = 5000;
const LIST_MAX_DEPTH: usize = 8;

/// A file (or a range of it) streamed from disk.
#[derive(Debug)]
pub struct FileStream {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl hyper::body::Body for FileStream {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).unwrap_or(PIECE).min(PIECE);
        this.buf.resize(want, 0);
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    // The file shrank under us: end with an error rather than a short body
                    // that claims to be complete.
                    this.remaining = 0;
                    return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())));
                }
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &this.buf[..n],
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The checked components of a request path below `/api/files/`.
fn components(rel: &str) -> Result<Vec<String>, FilesError> {
    let bad = |why: &str| FilesError::BadRequest(format!("bad file path: {why}"));
    rel.trim_start_matches('/')
        .split('/')
        .map(|c| {
            let c = percent_decode(c, false).ok_or_else(|| bad("broken percent-encoding"))?;
            if c.is_empty() || c == "." {
                return Err(bad("empty component"));
            }
            if c == ".." {
                return Err(bad("'..' is not allowed"));
            }
            if c.contains(['/', '\0']) {
                return Err(bad("encoded '/' or NUL"));
            }
            Ok(c)
        })
        .collect()
}

fn open_error(e: rustix::io::Errno) -> FilesError {
    match e {
        rustix::io::Errno::LOOP => FilesError::Forbidden("symlinks are not followed"),
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => FilesError::NotFound,
        e => FilesError::Io(e.into()),
    }
}

/// Opens `parts` below `root` without following any symlink.
fn open_confined(root: &Path, parts: &[String]) -> Result<std::fs::File, FilesError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let mut dir: OwnedFd = rustix::fs::open(
        root,
        flags.difference(OFlags::NOFOLLOW) | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .map_err(open_error)?;
    let Some((last, dirs)) = parts.split_last() else {
        return Err(FilesError::NotFound);
    };
    for d in dirs {
        dir = openat(&dir, d.as_str(), flags | OFlags::DIRECTORY, Mode::empty())
            .map_err(open_error)?;
    }
    let fd =
        openat(&dir, last.as_str(), flags | OFlags::NONBLOCK, Mode::empty()).map_err(open_error)?;
    Ok(std::fs::File::from(fd))
}

/// A parsed `Range` header against a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Range {
    Whole,
    Part { start: u64, end: u64 },
    Unsatisfiable,
}

/// Single ranges only (`bytes=a-b`, `bytes=a-`, `bytes=-n`); a header this server does
/// not understand, including several ranges, is ignored and the whole file is sent, as
/// HTTP allows.
pub(super) fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Range::Whole,
        (true, false) => match num(b) {
            None => Range::Whole,
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => Range::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return Range::Whole;
            };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                None => Range::Whole,
                Some(end) if end < start => Range::Whole,
                Some(_) if start >= len => Range::Unsatisfiable,
                Some(end) => Range::Part {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
    }
}

/// `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name.
fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// `GET`/`HEAD` `/api/files[/<path>]`.
pub(super) async fn get(
    files: &Files,
    rel: &str,
    req: &Parts,
) -> Result<Response<FilesBody>, FilesError> {
    let root = files.config.download_dir.clone();
    if rel.is_empty() || rel == "/" {
        let listing = tokio::task::spawn_blocking(move || list(&root))
            .await
            .map_err(|e| FilesError::Io(std::io::Error::other(e)))??;
        return Ok(json_response(StatusCode::OK, &listing));
    }
    let parts = components(rel)?;
    let name = parts.last().cloned().unwrap_or_default();
    let range_header = req
        .headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let head = req.method == Method::HEAD;
    tokio::task::spawn_blocking(move || {
        respond(&root, &parts, &name, range_header.as_deref(), head)
    })
    .await
    .map_err(|e| FilesError::Io(std::io::Error::other(e)))?
}

fn respond(
    root: &Path,
    parts: &[String],
    name: &str,
    range: Option<&str>,
    head: bool,
) -> Result<Response<FilesBody>, FilesError> {
    let mut file = open_confined(root, parts)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(FilesError::NotFound);
    }
    let len = meta.len();
    let (status, start, count) = match parse_range(range, len) {
        Range::Whole => (StatusCode::OK, 0, len),
        Range::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Range::Unsatisfiable => {
            let mut r = Response::new(Either::Left(Full::new(Bytes::from(format!(
                "{{\"error\":\"the range is outside the file's {len} bytes\"}}"
            )))));
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                h.insert(CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    file.seek(SeekFrom::Start(start))?;
    let body = if head {
        Either::Left(Full::new(Bytes::new()))
    } else {
        Either::Right(FileStream {
            file: tokio::fs::File::from_std(file),
            remaining: count,
            buf: Vec::new(),
        })
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition(name)) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
    {
        h.insert(CONTENT_RANGE, v);
    }
    Ok(r)
}

/// Every regular file below `root` (symlinks and partial uploads left out), by path.
fn list(root: &Path) -> Result<serde_json::Value, FilesError> {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if depth == 0 && e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) if depth == 0 => return Err(e.into()),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(".skerry-upload-") {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if meta.is_dir() {
                if depth + 1 < LIST_MAX_DEPTH {
                    stack.push((entry.path(), path, depth + 1));
                }
            } else if meta.is_file() {
                if out.len() >= LIST_MAX_FILES {
                    truncated = true;
                    continue;
                }
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                out.push(
                    serde_json::json!({ "path": path, "size": meta.len(), "modified": modified }),
                );
            }
        }
    }
    out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Ok(serde_json::json!({ "files": out, "truncated": truncated }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(
            parse_range(Some("bytes=2-4"), 10),
            Range::Part { start: 2, end: 4 }
        );
        assert_eq!(
            parse_range(Some("bytes=2-"), 10),
            Range::Part { start: 2, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=5-100"), 10),
            Range::Part { start: 5, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=-3"), 10),
            Range::Part { start: 7, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=-30"), 10),
            Range::Part { start: 0, end: 9 }
        );
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), Range::Whole);
        assert_eq!(parse_range(Some("items=1-2"), 10), Range::Whole);
    }

    #[test]
    fn path_components_are_checked() {
        assert_eq!(
            components("/a/b%20c.txt").ok(),
            Some(vec!["a".into(), "b c.txt".into()])
        );
        assert!(components("/../etc/passwd").is_err());
        assert!(components("/a/%2E%2E/b").is_err());
        assert!(components("/a%2Fb").is_err());
        assert!(components("/a//b").is_err());
        assert!(components("/a%00").is_err());
    }

    #[test]
    fn disposition_has_a_safe_fallback() {
        assert_eq!(
            disposition("r\u{e9}sum\u{e9} \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
