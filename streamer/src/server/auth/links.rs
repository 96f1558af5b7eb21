//! Share links the owner made: kept in `links.json` in the configuration directory, so a
//! link survives a restart and a revoked link stays revoked. A link's token is signed, but
//! it also has to be in this list to work: removing it here is what revokes it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::proto::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub id: String,
    pub role: Role,
    pub label: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub expires: u64,
}

/// At most this many links exist at once.
pub const MAX_LINKS: usize = 256;

#[derive(Debug, Default)]
pub struct Links {
    path: Option<PathBuf>,
    list: Vec<Link>,
}

impl Links {
    /// The links stored at `path` (none yet when the file does not exist).
    pub fn load(path: PathBuf) -> Result<Self, AuthError> {
        let list = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|_| AuthError::BadFile(path.display().to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(AuthError::io(&path, e)),
        };
        Ok(Self {
            path: Some(path),
            list,
        })
    }

    /// The live link with `id`.
    pub fn get(&self, id: &str, now: u64) -> Option<&Link> {
        self.list.iter().find(|l| l.id == id && l.expires > now)
    }

    /// Every live link, newest first; expired ones are dropped.
    pub fn list(&mut self, now: u64) -> Vec<Link> {
        let before = self.list.len();
        self.list.retain(|l| l.expires > now);
        if self.list.len() != before {
            let _ = self.save();
        }
        let mut v = self.list.clone();
        v.sort_by_key(|l| std::cmp::Reverse(l.created));
        v
    }

    pub fn add(&mut self, link: Link, now: u64) -> Result<(), AuthError> {
        self.list.retain(|l| l.expires > now);
        if self.list.len() >= MAX_LINKS {
            return Err(AuthError::TooManyLinks);
        }
        self.list.push(link);
        self.save()
    }

    /// Removes `id`; false when there was no such link.
    pub fn remove(&mut self, id: &str) -> Result<bool, AuthError> {
        let before = self.list.len();
        self.list.retain(|l| l.id != id);
        if self.list.len() == before {
            return Ok(false);
        }
        self.save().map(|()| true)
    }

    fn save(&self) -> Result<(), AuthError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(&self.list).unwrap_or_default();
        super::replace_private(path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str, expires: u64) -> Link {
        Link {
            id: id.into(),
            role: Role::Viewer,
            label: String::new(),
            created: 1,
            expires,
        }
    }

    #[test]
    fn links_are_kept_expire_and_are_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("links.json");
        let mut links = Links::load(path.clone()).expect("empty");
        links.add(link("a", 100), 10).expect("add");
        links.add(link("b", 200), 10).expect("add");
        assert!(links.get("a", 50).is_some());
        assert!(links.get("a", 100).is_none(), "expired at its time");
        // Another start reads the same links.
        let mut again = Links::load(path.clone()).expect("load");
        assert_eq!(again.list(50).len(), 2);
        assert!(again.remove("a").expect("remove"));
        assert!(!again.remove("a").expect("gone"));
        assert_eq!(Links::load(path.clone()).expect("load").list(50).len(), 1);
        // Expired links leave the list.
        assert!(again.list(300).is_empty());
        std::fs::write(&path, b"{broken").expect("write");
        assert!(Links::load(path).is_err());
    }
}
