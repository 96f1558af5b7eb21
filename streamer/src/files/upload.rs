//! Chunked, resumable uploads. Each upload has a client-chosen id and writes to
//! `.skerry-upload-<id>.part` in the upload directory, created with `O_EXCL|O_NOFOLLOW`
//! so a planted symlink cannot redirect the write. Chunks must arrive in order: a chunk at
//! the wrong offset is refused with the offset the server holds, which is how a client
//! resumes. Bytes go from the request body straight to disk; only when the declared size
//! is reached is the file renamed (without replacing anything) to its final name.
//!
//! The whole declared size is reserved on disk (`fallocate`) before the first chunk is
//! taken, so a full disk is a clear refusal at the start rather than a broken file later;
//! where the file system cannot reserve, its free space is checked instead. Each chunk is
//! written at the offset the server holds, so a chunk that failed half-way is overwritten
//! when the client resumes, never appended after. One user (an owner, a share link, or an
//! address without logins) has at most [`MAX_UPLOADS_PER_USER`] uploads going at once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use tokio::io::AsyncWriteExt;

use super::url::query_param;
use super::{
    Files, FilesBody, FilesError, MAX_CHUNK, MAX_CONCURRENT_UPLOADS, MAX_UPLOADS_PER_USER,
    json_response,
};

/// An upload nobody has added to for this long is abandoned and its partial file removed.
const ABANDONED_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
struct Upload {
    name: String,
    size: u64,
    received: u64,
    part: PathBuf,
    /// Taken while a chunk is being written, so one upload has one writer.
    file: Option<File>,
    touched: Instant,
    /// Who started it (see [`MAX_UPLOADS_PER_USER`]).
    who: String,
}

#[derive(Debug, Default)]
pub(super) struct Uploads {
    by_id: HashMap<String, Upload>,
}

impl Uploads {
    /// Forgets uploads idle for too long, removing their partial files.
    fn sweep(&mut self, now: Instant) {
        self.by_id.retain(|id, u| {
            let keep = u.file.is_none() || now.duration_since(u.touched) < ABANDONED_AFTER;
            if !keep {
                tracing::info!(%id, name = %u.name, "abandoned upload removed");
                let _ = std::fs::remove_file(&u.part);
            }
            keep
        });
    }
}

fn valid_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn number(query: Option<&str>, key: &str) -> Result<u64, FilesError> {
    match query_param(query, key) {
        Some(Ok(v)) => v
            .parse()
            .map_err(|_| FilesError::BadRequest(format!("{key}={v:?} is not a number"))),
        _ => Err(FilesError::BadRequest(format!("missing {key}"))),
    }
}

fn lock(files: &Files) -> std::sync::MutexGuard<'_, Uploads> {
    files
        .uploads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The bytes an unprivileged writer may still use on `dir`'s file system (0 if unknown).
fn free_space(dir: &Path) -> u64 {
    rustix::fs::statvfs(dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
}

/// Makes room for `size` bytes in `file` on `dir`'s file system, or says how much there is.
fn reserve(file: &File, dir: &Path, size: u64) -> Result<(), FilesError> {
    use rustix::io::Errno;
    if size == 0 {
        return Ok(());
    }
    let no_space = || FilesError::NoSpace {
        needed: size,
        free: free_space(dir),
    };
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(Errno::NOSPC | Errno::DQUOT) => Err(no_space()),
        // A file system that cannot reserve: its free space has to do.
        Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) if free_space(dir) >= size => Ok(()),
        Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => Err(no_space()),
        Err(e) => Err(FilesError::Io(e.into())),
    }
}

/// A write error as the user should read it: a full disk says so.
fn write_error(e: std::io::Error, dir: &Path, needed: u64) -> FilesError {
    let full = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT]
        .iter()
        .any(|c| e.raw_os_error() == Some(c.raw_os_error()));
    if full {
        FilesError::NoSpace {
            needed,
            free: free_space(dir),
        }
    } else {
        FilesError::Io(e)
    }
}

