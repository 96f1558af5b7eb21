//! Sessions that were logged out, kept until their cookies would have expired anyway, in
//! `ended.json` beside the links, so a logout survives a restart.
//!
//! The list cannot be flushed by filling it: when [`MAX_ENDED`] sessions that have not
//! expired yet are on it, the list is replaced by one time, `not_before`, and every session
//! issued before it has ended — everyone logs in again (share links keep working and give
//! new sessions), and nothing logged out comes back.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::AuthError;

/// Logged-out sessions remembered one by one.
pub const MAX_ENDED: usize = 4096;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    /// Session id → when its cookie expires (unix seconds).
    sessions: HashMap<String, u64>,
    /// Sessions issued before this (unix seconds) have ended.
    not_before: u64,
}

#[derive(Debug, Default)]
pub struct Ended {
    path: Option<PathBuf>,
    stored: Stored,
}

impl Ended {
    /// The list stored at `path` (empty when the file does not exist), without what
    /// expired before `now`.
    pub fn load(path: PathBuf, now: u64) -> Result<Self, AuthError> {
        let mut stored: Stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|_| AuthError::BadFile(path.display().to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => return Err(AuthError::io(&path, e)),
        };
        stored.sessions.retain(|_, exp| *exp > now);
        Ok(Self {
            path: Some(path),
            stored,
        })
    }

    /// Whether the session `sid`, issued at `issued` (unix seconds), has ended.
    pub fn has_ended(&self, sid: &str, issued: u64) -> bool {
        issued < self.stored.not_before || self.stored.sessions.contains_key(sid)
    }

    /// Records that `sid` (whose cookie runs until `expires`) ended at `now`.
    pub fn end(&mut self, sid: &str, expires: u64, now: u64) -> Result<(), AuthError> {
        self.stored.sessions.retain(|_, exp| *exp > now);
        if self.stored.sessions.len() >= MAX_ENDED {
            tracing::warn!(
                "{MAX_ENDED} logged-out sessions are still unexpired: ending every session issued so far"
            );
            self.stored.sessions.clear();
            // Sessions issued in this very second end too.
            self.stored.not_before = now + 1;
        } else {
            self.stored.sessions.insert(sid.to_owned(), expires);
        }
        self.save()
    }

    fn save(&self) -> Result<(), AuthError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec(&self.stored).unwrap_or_default();
        super::replace_private(path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logout_is_kept_across_a_restart_until_the_cookie_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ended.json");
        let mut e = Ended::load(path.clone(), 100).expect("empty");
        e.end("a", 500, 100).expect("end");
        assert!(e.has_ended("a", 90));
        assert!(!e.has_ended("b", 90));
        let again = Ended::load(path.clone(), 200).expect("load");
        assert!(again.has_ended("a", 90), "forgotten by a restart");
        // Once the cookie has expired it need not be remembered.
        let later = Ended::load(path, 600).expect("load");
        assert!(!later.has_ended("a", 90));
    }

    #[test]
    fn filling_the_list_ends_every_session_instead_of_forgetting_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut e = Ended::load(dir.path().join("ended.json"), 0).expect("empty");
        e.end("stolen", 10_000, 100).expect("end");
        for i in 0..MAX_ENDED {
            e.end(&format!("filler{i}"), 10_000, 200).expect("end");
        }
        // The list overflowed: the stolen session is still ended, by time now.
        assert!(e.has_ended("stolen", 50));
        assert!(e.has_ended("anyone", 200), "issued before the overflow");
        assert!(!e.has_ended("anyone", 201), "issued after it");
    }
}
