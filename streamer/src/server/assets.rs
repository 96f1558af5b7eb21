//! The browser client, embedded at build time (see build.rs), served with its content type.

mod table {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Shown at `/` when the binary was built without the web client.
const FALLBACK_INDEX: &[u8] = b"<!doctype html><meta charset=utf-8><title>Skerry</title>\
<p>This Skerry streamer was built without its web client (web/ was empty at build time).</p>";

/// Every embedded file: URL path and bytes.
pub fn all() -> &'static [(&'static str, &'static [u8])] {
    table::ASSETS
}

/// The file for a request path (`/` is `/index.html`).
pub fn lookup(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = if path == "/" { "/index.html" } else { path };
    if let Some((_, bytes)) = table::ASSETS.iter().find(|(p, _)| *p == path) {
        return Some((bytes, content_type(path)));
    }
    (path == "/index.html").then_some((FALLBACK_INDEX, "text/html; charset=utf-8"))
}

pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