/// One chunk: `PUT /api/upload/<id>?name=&size=&offset=`, from `who`.
pub(super) async fn put(
    files: &Files,
    id: &str,
    query: Option<&str>,
    mut body: Incoming,
    who: &str,
) -> Result<Response<FilesBody>, FilesError> {
    let result = put_chunk(files, id, query, &mut body, who).await;
    if result.is_err() {
        drain(&mut body).await;
    }
    result
}

/// Reads and discards what the client is still sending of a refused chunk (at most one
/// chunk), so a browser gets the refusal instead of a connection reset mid-request.
async fn drain(body: &mut Incoming) {
    let mut left = MAX_CHUNK;
    while left > 0 {
        match body.frame().await {
            Some(Ok(frame)) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                left = left.saturating_sub(n);
            }
            _ => break,
        }
    }
}

async fn put_chunk(
    files: &Files,
    id: &str,
    query: Option<&str>,
    body: &mut Incoming,
    who: &str,
) -> Result<Response<FilesBody>, FilesError> {
    if !valid_id(id) {
        return Err(FilesError::BadRequest(
            "the upload id must be 8 to 64 letters, digits, '-' or '_'".into(),
        ));
    }
    let raw_name = match query_param(query, "name") {
        Some(Ok(n)) => n,
        Some(Err(())) => {
            return Err(FilesError::BadRequest(
                "the name is not valid percent-encoded UTF-8".into(),
            ));
        }
        None => return Err(FilesError::BadRequest("missing name".into())),
    };
    let size = number(query, "size")?;
    let offset = number(query, "offset")?;
    let name = super::name::sanitise(&raw_name)?;
    if size > files.config.max_upload {
        return Err(FilesError::TooLarge {
            size,
            limit: files.config.max_upload,
        });
    }
    let dir = &files.config.upload_dir;

    // Take the upload's file out of the table (starting the upload if this is its first
    // chunk); the table lock is never held across an await.
    let (file, part) = {
        let mut uploads = lock(files);
        let now = Instant::now();
        uploads.sweep(now);
        if !uploads.by_id.contains_key(id) {
            if offset != 0 {
                return Err(FilesError::Conflict(format!(
                    "upload {id} is unknown (finished, cancelled or abandoned); start again at offset 0"
                )));
            }
            if uploads.by_id.len() >= MAX_CONCURRENT_UPLOADS {
                return Err(FilesError::Busy);
            }
            if uploads.by_id.values().filter(|u| u.who == who).count() >= MAX_UPLOADS_PER_USER {
                return Err(FilesError::BusyUser);
            }
            std::fs::create_dir_all(dir)?;
            let part = dir.join(format!(".skerry-upload-{id}.part"));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&part)?;
            if let Err(e) = reserve(&file, dir, size) {
                drop(file);
                let _ = std::fs::remove_file(&part);
                tracing::warn!(%id, %name, size, "upload refused: {e}");
                return Err(e);
            }
            tracing::info!(%id, %name, size, "upload started");
            uploads.by_id.insert(
                id.to_owned(),
                Upload {
                    name: name.clone(),
                    size,
                    received: 0,
                    part,
                    file: Some(file),
                    touched: now,
                    who: who.to_owned(),
                },
            );
        }
        let Some(u) = uploads.by_id.get_mut(id) else {
            return Err(FilesError::NotFound);
        };
        if u.size != size || u.name != name {
            return Err(FilesError::Conflict(format!(
                "upload {id} was started as {:?} of {} bytes",
                u.name, u.size
            )));
        }
        if u.received != offset {
            return Err(conflict_at(id, u.received));
        }
        let Some(file) = u.file.take() else {
            return Err(FilesError::Conflict(format!(
                "upload {id} is receiving another chunk"
            )));
        };
        u.touched = now;
        (file, u.part.clone())
    };

    // Stream this chunk to disk, one body frame at a time.
    let limit = (size - offset).min(MAX_CHUNK);
    let mut written = 0u64;
    let mut async_file = tokio::fs::File::from_std(file);
    // Where the server's count says, whatever a failed chunk left behind it.
    let mut outcome: Result<(), FilesError> = async {
        use tokio::io::AsyncSeekExt;
        async_file
            .seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(FilesError::Io)?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FilesError::BadRequest(format!("body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if written + data.len() as u64 > limit {
                return Err(FilesError::BadRequest(format!(
                    "the chunk is longer than the {limit} bytes expected at offset {offset}"
                )));
            }
            async_file
                .write_all(&data)
                .await
                .map_err(|e| write_error(e, dir, size - offset - written))?;
            written += data.len() as u64;
        }
        Ok(())
    }
    .await;
    if let Err(e) = async_file.flush().await
        && outcome.is_ok()
    {
        outcome = Err(write_error(e, dir, size - offset - written));
    }
    let file = async_file.into_std().await;

    let mut uploads = lock(files);
    let Some(u) = uploads.by_id.get_mut(id) else {
        // Cancelled while this chunk was being written.
        let _ = std::fs::remove_file(&part);
        return Err(FilesError::Conflict(format!("upload {id} was cancelled")));
    };
    u.received += written;
    u.touched = Instant::now();
    if let Err(e) = outcome {
        // Keep what arrived so the client can resume from `received`.
        u.file = Some(file);
        return Err(e);
    }
    if u.received < u.size {
        let received = u.received;
        u.file = Some(file);
        return Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "id": id, "offset": received, "complete": false }),
        ));
    }
    let Some(u) = uploads.by_id.remove(id) else {
        return Err(FilesError::NotFound);
    };
    drop(uploads);
    if let Err(e) = file.sync_all() {
        let _ = std::fs::remove_file(&u.part);
        return Err(write_error(e, dir, 0));
    }
    drop(file);
    let final_name = match place(dir, &u.part, &u.name) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&u.part);
            return Err(e.into());
        }
    };
    tracing::info!(%id, name = %final_name, size = u.size, "upload complete");
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "id": id, "name": final_name, "size": u.size, "complete": true }),
    ))
}

fn conflict_at(id: &str, received: u64) -> FilesError {
    FilesError::Conflict(format!(
        "upload {id} continues at offset {received}; resend from there"
    ))
}

/// Renames `part` to `name`, or `name (1)`, `name (2)`… whichever is free, never
/// replacing an existing file (`RENAME_NOREPLACE`, or a hard link where the file system
/// lacks it). Returns the name used.
fn place(dir: &Path, part: &Path, name: &str) -> std::io::Result<String> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    for n in 0..10_000 {
        let candidate = super::name::candidate(name, n);
        let target = dir.join(&candidate);
        match renameat_with(CWD, part, CWD, &target, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(candidate),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                match std::fs::hard_link(part, &target) {
                    Ok(()) => {
                        std::fs::remove_file(part)?;
                        return Ok(candidate);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("every variant of {name:?} is taken"),
    ))
}

/// `DELETE /api/upload/<id>`: abandons an upload and removes its partial file.
pub(super) fn cancel(files: &Files, id: &str) -> Result<Response<FilesBody>, FilesError> {
    let removed = lock(files).by_id.remove(id).ok_or(FilesError::NotFound)?;
    // A chunk being written notices the removal when it finishes and removes the file.
    if removed.file.is_some() {
        let _ = std::fs::remove_file(&removed.part);
    }
    tracing::info!(%id, name = %removed.name, "upload cancelled");
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "cancelled": true }),
    ))
}

/// Removes partial files left in `dir` by an earlier streamer (one that was killed mid-upload):
/// uploads live only in memory, so no later request can ever finish them.
pub(super) fn remove_orphans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name.starts_with(".skerry-upload-") && name.ends_with(".part");
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(file = %name, "partial upload from an earlier run removed")
                }
                Err(err) => {
                    tracing::warn!(file = %name, %err, "cannot remove a stale partial upload")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_of_an_earlier_run_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keep = [".skerry-upload-x.partial", "notes.part", "photo.png"];
        for name in keep.iter().chain(&[".skerry-upload-abcdefgh.part"]) {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        std::fs::create_dir(dir.path().join(".skerry-upload-dir.part")).expect("mkdir");
        remove_orphans(dir.path());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        left.sort();
        let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        want.push(".skerry-upload-dir.part".into());
        want.sort();
        assert_eq!(left, want);
        // A directory that does not exist yet is fine.
        remove_orphans(&dir.path().join("missing"));
    }
}
